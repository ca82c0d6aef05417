//! Ingest endpoints over HTTP: `POST /api/event` (Obscura's own format) and `POST /api/vitals`
//! (the tracker's speed beacons).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, HeaderName,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use obscura_ingest::decode::RequestContext;
use obscura_ingest::pipeline::Protocol;
use obscura_ingest::{IngestError, Outcome};
use obscura_model::raw::RawHeaders;

use crate::api_error::ApiError;
use crate::state::AppState;

/// Request bodies above this are refused with 413.
pub const MAX_BODY: usize = 64 * 1024;

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(512).collect())
}

fn raw_headers(headers: &HeaderMap) -> RawHeaders {
    RawHeaders {
        user_agent: header(headers, "user-agent").unwrap_or_default(),
        ch_ua: header(headers, "sec-ch-ua"),
        ch_ua_mobile: header(headers, "sec-ch-ua-mobile"),
        ch_ua_platform: header(headers, "sec-ch-ua-platform"),
        ch_ua_model: header(headers, "sec-ch-ua-model"),
        ch_ua_platform_version: header(headers, "sec-ch-ua-platform-version"),
    }
}

/// Global Privacy Control or Do-Not-Track.
fn opted_out(headers: &HeaderMap) -> bool {
    header(headers, "sec-gpc").as_deref() == Some("1") || header(headers, "dnt").as_deref() == Some("1")
}

/// Reads a body of at most [`MAX_BODY`] bytes.
pub async fn read_body(body: Body) -> Result<axum::body::Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(ApiError::new(413, format!("request body is larger than {} KiB", MAX_BODY / 1024)))
        }
        Err(e) => Err(ApiError::bad_request(format!("cannot read the request body: {e}"))),
    }
}

fn cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().expect("static"));
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS".parse().expect("static"));
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type".parse().expect("static"));
    h.insert(HeaderName::from_static("accept-ch"), obscura_enrich::ACCEPT_CH.parse().expect("static"));
    res
}

/// `OPTIONS /api/event` (public): the CORS preflight, 204 with the CORS and Client Hints headers.
pub async fn preflight() -> Response {
    cors(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/event` (public, any origin): ingests one event in Obscura's own JSON format, at most
/// [`MAX_BODY`] bytes. 204 when stored, 202 when dropped by a privacy signal or the site's settings, 4xx for
/// an event that is refused, 503 when it cannot be stored (the client may retry).
pub async fn post_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(state, peer, headers, body, Protocol::Native).await
}

/// `POST /api/vitals` (public, any origin): ingests one speed beacon of the tracker's
/// performance part (`docs/performance.md`), with the same answers as `POST /api/event`; 202
/// also when the beacon came from an automated browser or fell outside the site's sample.
pub async fn post_vitals(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(state, peer, headers, body, Protocol::Vitals).await
}

/// `POST /api/app` (public, any origin): ingests one batch of the application API
/// (`docs/applications.md`): launches, timing spans and sessions, with the same answers.
pub async fn post_app(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(state, peer, headers, body, Protocol::App).await
}

async fn ingest(state: AppState, peer: SocketAddr, headers: HeaderMap, body: Body, protocol: Protocol) -> Response {
    let result = async {
        let bytes = read_body(body).await?;
        let ctx = RequestContext {
            received_at: state.clock.now(),
            ip: crate::client_ip::resolve(&state.trusted_proxies, peer.ip(), &headers),
            headers: raw_headers(&headers),
            opted_out: opted_out(&headers),
        };
        state.pipeline.ingest(protocol, &bytes, ctx).await.map_err(|e| match e {
            IngestError::Unavailable(msg) => {
                tracing::error!("ingest could not store an event: {msg}");
                ApiError::new(503, "the event could not be stored; retry later")
            }
            other => ApiError::new(other.status(), other.to_string()),
        })
    }
    .await;
    cors(match result {
        Ok(Outcome::Stored) => StatusCode::NO_CONTENT.into_response(),
        // The store is down for a moment (a full disk, a ClickHouse shard restarting): say when
        // to come back, so clients retry instead of dropping the event.
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => {
            let mut response = e.into_response();
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
            response
        }
        Ok(Outcome::DroppedByPolicy) => {
            (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"dropped": "by privacy policy: Global Privacy Control / Do-Not-Track, or the site does not collect this"}))).into_response()
        }
        Ok(Outcome::DroppedFromSpeed) => {
            (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"dropped": "kept out of the speed figures: an automated browser, outside the site's sample, or no measurement in range"}))).into_response()
        }
        Err(e) => e.into_response(),
    })
}
