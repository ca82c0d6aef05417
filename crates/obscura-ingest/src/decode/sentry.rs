//! Sentry's ingestion protocol, so existing Sentry SDKs report errors to Obscura by changing
//! only the DSN: `POST /api/{project}/envelope/` (envelopes) and the legacy
//! `POST /api/{project}/store/` (one event as JSON). Documented in `docs/errors.md`.
//!
//! The key comes from `X-Sentry-Auth` (`Sentry sentry_key=…`), the `sentry_key` query
//! parameter or the envelope header's `dsn`; where several are given they must agree.
//! Bodies may be gzip or deflate; they are read up to [`MAX_BODY`] compressed and
//! [`MAX_DECOMPRESSED`] decompressed, each event up to [`MAX_EVENT`]. An envelope is a header
//! line, then items: a header line (`type`, optional `length`) and a payload — `length` bytes,
//! or up to the next newline. Items other than events (sessions, attachments, client reports,
//! transactions) are skipped and counted. Events are read leniently, as SDKs send them: the
//! fields Obscura uses are taken, the `user` block and every IP field are never read.

use std::io::Read;

use obscura_model::raw_error::{RawError, RawException, RawFrame};
use serde_json::Value;

use super::bad;
use crate::error::IngestError;

/// The largest request body, as sent (compressed or not).
pub const MAX_BODY: usize = 1 << 20;
/// The largest body after decompression.
pub const MAX_DECOMPRESSED: usize = 4 << 20;
/// The largest single event.
pub const MAX_EVENT: usize = 1 << 20;
/// At most this many exceptions per event, frames per exception, tags and detail lines are kept
/// (the most recent ones); the rest is cut, not refused.
const MAX_EXCEPTIONS: usize = 10;
const MAX_FRAMES: usize = 100;
const MAX_TAGS: usize = 50;
const MAX_DETAIL: usize = 100;
/// Texts are cut to this many characters.
const MAX_TEXT: usize = 1_000;

/// A decoded envelope (or `/store/` body): the key its header names (if any), its events, and
/// how many items were skipped.
#[derive(Debug, Default)]
pub struct Envelope {
    /// The public key of the header's `dsn`.
    pub dsn_key: Option<String>,
    /// The id the SDK gave the event (the envelope header's or the event's `event_id`), answered
    /// back as Sentry does; only 32 hexadecimal digits (dashes removed) are taken.
    pub event_id: Option<String>,
    /// The event items, decoded.
    pub events: Vec<RawError>,
    /// Items of other types, skipped.
    pub skipped: u32,
}

/// The public key a request authenticates with: from `X-Sentry-Auth`, the `sentry_key` query
/// parameter and the envelope's `dsn`, which must agree where several are given. `None` when
/// none is given (the caller answers 403).
pub fn request_key(
    auth_header: Option<&str>,
    query: Option<&str>,
    dsn_key: Option<&str>,
) -> Result<Option<String>, IngestError> {
    let from_header = match auth_header {
        Some(h) => Some(
            auth_header_key(h)
                .ok_or_else(|| IngestError::Forbidden("X-Sentry-Auth must be `Sentry sentry_key=<key>, …`".into()))?,
        ),
        None => None,
    };
    let from_query = query.and_then(|q| {
        q.split('&').find_map(|pair| pair.strip_prefix("sentry_key=")).map(str::to_owned).filter(|k| !k.is_empty())
    });
    let mut keys = [from_header, from_query, dsn_key.map(str::to_owned)].into_iter().flatten();
    let Some(first) = keys.next() else { return Ok(None) };
    if keys.any(|k| k != first) {
        return Err(IngestError::Forbidden("the request names two different DSN keys".into()));
    }
    Ok(Some(first))
}

/// The `sentry_key` of an `X-Sentry-Auth` header: `Sentry sentry_key=…, sentry_version=7, …`.
fn auth_header_key(header: &str) -> Option<String> {
    let rest = header.trim().strip_prefix("Sentry").or_else(|| header.trim().strip_prefix("sentry"))?;
    rest.split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(name, _)| name.trim() == "sentry_key")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|k| !k.is_empty())
}

