//! Umami's collection format (`POST /api/send`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{ctx, desensitize_hit};
use obscura_ingest::decode::umami;

fuzz_target!(|data: &[u8]| {
    if let Ok(umami::Sent::Hit { decoded, .. }) = umami::decode(data, ctx()) {
        desensitize_hit(decoded.hit);
    }
});
