//! The batch API (`POST /api/batch`): NDJSON or a JSON array of events, each decoded alone.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{ctx, desensitize_hit};
use obscura_ingest::decode::batch;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = batch::decode(data, ctx()) else { return };
    for event in events.into_iter().flatten() {
        desensitize_hit(event.decoded.hit);
    }
});
