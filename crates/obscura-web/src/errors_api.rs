//! The error figures of the stats API: `GET /api/v1/stats/issues` (issues with their reports,
//! visitors, first and last time, trend and status) and `GET /api/v1/stats/errors` (reports per
//! value of a dimension). The stats API's parameters apply (`site`, `range`, `filters`;
//! `event==<fingerprint>` picks one issue).

use axum::Json;
use axum::extract::State;
use obscura_query::Dimension;
use obscura_query::errors::trend_interval;
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::stats_query::{AuditedRead, parse_limit};

/// `GET /api/v1/stats/issues` (read token or session): the issues with the most reports
/// (`limit`, 10 by default), each with its title, culprit, level, reports, visitors, first
/// and last time, trend (`interval` names its buckets) and status (`open`, `resolved`,
/// `ignored` or `regressed`; `status=` keeps one of them, `open` including regressed).
pub async fn issues(
    State(state): State<AppState>,
    AuditedRead { params, query: q, site }: AuditedRead,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(&params)?;
    let wanted = params.get("status").map(String::as_str);
    if let Some(w) = wanted.filter(|w| !["open", "resolved", "ignored", "regressed", "all"].contains(w)) {
        return Err(ApiError::bad_request(format!("unknown status {w:?}: open, resolved, ignored, regressed or all")));
    }
    let issues = state.store.issues(&q, limit).await.map_err(ApiError::unavailable)?;
    let meta = state.meta.get();
    let results: Vec<Value> = issues
        .iter()
        .filter_map(|i| {
            let status = meta.issue_status(site.id, &i.fingerprint, i.last_ms);
            let keep = match wanted {
                None | Some("all") => true,
                Some("open") => status.is_open(),
                Some(w) => status.as_str() == w,
            };
            keep.then(|| {
                json!({
                    "fingerprint": i.fingerprint,
                    "title": i.title(),
                    "type": i.kind,
                    "message": i.message,
                    "culprit": i.culprit,
                    "level": i.level,
                    "frames": i.frames,
                    "events": i.events,
                    "visitors": i.visitors,
                    "first_seen": obscura_model::format_ms(i.first_ms),
                    "last_seen": obscura_model::format_ms(i.last_ms),
                    "trend": i.trend,
                    "status": status.as_str(),
                })
            })
        })
        .collect();
    let interval = match trend_interval(&q) {
        obscura_query::Interval::Hour => "hour",
        obscura_query::Interval::Day => "day",
        obscura_query::Interval::Week => "week",
    };
    let mut out = json!({ "interval": interval, "results": results });
    if let Some(partial) = state.store.partial() {
        out["partial"] = json!(partial);
    }
    Ok(Json(out))
}

/// `GET /api/v1/stats/errors` (read token or session): reports and visitors per value of
/// `dimension` (`prop:release`, `prop:environment`, `browser`, `os`, `page`, `event` for
/// issues, …), the `limit` values with the most reports.
pub async fn error_breakdown(
    State(state): State<AppState>,
    AuditedRead { params, query: q, .. }: AuditedRead,
) -> Result<Json<Value>, ApiError> {
    let dim = Dimension::parse(
        params.get("dimension").ok_or_else(|| ApiError::bad_request("missing parameter `dimension`"))?,
    )?;
    let limit = parse_limit(&params)?;
    let rows = state.store.error_breakdown(&q, &dim, limit).await.map_err(ApiError::unavailable)?;
    let results: Vec<Value> =
        rows.iter().map(|r| json!({ "value": r.value, "events": r.events, "visitors": r.visitors })).collect();
    let mut out = json!({ "dimension": dim.name(), "results": results });
    if let Some(partial) = state.store.partial() {
        out["partial"] = json!(partial);
    }
    Ok(Json(out))
}
