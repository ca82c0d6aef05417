//! Ingest endpoints over HTTP: `POST /api/event` (Obscura's own format), `POST /api/vitals`
//! (the tracker's speed beacons), `POST /api/app` (applications) and Sentry's
//! `POST /api/{project}/envelope/` and `/store/` (error reports).

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
use obscura_ingest::pipeline::{BatchResult, Protocol, SentryEndpoint, SentryRequest};
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

/// Reads a body of at most `limit` bytes.
async fn read_body_up_to(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(ApiError::new(413, format!("request body is larger than {} KiB", limit / 1024)))
        }
        Err(e) => Err(ApiError::bad_request(format!("cannot read the request body: {e}"))),
    }
}

fn cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().expect("static"));
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS".parse().expect("static"));
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type, x-umami-cache".parse().expect("static"));
    // The tracker reads when to come back after a 503 or 429.
    h.insert(axum::http::header::ACCESS_CONTROL_EXPOSE_HEADERS, "Retry-After".parse().expect("static"));
    h.insert(HeaderName::from_static("accept-ch"), obscura_enrich::ACCEPT_CH.parse().expect("static"));
    res
}

/// `OPTIONS /api/event` (public): the CORS preflight, 204 with the CORS and Client Hints headers.
pub async fn preflight() -> Response {
    cors(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/event` (public, any origin): ingests one event in Obscura's own JSON format, at most
/// [`MAX_BODY`] bytes. 204 when stored, 202 when dropped by a privacy signal or the site's settings, 4xx for
/// an event that is refused, 503 when it cannot be stored (the client may retry). An event in
/// Plausible's format (`docs/switching.md`) is answered as Plausible does: `202 ok`.
pub async fn post_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ja4: Option<axum::Extension<crate::connection::Ja4>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(state, peer, ja4, headers, body, Protocol::Native).await
}

/// `POST /api/vitals` (public, any origin): ingests one speed beacon of the tracker's
/// performance part (`docs/performance.md`), with the same answers as `POST /api/event`; 202
/// also when the beacon came from an automated browser or fell outside the site's sample.
pub async fn post_vitals(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ja4: Option<axum::Extension<crate::connection::Ja4>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(state, peer, ja4, headers, body, Protocol::Vitals).await
}

/// `POST /api/app` (public, any origin): ingests one batch of the application API
/// (`docs/applications.md`): launches, timing spans and sessions, with the same answers.
pub async fn post_app(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ja4: Option<axum::Extension<crate::connection::Ja4>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(state, peer, ja4, headers, body, Protocol::App).await
}

/// `OPTIONS /api/{project}/envelope/` and `/store/` (public): the CORS preflight of browser SDKs.
pub async fn sentry_preflight() -> Response {
    sentry_cors(StatusCode::NO_CONTENT.into_response())
}

/// Browser SDKs report from the site's own origin; they read the rate-limit headers.
fn sentry_cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().expect("static"));
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS".parse().expect("static"));
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type, X-Sentry-Auth, X-Obscura-Consent".parse().expect("static"));
    h.insert(
        axum::http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
        "Retry-After, X-Sentry-Rate-Limits".parse().expect("static"),
    );
    res
}

/// `POST /api/{project}/envelope/` (public, any origin, DSN key): Sentry's envelope endpoint.
/// `200 {"id": …}` when accepted; 400 for a malformed envelope, 403 without the project's DSN
/// key, 404 for an unknown project, 413 over a limit, 429 with `Retry-After` over the site's
/// ceiling, 503 when it cannot be stored.
pub async fn post_sentry_envelope(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::extract::Path(project): axum::extract::Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    sentry(state, peer, &project, &uri, headers, body, SentryEndpoint::Envelope).await
}

/// `POST /api/{project}/store/` (public, any origin, DSN key): Sentry's legacy endpoint, one
/// event as JSON; answered like the envelope endpoint.
pub async fn post_sentry_store(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::extract::Path(project): axum::extract::Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    sentry(state, peer, &project, &uri, headers, body, SentryEndpoint::Store).await
}

async fn sentry(
    state: AppState,
    peer: SocketAddr,
    project: &str,
    uri: &axum::http::Uri,
    headers: HeaderMap,
    body: Body,
    endpoint: SentryEndpoint,
) -> Response {
    let auth = header(&headers, "x-sentry-auth");
    let encoding = header(&headers, "content-encoding");
    let consent = header(&headers, "x-obscura-consent");
    let result = async {
        admit_body(&state).map_err(|e| (e, OVERLOAD_RETRY_AFTER_SECS))?;
        let bytes = read_body_up_to(body, obscura_ingest::decode::sentry::MAX_BODY).await.map_err(|e| (e, 0))?;
        let ctx = request_context(&state, peer, &headers, None);
        let request = SentryRequest {
            endpoint,
            project,
            auth_header: auth.as_deref(),
            query: uri.query(),
            content_encoding: encoding.as_deref(),
            consent: consent.as_deref(),
        };
        state.pipeline.ingest_errors(request, &bytes, ctx).await.map_err(|e| match e {
            IngestError::Unavailable(msg) => {
                tracing::error!("ingest could not store an error report: {msg}");
                (ApiError::new(503, "the error report could not be stored; retry later"), 5)
            }
            IngestError::RateLimited(wait) => (ApiError::new(429, e.to_string()), wait),
            IngestError::Overloaded(msg) => (ApiError::new(503, msg), OVERLOAD_RETRY_AFTER_SECS),
            other => (ApiError::new(other.status(), other.to_string()), 0),
        })
    }
    .await;
    sentry_cors(match result {
        Ok(accepted) => {
            let mut answer = serde_json::json!({ "id": accepted.id });
            if let Some(offer) = &accepted.diagnostics {
                answer["diagnostics"] = serde_json::json!({
                    "request": offer.id,
                    "purpose": offer.purpose,
                    "wants": offer.wants.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
                    "consent": format!("/api/{project}/diagnostics/{}/consent", offer.id),
                });
            }
            if let Some(detail) = &accepted.detail {
                answer["detail"] = serde_json::json!(detail);
            }
            (StatusCode::OK, axum::Json(answer)).into_response()
        }
        Err((e, wait)) if wait > 0 => {
            let mut response = e.into_response();
            let h = response.headers_mut();
            h.insert(axum::http::header::RETRY_AFTER, wait.into());
            // Sentry's own header: seconds, every category, for this key.
            h.insert("x-sentry-rate-limits", format!("{wait}::key").parse().expect("digits and colons"));
            response
        }
        Err((e, _)) => e.into_response(),
    })
}

/// `POST /api/{project}/diagnostics/{request}/consent` (public, any origin, DSN key): the
/// person agreed to send the detail a diagnostics request asks for; answers `200 {"token",
/// "expires"}` with a single-use token to send with the report (`X-Obscura-Consent` or
/// `?obscura_consent=`); 403 without the site's key, 404 for an unknown request, 409 when it is
/// closed or too many consents wait for their reports, 429 over the site's ceiling.
pub async fn post_consent(
    State(state): State<AppState>,
    axum::extract::Path((project, request)): axum::extract::Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let auth = header(&headers, "x-sentry-auth");
    let answer = match state.pipeline.grant_consent(&project, auth.as_deref(), uri.query(), &request) {
        Ok((token, expires_ms)) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "token": token, "expires": obscura_model::format_ms(expires_ms) })),
        )
            .into_response(),
        Err(IngestError::Unavailable(msg)) => {
            tracing::error!("a consent could not be recorded: {msg}");
            ApiError::new(503, "the consent could not be recorded; retry later").into_response()
        }
        Err(e @ IngestError::RateLimited(wait)) => {
            let mut response = ApiError::new(429, e.to_string()).into_response();
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, wait.into());
            response
        }
        Err(e) => ApiError::new(e.status(), e.to_string()).into_response(),
    };
    sentry_cors(answer)
}

