//! Writes one access-log line per request (P8) and shows the log to owners.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_store::access_log::{AccessLine, Cursor};

use crate::audit::record_action as audit;
use crate::extract::{Owner, RequireRole};
use crate::layout::page;
use crate::state::AppState;

/// Middleware: lets the request through, then records it with its status.
pub async fn log_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Read what the line needs before the request moves on (a body is not `Sync`, so no
    // reference to the request may live across the await).
    let mut line = describe(&state, &request);
    let response = next.run(request).await;
    line.status = response.status().as_u16();
    line.ts_ms = state.clock.now_ms();
    if let Err(e) = state.access_log.record(&line) {
        tracing::warn!("cannot write the access log: {e:#}");
    }
    response
}

/// The line for a request, its status and time still to fill in.
fn describe(state: &AppState, request: &Request) -> AccessLine {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect::<String>()
    };
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip = crate::client_ip::client_ip(state, peer, request.headers()).map_or_else(String::new, |ip| ip.to_string());
    let forwarded = [header("x-forwarded-for"), header("forwarded")]
        .into_iter()
        .filter(|h| !h.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    AccessLine {
        ts_ms: 0,
        ip,
        method: request.method().to_string(),
        // The path only: query strings and full referrers may carry what the rest of Obscura
        // scrubs, and the log is for telling who asked for what, not for analytics.
        path: without_secrets(request.uri().path()),
        status: 0,
        user_agent: header("user-agent"),
        referer: origin(&header("referer")),
        forwarded,
        ja4: request.extensions().get::<crate::connection::Ja4>().map(|j| j.0.to_string()).unwrap_or_default(),
        dropped: 0,
    }
}

/// A path as the log keeps it: the token of a shared link is a secret (whoever holds it reads
/// the dashboard) and is stored elsewhere only as a hash, so `/share/<token>/…` becomes
/// `/share/…/…`.
fn without_secrets(path: &str) -> String {
    match path.strip_prefix("/share/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, after)) => format!("/share/…/{after}"),
            None => "/share/…".to_owned(),
        },
        None => path.to_owned(),
    }
}

/// `https://example.com/a?b` → `https://example.com`.
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split(['/', '?', '#']).next().unwrap_or_default()),
        None => String::new(),
    }
}

/// Lines shown per page of `/logs`.
const PAGE_LINES: usize = 200;

/// The URL parameters of `GET /logs`: an optional address filter and where the page starts.
#[derive(serde::Deserialize)]
pub struct LogsQuery {
    /// Only requests from this address.
    #[serde(default)]
    ip: Option<String>,
    /// Where the previous page ended (see [`Cursor::encode`]).
    #[serde(default)]
    before: Option<String>,
}

/// `GET /logs`: the access log, newest first, a page at a time (owners only; every view is
/// audited — that an address filter was used, never the address).
pub async fn logs_page(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Owner>,
    Query(query): Query<LogsQuery>,
) -> Response {
    let ip = match query.ip.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match text.parse::<std::net::IpAddr>() {
            Ok(ip) => Some(ip.to_canonical().to_string()),
            Err(_) => return (StatusCode::BAD_REQUEST, format!("ip: {text:?} is not an IP address")).into_response(),
        },
    };
    let before = match query.before.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match Cursor::decode(text) {
            Some(c) => Some(c),
            None => {
                return (StatusCode::BAD_REQUEST, "before: not a position in the log (use the page's links)")
                    .into_response();
            }
        },
    };
    let since = state.clock.now() - time::Duration::hours(obscura_store::access_log::PROMISED_HOURS);
    let log = state.access_log.clone();
    let filter = ip.clone();
    let read = tokio::task::spawn_blocking(move || {
        log.page(since, before.as_ref(), PAGE_LINES, |l| filter.as_ref().is_none_or(|ip| &l.ip == ip))
    })
    .await;
    let found = match read {
        Ok(Ok(page)) => page,
        Ok(Err(e)) => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("the access log cannot be read: {e:#}")).into_response();
        }
        Err(e) => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("the access log cannot be read: {e}")).into_response();
        }
    };
    let filtered = if ip.is_some() { "yes" } else { "no" };
    audit(&state, &session, "logs.read", &format!("{} lines, address filter: {filtered}", found.lines.len()));
    let older = found.older.map(|c| {
        let mut link = format!("/logs?before={}", c.encode());
        if let Some(ip) = &ip {
            link.push_str(&format!("&ip={ip}"));
        }
        link
    });
    let body = page(
        "Access log",
        html! {
            header.top { h1 { "Access log" } nav.actions { a href="/" { "Dashboard" } a href="/audit" { "Audit log" } } }
            main {
                p.muted { "Requests of the last " (obscura_store::access_log::PROMISED_HOURS) " hours, newest first; older lines are destroyed. Viewing this page is recorded in the audit log." }
                form method="get" action="/logs" {
                    label { "Address " input type="text" name="ip" value=(ip.as_deref().unwrap_or("")) placeholder="203.0.113.7"; }
                    button type="submit" { "Filter" }
                }
                table.top {
                    thead { tr { th { "When (UTC)" } th { "IP" } th { "Request" } th { "Status" } th { "User-Agent" } th title="The client's TLS fingerprint, when Obscura terminated TLS" { "JA4" } } }
                    tbody {
                        @for l in &found.lines {
                            tr {
                                td { (obscura_model::format_ms(l.ts_ms)) }
                                td { (l.ip) }
                                td { (l.method) " " (l.path) @if l.dropped > 0 { " (" (l.dropped) " requests over budget not written before this one)" } }
                                td { (l.status) }
                                td { (l.user_agent) }
                                td { code { (l.ja4) } }
                            }
                        }
                    }
                }
                @if let Some(link) = older { p { a href=(link) { "Older requests" } } }
            }
        },
    );
    Html(body.into_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p08_shared_link_tokens_never_reach_the_access_log() {
        assert_eq!(without_secrets("/share/obs_s_abc123"), "/share/…");
        assert_eq!(without_secrets("/share/obs_s_abc123/api/x"), "/share/…/api/x");
        assert_eq!(without_secrets("/sites"), "/sites");
    }
}
