//! Plausible's CSV export, one file of `obscura import plausible`: the first byte picks the
//! table (see `mode`; `0` visitors … `9` custom_events, in the order of `TABLES`), the rest is
//! the file. Its rows sum into daily cells, values scrubbed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura::import::plausible::cells_of_file;
use obscura_fuzz::mode;

const TABLES: [&str; 10] = [
    "visitors",
    "pages",
    "entry_pages",
    "exit_pages",
    "sources",
    "locations",
    "devices",
    "browsers",
    "operating_systems",
    "custom_events",
];

fuzz_target!(|data: &[u8]| {
    let Some((table, file)) = mode(data, TABLES.len()) else { return };
    let (_, tally) = cells_of_file(&format!("imported_{}_20240101_20241231.csv", TABLES[table]), file);
    let _ = tally.summary();
});
