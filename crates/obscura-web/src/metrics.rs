//! `GET /metrics`: Prometheus metrics of this node, for an API token with read scope (or a
//! dashboard session): ingest requests by protocol and outcome, the store's commit latency,
//! the ingest queue's depth, store failures, events stored, retention runs, TLS handshakes and
//! the automated share. Every value is a count over all sites; no label names a site, a page or
//! anything a visitor sent.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use obscura_ingest::latency::LatencySnapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;

use crate::api_error::ApiError;
use crate::audit::record_read;
use crate::state::AppState;
use crate::stats_query::authorize;

/// One scrape's readings.
#[derive(Debug)]
struct Readings {
    by_protocol: Vec<((&'static str, &'static str), u64)>,
    latency: LatencySnapshot,
    appends_waiting: u64,
    events_waiting: u64,
    overload_refusals: u64,
    resident_bytes: Option<u64>,
    store_failures: u64,
    backend: &'static str,
    stored_events: Option<u64>,
    retention_runs: u64,
    tls: [(&'static str, u64); 3],
}

impl Readings {
    /// Page views, events and engagement of people's and of automated clients since start: the
    /// automated share of all of them, 0 to 1.
    fn automated_share(&self) -> f64 {
        let count = |outcome: &str| -> u64 {
            self.by_protocol
                .iter()
                .filter(|((p, o), _)| *o == outcome && *p != "sentry" && *p != "vitals" && *p != "app")
                .map(|(_, n)| n)
                .sum()
        };
        let (people, automated) = (count("stored"), count("kept_apart"));
        if people + automated == 0 { 0.0 } else { automated as f64 / (people + automated) as f64 }
    }
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for Readings {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut requests = encoder.encode_descriptor(
            "obscura_ingest_requests",
            "Ingest requests since start, by protocol and outcome",
            None,
            MetricType::Counter,
        )?;
        for ((protocol, outcome), n) in &self.by_protocol {
            let labels = vec![("protocol", *protocol), ("outcome", *outcome)];
            ConstCounter::new(*n).encode(requests.encode_family(&labels)?)?;
        }
        // The encoder adds the buckets up itself: each bucket's own count, `+Inf` as f64::MAX.
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = self
            .latency
            .cumulative
            .iter()
            .map(|(bound, upto)| {
                let own = upto - below;
                below = *upto;
                (if bound.is_finite() { *bound } else { f64::MAX }, own)
            })
            .collect();
        encoder
            .encode_descriptor(
                "obscura_store_append_seconds",
                "Time the store took to make an append durable (the group commit)",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<NoLabelSet>(self.latency.sum_seconds, self.latency.count, &buckets, None)?;
        gauge(
            &mut encoder,
            "obscura_ingest_appends_waiting",
            "Appends handed to the store and not yet answered",
            self.appends_waiting,
        )?;
        gauge(
            &mut encoder,
            "obscura_ingest_events_waiting",
            "Events handed to the store and not yet durable ([limits] ingest_queue_events at most)",
            self.events_waiting,
        )?;
        counter(
            &mut encoder,
            "obscura_ingest_overload_refusals",
            "Ingest requests answered 503 because the queue was full or memory over its ceiling",
            self.overload_refusals,
        )?;
        if let Some(bytes) = self.resident_bytes {
            gauge(&mut encoder, "obscura_resident_memory_bytes", "Resident memory of this process", bytes)?;
        }
        let mut failures = encoder.encode_descriptor(
            "obscura_store_failures",
            "Appends the store could not make durable (answered 503), by backend",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(self.store_failures).encode(failures.encode_family(&vec![("backend", self.backend)])?)?;
        if let Some(stored) = self.stored_events {
            gauge(&mut encoder, "obscura_store_events", "Events stored, over all sites and days", stored)?;
        }
        counter(&mut encoder, "obscura_retention_runs", "Retention runs completed since start", self.retention_runs)?;
        let mut tls = encoder.encode_descriptor(
            "obscura_tls_handshakes",
            "TLS handshakes since start, by result (unreadable: no JA4 could be read from the ClientHello)",
            None,
            MetricType::Counter,
        )?;
        for (result, n) in self.tls {
            ConstCounter::new(n).encode(tls.encode_family(&vec![("result", result)])?)?;
        }
        let share = ConstGauge::new(self.automated_share());
        share.encode(encoder.encode_descriptor(
            "obscura_automated_share",
            "Share of page views, events and engagement since start from clients judged automated (0 to 1)",
            None,
            share.metric_type(),
        )?)
    }
}

/// `GET /metrics` (read token or session): this node's metrics in Prometheus' text format.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let reader = authorize(&state, &headers)?;
    if reader.sites.is_some() {
        return Err(ApiError::forbidden("metrics count every site: they need a token for all sites"));
    }
    record_read(&state, &reader.actor, None, "/metrics")?;
    let c = &state.pipeline.counters;
    let tls = &state.tls_counters;
    let readings = Readings {
        by_protocol: c.by_protocol(),
        latency: c.append_latency.snapshot(),
        appends_waiting: c.appends_waiting.load(Ordering::Relaxed),
        events_waiting: state.pipeline.admission().waiting() as u64,
        overload_refusals: state.pipeline.admission().refused.load(Ordering::Relaxed),
        resident_bytes: obscura_ingest::admission::resident_bytes(),
        store_failures: c.store_failures.load(Ordering::Relaxed),
        backend: state.store.backend(),
        // A store that cannot count now leaves the figure out rather than failing the scrape.
        stored_events: state.store.count_events().await.ok(),
        retention_runs: c.retention_runs.load(Ordering::Relaxed),
        tls: [
            ("completed", tls.completed.load(Ordering::Relaxed)),
            ("failed", tls.failed.load(Ordering::Relaxed)),
            ("unreadable", tls.unreadable_hellos.load(Ordering::Relaxed)),
        ],
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(readings));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .map_err(|e| ApiError::new(500, format!("metrics could not be written: {e}")))?;
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}
