//! Plausible's event format (`POST /api/event`, as Plausible's script and its npm tracker send
//! it), beside Obscura's own on the same route: a site switching keeps its tracker and only
//! points it here. Fields: `n`/`name`, `u`/`url`, `d`/`domain` (one site or a comma list),
//! `r`/`referrer`, `p`/`props` (or the older `m`/`meta`; an object or a JSON string),
//! `h`/`hashMode`, `i`/`interactive`, `$`/`revenue`, and for engagement events `e` (engaged
//! milliseconds) and `sd` (scroll depth).
//!
//! What the policy does not name is read and dropped: scroll depth, and whether an event was
//! interactive (custom events never decide a bounce here). Revenue becomes two properties.
//! With hash-based routing the route after `#` is the page's path.

use obscura_model::{EventKind, PropValue};
use serde::Deserialize;
use serde_json::Value;

use super::native::{Decoded, decode_props};
use super::{RequestContext, bad};
use crate::error::IngestError;

const MAX_URL: usize = 4096;
const MAX_NAME: usize = 200;
/// Sites one event may name in a comma list.
const MAX_DOMAINS: usize = 10;

#[derive(Deserialize)]
struct Body {
    #[serde(alias = "name")]
    n: Option<String>,
    #[serde(alias = "url")]
    u: Option<String>,
    #[serde(alias = "domain")]
    d: Option<String>,
    #[serde(alias = "referrer")]
    r: Option<String>,
    #[serde(alias = "props", alias = "m", alias = "meta")]
    p: Option<Value>,
    #[serde(alias = "hashMode")]
    h: Option<Value>,
    /// Read and dropped: custom events never decide a bounce here.
    #[serde(alias = "interactive")]
    #[allow(dead_code)]
    i: Option<Value>,
    #[serde(rename = "$", alias = "revenue")]
    revenue: Option<Revenue>,
    /// Engaged time of an engagement event, in milliseconds.
    e: Option<u64>,
    /// Scroll depth, read and dropped: the policy does not name it.
    #[allow(dead_code)]
    sd: Option<Value>,
}

#[derive(Deserialize)]
struct Revenue {
    amount: Value,
    currency: String,
}

/// Whether `body` is in Plausible's format rather than Obscura's: it names its site by `d` or
/// `domain` and has no `site` field. Looks at the bytes only, so Obscura's own events pay nothing.
pub fn is_plausible(body: &[u8]) -> bool {
    let has = |key: &[u8]| body.windows(key.len()).any(|w| w == key);
    !has(b"\"site\"") && (has(b"\"d\"") || has(b"\"domain\""))
}

/// Decodes one event into a hit per site it names (`site` is 0 until each domain is resolved).
pub fn decode(body: &[u8], ctx: &RequestContext) -> Result<Vec<Decoded>, IngestError> {
    let body: Body = serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let name = body.n.filter(|n| !n.trim().is_empty()).ok_or_else(|| bad("missing field `n` (the event's name)"))?;
    if name.len() > MAX_NAME {
        return Err(bad(format!("field `n` is longer than {MAX_NAME} bytes")));
    }
    let url = body.u.filter(|u| !u.trim().is_empty()).ok_or_else(|| bad("missing field `u` (the page's URL)"))?;
    if url.len() > MAX_URL || body.r.as_ref().is_some_and(|r| r.len() > MAX_URL) {
        return Err(bad(format!("fields `u` and `r` must be at most {MAX_URL} bytes")));
    }
    let domains: Vec<String> = body
        .d
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    if domains.is_empty() {
        return Err(bad("missing field `d` (the site's domain)"));
    }
    if domains.len() > MAX_DOMAINS || domains.iter().any(|d| d.len() > 253) {
        return Err(bad(format!("field `d` names at most {MAX_DOMAINS} domains of at most 253 characters")));
    }
    let hash_routing = matches!(&body.h, Some(Value::Bool(true)))
        || matches!(&body.h, Some(Value::Number(n)) if n.as_u64() == Some(1));
    let url = if hash_routing { route_as_path(&url) } else { url };
    let kind = match name.as_str() {
        "pageview" => EventKind::Pageview,
        "engagement" => EventKind::Engagement,
        _ => EventKind::Custom,
    };
    let props = match body.p {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => decode_props(Some(map))?,
        // Plausible's script sends props as an object, its HTTP API users sometimes as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => decode_props(Some(map))?,
            _ => return Err(bad("field `p` must be an object or a JSON object as a string")),
        },
        Some(_) => return Err(bad("field `p` must be an object or a JSON object as a string")),
    };
    let mut props = if kind == EventKind::Custom { props } else { Vec::new() };
    if let Some(revenue) = body.revenue.filter(|_| kind == EventKind::Custom) {
        let amount = match &revenue.amount {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|a| a.is_finite())
        .ok_or_else(|| bad("field `$.amount` must be a number"))?;
        let currency = revenue.currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad("field `$.currency` must be a three-letter ISO 4217 code"));
        }
        props.push(("revenue".into(), PropValue::Number(amount)));
        props.push(("currency".into(), PropValue::Text(currency)));
    }
    let engaged_ms = match (kind, body.e) {
        (EventKind::Engagement, Some(ms)) if ms <= 86_400_000 => Some(ms as u32),
        (EventKind::Engagement, Some(_)) => return Err(bad("field `e` is more than a day")),
        (EventKind::Engagement, None) => return Err(bad("an engagement event needs `e` (engaged milliseconds)")),
        _ => None,
    };
    let referrer = body.r.filter(|r| !r.is_empty());
    Ok(domains
        .into_iter()
        .map(|site_domain| Decoded {
            site_domain,
            signals: None,
            hit: obscura_model::RawHit {
                name: (kind == EventKind::Custom).then(|| name.clone()),
                referrer: referrer.clone(),
                props: props.clone(),
                engaged_ms,
                ..ctx.hit(kind, url.clone())
            },
        })
        .collect())
}

