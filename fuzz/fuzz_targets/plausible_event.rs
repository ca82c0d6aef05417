//! Plausible's event format on `POST /api/event`: one hit per site the event names.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{ctx, desensitize_hit};
use obscura_ingest::decode::plausible;

fuzz_target!(|data: &[u8]| {
    let _ = plausible::is_plausible(data);
    let Ok(decoded) = plausible::decode(data, ctx()) else { return };
    for d in decoded {
        desensitize_hit(d.hit);
    }
});
