//! Obscura's own event format (`POST /api/event`): one JSON event, then the privacy boundary.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{ctx, desensitize_hit};
use obscura_ingest::decode::{native, plausible};

fuzz_target!(|data: &[u8]| {
    // The route tells the formats apart by these bytes first.
    let _ = plausible::is_plausible(data);
    if let Ok(decoded) = native::decode(data, ctx()) {
        desensitize_hit(decoded.hit);
    }
});