/// A 1 × 1 transparent GIF, the pixel tag's answer.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// `GET /p.gif?site=…&url=…` (public): the pixel tag, a page view (or with `name`, an event) from a
/// page without JavaScript, through the same privacy path. Without `url` the `Referer` header
/// names the page. Always a 1 × 1 GIF that no cache keeps; when the request is refused, with its
/// 4xx status and the reason in `X-Obscura-Error` (a page shows no broken image).
pub async fn get_pixel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ja4: Option<axum::Extension<crate::connection::Ja4>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let mut query = uri.query().unwrap_or_default().to_owned();
    let names_page = url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "url");
    if let (false, Some(page)) = (names_page, header(&headers, "referer")) {
        let page: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
        query = format!("{query}&url={page}");
    }
    let mut response = match ingest_bytes(&state, peer, ja4, &headers, query.into_bytes().into(), Protocol::Pixel).await
    {
        Ok(_) => (StatusCode::OK, PIXEL_GIF).into_response(),
        Err(e) => {
            let reason = axum::http::HeaderValue::from_str(&e.message.replace(['\r', '\n'], " "))
                .unwrap_or_else(|_| axum::http::HeaderValue::from_static("refused"));
            let mut r = (e.status, PIXEL_GIF).into_response();
            r.headers_mut().insert(HeaderName::from_static("x-obscura-error"), reason);
            if e.status == StatusCode::SERVICE_UNAVAILABLE {
                retry_later(&mut r);
            }
            r
        }
    };
    let h = response.headers_mut();
    h.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("image/gif"));
    h.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response
}

