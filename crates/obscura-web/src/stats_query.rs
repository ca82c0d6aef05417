//! Reading statistics: who reads ([`Reader`], from an API token or a dashboard session) and
//! what they ask for (the URL parameters of the stats API, the dashboard and shared links,
//! parsed into a typed query).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query as UrlQuery};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use obscura_query::{Filter, Query, TimeRange};
use obscura_store::meta::{Role, Site, TokenScope};

use crate::api_error::ApiError;
use crate::audit::record_read;
use crate::state::AppState;
use crate::tokens;

/// URL query parameters by name.
pub type Params = HashMap<String, String>;

/// Who is asking, and which sites they may read.
pub struct Reader {
    /// `token:<id>` or `user:<name>`, for the audit log.
    pub actor: String,
    /// `None` = every site.
    pub sites: Option<Vec<u32>>,
}

impl Reader {
    /// Whether the reader may read the site with id `site`.
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

/// The reader of an API request: the bearer token in `Authorization` when there is one (403 for an
/// ingest-only token), else the dashboard session; 401 with neither.
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
    // A date that cannot be one is a mistake even where the range does not read it.
    for name in ["from", "to"] {
        if let Some(day) = params.get(name).filter(|d| !d.is_empty())
            && obscura_model::parse_day(day).is_none()
        {
            return Err(ApiError::bad_request(format!("`{name}` must be a date (YYYY-MM-DD), not {day:?}")));
        }
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

/// The `limit` parameter: 1 to 1000, 10 when absent; 400 otherwise.
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

/// The credit DB-IP's licence (CC BY 4.0) asks for wherever its location data is shown.
pub const GEO_ATTRIBUTION: &str = "IP geolocation by DB-IP (https://db-ip.com), CC BY 4.0";

/// A stats request that may be served: its reader authorized, its query parsed (the reader may
/// read the site), and the read recorded in the audit log — a read that cannot be recorded is
/// not served.
pub struct AuditedRead {
    /// The request's URL parameters.
    pub params: Params,
    /// The typed query they make.
    pub query: Query,
    /// The site queried.
    pub site: Site,
}

impl FromRequestParts<AppState> for AuditedRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let UrlQuery(params) = UrlQuery::<Params>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        let reader = authorize(state, &parts.headers)?;
        let (query, site) = parse_query(state, &reader, &params)?;
        record_read(state, &reader.actor, Some(&site.domain), &describe(parts.uri.path(), &params))?;
        Ok(AuditedRead { params, query, site })
    }
}

/// The request as the audit log records it: path and parameters, sorted.
pub fn describe(path: &str, params: &Params) -> String {
    let mut pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    format!("{path}?{}", pairs.join("&"))
}
