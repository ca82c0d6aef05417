//! The stats API: `GET /api/v1/stats/{aggregate,timeseries,breakdown}` and `GET /api/v1/sites`.
//!
//! Parameters: `site` (domain), `range` (today, 24h, 7d, 30d, month, last_month, 12mo, custom with
//! `from`/`to`), `filters` (`dim==a|b;dim!=c;dim~=text`), `interval` (hour, day), `dimension`,
//! `limit`. Authentication: an API token with read scope, or a dashboard session.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query as UrlQuery, State};
use axum::http::HeaderMap;
use obscura_query::results;
use obscura_query::{Dimension, Filter, Interval, Query, TimeRange};
use obscura_store::meta::{Role, Site, TokenScope};
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::tokens;

pub type Params = HashMap<String, String>;

/// Who is asking, and which sites they may read.
pub struct Reader {
    /// `token:<id>` or `user:<name>`, for the audit log.
    pub actor: String,
    /// `None` = every site.
    pub sites: Option<Vec<u32>>,
}

impl Reader {
    pub fn may_read(&self, site: u32) -> bool {
        self.sites.as_ref().is_none_or(|s| s.contains(&site))
    }

    /// The reader behind a dashboard session: viewers see their assigned sites only.
    pub fn for_session(state: &AppState, session: &crate::sessions::Session) -> Reader {
        let meta = state.meta.get();
        let user = meta.users.iter().find(|u| u.username == session.username);
        let sites = match user {
            Some(u) if u.role >= Role::Analyst => None,
            Some(u) => Some(u.sites.clone()),
            // A session whose user was removed reads nothing.
            None => Some(Vec::new()),
        };
        Reader { actor: format!("user:{}", session.username), sites }
    }
}

/// Records a read in the audit log; a read that cannot be recorded is not served.
pub fn audit_read(state: &AppState, actor: &str, site: Option<&str>, detail: &str) -> Result<(), ApiError> {
    let ts_ms = state.clock.now_ms();
    state
        .audit
        .append(obscura_store::audit::AuditEntry { ts_ms, actor, action: "read", site, detail })
        .map_err(|e| ApiError::unavailable(format!("audit log: {e:#}")))
}

/// The request as the audit log records it: path and parameters.
fn describe(path: &str, params: &Params) -> String {
    let mut pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    format!("{path}?{}", pairs.join("&"))
}

pub fn authorize(state: &AppState, headers: &HeaderMap) -> Result<Reader, ApiError> {
    let now = state.clock.now();
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        let meta = state.meta.get();
        let token = tokens::authenticate(headers, &meta, obscura_model::unix_ms(now))?;
        if token.scope == TokenScope::Ingest {
            return Err(ApiError::forbidden("this token may only send events, not read statistics"));
        }
        let sites = (!token.sites.is_empty()).then_some(token.sites);
        return Ok(Reader { actor: format!("token:{}", token.id), sites });
    }
    match state.sessions.get(headers, now) {
        Some(session) => Ok(Reader::for_session(state, &session)),
        None => Err(ApiError::unauthorized("missing `Authorization: Bearer <token>` header")),
    }
}

/// Builds the typed query from URL parameters, checking the reader may see the site.
pub fn parse_query(state: &AppState, reader: &Reader, params: &Params) -> Result<(Query, Site), ApiError> {
    let domain =
        params.get("site").ok_or_else(|| ApiError::bad_request("missing parameter `site` (the site's domain)"))?;
    let meta = state.meta.get();
    let site =
        meta.site_by_domain(domain).cloned().ok_or_else(|| ApiError::new(404, format!("unknown site {domain:?}")))?;
    if !reader.may_read(site.id) {
        return Err(ApiError::forbidden(format!("{} may not read {domain:?}", reader.actor)));
    }
    let range = TimeRange::named(
        params.get("range").map_or("30d", String::as_str),
        state.clock.now(),
        params.get("from").map(String::as_str),
        params.get("to").map(String::as_str),
    )?;
    let filters = params
        .get("filters")
        .map(|f| f.split(';').filter(|s| !s.is_empty()).map(Filter::parse).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    if filters.len() > 20 {
        return Err(ApiError::bad_request("at most 20 filters"));
    }
    Ok((Query { site: site.id, range, filters }, site))
}

pub fn parse_limit(params: &Params) -> Result<u32, ApiError> {
    match params.get("limit") {
        None => Ok(10),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("`limit` must be a number from 1 to 1000, not {l:?}"))),
    }
}

pub async fn aggregate(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<Params>,
) -> Result<Json<Value>, ApiError> {
    let reader = authorize(&state, &headers)?;
    let (q, site) = parse_query(&state, &reader, &params)?;
    audit_read(&state, &reader.actor, Some(&site.domain), &describe("/api/v1/stats/aggregate", &params))?;
    let current = results::aggregate(state.store.as_ref(), state.dialect, &q).await.map_err(ApiError::unavailable)?;
    let mut out = json!({ "results": current });
    if params.get("compare").map(String::as_str) == Some("previous") {
        let prev_q = Query { range: q.range.previous(), ..q };
        let previous =
            results::aggregate(state.store.as_ref(), state.dialect, &prev_q).await.map_err(ApiError::unavailable)?;
        out["previous"] = json!(previous);
    }
    Ok(Json(out))
}

