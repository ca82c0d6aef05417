//! Automated traffic (P5): what the classifier kept apart from people's figures, as the stats
//! API's `GET /api/v1/stats/automated` and the dashboard's "Automated traffic" panel — its share
//! over time, its reasons, and the agents and networks it came from.

use axum::Json;
use axum::extract::State;
use maud::{Markup, html};
use obscura_query::errors::ErrorCountRow;
use obscura_query::{AutomatedPoint, Dimension, Interval, Query, SeriesPoint};
use obscura_store::{EventStore, StoreError};
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::stats_query::{AuditedRead, parse_limit};
use crate::traffic::Traffic;

/// What one range's automated traffic looks like.
pub struct Automated {
    /// Automated hits per bucket.
    pub series: Vec<AutomatedPoint>,
    /// Hits and visitors per strongest reason.
    pub reasons: Vec<ErrorCountRow>,
    /// Per agent (the browser or robot the User-Agent names).
    pub agents: Vec<ErrorCountRow>,
    /// Per network operator.
    pub networks: Vec<ErrorCountRow>,
}

impl Automated {
    /// `q`'s automated traffic, per bucket of `interval` and the `limit` top values of each list.
    pub async fn load(store: &dyn EventStore, q: &Query, interval: Interval, limit: u32) -> Result<Self, StoreError> {
        let reason = Dimension::Prop("reason".into());
        let (series, reasons, agents, networks) = futures::join!(
            store.automated_series(q, interval),
            store.automated_breakdown(q, &reason, limit),
            store.automated_breakdown(q, &Dimension::Browser, limit),
            store.automated_breakdown(q, &Dimension::Network, limit),
        );
        Ok(Automated { series: series?, reasons: reasons?, agents: agents?, networks: networks? })
    }

    /// Automated hits in all.
    pub fn hits(&self) -> u64 {
        self.series.iter().map(|p| p.hits).sum()
    }
}

/// The automated share of `hits` beside `pageviews` of people, in percent.
fn share(hits: u64, pageviews: u64) -> f64 {
    if hits + pageviews == 0 { 0.0 } else { 100.0 * hits as f64 / (hits + pageviews) as f64 }
}

/// `GET /api/v1/stats/automated` (read token or session): the range's automated hits — kept
/// apart from every other figure — per bucket beside people's page views, and per reason,
/// agent and network (`limit` of each, 10 by default). `interval` as for the time series.
pub async fn automated(
    State(state): State<AppState>,
    AuditedRead { params, query: q, .. }: AuditedRead,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(&params)?;
    let interval = match params.get("interval") {
        Some(i) => Interval::parse(i)?,
        None if q.range.to - q.range.from <= time::Duration::days(2) => Interval::Hour,
        None => Interval::Day,
    };
    let store = state.store.as_ref();
    let (found, people) = futures::join!(Automated::load(store, &q, interval, limit), store.timeseries(&q, interval));
    let (found, people) = (found.map_err(ApiError::unavailable)?, people.map_err(ApiError::unavailable)?);
    let rows = |rows: &[ErrorCountRow]| -> Vec<Value> {
        rows.iter().map(|r| json!({ "value": r.value, "hits": r.events, "visitors": r.visitors })).collect()
    };
    let pageviews: u64 = people.iter().map(|p| p.pageviews).sum();
    let mut out = json!({
        "hits": found.hits(),
        "share_percent": share(found.hits(), pageviews),
        "series": series(&found.series, &people),
        "reasons": rows(&found.reasons),
        "agents": rows(&found.agents),
        "networks": rows(&found.networks),
    });
    if let Some(partial) = state.store.partial() {
        out["partial"] = json!(partial);
    }
    Ok(Json(out))
}

/// The automated hits in the bucket starting at `bucket_ms`.
fn hits_in(automated: &[AutomatedPoint], bucket_ms: i64) -> u64 {
    automated.iter().find(|a| a.bucket_ms == bucket_ms).map_or(0, |a| a.hits)
}

/// Each bucket of people's series with the automated hits in it.
fn series(automated: &[AutomatedPoint], people: &[SeriesPoint]) -> Vec<Value> {
    people
        .iter()
        .map(|p| {
            let hits = hits_in(automated, p.bucket_ms);
            json!({
                "bucket": obscura_model::format_ms(p.bucket_ms),
                "automated": hits,
                "pageviews": p.pageviews,
                "share_percent": share(hits, p.pageviews),
            })
        })
        .collect()
}

/// The dashboard's panel: the share, a bar per bucket, the reasons, agents and networks, and
/// the switch (`switch_url`) that counts this traffic into the figures above or leaves it out.
pub fn panel(found: &Automated, people: &[SeriesPoint], traffic: Traffic, switch_url: &str) -> Markup {
    let pageviews: u64 = people.iter().map(|p| p.pageviews).sum();
    let list = |title: &str, rows: &[ErrorCountRow]| {
        html! {
            h3 { (title) }
            @if rows.is_empty() { p.muted { "None" } } @else {
                table.top { tbody { @for r in rows { tr { td { (r.value) } td.num { (r.events) } } } } }
            }
        }
    };
    html! {
        div.panel.wide.automated id="automated" {
            h2 { "Automated traffic" }
            p {
                strong { (found.hits()) } " hits from robots and automated browsers, "
                strong { (format!("{:.1}%", share(found.hits(), pageviews))) } " of all page views and hits: "
                @if traffic == Traffic::WithAutomated {
                    "their page views and events are counted in the figures above. "
                    a id="automated-switch" href=(switch_url) { "Leave them out" }
                } @else {
                    "kept out of every figure above. "
                    a id="automated-switch" href=(switch_url) { "Count them in" }
                }
            }
            @if found.hits() > 0 {
                div.bars role="img" aria-label="Automated share per bucket" {
                    @for p in people {
                        @let hits = hits_in(&found.series, p.bucket_ms);
                        @let pct = share(hits, p.pageviews);
                        span.bar style=(format!("height:{:.0}%", pct.max(1.0))) title=(format!("{}: {hits} automated, {:.1}%", obscura_model::format_ms(p.bucket_ms), pct)) {}
                    }
                }
                div.columns {
                    div { (list("Reasons", &found.reasons)) }
                    div { (list("Agents", &found.agents)) }
                    div { (list("Networks", &found.networks)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automated_share_is_of_all_hits_and_zero_when_there_are_none() {
        assert_eq!(share(0, 0), 0.0);
        assert_eq!(share(1, 3), 25.0);
        let people = [SeriesPoint { bucket_ms: 0, visitors: 1, visits: 1, pageviews: 3 }];
        let automated =
            [(0, 1), (86_400_000, 5)].map(|(bucket_ms, hits)| AutomatedPoint { bucket_ms, hits, visitors: 1 });
        let rows = series(&automated, &people);
        assert_eq!(rows.len(), 1, "people's buckets");
        assert_eq!((rows[0]["automated"].as_u64(), rows[0]["share_percent"].as_f64()), (Some(1), Some(25.0)));
    }
}
