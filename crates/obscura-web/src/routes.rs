//! Every route Obscura serves, declared in one place with who may use it (P15: no hidden routes).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::{
    accounts, errors, errors_api, exports, funnels, goals, headers, ingest_http, layout, metrics, overview, policy,
    request_log, settings, shares, speed, speed_api, stats_api, tracker,
};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: ingest, the tracker, login, health, static assets.
    Public,
    /// Anyone holding a shared link's token (and its password, if it has one).
    ShareToken,
    /// A logged-in dashboard user (otherwise a redirect to /login).
    Session,
    /// An API token with read scope, or a dashboard session (otherwise 401).
    ReadToken,
    /// An API token with ingest or admin scope (otherwise 401, or 403 for a read token).
    IngestToken,
}

/// One route as the table declares it: its methods, path, who may use it and what it is for.
#[derive(Clone, Copy, Debug)]
pub struct RouteSpec {
    /// The methods served, separated by `|`.
    pub method: &'static str,
    /// The path, in axum's syntax (`{name}` captures a segment).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it is for, in a few words.
    pub purpose: &'static str,
}

const fn spec(method: &'static str, path: &'static str, access: Access, purpose: &'static str) -> RouteSpec {
    RouteSpec { method, path, access, purpose }
}

/// The route table: specification and handler side by side.
pub fn table() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    use Access::*;
    vec![
        (
            spec("POST|OPTIONS", "/api/event", Public, "ingest: Obscura's own event format, and Plausible's"),
            post(ingest_http::post_event).options(ingest_http::preflight),
        ),
        (
            spec(
                "POST",
                "/api/batch",
                IngestToken,
                "ingest: up to 10,000 events from a server or app, with their own times",
            ),
            post(ingest_http::post_batch),
        ),
        (
            spec("POST|OPTIONS", "/api/send", Public, "ingest: Umami's collection format"),
            post(ingest_http::post_umami).options(ingest_http::preflight),
        ),
        (
            spec("GET", "/p.gif", Public, "ingest: the pixel tag, for pages without JavaScript"),
            get(ingest_http::get_pixel),
        ),
        (
            spec("POST|OPTIONS", "/api/vitals", Public, "ingest: speed beacons of the tracker's performance part"),
            post(ingest_http::post_vitals).options(ingest_http::preflight),
        ),
        (
            spec("POST|OPTIONS", "/api/app", Public, "ingest: application launches, timing spans and sessions"),
            post(ingest_http::post_app).options(ingest_http::preflight),
        ),
        (
            spec("POST|OPTIONS", "/api/{project}/envelope/", Public, "ingest: Sentry envelopes (DSN key)"),
            post(ingest_http::post_sentry_envelope).options(ingest_http::sentry_preflight),
        ),
        (
            spec("POST|OPTIONS", "/api/{project}/store/", Public, "ingest: Sentry's legacy store endpoint (DSN key)"),
            post(ingest_http::post_sentry_store).options(ingest_http::sentry_preflight),
        ),
        (
            spec(
                "POST|OPTIONS",
                "/api/{project}/diagnostics/{request}/consent",
                Public,
                "a person's consent to send an issue's detail: a single-use token (DSN key)",
            ),
            post(ingest_http::post_consent).options(ingest_http::sentry_preflight),
        ),
        (spec("GET", "/js/obscura.js", Public, "the tracking script"), get(tracker::tracker_js)),
        (spec("GET", "/js/perf.js", Public, "the tracking script's performance part"), get(tracker::perf_js)),
        (spec("GET", "/js/errors.js", Public, "the tracking script's error part"), get(tracker::errors_js)),
        (
            spec("GET", "/privacy", Public, "the privacy policy, generated from the configuration"),
            get(policy::privacy_html),
        ),
        (
            spec("GET", "/privacy.json", Public, "the data inventory, generated from the configuration"),
            get(policy::privacy_json),
        ),
        (spec("GET", "/health", Public, "liveness: 204 when the server answers"), get(health)),
        (
            spec("GET", "/api/openapi.json", Public, "the stats API described as OpenAPI 3"),
            get(crate::openapi::openapi),
        ),
        (
            spec("GET", "/ready", Public, "readiness: 204 when the event store and metadata answer, else 503"),
            get(ready),
        ),
        (spec("GET", "/static/app.css", Public, "dashboard stylesheet"), get(layout::app_css)),
        (spec("GET", "/static/app.js", Public, "dashboard theme switch"), get(layout::app_js)),
        (spec("GET|POST", "/login", Public, "login form"), get(accounts::get_login).post(accounts::post_login)),
        (spec("POST", "/logout", Session, "end the session"), post(accounts::post_logout)),
        (spec("GET", "/", Session, "overview dashboard"), get(overview::overview)),
        (
            spec("GET|POST", "/share/{token}", ShareToken, "a shared read-only dashboard"),
            get(shares::get_share).post(shares::post_share_password),
        ),
        (spec("GET", "/realtime", Session, "visitors of the last five minutes"), get(overview::realtime)),
        (spec("GET", "/speed", Session, "speed dashboard: web vitals and CDN providers"), get(speed::speed_page)),
        (spec("GET", "/errors", Session, "errors dashboard: issues"), get(errors::errors_page)),
        (
            spec("GET", "/errors/{fingerprint}", Session, "one issue: frames, timeline, reports"),
            get(errors::issue_page),
        ),
        (
            spec("POST", "/errors/{fingerprint}/status", Session, "resolve, ignore or reopen an issue (analysts)"),
            post(errors::post_status),
        ),
        (
            spec(
                "POST",
                "/errors/{fingerprint}/diagnostics",
                Session,
                "ask for an issue's detail, with consent (analysts)",
            ),
            post(errors::post_diagnostics),
        ),
        (
            spec("POST", "/errors/{fingerprint}/diagnostics/close", Session, "close a diagnostics request (analysts)"),
            post(errors::post_close_diagnostics),
        ),
        (spec("GET", "/account", Session, "account settings"), get(accounts::get_account)),
        (
            spec("GET|POST", "/sites", Session, "sites: list and add (admins)"),
            get(settings::sites::list_sites).post(settings::sites::add_site),
        ),
        (
            spec("POST", "/sites/{domain}/dsn", Session, "make a new DSN key for error reports (admins)"),
            post(settings::sites::post_dsn),
        ),
        (
            spec("POST", "/sites/{domain}/shares", Session, "create a shared link (admins)"),
            post(settings::share_links::create_share),
        ),
        (
            spec("POST", "/sites/{domain}/shares/revoke", Session, "revoke a shared link (admins)"),
            post(settings::share_links::revoke_share),
        ),
        (
            spec("GET|POST", "/users", Session, "users: list and add (admins)"),
            get(settings::users::users_page).post(settings::users::add_user),
        ),
        (
            spec("POST", "/users/remove", Session, "remove a user (admins; owners only by owners)"),
            post(settings::users::remove_user),
        ),
        (spec("GET", "/audit", Session, "the audit log (owners)"), get(settings::audit_log::audit_page)),
        (
            spec("GET", "/logs", Session, "the access log of the last 73 hours (owners; audited)"),
            get(request_log::logs_page),
        ),
        (
            spec("GET|POST", "/tokens", Session, "API tokens: list and create (admins)"),
            get(settings::api_tokens::tokens_page).post(settings::api_tokens::create_token),
        ),
        (
            spec("POST", "/tokens/revoke", Session, "revoke an API token (admins)"),
            post(settings::api_tokens::revoke_token),
        ),
        (
            spec("GET|POST", "/sites/{domain}/settings", Session, "a site's privacy and collection settings (admins)"),
            get(settings::sites::get_settings).post(settings::sites::post_settings),
        ),
        (spec("POST", "/account/password", Session, "change one's password"), post(accounts::post_password)),
        (
            spec("POST", "/account/logout-all", Session, "end every session of one's account"),
            post(accounts::post_logout_all),
        ),
        (spec("GET", "/api/v1/sites", ReadToken, "sites the caller may read"), get(stats_api::sites)),
        (spec("GET", "/api/v1/ingest/status", ReadToken, "ingest counters since start"), get(stats_api::ingest_status)),
        (
            spec("GET", "/api/v1/stats/goals", ReadToken, "each goal's conversions, visitors and conversion rate"),
            get(goals::goals),
        ),
        (
            spec("GET", "/api/v1/stats/funnels", ReadToken, "each funnel's visits and drop-off step by step"),
            get(funnels::funnels),
        ),
        (spec("GET", "/metrics", ReadToken, "Prometheus metrics of this node"), get(metrics::metrics)),
        (spec("GET", "/api/v1/stats/aggregate", ReadToken, "headline numbers"), get(stats_api::aggregate)),
        (spec("GET", "/api/v1/stats/timeseries", ReadToken, "numbers per hour or day"), get(stats_api::timeseries)),
        (spec("GET", "/api/v1/stats/breakdown", ReadToken, "top values of a dimension"), get(stats_api::breakdown)),
        (
            spec("GET", "/api/v1/stats/performance", ReadToken, "speed figures: percentiles, ratings, CDN providers"),
            get(speed_api::performance),
        ),
        (
            spec(
                "GET",
                "/api/v1/stats/automated",
                ReadToken,
                "automated traffic kept apart: share, reasons, agents, networks",
            ),
            get(crate::automated::automated),
        ),
        (
            spec("GET", "/api/v1/stats/issues", ReadToken, "error issues: reports, visitors, trend, status"),
            get(errors_api::issues),
        ),
        (
            spec("GET", "/api/v1/stats/errors", ReadToken, "error reports per value of a dimension"),
            get(errors_api::error_breakdown),
        ),
        (
            spec("GET", "/api/v1/export.csv", ReadToken, "a breakdown or time series as CSV (tokens, analysts and up)"),
            get(exports::export_csv),
        ),
        (
            spec(
                "GET",
                "/api/v1/export.parquet",
                ReadToken,
                "a breakdown or time series as Parquet (tokens, analysts and up)",
            ),
            get(exports::export_parquet),
        ),
    ]
}

async fn health() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// 204 when the event store answers, else 503. Metadata is held in memory, so the event store is
/// what a load balancer must know of. What cannot be reached goes to the server's log only: the
/// route is public, and addresses inside the cluster are not for every caller.
async fn ready(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    if let Err(e) = state.store.ready().await {
        tracing::warn!("not ready: {e}");
        return Err(ApiError::new(503, "the event store cannot be reached; the server's log says why"));
    }
    let meta = state.meta.clone();
    let checked = tokio::task::spawn_blocking(move || meta.check()).await;
    if let Err(e) = checked.map_err(anyhow::Error::from).and_then(|r| r) {
        tracing::warn!("not ready: {e:#}");
        return Err(ApiError::new(503, "the metadata store cannot be reached; the server's log says why"));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn not_found(uri: axum::http::Uri) -> impl IntoResponse {
    ApiError::new(404, format!("no route for {}", uri.path()))
}

/// The whole application: every route of [`table`], a JSON 404 for any other path, security headers, the
/// access log and response compression.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for (spec, handler) in table() {
        router = router.route(spec.path, handler);
    }
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_log::log_request))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}
