//! The speed beacon (`POST /api/vitals`): web vitals and CDN entries, one event per measurement.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{ctx, desensitize_hit};
use obscura_ingest::decode::vitals;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = vitals::decode(data, ctx()) {
        desensitize_hit(decoded.hit);
    }
});