/// `https://a.example/app#/settings?tab=2` → `https://a.example/settings?tab=2`: a hash-routed
/// page's route is its path (its query is dropped later, as every query is).
fn route_as_path(url: &str) -> String {
    let Some((base, route)) = url.split_once('#') else { return url.to_owned() };
    let route = route.trim_start_matches('!');
    if !route.starts_with('/') {
        return base.to_owned();
    }
    let origin_end = base.find("://").and_then(|s| base[s + 3..].find('/').map(|p| s + 3 + p)).unwrap_or(base.len());
    format!("{}{route}", &base[..origin_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        super::super::test_context()
    }

    #[test]
    fn plausible_bodies_are_told_from_obscuras_own() {
        assert!(is_plausible(br#"{"n":"pageview","u":"https://a.b/","d":"a.b"}"#));
        assert!(is_plausible(br#"{"name":"pageview","url":"https://a.b/","domain":"a.b"}"#));
        assert!(!is_plausible(br#"{"site":"a.b","url":"https://a.b/"}"#));
        assert!(!is_plausible(br#"{"url":"https://a.b/"}"#), "neither: Obscura's own format says what is missing");
    }

    #[test]
    fn plausible_decodes_pageviews_events_revenue_and_engagement() {
        let page = decode(
            br#"{"n":"pageview","u":"https://a.b/x?utm_source=n","d":"a.b","r":"https://news.example/","v":36}"#,
            &ctx(),
        )
        .unwrap();
        assert_eq!((page.len(), page[0].hit.kind, page[0].site_domain.as_str()), (1, EventKind::Pageview, "a.b"));
        assert_eq!(page[0].hit.referrer.as_deref(), Some("https://news.example/"));
        let event = decode(
            br#"{"name":"Purchase","url":"https://a.b/","domain":"a.b,shop.a.b","props":"{\"plan\":\"pro\"}","$":{"amount":"15.99","currency":"usd"},"i":false}"#,
            &ctx(),
        )
        .unwrap();
        assert_eq!(event.iter().map(|d| d.site_domain.as_str()).collect::<Vec<_>>(), ["a.b", "shop.a.b"]);
        let hit = &event[1].hit;
        assert_eq!((hit.kind, hit.name.as_deref()), (EventKind::Custom, Some("Purchase")));
        assert_eq!(
            hit.props,
            [
                ("plan".to_owned(), PropValue::Text("pro".into())),
                ("revenue".to_owned(), PropValue::Number(15.99)),
                ("currency".to_owned(), PropValue::Text("USD".into()))
            ]
        );
        let engagement =
            decode(br#"{"n":"engagement","u":"https://a.b/","d":"a.b","sd":80,"e":12000,"p":{"x":"y"}}"#, &ctx())
                .unwrap();
        assert_eq!((engagement[0].hit.kind, engagement[0].hit.engaged_ms), (EventKind::Engagement, Some(12_000)));
        assert!(engagement[0].hit.props.is_empty(), "only custom events carry properties");
    }

    #[test]
    fn plausible_hash_routing_makes_the_route_the_path() {
        let hashed =
            decode(br#"{"n":"pageview","u":"https://a.b/app#/settings?tab=2","d":"a.b","h":1}"#, &ctx()).unwrap();
        assert_eq!(hashed[0].hit.url, "https://a.b/settings?tab=2");
        let plain = decode(br#"{"n":"pageview","u":"https://a.b/app#/settings","d":"a.b"}"#, &ctx()).unwrap();
        assert_eq!(plain[0].hit.url, "https://a.b/app#/settings", "the fragment is dropped later, as ever");
        assert_eq!(route_as_path("https://a.b/#token=abc"), "https://a.b/", "a fragment that is no route goes");
        assert_eq!(route_as_path("https://a.b#!/x"), "https://a.b/x");
    }

    #[test]
    fn plausible_rejects_bad_input_with_reasons() {
        let cases: [(&[u8], &str); 8] = [
            (b"{not json", "invalid JSON"),
            (br#"{"u":"https://a.b/","d":"a.b"}"#, "missing field `n`"),
            (br#"{"n":"pageview","d":"a.b"}"#, "missing field `u`"),
            (br#"{"n":"pageview","u":"https://a.b/","d":" , "}"#, "missing field `d`"),
            (br#"{"n":"x","u":"https://a.b/","d":"a.b","p":[1]}"#, "field `p`"),
            (br#"{"n":"x","u":"https://a.b/","d":"a.b","$":{"amount":"lots","currency":"USD"}}"#, "`$.amount`"),
            (br#"{"n":"x","u":"https://a.b/","d":"a.b","$":{"amount":1,"currency":"dollars"}}"#, "`$.currency`"),
            (br#"{"n":"engagement","u":"https://a.b/","d":"a.b"}"#, "needs `e`"),
        ];
        for (body, expected) in cases {
            let err = decode(body, &ctx()).err().expect("must be rejected").to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
        }
    }
}