/// `POST /api/send` (public, any origin): Umami's collection format (`docs/switching.md`),
/// answered as Umami does: `200` with `{"cache": …}` (a token naming the day only, which Umami's
/// clients send back in `x-umami-cache`), `{"beep": "boop"}` to a client judged automated, 4xx
/// saying what is wrong.
pub async fn post_umami(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ja4: Option<axum::Extension<crate::connection::Ja4>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(state, peer, ja4, headers, body, Protocol::Umami).await
}

/// The largest batch body: 10,000 events of up to 1.6 KiB each.
const MAX_BATCH_BODY: usize = 16 * 1024 * 1024;

/// `POST /api/batch` (an API token with ingest or admin scope): up to 10,000 events as NDJSON or
/// a JSON array, each with its own time, idempotency key and visitor (`docs/batch.md`), stored
/// with one append. `200` with a result per event, in order; `400` when the body is no batch;
/// `503` with `Retry-After` when the store cannot write (nothing of the batch is stored then,
/// and a retry with the same keys is safe).
pub async fn post_batch(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result =
        async {
            let token = crate::tokens::authenticate(&headers, &state.meta.get(), state.clock.now_ms())?;
            if token.scope == obscura_store::meta::TokenScope::Read {
                return Err(ApiError::forbidden("this token may only read statistics, not send events"));
            }
            admit_body(&state)?;
            let bytes = read_body_up_to(body, MAX_BATCH_BODY).await?;
            // The sending server's privacy signals are not its visitors'.
            let ctx = RequestContext { opted_out: false, ..request_context(&state, peer, &headers, None) };
            let allowed = (!token.sites.is_empty()).then_some(token.sites.as_slice());
            state.pipeline.ingest_batch(&bytes, ctx, allowed).await.map_err(|e| {
                ingest_error(e, "the batch could not be stored; retry later with the same idempotency keys")
            })
        }
        .await;
    match result {
        Ok(results) => {
            let count = |f: fn(&BatchResult) -> bool| results.iter().filter(|r| f(r)).count();
            let rows: Vec<serde_json::Value> = results
                .iter()
                .map(|r| match r {
                    BatchResult::Stored => serde_json::json!({"status": "stored"}),
                    BatchResult::Duplicate => serde_json::json!({"status": "duplicate"}),
                    BatchResult::Dropped => serde_json::json!({"status": "dropped"}),
                    BatchResult::Refused(code, error) => {
                        serde_json::json!({"status": "refused", "code": code, "error": error})
                    }
                })
                .collect();
            axum::Json(serde_json::json!({
                "stored": count(|r| *r == BatchResult::Stored),
                "duplicates": count(|r| *r == BatchResult::Duplicate),
                "dropped": count(|r| *r == BatchResult::Dropped),
                "refused": count(|r| matches!(r, BatchResult::Refused(..))),
                "results": rows,
            }))
            .into_response()
        }
        Err(e) => answer_error(e),
    }
}