/// The public key of a DSN (`https://<key>[:<secret>]@host/<project>`).
fn dsn_key(dsn: &str) -> Option<String> {
    let (_, rest) = dsn.split_once("://")?;
    let (user, _) = rest.split_once('@')?;
    let key = user.split(':').next()?;
    (!key.is_empty()).then(|| key.to_owned())
}

/// The body as sent, decompressed per `Content-Encoding` (none, `gzip`, `deflate`), within the
/// limits: 413 when the body or what it expands to is too large (a bomb is stopped at the limit),
/// 400 when it does not decompress.
pub fn decompress(body: &[u8], encoding: Option<&str>) -> Result<Vec<u8>, IngestError> {
    if body.len() > MAX_BODY {
        return Err(IngestError::TooLarge(format!("the body is over {MAX_BODY} bytes")));
    }
    let mut reader: Box<dyn Read + '_> = match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("identity") => return Ok(body.to_vec()),
        Some("gzip") | Some("x-gzip") => Box::new(flate2::read::GzDecoder::new(body)),
        // HTTP's "deflate" is zlib-wrapped; some clients send raw deflate: try both.
        Some("deflate") if body.first().is_some_and(|b| b & 0x0f == 8) => {
            Box::new(flate2::read::ZlibDecoder::new(body))
        }
        Some("deflate") => Box::new(flate2::read::DeflateDecoder::new(body)),
        Some(other) => return Err(bad(format!("Content-Encoding {other:?} is not supported (gzip, deflate)"))),
    };
    let mut out = Vec::new();
    (&mut reader)
        .take(MAX_DECOMPRESSED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("the body does not decompress: {e}")))?;
    if out.len() > MAX_DECOMPRESSED {
        return Err(IngestError::TooLarge(format!("the body expands to over {MAX_DECOMPRESSED} bytes")));
    }
    Ok(out)
}

/// Decodes an envelope (decompressed).
pub fn envelope(bytes: &[u8]) -> Result<Envelope, IngestError> {
    let (header, mut rest) = line(bytes);
    let header: Value = serde_json::from_slice(header).map_err(|e| bad(format!("envelope header: {e}")))?;
    if !header.is_object() {
        return Err(bad("envelope header: not a JSON object"));
    }
    let mut envelope = Envelope {
        dsn_key: header.get("dsn").and_then(Value::as_str).and_then(dsn_key),
        event_id: header.get("event_id").and_then(event_id),
        ..Envelope::default()
    };
    while !rest.is_empty() {
        let (item_header, after) = line(rest);
        if item_header.iter().all(u8::is_ascii_whitespace) {
            rest = after;
            continue;
        }
        let item: Value = serde_json::from_slice(item_header).map_err(|e| bad(format!("envelope item header: {e}")))?;
        let payload;
        match item.get("length") {
            Some(length) => {
                let length = length
                    .as_u64()
                    .and_then(|l| usize::try_from(l).ok())
                    .ok_or_else(|| bad("envelope item `length` must be a whole number"))?;
                if length > after.len() {
                    return Err(bad(format!(
                        "envelope item says `length` {length}, but only {} bytes follow",
                        after.len()
                    )));
                }
                payload = &after[..length];
                rest = after[length..].strip_prefix(b"\n").unwrap_or(&after[length..]);
            }
            None => {
                (payload, rest) = line(after);
            }
        }
        match item.get("type").and_then(Value::as_str) {
            Some("event") => envelope.events.push(event(payload)?),
            Some(_) => envelope.skipped += 1,
            None => return Err(bad("envelope item header without `type`")),
        }
    }
    Ok(envelope)
}

/// Decodes the body of the legacy `/store/` endpoint: one event.
pub fn store(bytes: &[u8]) -> Result<Envelope, IngestError> {
    let event_id = serde_json::from_slice::<Value>(bytes).ok().and_then(|v| v.get("event_id").and_then(event_id));
    Ok(Envelope { dsn_key: None, event_id, events: vec![event(bytes)?], skipped: 0 })
}

/// An event id as Sentry writes it (a UUID, with or without dashes), as 32 lowercase hex digits.
fn event_id(v: &Value) -> Option<String> {
    let id: String = v.as_str()?.chars().filter(|c| *c != '-').collect();
    (id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// The first line of `bytes` (without its newline) and what follows it.
fn line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|b| *b == b'\n') {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[]),
    }
}

