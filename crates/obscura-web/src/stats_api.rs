//! The stats API: `GET /api/v1/stats/{aggregate,timeseries,breakdown}` and `GET /api/v1/sites`.
//!
//! Parameters: `site` (domain), `range` (today, 24h, 7d, 30d, month, last_month, 12mo, custom with
//! `from`/`to`), `filters` (`dim==a|b;dim!=c;dim~=text`), `interval` (hour, day), `dimension`,
//! `limit`, `automated` (`include` counts the automated traffic kept apart into the figures;
//! `exclude`, the default, leaves it out). Authentication: an API token with read scope, or a
//! dashboard session.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use obscura_query::{Dimension, Interval, Query};
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::audit::record_read;
use crate::state::AppState;
use crate::traffic::Traffic;
use obscura_model::format_ms;

use crate::stats_query::{AuditedRead, GEO_ATTRIBUTION, authorize, parse_limit};

/// `GET /api/v1/stats/aggregate` (read token or session): headline numbers of the range;
/// `compare=previous` adds those of the range before it.
pub async fn aggregate(
    State(state): State<AppState>,
    AuditedRead { params, query: q, .. }: AuditedRead,
) -> Result<Json<Value>, ApiError> {
    let traffic = Traffic::from_params(&params)?;
    let compare = match params.get("compare").map(String::as_str) {
        None | Some("") => false,
        Some("previous") => true,
        Some(other) => return Err(ApiError::bad_request(format!("`compare` can only be `previous`, not {other:?}"))),
    };
    let current = traffic.aggregate(state.store.as_ref(), &q).await.map_err(ApiError::unavailable)?;
    let mut out = json!({ "results": current });
    if compare {
        let prev_q = Query { range: q.range.previous(), ..q };
        let previous = traffic.aggregate(state.store.as_ref(), &prev_q).await.map_err(ApiError::unavailable)?;
        out["previous"] = json!(previous);
    }
    Ok(answer(&state, out))
}

/// `out` as the answer, with `partial` saying what the store left out, if anything (a
/// ClickHouse shard that does not answer, events not yet stored).
fn answer(state: &AppState, mut out: Value) -> Json<Value> {
    if let Some(partial) = state.store.partial() {
        out["partial"] = json!(partial);
    }
    Json(out)
}

/// `GET /api/v1/stats/timeseries` (read token or session): visitors, visits and pageviews per `interval`
/// (`hour` or `day`, the default).
pub async fn timeseries(
    State(state): State<AppState>,
    AuditedRead { params, query: q, .. }: AuditedRead,
) -> Result<Json<Value>, ApiError> {
    let interval = Interval::parse(params.get("interval").map_or("day", String::as_str))?;
    let traffic = Traffic::from_params(&params)?;
    let points = traffic.timeseries(state.store.as_ref(), &q, interval).await.map_err(ApiError::unavailable)?;
    let rows: Vec<Value> = points
        .iter()
        .map(|p| {
            json!({
                "date": format_ms(p.bucket_ms),
                "visitors": p.visitors, "visits": p.visits, "pageviews": p.pageviews,
            })
        })
        .collect();
    Ok(answer(&state, json!({ "results": rows })))
}

/// `GET /api/v1/stats/breakdown` (read token or session): the top `limit` values of `dimension` (10 by
/// default), with the geolocation credit for location and network dimensions.
pub async fn breakdown(
    State(state): State<AppState>,
    AuditedRead { params, query: q, .. }: AuditedRead,
) -> Result<Json<Value>, ApiError> {
    let dim = Dimension::parse(
        params.get("dimension").ok_or_else(|| ApiError::bad_request("missing parameter `dimension`"))?,
    )?;
    let limit = parse_limit(&params)?;
    let traffic = Traffic::from_params(&params)?;
    let rows = traffic.breakdown(state.store.as_ref(), &q, &dim, limit).await.map_err(ApiError::unavailable)?;
    let mut out = json!({ "dimension": dim.name(), "results": rows });
    if matches!(dim, Dimension::Continent | Dimension::Country | Dimension::Province | Dimension::Network) {
        // DB-IP's licence (CC BY 4.0) asks for attribution wherever its data is shown.
        out["attribution"] = json!(GEO_ATTRIBUTION);
    }
    Ok(answer(&state, out))
}

/// Ingest counters since the server started: stored, dropped by privacy signals, rejected — in
/// total and per site. A reader limited to some sites sees those sites' counters only, and its
/// totals are their sums; requests naming no configured site count in the full totals only.
pub async fn ingest_status(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let reader = authorize(&state, &headers)?;
    record_read(&state, &reader.actor, None, "/api/v1/ingest/status")?;
    let c = &state.pipeline.counters;
    let meta = state.meta.get();
    let mut per_site = serde_json::Map::new();
    let mut sum = obscura_ingest::pipeline::SiteCounts::default();
    for site in meta.sites.iter().filter(|s| reader.may_read(s.id)) {
        let counts = c.site(site.id);
        sum.stored += counts.stored;
        sum.dropped_by_policy += counts.dropped_by_policy;
        sum.rejected += counts.rejected;
        sum.automated += counts.automated;
        per_site.insert(site.domain.clone(), counts_json(counts));
    }
    let totals = match reader.sites {
        Some(_) => sum,
        None => {
            let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
            obscura_ingest::pipeline::SiteCounts {
                stored: load(&c.stored),
                dropped_by_policy: load(&c.dropped_by_policy),
                rejected: load(&c.rejected),
                automated: load(&c.automated),
            }
        }
    };
    let mut out = counts_json(totals);
    out["sites"] = Value::Object(per_site);
    if reader.sites.is_none() {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        out["speed"] = json!({
            "automated": load(&c.speed_automated),
            "sampled_out": load(&c.speed_sampled_out),
            "measurements_dropped": load(&c.measurements_dropped),
        });
        let tls = &state.tls_counters;
        out["tls"] = json!({
            "handshakes": load(&tls.completed),
            "handshakes_failed": load(&tls.failed),
            "unreadable_hellos": load(&tls.unreadable_hellos),
        });
    }
    Ok(Json(out))
}

fn counts_json(c: obscura_ingest::pipeline::SiteCounts) -> Value {
    json!({ "stored": c.stored, "dropped_by_policy": c.dropped_by_policy, "rejected": c.rejected, "automated": c.automated })
}

/// `GET /api/v1/sites` (read token or session): the sites the caller may read, with their privacy-signal
/// switch (`respect_dnt`).
pub async fn sites(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let reader = authorize(&state, &headers)?;
    record_read(&state, &reader.actor, None, "/api/v1/sites")?;
    let meta = state.meta.get();
    let sites: Vec<Value> = meta
        .sites
        .iter()
        .filter(|s| reader.may_read(s.id))
        .map(|s| json!({ "domain": s.domain, "respect_dnt": s.respect_dnt }))
        .collect();
    Ok(Json(json!({ "results": sites })))
}
