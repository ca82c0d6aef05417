//! Umami's collection format (`POST /api/send`, as Umami's tracker script and its Node client
//! send it): `{"type": …, "payload": {…}}`.
//!
//! - `event` without `name` is a page view, with `name` a custom event whose `data` are its
//!   properties;
//! - `identify` is taken and nothing of it is kept: its identifiers and session data are what
//!   P4 forbids;
//! - `performance`, `engagement` and `error` are taken and not kept: their data come in
//!   Obscura's own speed, engagement and error formats (`docs/switching.md`).
//!
//! The site is the payload's `website` when it is a domain served here, else its `hostname`.
//! `url` is a path on `hostname` (or a whole URL), `screen` (`1920x1080`) gives the screen's
//! width; `language`, `title`, `tag` and `id` are dropped (a title may hold personal data, an id
//! is an identifier).

use obscura_model::EventKind;
use serde::Deserialize;
use serde_json::Value;

use super::native::{Decoded, decode_props};
use super::{RequestContext, bad};
use crate::error::IngestError;

const MAX_URL: usize = 4096;
const MAX_NAME: usize = 200;

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: Option<String>,
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    website: Option<String>,
    hostname: Option<String>,
    url: Option<String>,
    referrer: Option<String>,
    name: Option<String>,
    data: Option<Value>,
    screen: Option<String>,
}

/// What an Umami request asks for.
pub enum Sent {
    /// A hit to ingest.
    Hit {
        /// The domains to try for its site: `website`, then `hostname`.
        candidates: Vec<String>,
        /// The hit, its `site_domain` the first candidate.
        decoded: Box<Decoded>,
    },
    /// Taken, nothing kept (`identify`, `performance`, `engagement`, `error`).
    NothingKept,
}

/// Decodes one request.
pub fn decode(body: &[u8], ctx: &RequestContext) -> Result<Sent, IngestError> {
    let body: Body = serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    match body.kind.as_deref() {
        Some("event") => {}
        Some("identify" | "performance" | "engagement" | "error") => return Ok(Sent::NothingKept),
        Some(other) => return Err(bad(format!("field `type` must be event or identify, not {other:?}"))),
        None => return Err(bad("missing field `type`")),
    }
    let p = body.payload.ok_or_else(|| bad("missing field `payload`"))?;
    let mut candidates: Vec<String> = [p.website, p.hostname.clone()]
        .into_iter()
        .flatten()
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect();
    candidates.dedup();
    if candidates.is_empty() {
        return Err(bad("missing field `payload.website` or `payload.hostname`"));
    }
    if candidates.iter().any(|d| d.len() > 253) {
        return Err(bad("fields `payload.website` and `payload.hostname` must be at most 253 characters"));
    }
    let path = p.url.filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "/".to_owned());
    let url = if path.contains("://") {
        path
    } else {
        let host = p.hostname.as_deref().map(str::trim).filter(|h| !h.is_empty()).unwrap_or(&candidates[0]);
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("https://{host}{slash}{path}")
    };
    if url.len() > MAX_URL || p.referrer.as_ref().is_some_and(|r| r.len() > MAX_URL) {
        return Err(bad(format!("fields `payload.url` and `payload.referrer` must be at most {MAX_URL} bytes")));
    }
    let name = p.name.filter(|n| !n.trim().is_empty());
    if name.as_ref().is_some_and(|n| n.len() > MAX_NAME) {
        return Err(bad(format!("field `payload.name` must be at most {MAX_NAME} bytes")));
    }
    let kind = if name.is_some() { EventKind::Custom } else { EventKind::Pageview };
    let props = match p.data {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) if kind == EventKind::Custom => decode_props(Some(map))?,
        Some(Value::Object(_)) => Vec::new(),
        Some(_) => return Err(bad("field `payload.data` must be an object")),
    };
    let screen_width = p.screen.as_deref().and_then(|s| s.split('x').next()).and_then(|w| w.trim().parse::<u32>().ok());
    if screen_width.is_some_and(|w| w > 100_000) {
        return Err(bad("field `payload.screen` is out of range"));
    }
    // Umami's tracker sends its own page as the referrer of in-site navigation: only another
    // site's page is a referrer.
    let referrer = p.referrer.filter(|r| !r.is_empty());
    Ok(Sent::Hit {
        decoded: Box::new(Decoded {
            site_domain: candidates[0].clone(),
            signals: None,
            hit: obscura_model::RawHit { name, referrer, props, screen_width, ..ctx.hit(kind, url) },
        }),
        candidates,
    })
}

/// The `x-umami-cache` token of day `day` (`YYYY-MM-DD`): Umami's clients keep it and send it
/// back. It names the day only, the same for every client, so it tells no one apart (P4).
pub fn cache_token(day: &str) -> String {
    format!("obscura.{}", day.replace('-', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        super::super::test_context()
    }

    fn hit(body: &[u8]) -> (Vec<String>, obscura_model::RawHit) {
        match decode(body, &ctx()).unwrap() {
            Sent::Hit { candidates, decoded } => (candidates, decoded.hit),
            Sent::NothingKept => panic!("a hit was expected"),
        }
    }

    #[test]
    fn umami_decodes_page_views_and_events_from_the_trackers_shapes() {
        let (candidates, page) = hit(
            br#"{"type":"event","payload":{"website":"86d4095c-a2a8-4fc8-9521-103e858e2b41","hostname":"a.b","screen":"1920x1080","language":"en-US","title":"Pricing","url":"/pricing?utm_source=x","referrer":"https://news.example/"}}"#,
        );
        assert_eq!(candidates, ["86d4095c-a2a8-4fc8-9521-103e858e2b41", "a.b"]);
        assert_eq!(
            (page.kind, page.url.as_str(), page.screen_width),
            (EventKind::Pageview, "https://a.b/pricing?utm_source=x", Some(1920))
        );
        let (_, event) = hit(
            br#"{"type":"event","payload":{"website":"a.b","name":"signup","data":{"plan":"pro"},"id":"user-42"}}"#,
        );
        assert_eq!(
            (event.kind, event.name.as_deref(), event.url.as_str()),
            (EventKind::Custom, Some("signup"), "https://a.b/")
        );
        assert_eq!(event.props.len(), 1, "the distinct id is no property");
        for kind in ["identify", "performance", "engagement", "error"] {
            let body = format!(
                r#"{{"type":"{kind}","payload":{{"website":"a.b","id":"user-42","data":{{"email":"jane@example.com"}}}}}}"#
            );
            assert!(matches!(decode(body.as_bytes(), &ctx()).unwrap(), Sent::NothingKept), "{kind}");
        }
        assert_eq!(cache_token("2026-12-03"), "obscura.20261203");
    }

    #[test]
    fn umami_rejects_bad_input_with_reasons() {
        let cases: [(&[u8], &str); 5] = [
            (b"[]", "invalid JSON"),
            (br#"{"payload":{"website":"a.b"}}"#, "missing field `type`"),
            (br#"{"type":"click","payload":{"website":"a.b"}}"#, "field `type`"),
            (br#"{"type":"event","payload":{"url":"/"}}"#, "payload.website"),
            (br#"{"type":"event","payload":{"website":"a.b","name":"x","data":[1]}}"#, "payload.data"),
        ];
        for (body, expected) in cases {
            let err = decode(body, &ctx()).err().expect("must be rejected").to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
        }
    }
}