/// Decodes one event (an envelope's `event` item, or the body of `/store/`).
pub fn event(json: &[u8]) -> Result<RawError, IngestError> {
    if json.len() > MAX_EVENT {
        return Err(IngestError::TooLarge(format!("an event is over {MAX_EVENT} bytes")));
    }
    let v: Value = serde_json::from_slice(json).map_err(|e| bad(format!("event: {e}")))?;
    if !v.is_object() {
        return Err(bad("event: not a JSON object"));
    }
    let exceptions = most_recent(values(v.get("exception")), MAX_EXCEPTIONS)
        .iter()
        .map(|e| RawException {
            kind: text(e.get("type")),
            value: text(e.get("value")),
            module: text(e.get("module")),
            frames: frames(e.get("stacktrace").or_else(|| v.get("stacktrace"))),
        })
        .collect();
    let message = v
        .get("logentry")
        .or_else(|| v.get("message").filter(|m| m.is_object()))
        .and_then(|m| text(m.get("formatted")).or_else(|| text(m.get("message"))))
        .or_else(|| text(v.get("message")));
    let fingerprint = match v.get("fingerprint") {
        Some(Value::Array(parts)) => parts.iter().take(MAX_TAGS).filter_map(|p| text(Some(p))).collect(),
        _ => Vec::new(),
    };
    let tags = match v.get("tags") {
        Some(Value::Object(map)) => {
            map.iter().filter_map(|(k, v)| Some((cut(k), text(Some(v))?))).take(MAX_TAGS).collect()
        }
        Some(Value::Array(pairs)) => {
            pairs.iter().filter_map(|p| Some((text(p.get(0))?, text(p.get(1))?))).take(MAX_TAGS).collect()
        }
        _ => Vec::new(),
    };
    let mut detail: Vec<String> = most_recent(values(v.get("breadcrumbs")), MAX_DETAIL)
        .iter()
        .map(|b| {
            let part = |key: &str| text(b.get(key)).unwrap_or_default();
            let data = b.get("data").map(Value::to_string).unwrap_or_default();
            cut(&format!("breadcrumb {} {}: {} {}", part("category"), part("level"), part("message"), data))
        })
        .collect();
    if let Some(Value::Object(extra)) = v.get("extra") {
        detail.extend(extra.iter().take(MAX_DETAIL).map(|(k, v)| cut(&format!("extra {k}: {v}"))));
    }
    let contexts = v.get("contexts");
    let context = |name: &str, key: &str| contexts.and_then(|c| c.get(name)).and_then(|c| text(c.get(key)));
    let device = obscura_model::AppDevice {
        app_version: context("app", "app_version"),
        os: context("os", "name"),
        os_version: context("os", "version"),
        model: context("device", "model"),
        device_type: None,
    };
    Ok(RawError {
        url: v.get("request").and_then(|r| text(r.get("url"))),
        device: (device != obscura_model::AppDevice::default()).then_some(device),
        level: text(v.get("level")),
        platform: text(v.get("platform")),
        release: text(v.get("release")),
        environment: text(v.get("environment")),
        message,
        exceptions,
        fingerprint,
        transaction: text(v.get("transaction")).or_else(|| text(v.get("culprit"))),
        tags,
        detail,
    })
}

/// The list of an interface that SDKs send as `{"values": […]}` or as the list itself.
fn values(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(list)) => list,
        Some(Value::Object(map)) => map.get("values").and_then(Value::as_array).map_or(&[], Vec::as_slice),
        _ => &[],
    }
}

/// The frames of a stacktrace, the most recent [`MAX_FRAMES`].
fn frames(stacktrace: Option<&Value>) -> Vec<RawFrame> {
    let Some(frames) = stacktrace.and_then(|s| s.get("frames")).and_then(Value::as_array) else { return Vec::new() };
    most_recent(frames, MAX_FRAMES)
        .iter()
        .map(|f| RawFrame {
            function: text(f.get("function")),
            module: text(f.get("module")).or_else(|| text(f.get("package"))),
            filename: text(f.get("filename")).or_else(|| text(f.get("abs_path"))),
            line: f.get("lineno").and_then(Value::as_u64).and_then(|l| u32::try_from(l).ok()),
            in_app: f.get("in_app").and_then(Value::as_bool),
        })
        .collect()
}

