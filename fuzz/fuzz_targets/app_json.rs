//! The application API (`POST /api/app`): launches, spans and sessions of a batch.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{ctx, desensitize_hit};
use obscura_ingest::decode::app;

fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = app::decode(data, ctx()) else { return };
    for hit in decoded.hits {
        desensitize_hit(hit);
    }
});