/// Decodes and ingests `bytes` of `protocol`; the protocol it was in the end (an event in
/// Plausible's format arrives on Obscura's own route) and what became of it.
async fn ingest_bytes(
    state: &AppState,
    peer: SocketAddr,
    ja4: Option<axum::Extension<crate::connection::Ja4>>,
    headers: &HeaderMap,
    bytes: axum::body::Bytes,
    protocol: Protocol,
) -> Result<(Protocol, Outcome), ApiError> {
    let protocol = if protocol == Protocol::Native && obscura_ingest::decode::plausible::is_plausible(&bytes) {
        Protocol::Plausible
    } else {
        protocol
    };
    // Computed here when this server terminated TLS, else passed by a trusted proxy.
    let ja4 = ja4
        .map(|j| j.0.0.to_string())
        .or_else(|| crate::client_ip::proxied_ja4(&state.trusted_proxies, peer.ip(), headers));
    let ctx = request_context(state, peer, headers, ja4);
    let outcome = state
        .pipeline
        .ingest(protocol, &bytes, ctx)
        .await
        .map_err(|e| ingest_error(e, "the event could not be stored; retry later"))?;
    Ok((protocol, outcome))
}

/// What every decoder gets of a request: when (the injected clock), the client's address
/// (a forwarding header believed from trusted proxies only), its headers and privacy signals.
fn request_context(state: &AppState, peer: SocketAddr, headers: &HeaderMap, ja4: Option<String>) -> RequestContext {
    RequestContext {
        received_at: state.clock.now(),
        ip: crate::client_ip::resolve(&state.trusted_proxies, peer.ip(), headers),
        headers: raw_headers(headers),
        opted_out: opted_out(headers),
        ja4,
    }
}

/// `503` before a body is read while memory is over its ceiling, so an overloaded server
/// buffers no more bodies.
fn admit_body(state: &AppState) -> Result<(), ApiError> {
    state.pipeline.admission().check_memory().map_err(|refusal| ApiError::new(503, refusal.to_string()))
}

/// An ingest error as its answer; a store that cannot write is logged and answered `503`
/// with `answer`.
fn ingest_error(e: IngestError, answer: &str) -> ApiError {
    match e {
        IngestError::Unavailable(msg) => {
            tracing::error!("{answer}: {msg}");
            ApiError::new(503, answer)
        }
        other => ApiError::new(other.status(), other.to_string()),
    }
}

/// `e` as its answer; a `503` says when to come back, so clients retry instead of dropping what
/// they sent (the store is down for a moment: a full disk, a ClickHouse shard restarting).
fn answer_error(e: ApiError) -> Response {
    let unavailable = e.status == StatusCode::SERVICE_UNAVAILABLE;
    let mut response = e.into_response();
    if unavailable {
        retry_later(&mut response);
    }
    response
}

/// Seconds a client is asked to wait after a `503`.
const OVERLOAD_RETRY_AFTER_SECS: u64 = 5;

fn retry_later(response: &mut Response) {
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, OVERLOAD_RETRY_AFTER_SECS.into());
}

async fn ingest(
    state: AppState,
    peer: SocketAddr,
    ja4: Option<axum::Extension<crate::connection::Ja4>>,
    headers: HeaderMap,
    body: Body,
    protocol: Protocol,
) -> Response {
    let result = match async {
        admit_body(&state)?;
        read_body(body).await
    }
    .await
    {
        Ok(bytes) => ingest_bytes(&state, peer, ja4, &headers, bytes, protocol).await,
        Err(e) => Err(e),
    };
    cors(match result {
        // Umami's answers: the cache token its clients send back, and what Umami says to robots.
        Ok((Protocol::Umami, Outcome::KeptApart)) => axum::Json(serde_json::json!({"beep": "boop"})).into_response(),
        Ok((Protocol::Umami, _)) => {
            let day = obscura_model::format_day(state.clock.now().date());
            axum::Json(serde_json::json!({"cache": obscura_ingest::decode::umami::cache_token(&day)})).into_response()
        }
        // Plausible's answer to every accepted event, whatever became of it.
        Ok((Protocol::Plausible, _)) => {
            (StatusCode::ACCEPTED, [(axum::http::header::CONTENT_TYPE, "text/plain")], "ok").into_response()
        }
        // Automated clients are answered as people are: nothing tells them they were spotted.
        Ok((_, Outcome::Stored | Outcome::KeptApart)) => StatusCode::NO_CONTENT.into_response(),
        Ok((_, Outcome::DroppedByPolicy)) => {
            (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"dropped": "by privacy policy: Global Privacy Control / Do-Not-Track, or the site does not collect this"}))).into_response()
        }
        Ok((_, Outcome::DroppedFromSpeed)) => {
            (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"dropped": "kept out of the speed figures: an automated browser, outside the site's sample, or no measurement in range"}))).into_response()
        }
        Err(e) => answer_error(e),
    })
}
