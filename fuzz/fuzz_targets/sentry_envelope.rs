//! Sentry's ingestion protocol: envelopes, `/store/` bodies and single events, compressed or
//! not, and the DSN key checks; each decoded event then becomes an issue's event (grouping and
//! scrubbing). The first byte picks the entry point (see `mode`):
//! `0` envelope, `1` store body, `2` one event, `3` gzip envelope, `4` deflate (zlib or raw)
//! envelope, `5` the keys: `X-Sentry-Auth`, query string and DSN key on three lines.

#![no_main]

use libfuzzer_sys::fuzz_target;
use obscura_fuzz::{ctx, event_of, mode};
use obscura_ingest::decode::sentry::{self, Envelope};
use obscura_ingest::desensitize::{error_event, with_detail};
use obscura_model::EventKind;

const SITE_ROOT: &str = "https://shop.example/";

fuzz_target!(|data: &[u8]| {
    let Some((entry, body)) = mode(data, 6) else { return };
    let decoded = match entry {
        0 => sentry::envelope(body),
        1 => sentry::store(body),
        2 => sentry::event(body).map(|e| Envelope { events: vec![e], ..Envelope::default() }),
        3 => sentry::decompress(body, Some("gzip")).and_then(|b| sentry::envelope(&b)),
        4 => sentry::decompress(body, Some("deflate")).and_then(|b| sentry::envelope(&b)),
        _ => {
            let text = String::from_utf8_lossy(body);
            let mut lines = text.split('\n');
            let (header, query, dsn) = (lines.next(), lines.next(), lines.next());
            let _ = sentry::request_key(header, query, dsn);
            return;
        }
    };
    let Ok(envelope) = decoded else { return };
    for mut raw in envelope.events {
        let detail = std::mem::take(&mut raw.detail);
        // As `prepare_error`: the page it happened on, else the site's root, is the base event.
        let hit = |url: String| event_of(ctx().hit(EventKind::Error, url));
        let url = raw.url.clone().unwrap_or_else(|| SITE_ROOT.to_owned());
        let Some(base) = hit(url).or_else(|| hit(SITE_ROOT.to_owned())) else { continue };
        let mut event = error_event(base, &raw);
        // As when the person consented to send the detail.
        let lines: Vec<&String> = detail.iter().collect();
        with_detail(&mut event, &lines, "diagnostics-1");
    }
});