/// A scalar as text (strings as they are, numbers and booleans written out), cut to
/// [`MAX_TEXT`] characters; `None` for null, blanks, objects and lists.
fn text(v: Option<&Value>) -> Option<String> {
    let s = match v? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.trim().is_empty()).then(|| cut(&s))
}

/// The last `n` of `list`: SDKs put the most recent exception, frame and breadcrumb last.
fn most_recent<T>(list: &[T], n: usize) -> &[T] {
    &list[list.len().saturating_sub(n)..]
}

fn cut(s: &str) -> String {
    s.chars().take(MAX_TEXT).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","level":"error","platform":"javascript",
        "release":"shop@1.4.2","environment":"production","transaction":"/checkout",
        "exception":{"values":[{"type":"TypeError","value":"x is undefined","stacktrace":{"frames":[
            {"filename":"https://shop.example/vendor.js","function":"dispatch","lineno":10,"in_app":false},
            {"filename":"https://shop.example/app.js","function":"pay","module":"checkout","lineno":42,"in_app":true}]}}]},
        "user":{"email":"jane@example.com","ip_address":"{{auto}}"},
        "request":{"url":"https://shop.example/checkout","env":{"REMOTE_ADDR":"203.0.113.9"}},
        "tags":{"locale":"de"},"breadcrumbs":{"values":[{"category":"ui.click","message":"button#pay"}]},
        "extra":{"cart":3},"fingerprint":["{{ default }}","payments"]}"#;

    #[test]
    fn sentry_event_fields_are_read_and_user_and_ip_fields_never() {
        let e = event(EVENT.as_bytes()).unwrap();
        assert_eq!(e.level.as_deref(), Some("error"));
        assert_eq!((e.release.as_deref(), e.environment.as_deref()), (Some("shop@1.4.2"), Some("production")));
        assert_eq!(e.exceptions.len(), 1);
        let ex = &e.exceptions[0];
        assert_eq!((ex.kind.as_deref(), ex.value.as_deref()), (Some("TypeError"), Some("x is undefined")));
        assert_eq!(ex.frames.len(), 2);
        assert_eq!(ex.frames[1].function.as_deref(), Some("pay"));
        assert_eq!((ex.frames[1].line, ex.frames[1].in_app), (Some(42), Some(true)));
        assert_eq!(e.fingerprint, ["{{ default }}", "payments"]);
        assert_eq!(e.tags, [("locale".to_owned(), "de".to_owned())]);
        assert_eq!(e.transaction.as_deref(), Some("/checkout"));
        assert_eq!(e.detail.len(), 2, "one breadcrumb, one extra: {:?}", e.detail);
        let all = format!("{e:?}");
        for never in ["jane@example.com", "{{auto}}", "203.0.113.9"] {
            assert!(!all.contains(never), "{never} is never read");
        }
    }

    #[test]
    fn sentry_event_messages_come_in_every_shape() {
        let m = |json: &str| event(json.as_bytes()).unwrap().message;
        assert_eq!(m(r#"{"message":"plain"}"#).as_deref(), Some("plain"));
        assert_eq!(
            m(r#"{"message":{"formatted":"formatted 3","message":"formatted %s"}}"#).as_deref(),
            Some("formatted 3")
        );
        assert_eq!(m(r#"{"logentry":{"message":"from logentry"}}"#).as_deref(), Some("from logentry"));
        assert_eq!(m(r#"{"exception":[{"type":"E"}]}"#), None);
        let legacy = event(br#"{"exception":[{"type":"E","value":"v"}]}"#).unwrap();
        assert_eq!(legacy.exceptions[0].kind.as_deref(), Some("E"), "a bare list of exceptions");
    }

    #[test]
    fn sentry_long_stacks_keep_their_most_recent_frames() {
        let frames: Vec<String> = (0..150).map(|i| format!(r#"{{"function":"f{i}"}}"#)).collect();
        let json = format!(
            r#"{{"exception":{{"values":[{{"type":"E","stacktrace":{{"frames":[{}]}}}}]}}}}"#,
            frames.join(",")
        );
        let kept = &event(json.as_bytes()).unwrap().exceptions[0].frames;
        assert_eq!(kept.len(), MAX_FRAMES);
        assert_eq!(kept[0].function.as_deref(), Some("f50"));
        assert_eq!(kept[MAX_FRAMES - 1].function.as_deref(), Some("f149"), "the innermost call stays");
    }

    #[test]
    fn sentry_envelope_items_with_and_without_length_and_unknown_types_skipped() {
        let body = format!(
            "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"https://abc123@obscura.example/7\"}}\n\
             {{\"type\":\"attachment\",\"length\":11}}\nhello\nthere\n\
             {{\"type\":\"event\",\"length\":{}}}\n{}\n\
             {{\"type\":\"session\"}}\n{{\"started\":\"2026-01-01T00:00:00Z\"}}\n\
             {{\"type\":\"event\"}}\n{{\"message\":\"second\"}}",
            EVENT.len(),
            EVENT
        );
        let env = envelope(body.as_bytes()).unwrap();
        assert_eq!(env.dsn_key.as_deref(), Some("abc123"));
        assert_eq!(env.events.len(), 2);
        assert_eq!(env.events[1].message.as_deref(), Some("second"));
        assert_eq!(env.skipped, 2);
    }

    #[test]
    fn sentry_bad_envelopes_are_clear_errors() {
        let cases: [(&[u8], &str); 6] = [
            (b"not json\n", "envelope header"),
            (b"{}\n{\"type\":\"event\",\"length\":500}\n{}", "only 2 bytes follow"),
            (b"{}\n{\"type\":\"event\",\"length\":-1}\n{}", "whole number"),
            (b"{}\n{\"type\":\"event\"}\n{\"message\": nope}", "event:"),
            (b"{}\n{\"length\":2}\n{}", "without `type`"),
            (b"{}\n{\"type\":\"event\"}\n[1,2]", "not a JSON object"),
        ];
        for (body, expected) in cases {
            let err = envelope(body).unwrap_err();
            assert_eq!(err.status(), 400, "{err}");
            assert!(err.to_string().contains(expected), "{err} should say {expected}");
        }
        let huge = format!("{{\"message\":\"{}\"}}", "x".repeat(MAX_EVENT));
        assert_eq!(event(huge.as_bytes()).unwrap_err().status(), 413);
    }

    #[test]
    fn sentry_keys_from_header_query_and_dsn_must_agree() {
        let header = Some("Sentry sentry_version=7, sentry_client=sentry.rust/0.49, sentry_key=abc123");
        assert_eq!(request_key(header, None, None).unwrap().as_deref(), Some("abc123"));
        assert_eq!(
            request_key(None, Some("sentry_version=7&sentry_key=abc123"), None).unwrap().as_deref(),
            Some("abc123")
        );
        assert_eq!(request_key(header, Some("sentry_key=abc123"), Some("abc123")).unwrap().as_deref(), Some("abc123"));
        assert_eq!(request_key(None, None, None).unwrap(), None);
        assert_eq!(request_key(header, None, Some("other")).unwrap_err().status(), 403);
        assert_eq!(request_key(Some("Bearer abc"), None, None).unwrap_err().status(), 403);
        assert_eq!(dsn_key("https://abc123:secret@o.example/7").as_deref(), Some("abc123"));
        assert_eq!(dsn_key("https://o.example/7"), None);
    }

    #[test]
    fn sentry_bodies_decompress_within_the_limits() {
        use std::io::Write;
        let gzip = |data: &[u8]| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        };
        assert_eq!(decompress(&gzip(b"{}"), Some("gzip")).unwrap(), b"{}");
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(b"{\"a\":1}").unwrap();
        assert_eq!(decompress(&zlib.finish().unwrap(), Some("deflate")).unwrap(), b"{\"a\":1}");
        assert_eq!(decompress(b"{}", None).unwrap(), b"{}");
        // A bomb: a few kilobytes that expand past the limit are stopped there.
        let bomb = gzip(&vec![b' '; MAX_DECOMPRESSED + 10]);
        assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
        assert_eq!(decompress(&bomb, Some("gzip")).unwrap_err().status(), 413);
        assert_eq!(decompress(b"not gzip", Some("gzip")).unwrap_err().status(), 400);
        assert_eq!(decompress(b"{}", Some("br")).unwrap_err().status(), 400);
        assert_eq!(decompress(&vec![0; MAX_BODY + 1], None).unwrap_err().status(), 413);
    }
}
