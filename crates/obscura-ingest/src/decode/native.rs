//! Obscura's own event format (`POST /api/event`), documented in the README.

use obscura_model::{DaysSinceLast, EventKind, PropValue, RawHit, VisitCount};
use serde::Deserialize;
use serde_json::Value;

use super::{RequestContext, bad};
use crate::error::IngestError;

const MAX_URL: usize = 4096;
const MAX_NAME: usize = 200;
const MAX_PROPS: usize = 30;
const MAX_PROP_KEY: usize = 100;
const MAX_PROP_VALUE: usize = 500;

#[derive(Deserialize)]
struct Body {
    site: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    url: Option<String>,
    referrer: Option<String>,
    props: Option<serde_json::Map<String, Value>>,
    screen_width: Option<u32>,
    engaged_ms: Option<u64>,
    returning: Option<bool>,
    days_since_last: Option<String>,
    visit_count: Option<String>,
    /// The tracker's yes/no browser answers as bits (`obscura_enrich::bots::signals`).
    signals: Option<u32>,
}

/// The site domain named in the body, before the site is resolved to an id.
pub struct Decoded {
    /// The `site` field of the body: the domain to resolve to a site id.
    pub site_domain: String,
    /// The decoded hit; its `site` is 0 until the caller resolves `site_domain`.
    pub hit: RawHit,
    /// The tracker's browser signals, as bits, when it sent them (P5).
    pub signals: Option<u32>,
}

/// Decodes one event. `site` in the returned hit is 0 until the caller resolves the domain.
pub fn decode(body: &[u8], ctx: &RequestContext) -> Result<Decoded, IngestError> {
    let body: Body = serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    from_body(body, ctx)
}

/// [`decode`] for an event already parsed as JSON (one event of a batch).
pub fn decode_value(value: Value, ctx: &RequestContext) -> Result<Decoded, IngestError> {
    let body: Body = serde_json::from_value(value).map_err(|e| bad(format!("invalid event: {e}")))?;
    from_body(body, ctx)
}

fn from_body(body: Body, ctx: &RequestContext) -> Result<Decoded, IngestError> {
    let site_domain = body.site.filter(|s| !s.trim().is_empty()).ok_or_else(|| bad("missing field `site`"))?;
    if site_domain.len() > 253 {
        return Err(bad("field `site` is longer than 253 characters"));
    }
    let kind = match body.kind.as_deref().unwrap_or("pageview") {
        "pageview" => EventKind::Pageview,
        "event" => EventKind::Custom,
        "engagement" => EventKind::Engagement,
        other => return Err(bad(format!("field `kind` must be pageview, event or engagement, not {other:?}"))),
    };
    let url = body.url.ok_or_else(|| bad("missing field `url`"))?;
    if url.len() > MAX_URL {
        return Err(bad(format!("field `url` is longer than {MAX_URL} bytes")));
    }
    if body.referrer.as_ref().is_some_and(|r| r.len() > MAX_URL) {
        return Err(bad(format!("field `referrer` is longer than {MAX_URL} bytes")));
    }
    let name = match (kind, body.name) {
        (EventKind::Custom, None) => return Err(bad("an event of kind `event` needs a `name`")),
        (EventKind::Custom, Some(n)) if n.trim().is_empty() || n.len() > MAX_NAME => {
            return Err(bad(format!("field `name` must have 1 to {MAX_NAME} characters")));
        }
        (EventKind::Custom, Some(n)) => Some(n),
        _ => None,
    };
    let props = decode_props(body.props)?;
    let engaged_ms = match body.engaged_ms {
        Some(ms) if ms > 86_400_000 => return Err(bad("field `engaged_ms` is more than a day")),
        Some(ms) => Some(ms as u32),
        None if kind == EventKind::Engagement => return Err(bad("an engagement event needs `engaged_ms`")),
        None => None,
    };
    if body.screen_width.is_some_and(|w| w > 100_000) {
        return Err(bad("field `screen_width` is out of range"));
    }
    let days_since_last =
        match body.days_since_last.as_deref() {
            None => None,
            Some(s) => Some(DaysSinceLast::parse(s).ok_or_else(|| {
                bad(format!("field `days_since_last` must be one of 0, 1, 2-7, 8-30, 31+, not {s:?}"))
            })?),
        };
    let visit_count = match body.visit_count.as_deref() {
        None => None,
        Some(s) => Some(
            VisitCount::parse(s)
                .ok_or_else(|| bad(format!("field `visit_count` must be one of 1, 2-3, 4-9, 10+, not {s:?}")))?,
        ),
    };
    Ok(Decoded {
        site_domain,
        signals: body.signals,
        hit: RawHit {
            name,
            referrer: body.referrer.filter(|r| !r.is_empty()),
            props,
            screen_width: body.screen_width,
            engaged_ms,
            returning: body.returning,
            days_since_last,
            visit_count,
            ..ctx.hit(kind, url)
        },
    })
}

pub(crate) fn decode_props(
    props: Option<serde_json::Map<String, Value>>,
) -> Result<Vec<(String, PropValue)>, IngestError> {
    let Some(props) = props else { return Ok(Vec::new()) };
    if props.len() > MAX_PROPS {
        return Err(bad(format!("at most {MAX_PROPS} properties per event")));
    }
    props
        .into_iter()
        .map(|(k, v)| {
            if k.is_empty() || k.len() > MAX_PROP_KEY {
                return Err(bad(format!("property keys must have 1 to {MAX_PROP_KEY} characters")));
            }
            let value = match v {
                Value::String(s) if s.len() <= MAX_PROP_VALUE => PropValue::Text(s),
                Value::String(_) => {
                    return Err(bad(format!("property {k:?} is longer than {MAX_PROP_VALUE} characters")));
                }
                Value::Number(n) => PropValue::Number(n.as_f64().unwrap_or(0.0)),
                Value::Bool(b) => PropValue::Bool(b),
                _ => return Err(bad(format!("property {k:?} must be a string, number or boolean"))),
            };
            Ok((k, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    fn ctx() -> RequestContext {
        super::super::test_context()
    }

    #[test]
    fn native_decodes_a_custom_event() {
        let body = br#"{"site":"example.com","kind":"event","name":"signup","url":"https://example.com/","props":{"plan":"pro","seats":3,"trial":true}}"#;
        let d = decode(body, &ctx()).unwrap();
        assert_eq!(d.site_domain, "example.com");
        assert_eq!(d.hit.kind, EventKind::Custom);
        assert_eq!(d.hit.props.len(), 3);
    }

    #[test]
    fn native_rejects_bad_input_with_reasons() {
        let cases: [(&[u8], &str); 7] = [
            (b"{not json", "invalid JSON"),
            (br#"{"url":"https://a.b/"}"#, "missing field `site`"),
            (br#"{"site":"a.b"}"#, "missing field `url`"),
            (br#"{"site":"a.b","url":"https://a.b/","kind":"click"}"#, "field `kind`"),
            (br#"{"site":"a.b","url":"https://a.b/","kind":"event"}"#, "needs a `name`"),
            (
                br#"{"site":"a.b","url":"https://a.b/","kind":"event","name":"x","props":{"a":{"b":1}}}"#,
                "must be a string",
            ),
            (br#"{"site":"a.b","url":"https://a.b/","visit_count":"7"}"#, "visit_count"),
        ];
        for (body, expected) in cases {
            let err = decode(body, &ctx()).err().expect("must be rejected").to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
        }
    }
}
