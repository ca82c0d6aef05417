//! Writes one access-log line per request (P8) and shows the log to owners.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_store::access_log::AccessLine;
use obscura_store::meta::Role;

use crate::overview::page;
use crate::settings::audit;
use crate::state::AppState;

/// Middleware: lets the request through, then records it with its status.
pub async fn log_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Read what the line needs before the request moves on (a body is not `Sync`, so no
    // reference to the request may live across the await).
    let mut line = describe(&state, &request);
    let response = next.run(request).await;
    line.status = response.status().as_u16();
    line.ts_ms = (state.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
    if let Err(e) = state.access_log.record(&line) {
        tracing::warn!("cannot write the access log: {e:#}");
    }
    response
}

/// The line for a request, its status and time still to fill in.
fn describe(state: &AppState, request: &Request) -> AccessLine {
    let header = |name: &str| {
        request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().chars().take(500).collect::<String>()
    };
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip = crate::client_ip::client_ip(state, peer, request.headers()).map_or_else(String::new, |ip| ip.to_string());
    let forwarded = [header("x-forwarded-for"), header("forwarded")].into_iter().filter(|h| !h.is_empty()).collect::<Vec<_>>().join("; ");
    AccessLine {
        ts_ms: 0,
        ip,
        method: request.method().to_string(),
        // The path only: query strings and full referrers may carry what the rest of Obscura
        // scrubs, and the log is for telling who asked for what, not for analytics.
        path: request.uri().path().chars().take(2000).collect(),
        status: 0,
        user_agent: header("user-agent"),
        referer: origin(&header("referer")),
        forwarded,
    }
}

/// `https://example.com/a?b` → `https://example.com`.
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split(['/', '?', '#']).next().unwrap_or_default()),
        None => String::new(),
    }
}

/// `GET /logs`: the last hours of the access log (owners only; every view is audited).
pub async fn logs_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match crate::accounts::signed_in(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if session.role < Role::Owner {
        return (StatusCode::FORBIDDEN, Html(page("Forbidden", html! { main { h1 { "Owners only" } } }).into_string())).into_response();
    }
    let since = state.clock.now() - time::Duration::hours(obscura_store::access_log::PROMISED_HOURS);
    let lines = match state.access_log.read(since) {
        Ok(lines) => lines,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("the access log cannot be read: {e:#}")).into_response(),
    };
    audit(&state, &session, "logs.read", &format!("{} lines", lines.len()));
    let body = page(
        "Access log",
        html! {
            header.top { h1 { "Access log" } nav.actions { a href="/" { "Dashboard" } a href="/audit" { "Audit log" } } }
            main {
                p.muted { "Requests of the last " (obscura_store::access_log::PROMISED_HOURS) " hours, newest first; older lines are destroyed. Viewing this page is recorded in the audit log." }
                table.top {
                    thead { tr { th { "When (UTC)" } th { "IP" } th { "Request" } th { "Status" } th { "User-Agent" } } }
                    tbody {
                        @for l in lines.iter().rev().take(500) {
                            tr { td { (crate::stats_api::format_ms(l.ts_ms)) } td { (l.ip) } td { (l.method) " " (l.path) } td { (l.status) } td { (l.user_agent) } }
                        }
                    }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}