pub async fn timeseries(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<Params>,
) -> Result<Json<Value>, ApiError> {
    let reader = authorize(&state, &headers)?;
    let (q, site) = parse_query(&state, &reader, &params)?;
    audit_read(&state, &reader.actor, Some(&site.domain), &describe("/api/v1/stats/timeseries", &params))?;
    let interval = Interval::parse(params.get("interval").map_or("day", String::as_str))?;
    let points =
        results::timeseries(state.store.as_ref(), state.dialect, &q, interval).await.map_err(ApiError::unavailable)?;
    let rows: Vec<Value> = points
        .iter()
        .map(|p| {
            json!({
                "date": format_ms(p.bucket_ms),
                "visitors": p.visitors, "visits": p.visits, "pageviews": p.pageviews,
            })
        })
        .collect();
    Ok(Json(json!({ "results": rows })))
}

pub async fn breakdown(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<Params>,
) -> Result<Json<Value>, ApiError> {
    let reader = authorize(&state, &headers)?;
    let (q, site) = parse_query(&state, &reader, &params)?;
    audit_read(&state, &reader.actor, Some(&site.domain), &describe("/api/v1/stats/breakdown", &params))?;
    let dim = Dimension::parse(
        params.get("dimension").ok_or_else(|| ApiError::bad_request("missing parameter `dimension`"))?,
    )?;
    let limit = parse_limit(&params)?;
    let rows = results::breakdown(state.store.as_ref(), state.dialect, &q, &dim, limit)
        .await
        .map_err(ApiError::unavailable)?;
    let mut out = json!({ "dimension": dim.name(), "results": rows });
    if matches!(dim, Dimension::Continent | Dimension::Country | Dimension::Province | Dimension::Network) {
        // DB-IP's licence (CC BY 4.0) asks for attribution wherever its data is shown.
        out["attribution"] = json!(GEO_ATTRIBUTION);
    }
    Ok(Json(out))
}

/// `GET /api/v1/export.csv`: a breakdown as CSV (aggregates only: per-event rows never leave).
/// For API tokens with read scope and for analysts, admins and owners — not viewers.
pub async fn export_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<Params>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let reader = authorize(&state, &headers)?;
    if reader.actor.starts_with("user:") {
        let session = state.sessions.get(&headers, state.clock.now());
        if session.is_none_or(|s| s.role < Role::Analyst) {
            return Err(ApiError::forbidden("exports need the analyst, admin or owner role"));
        }
    }
    let (q, site) = parse_query(&state, &reader, &params)?;
    let dim = Dimension::parse(
        params.get("dimension").ok_or_else(|| ApiError::bad_request("missing parameter `dimension`"))?,
    )?;
    let limit = match params.get("limit") {
        None => 1000,
        Some(_) => parse_limit(&params)?,
    };
    let ts_ms = state.clock.now_ms();
    let detail = describe("/api/v1/export.csv", &params);
    state
        .audit
        .append(obscura_store::audit::AuditEntry {
            ts_ms,
            actor: &reader.actor,
            action: "export",
            site: Some(&site.domain),
            detail: &detail,
        })
        .map_err(|e| ApiError::unavailable(format!("audit log: {e:#}")))?;
    let rows = results::breakdown(state.store.as_ref(), state.dialect, &q, &dim, limit)
        .await
        .map_err(ApiError::unavailable)?;
    let mut csv = format!("{},visitors,visits,pageviews,events\n", dim.name());
    for r in &rows {
        csv.push_str(&format!("{},{},{},{},{}\n", csv_field(&r.value), r.visitors, r.visits, r.pageviews, r.events));
    }
    let name = format!("attachment; filename=\"{}-{}.csv\"", site.domain, dim.name().replace(':', "-"));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, name),
        ],
        csv,
    )
        .into_response())
}

/// A CSV field: quoted when needed, and defused when a spreadsheet would take it for a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

pub const GEO_ATTRIBUTION: &str = "IP geolocation by DB-IP (https://db-ip.com), CC BY 4.0";

/// Ingest counters since the server started: stored, dropped by privacy signals, rejected — in
/// total and per site. A reader limited to some sites sees those sites' counters only, and its
/// totals are their sums; requests naming no configured site count in the full totals only.
pub async fn ingest_status(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let reader = authorize(&state, &headers)?;
    audit_read(&state, &reader.actor, None, "/api/v1/ingest/status")?;
    let c = &state.pipeline.counters;
    let meta = state.meta.get();
    let mut per_site = serde_json::Map::new();
    let mut sum = obscura_ingest::pipeline::SiteCounts::default();
    for site in meta.sites.iter().filter(|s| reader.may_read(s.id)) {
        let counts = c.site(site.id);
        sum.stored += counts.stored;
        sum.dropped_by_policy += counts.dropped_by_policy;
        sum.rejected += counts.rejected;
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
            }
        }
    };
    let mut out = counts_json(totals);
    out["sites"] = Value::Object(per_site);
    Ok(Json(out))
}

fn counts_json(c: obscura_ingest::pipeline::SiteCounts) -> Value {
    json!({ "stored": c.stored, "dropped_by_policy": c.dropped_by_policy, "rejected": c.rejected })
}

pub async fn sites(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let reader = authorize(&state, &headers)?;
    audit_read(&state, &reader.actor, None, "/api/v1/sites")?;
    let meta = state.meta.get();
    let sites: Vec<Value> = meta
        .sites
        .iter()
        .filter(|s| reader.may_read(s.id))
        .map(|s| json!({ "domain": s.domain, "respect_dnt": s.respect_dnt }))
        .collect();
    Ok(Json(json!({ "results": sites })))
}

/// RFC 3339 in UTC.
pub fn format_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
