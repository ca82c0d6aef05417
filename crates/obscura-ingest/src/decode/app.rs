//! The application API (`POST /api/app`): launches, named timing spans and sessions of desktop,
//! command-line and mobile applications, sent in batches (the Rust SDK `obscura-sdk` sends it).
//! Documented in `docs/applications.md`.
//!
//! Each event says how long ago it happened (`age_ms`, by the application's own clock, which
//! only has to run steadily, not be set right), so events queued while offline keep their time.
//! Rules for bad input: a body that is not the documented JSON, an unknown field or event type,
//! a missing or over-long name, more than [`MAX_EVENTS`] events → 400 with a message naming it.
//! A duration out of range (negative, over ten minutes — a day for sessions) or an event of an
//! earlier UTC day than the request (that day's visitor salt may be destroyed, its figures
//! rolled up) is dropped and counted; the rest of the batch is kept.

use obscura_model::measure::Metric;
use obscura_model::{AppDevice, EventKind, RawHit, RawMeasure};
use serde::Deserialize;

use super::{RequestContext, bad};
use crate::error::IngestError;

/// The most events one request may carry.
pub const MAX_EVENTS: usize = 1_000;
/// No event is older than this (a day): events of an earlier UTC day are dropped anyway.
pub const MAX_AGE_MS: u64 = 86_400_000;
const MAX_LABEL: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    site: String,
    app_version: Option<String>,
    os: Option<String>,
    os_version: Option<String>,
    device_model: Option<String>,
    device_type: Option<String>,
    events: Vec<AppEvent>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum AppEvent {
    /// The application started: `cold` (a new process) or `warm` (brought back).
    Launch {
        start: Start,
        duration_ms: f64,
        #[serde(default)]
        age_ms: u64,
    },
    /// A named piece of work, e.g. `checkout.render`, and whether it succeeded.
    Span {
        name: String,
        duration_ms: f64,
        #[serde(default)]
        status: Status,
        #[serde(default)]
        age_ms: u64,
    },
    /// A session of use ended after `duration_ms`.
    Session {
        duration_ms: f64,
        #[serde(default)]
        age_ms: u64,
    },
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Start {
    Cold,
    Warm,
}

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
enum Status {
    #[default]
    Ok,
    Error,
}

/// A decoded batch.
pub struct Decoded {
    /// The `site` field: the domain to resolve to a site id.
    pub site_domain: String,
    /// One hit per event (kind [`EventKind::Measure`], one measurement each), at the time the
    /// event happened.
    pub hits: Vec<RawHit>,
    /// Events dropped: durations out of range or events too old.
    pub dropped: u64,
}

fn label(field: &str, value: Option<String>) -> Result<Option<String>, IngestError> {
    super::optional_label(field, value, MAX_LABEL)
}

/// Decodes one batch. `site` in the returned hits is 0 until the caller resolves the domain.
pub fn decode(body: &[u8], ctx: &RequestContext) -> Result<Decoded, IngestError> {
    let body: Body = serde_json::from_slice(body).map_err(|e| bad(format!("invalid application batch: {e}")))?;
    let site = super::site_domain(body.site)?;
    if body.events.is_empty() || body.events.len() > MAX_EVENTS {
        return Err(bad(format!("`events` must hold 1 to {MAX_EVENTS} events")));
    }
    let app_version = label("app_version", body.app_version)?;
    let device = AppDevice {
        app_version: app_version.clone(),
        os: label("os", body.os)?,
        os_version: label("os_version", body.os_version)?,
        model: label("device_model", body.device_model)?,
        device_type: match label("device_type", body.device_type)?.as_deref() {
            None => None,
            Some(t @ ("desktop" | "mobile" | "tablet")) => Some(t.to_owned()),
            Some(other) => return Err(bad(format!("`device_type` must be desktop, mobile or tablet, not {other:?}"))),
        },
    };
    let mut hits = Vec::new();
    let mut dropped = 0;
    for event in body.events {
        let version = app_version.iter().map(|v| ("version", v.clone()));
        let (metric, value, age_ms, labels): (Metric, f64, u64, Vec<(&'static str, String)>) = match event {
            AppEvent::Launch { start, duration_ms, age_ms } => {
                let start = match start {
                    Start::Cold => "cold",
                    Start::Warm => "warm",
                };
                (
                    Metric::Launch,
                    duration_ms,
                    age_ms,
                    [("start", start.to_owned())].into_iter().chain(version).collect(),
                )
            }
            AppEvent::Span { name, duration_ms, status, age_ms } => {
                if name.trim().is_empty() || name.len() > MAX_LABEL {
                    return Err(bad(format!("a span's `name` must have 1 to {MAX_LABEL} bytes")));
                }
                let status = match status {
                    Status::Ok => "ok",
                    Status::Error => "error",
                };
                let labels = [("span", name), ("status", status.to_owned())].into_iter().chain(version).collect();
                (Metric::Span, duration_ms, age_ms, labels)
            }
            AppEvent::Session { duration_ms, age_ms } => (Metric::Session, duration_ms, age_ms, version.collect()),
        };
        // An event of an earlier UTC day comes too late: that day's visitor salt may be gone
        // and its figures rolled up.
        let at = ctx.received_at - time::Duration::milliseconds(age_ms.min(MAX_AGE_MS) as i64);
        if !metric.accepts(value) || age_ms > MAX_AGE_MS || at.date() != ctx.received_at.date() {
            dropped += 1;
            continue;
        }
        hits.push(RawHit {
            received_at: at,
            measures: vec![RawMeasure { metric, value, labels }],
            app_device: Some(device.clone()),
            ..ctx.hit(EventKind::Measure, format!("https://{site}/"))
        });
    }
    Ok(Decoded { site_domain: site, hits, dropped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        super::super::test_context()
    }

    #[test]
    fn app_batch_decodes_launches_spans_and_sessions_at_their_own_times() {
        let body =
            br#"{"site":"app.example","app_version":"2.3.1","os":"macOS","os_version":"14.4","device_type":"desktop",
            "events":[{"type":"launch","start":"cold","duration_ms":840},
                      {"type":"span","name":"checkout.render","duration_ms":120.5,"status":"error","age_ms":60000},
                      {"type":"session","duration_ms":300000,"age_ms":5000}]}"#;
        let d = decode(body, &ctx()).unwrap();
        assert_eq!(d.site_domain, "app.example");
        assert_eq!(d.hits.len(), 3);
        let m = |i: usize| &d.hits[i].measures[0];
        assert_eq!((m(0).metric, m(0).value), (Metric::Launch, 840.0));
        assert_eq!(m(0).labels, [("start", "cold".into()), ("version", "2.3.1".into())]);
        assert_eq!(
            m(1).labels,
            [("span", "checkout.render".into()), ("status", "error".into()), ("version", "2.3.1".into())]
        );
        assert_eq!(d.hits[1].received_at, time::macros::datetime!(2026-01-01 11:59 UTC), "a minute ago");
        assert_eq!(m(2).metric, Metric::Session);
        let device = d.hits[0].app_device.as_ref().unwrap();
        assert_eq!((device.os.as_deref(), device.device_type.as_deref()), (Some("macOS"), Some("desktop")));
    }

    #[test]
    fn app_out_of_range_durations_and_events_of_earlier_days_are_dropped_and_counted() {
        let body = br#"{"site":"a.b","events":[{"type":"launch","start":"warm","duration_ms":-1},
            {"type":"span","name":"x","duration_ms":700000},{"type":"session","duration_ms":1,"age_ms":900000000},
            {"type":"span","name":"y","duration_ms":3},{"type":"span","name":"yesterday","duration_ms":3,"age_ms":46800000}]}"#;
        let d = decode(body, &ctx()).unwrap();
        assert_eq!(d.hits.len(), 1);
        assert_eq!(d.dropped, 4, "out of range, too old, and of the day before (13 hours before noon)");
    }

    #[test]
    fn app_bad_batches_are_refused_with_reasons() {
        let many = format!(
            r#"{{"site":"a.b","events":[{}]}}"#,
            vec![r#"{"type":"session","duration_ms":1}"#; MAX_EVENTS + 1].join(",")
        );
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"[]".to_vec(), "invalid application batch"),
            (br#"{"site":"a.b","events":[]}"#.to_vec(), "1 to 1000 events"),
            (many.into_bytes(), "1 to 1000 events"),
            (br#"{"site":"a.b","events":[{"type":"crash"}]}"#.to_vec(), "unknown variant `crash`"),
            (
                br#"{"site":"a.b","events":[{"type":"launch","start":"hot","duration_ms":1}]}"#.to_vec(),
                "unknown variant `hot`",
            ),
            (br#"{"site":"a.b","events":[{"type":"span","name":"","duration_ms":1}]}"#.to_vec(), "`name`"),
            (
                br#"{"site":"a.b","device_type":"fridge","events":[{"type":"session","duration_ms":1}]}"#.to_vec(),
                "device_type",
            ),
            (
                br#"{"site":"a.b","user":"jane","events":[{"type":"session","duration_ms":1}]}"#.to_vec(),
                "unknown field `user`",
            ),
        ];
        for (body, expected) in cases {
            let err = decode(&body, &ctx()).err().expect("must be refused").to_string();
            assert!(err.contains(expected), "{err:?} should mention {expected:?}");
        }
    }
}
