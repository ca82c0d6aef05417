//! Umami's website-event CSV, as `obscura import umami` reads a file: columns found by their
//! header, each row added to its day's visits, then each day's cells (values scrubbed).

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura::import::umami::cells_of_csv;

fuzz_target!(|data: &[u8]| {
    let (_, tally) = cells_of_csv(data);
    let _ = tally.summary();
});
