//! The pixel tag (`GET /p.gif?site=…&url=…`): its query string.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{ctx, desensitize_hit};
use obscura_ingest::decode::pixel;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = pixel::decode(data, ctx()) {
        desensitize_hit(decoded.hit);
    }
});
