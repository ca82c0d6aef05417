//! The batch API's body (`POST /api/batch`, for servers and apps): up to [`MAX_EVENTS`] events
//! in Obscura's own format, as NDJSON (one per line) or as a JSON array. Each event may also
//! carry:
//!
//! - `timestamp`: when it happened, RFC 3339 or milliseconds since the epoch (default: now);
//! - `idempotency_key`: up to 200 bytes; a retry with the same key is never counted twice;
//! - `user_agent` and `ip`: the visitor's, when a server forwards its visitors' hits (used in
//!   memory only, like every request's, P2); by default the sending request's.
//!
//! One bad event is refused alone, with its reason; the others go on.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::native::{Decoded, decode_value};
use super::{RequestContext, bad};
use crate::error::IngestError;

/// Events one batch may hold.
pub const MAX_EVENTS: usize = 10_000;
const MAX_KEY: usize = 200;
const MAX_USER_AGENT: usize = 1_000;

/// What a batch event carries beside the event itself.
#[derive(Deserialize, Default)]
struct Extra {
    timestamp: Option<Value>,
    idempotency_key: Option<String>,
    user_agent: Option<String>,
    ip: Option<String>,
}

/// One event of a batch, decoded.
pub struct BatchEvent {
    /// The event; its hit's time is the event's `timestamp`, its headers and address the
    /// visitor's when given.
    pub decoded: Decoded,
    /// The client's key for it, if it gave one.
    pub idempotency_key: Option<String>,
}

/// The events of `body`, each decoded or refused with its reason, in order. The whole batch is
/// refused only when it cannot be split into events at all, or holds more than [`MAX_EVENTS`].
pub fn decode(body: &[u8], ctx: &RequestContext) -> Result<Vec<Result<BatchEvent, IngestError>>, IngestError> {
    let trimmed = body.trim_ascii_start();
    let values: Vec<Result<Value, IngestError>> = if trimmed.starts_with(b"[") {
        let all: Vec<Value> = serde_json::from_slice(trimmed).map_err(|e| bad(format!("invalid JSON array: {e}")))?;
        all.into_iter().map(Ok).collect()
    } else {
        trimmed
            .split(|b| *b == b'\n')
            .filter(|line| !line.trim_ascii().is_empty())
            .map(|line| serde_json::from_slice(line).map_err(|e| bad(format!("invalid JSON: {e}"))))
            .collect()
    };
    if values.is_empty() {
        return Err(bad("the batch holds no event"));
    }
    if values.len() > MAX_EVENTS {
        return Err(bad(format!("a batch holds at most {MAX_EVENTS} events, not {}", values.len())));
    }
    Ok(values.into_iter().map(|v| v.and_then(|v| event(v, ctx))).collect())
}

fn event(value: Value, ctx: &RequestContext) -> Result<BatchEvent, IngestError> {
    if !value.is_object() {
        return Err(bad("an event must be a JSON object"));
    }
    let extra: Extra = serde_json::from_value(value.clone()).map_err(|e| bad(format!("invalid event: {e}")))?;
    let mut ctx = ctx.clone();
    if let Some(at) = extra.timestamp {
        ctx.received_at = timestamp(&at)?;
    }
    if let Some(ua) = extra.user_agent {
        if ua.len() > MAX_USER_AGENT {
            return Err(bad(format!("field `user_agent` is longer than {MAX_USER_AGENT} bytes")));
        }
        ctx.headers = obscura_model::raw::RawHeaders { user_agent: ua, ..Default::default() };
    }
    if let Some(ip) = extra.ip {
        ctx.ip = ip.trim().parse::<IpAddr>().map_err(|_| bad(format!("field `ip` is not an IP address: {ip:?}")))?;
    }
    if extra.idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > MAX_KEY) {
        return Err(bad(format!("field `idempotency_key` must have 1 to {MAX_KEY} bytes")));
    }
    let decoded = decode_value(value, &ctx)?;
    Ok(BatchEvent { decoded, idempotency_key: extra.idempotency_key })
}

/// `timestamp` as RFC 3339 text or milliseconds since the epoch.
fn timestamp(value: &Value) -> Result<OffsetDateTime, IngestError> {
    let refused = || bad(format!("field `timestamp` must be RFC 3339 or milliseconds since the epoch, not {value}"));
    match value {
        Value::String(text) => {
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).map_err(|_| refused())
        }
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
            .ok_or_else(refused),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_reads_ndjson_and_arrays_with_times_keys_and_visitors() {
        let ctx = super::super::test_context();
        let ndjson = br#"{"site":"a.b","url":"https://a.b/1","timestamp":"2026-02-27T10:00:00Z","idempotency_key":"k1"}

{"site":"a.b","kind":"event","name":"paid","url":"https://a.b/2","timestamp":1772186400000,"user_agent":"Mozilla/5.0 Firefox/133.0","ip":"203.0.113.9"}
{"site":"a.b"
"#;
        let events = decode(ndjson, &ctx).unwrap();
        assert_eq!(events.len(), 3, "blank lines are skipped");
        let first = events[0].as_ref().unwrap();
        assert_eq!(first.decoded.hit.received_at, time::macros::datetime!(2026-02-27 10:00 UTC));
        assert_eq!(first.idempotency_key.as_deref(), Some("k1"));
        let second = events[1].as_ref().unwrap();
        assert_eq!(second.decoded.hit.received_at, time::macros::datetime!(2026-02-27 10:00 UTC));
        assert_eq!(second.decoded.hit.headers.user_agent, "Mozilla/5.0 Firefox/133.0");
        assert_eq!(second.decoded.hit.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert!(events[2].as_ref().err().unwrap().to_string().contains("invalid JSON"), "a bad line is refused alone");
        let array = decode(br#" [{"site":"a.b","url":"https://a.b/"}, 7]"#, &ctx).unwrap();
        assert!(array[0].is_ok() && array[1].as_ref().err().unwrap().to_string().contains("JSON object"));
    }

    #[test]
    fn batch_refuses_what_cannot_be_events_with_reasons() {
        let ctx = super::super::test_context();
        let too_many = "{\"site\":\"a.b\",\"url\":\"https://a.b/\"}\n".repeat(MAX_EVENTS + 1);
        assert!(decode(too_many.as_bytes(), &ctx).err().unwrap().to_string().contains("at most 10000 events"));
        assert!(decode(b"  \n ", &ctx).err().unwrap().to_string().contains("no event"));
        assert!(decode(b"[1,", &ctx).err().unwrap().to_string().contains("invalid JSON array"));
        let refused = |line: &str| decode(line.as_bytes(), &ctx).unwrap().remove(0).err().unwrap().to_string();
        assert!(refused(r#"{"site":"a.b","url":"https://a.b/","timestamp":"yesterday"}"#).contains("`timestamp`"));
        assert!(refused(r#"{"site":"a.b","url":"https://a.b/","ip":"here"}"#).contains("`ip`"));
        assert!(refused(r#"{"site":"a.b","url":"https://a.b/","idempotency_key":""}"#).contains("`idempotency_key`"));
    }
}
