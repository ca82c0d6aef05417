//! The errors dashboard (signed-in users): `/errors`, the issues of a site (reports grouped by
//! fingerprint) with their reports, visitors, first and last time and trend, filtered by
//! status, release, environment or browser (links for each, any filter in the URL); `/errors/{fingerprint}`, one issue: its frames, its
//! timeline, where it happens (releases, environments, browsers, systems, pages), its latest
//! reports and the buttons that resolve, ignore or reopen it; its diagnostics requests (detail
//! sent only by people who agree, P7) and the consented reports. Server-rendered, state in the
//! URL.

use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use obscura_query::errors::{ErrorCountRow, IssueRow, prop};
use obscura_query::{Dimension, Filter, Query};
use obscura_store::meta::{DetailKind, IssueStatus, ShownStatus, Site};

use crate::dashboard::enc;
use crate::extract::{Analyst, CsrfForm, RequireRole, SignedIn, csrf_field};
use crate::layout::page;
use crate::state::AppState;
use crate::stats_query::{Params, Reader, parse_query};

const RANGES: [(&str, &str); 5] =
    [("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"), ("month", "This month"), ("12mo", "12 months")];

/// Issues shown at most in the list.
pub const ISSUE_LIMIT: u32 = 100;

/// The breakdowns of an issue's detail: dimension and heading.
const WHERE: [(&str, &str); 5] = [
    ("prop:release", "Releases"),
    ("prop:environment", "Environments"),
    ("browser", "Browsers"),
    ("os", "Operating systems"),
    ("page", "Pages"),
];

/// The query of the URL, with the reader's right to the site checked and the read audited;
/// the page to show instead when it cannot be answered.
fn audited_query(
    state: &AppState,
    reader: &Reader,
    params: &mut Params,
    what: &str,
) -> Result<(Query, Site), Box<Response>> {
    if !params.contains_key("site") {
        let meta = state.meta.get();
        match meta.sites.iter().find(|s| reader.may_read(s.id)) {
            Some(site) => params.insert("site".into(), site.domain.clone()),
            None => {
                let body = page("Errors", html! { main { p { "No site to show." } } });
                return Err(Box::new(Html(body.into_string()).into_response()));
            }
        };
    }
    parse_query(state, reader, params)
        .and_then(|(q, site)| {
            let described = crate::stats_query::describe(what, params);
            crate::audit::record_read(state, &reader.actor, Some(&site.domain), &described)?;
            Ok((q, site))
        })
        .map_err(|e| {
            let body =
                page("Bad request", html! { main { h1 { "Cannot show this view" } p class="error" { (e.message) } } });
            Box::new((e.status, Html(body.into_string())).into_response())
        })
}

fn unavailable(e: obscura_store::StoreError) -> Response {
    tracing::error!("errors dashboard query failed: {e}");
    let body = page(
        "Unavailable",
        html! { main { h1 { "The store could not answer" } p class="error" { "Please try again; the server log has the details." } } },
    );
    (StatusCode::SERVICE_UNAVAILABLE, Html(body.into_string())).into_response()
}

/// A link to `path` with the URL's parameters, some changed (`""` removes one).
fn link(path: &str, params: &Params, changes: &[(&str, &str)]) -> String {
    let mut p = params.clone();
    for (k, v) in changes {
        if v.is_empty() {
            p.remove(*k);
        } else {
            p.insert((*k).into(), (*v).into());
        }
    }
    let mut pairs: Vec<String> = p.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    pairs.sort();
    format!("{path}?{}", pairs.join("&"))
}

/// A trend as a small line.
fn sparkline(trend: &[u64]) -> Markup {
    let (w, h) = (120.0_f64, 24.0_f64);
    let top = trend.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if trend.len() > 1 { w / (trend.len() - 1) as f64 } else { w };
    let points: Vec<String> = trend
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{:.1},{:.1}", i as f64 * step, h - (*n as f64 / top) * (h - 2.0) - 1.0))
        .collect();
    html! {
        svg.sparkline viewBox=(format!("0 0 {w} {h}")) width="120" height="24" role="img" aria-label="Reports over time" {
            polyline fill="none" stroke="currentColor" stroke-width="1.5" points=(points.join(" ")) {}
        }
    }
}

/// A trend as bars, with the most reports in one bucket named.
fn timeline(trend: &[u64]) -> Markup {
    let (w, h) = (600.0_f64, 80.0_f64);
    let top = trend.iter().copied().max().unwrap_or(0).max(1) as f64;
    let width = w / trend.len().max(1) as f64;
    html! {
        svg.timeline viewBox=(format!("0 0 {w} {}", h + 12.0)) role="img" aria-label="Reports over time" {
            @for (i, n) in trend.iter().enumerate() {
                @let bh = *n as f64 / top * h;
                rect x=(format!("{:.1}", i as f64 * width)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", (width - 1.0).max(0.5))) height=(format!("{bh:.1}")) {}
            }
            text x="0" y=(h + 11.0) font-size="10" fill="currentColor" { "most in one bucket: " (top as u64) }
        }
    }
}

fn status_of(state: &AppState, site: &Site, issue: &IssueRow) -> ShownStatus {
    state.meta.get().issue_status(site.id, &issue.fingerprint, issue.last_ms)
}

/// `GET /errors` (signed-in users who may read the site): the site's issues.
pub async fn errors_page(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    UrlQuery(mut params): UrlQuery<Params>,
) -> Response {
    let reader = Reader::for_session(&state, &session);
    let (q, site) = match audited_query(&state, &reader, &mut params, "/errors") {
        Ok(x) => x,
        Err(response) => return *response,
    };
    let wanted = params.get("status").map_or("open", String::as_str).to_owned();
    let store = state.store.as_ref();
    let (release, environment) = (Dimension::Prop("release".into()), Dimension::Prop("environment".into()));
    let (issues, releases, environments, browsers) = futures::join!(
        store.issues(&q, ISSUE_LIMIT),
        store.error_breakdown(&q, &release, 20),
        store.error_breakdown(&q, &environment, 20),
        store.error_breakdown(&q, &Dimension::Browser, 20),
    );
    let (issues, releases, environments, browsers) = match (issues, releases, environments, browsers) {
        (Ok(i), Ok(r), Ok(e), Ok(b)) => (i, r, e, b),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return unavailable(e),
    };
    let shown: Vec<(IssueRow, ShownStatus)> = issues
        .into_iter()
        .map(|i| {
            let status = status_of(&state, &site, &i);
            (i, status)
        })
        .filter(|(_, s)| match wanted.as_str() {
            "open" => s.is_open(),
            "all" => true,
            other => s.as_str() == other,
        })
        .collect();
    let range_name = params.get("range").cloned().unwrap_or_else(|| "30d".into());
    let filters = params.get("filters").cloned().unwrap_or_default();
    let filter_links = |rows: &[ErrorCountRow], dim: &str| -> Markup {
        html! {
            @for r in rows.iter().take(8) {
                a href=(link("/errors", &params, &[("filters", &format!("{dim}=={}", r.value))])) { (r.value) " (" (r.events) ")" } " "
            }
        }
    };
    let body = page(
        "Errors",
        html! {
            header.top {
                h1 { "Errors · " (site.domain) }
                nav.actions {
                    a href=(format!("/?site={}", enc(&site.domain))) { "Dashboard" }
                    a href=(format!("/speed?site={}", enc(&site.domain))) { "Speed" }
                    button type="button" id="theme" class="link" { "Theme" }
                }
            }
            main.errors {
                @if let Some(partial) = store.partial() { p class="error partial" role="status" { (partial) } }
                nav.ranges {
                    @for (key, label) in RANGES { a class=[(key == range_name).then_some("on")] href=(link("/errors", &params, &[("range", key)])) { (label) } }
                }
                nav.ranges {
                    @for status in ["open", "resolved", "ignored", "all"] {
                        a class=[(status == wanted).then_some("on")] href=(link("/errors", &params, &[("status", status)])) { (status) }
                    }
                }
                @if !filters.is_empty() {
                    p { "Filtered by " code { (filters) } " · " a href=(link("/errors", &params, &[("filters", "")])) { "clear" } }
                }
                p.muted { "Releases: " (filter_links(&releases, "prop:release")) }
                p.muted { "Environments: " (filter_links(&environments, "prop:environment")) }
                p.muted { "Browsers: " (filter_links(&browsers, "browser")) }
                @if shown.is_empty() {
                    p.muted { "No " (wanted) " issues in this range." }
                } @else {
                    table.top.issues {
                        thead { tr { th { "Issue" } th { "Level" } th { "Reports" } th { "Visitors" } th { "Trend" } th { "Last seen" } th { "Status" } } }
                        tbody {
                            @for (issue, status) in &shown {
                                tr data-fingerprint=(issue.fingerprint) {
                                    td {
                                        a href=(link(&format!("/errors/{}", issue.fingerprint), &params, &[("status", "")])) { (issue.title()) }
                                        @if let Some(culprit) = &issue.culprit { div.muted { (culprit) } }
                                    }
                                    td { (issue.level.as_deref().unwrap_or("error")) }
                                    td { (issue.events) }
                                    td { (issue.visitors) }
                                    td { (sparkline(&issue.trend)) }
                                    td { (obscura_model::format_ms(issue.last_ms)) }
                                    td.status { (status.as_str()) }
                                }
                            }
                        }
                    }
                }
                p.muted { "Messages, frames and pages are scrubbed of personal data before they are stored; breadcrumbs and extra context are never kept without the person's consent." }
            }
        },
    );
    Html(body.into_string()).into_response()
}

/// `GET /errors/{fingerprint}` (signed-in users who may read the site): one issue.
pub async fn issue_page(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(fingerprint): Path<String>,
    UrlQuery(mut params): UrlQuery<Params>,
) -> Response {
    let reader = Reader::for_session(&state, &session);
    let (mut q, site) = match audited_query(&state, &reader, &mut params, &format!("/errors/{fingerprint}")) {
        Ok(x) => x,
        Err(response) => return *response,
    };
    let is_issue = fingerprint.len() == 16 && fingerprint.chars().all(|c| c.is_ascii_hexdigit());
    let Some(pick) = is_issue.then(|| Filter::parse(&format!("event=={fingerprint}")).ok()).flatten() else {
        let body = page(
            "Not found",
            html! { main { h1 { "No such issue" } p { "An issue is named by 16 hexadecimal digits." } } },
        );
        return (StatusCode::NOT_FOUND, Html(body.into_string())).into_response();
    };
    q.filters.push(pick);
    let store = state.store.as_ref();
    let dims: Vec<Dimension> = WHERE.iter().filter_map(|(d, _)| Dimension::parse(d).ok()).collect();
    let (issues, reports, counts) = futures::join!(
        store.issues(&q, 1),
        store.error_reports(&q, 20),
        futures::future::join_all(dims.iter().map(|d| store.error_breakdown(&q, d, 10))),
    );
    let (issue, reports, counts) = match (issues, reports, counts.into_iter().collect::<Result<Vec<_>, _>>()) {
        (Ok(mut i), Ok(r), Ok(c)) if !i.is_empty() => (i.remove(0), r, c),
        (Ok(_), Ok(_), Ok(_)) => {
            let body = page(
                "Not found",
                html! { main { h1 { "No such issue in this range" } p { a href=(link("/errors", &params, &[])) { "All issues" } } } },
            );
            return (StatusCode::NOT_FOUND, Html(body.into_string())).into_response();
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return unavailable(e),
    };
    let status = status_of(&state, &site, &issue);
    let may_change = session.role >= obscura_store::meta::Role::Analyst;
    let now = state.clock.now_ms();
    let requests: Vec<obscura_store::meta::DiagnosticsRequest> = state
        .meta
        .get()
        .diagnostics
        .iter()
        .filter(|d| d.site == site.id && d.fingerprint == issue.fingerprint)
        .cloned()
        .collect();
    // The reports sent with consent, for each request.
    let mut consented = Vec::new();
    for request in &requests {
        let Ok(answering) = Filter::parse(&format!("prop:diagnostics=={}", request.id)) else { continue };
        let answers = Query { filters: [q.filters.clone(), vec![answering]].concat(), ..q.clone() };
        match store.error_reports(&answers, 20).await {
            Ok(found) => consented.extend(found),
            Err(e) => return unavailable(e),
        }
    }
    let back = link("/errors", &params, &[]);
    let action = format!("/errors/{}/status?site={}", issue.fingerprint, enc(&site.domain));
    let body = page(
        "Issue",
        html! {
            header.top {
                h1 { (issue.title()) }
                nav.actions { a href=(back) { "All issues" } button type="button" id="theme" class="link" { "Theme" } }
            }
            main.errors.issue {
                p {
                    strong.status { (status.as_str()) } " · " (issue.level.as_deref().unwrap_or("error"))
                    " · " (issue.events) " reports · " (issue.visitors) " visitors · first " (obscura_model::format_ms(issue.first_ms))
                    " · last " (obscura_model::format_ms(issue.last_ms))
                }
                @if let Some(culprit) = &issue.culprit { p { "In " code { (culprit) } } }
                @if may_change {
                    @for (to, label) in [("resolved", "Resolve"), ("ignored", "Ignore"), ("open", "Reopen")] {
                        @if to != status.as_str() && !(to == "open" && status.is_open()) {
                            form.inline method="post" action=(action) {
                                input type="hidden" name="csrf" value=(session.csrf);
                                input type="hidden" name="status" value=(to);
                                button type="submit" { (label) }
                            }
                        }
                    }
                }
                h2 { "Timeline" }
                (timeline(&issue.trend))
                h2 { "Stack" }
                pre.frames { (issue.frames.as_deref().unwrap_or("(no frames)")) }
                h2 { "Where it happens" }
                section.panels {
                    @for ((_, heading), rows) in WHERE.iter().zip(&counts) {
                        div.panel {
                            h3 { (heading) }
                            table.top { tbody { @for r in rows { tr { td { (r.value) } td { (r.events) } } } } }
                        }
                    }
                }
                h2 { "Diagnostics" }
                p.muted { "Detail (breadcrumbs, extra context) leaves a person's device only if they agree, for a request you open here; it is scrubbed and destroyed with its day." }
                @if requests.is_empty() { p.muted { "No diagnostics requests." } }
                @for r in &requests {
                    div.diagnostics {
                        strong { (if r.is_open(now) { "open" } else { "closed" }) } " · " (r.purpose) " · asks for "
                        (r.wants.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" and "))
                        " · " (r.received) " of " (r.max_reports) " reports · until " (obscura_model::format_ms(r.expires_ms))
                        @if may_change && r.is_open(now) {
                            form.inline method="post" action=(format!("/errors/{}/diagnostics/close?site={}", issue.fingerprint, enc(&site.domain))) {
                                input type="hidden" name="csrf" value=(session.csrf);
                                input type="hidden" name="id" value=(r.id);
                                " " button type="submit" { "Close" }
                            }
                        }
                    }
                }
                @if may_change && !requests.iter().any(|r| r.is_open(now)) {
                    form.settings method="post" action=(format!("/errors/{}/diagnostics?site={}", issue.fingerprint, enc(&site.domain))) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        fieldset {
                            legend { "Ask for detail" }
                            label { "Purpose, shown to the person asked " input name="purpose" required maxlength="500" placeholder="Help us find why checkout fails"; }
                            label { input type="checkbox" name="breadcrumbs" checked; " Breadcrumbs (what happened before)" }
                            label { input type="checkbox" name="extra"; " Extra context" }
                            label { "For days " input type="number" name="days" min="1" max="90" value="7"; }
                            label { "At most reports " input type="number" name="max_reports" min="1" max="1000" value="20"; }
                            button type="submit" { "Open a diagnostics request" }
                        }
                    }
                }
                @if !consented.is_empty() {
                    h3 { "Consented reports" }
                    @for r in &consented {
                        @let props = r.props.as_deref().unwrap_or("");
                        div.consented {
                            p.muted { (obscura_model::format_ms(r.ts_ms)) " · " (r.path) }
                            pre.detail { (prop(props, "detail").unwrap_or("")) }
                        }
                    }
                }
                h2 { "Latest reports" }
                table.top.reports {
                    thead { tr { th { "Time" } th { "Page" } th { "Release" } th { "Browser" } th { "System" } th { "Message" } } }
                    tbody {
                        @for r in &reports {
                            @let props = r.props.as_deref().unwrap_or("");
                            tr {
                                td { (obscura_model::format_ms(r.ts_ms)) }
                                td { (r.path) }
                                td { (prop(props, "release").unwrap_or("–")) }
                                td { (r.browser.as_deref().unwrap_or("–")) }
                                td { (r.os.as_deref().unwrap_or("–")) }
                                td { (prop(props, "message").unwrap_or("–")) }
                            }
                        }
                    }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}

/// The form changing an issue's status.
#[derive(serde::Deserialize)]
pub struct StatusForm {
    csrf: String,
    status: String,
}

csrf_field!(StatusForm);

/// `POST /errors/{fingerprint}/status?site=…` (analysts and up, with the session's CSRF token):
/// marks the issue open, resolved or ignored, then back to it.
pub async fn post_status(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Analyst>,
    Path(fingerprint): Path<String>,
    UrlQuery(params): UrlQuery<Params>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Response {
    let Some(status) = IssueStatus::parse(&form.status) else {
        return (StatusCode::BAD_REQUEST, format!("unknown status {:?}: open, resolved or ignored", form.status))
            .into_response();
    };
    let domain = params.get("site").cloned().unwrap_or_default();
    if let Err(e) = issue_service(&state, &session).set_issue_status(&domain, &fingerprint, status) {
        return crate::admin_errors::admin_error_response(e);
    }
    let target = format!("/errors/{fingerprint}?site={}", enc(&domain));
    (StatusCode::SEE_OTHER, [(LOCATION, target)]).into_response()
}

/// The form opening a diagnostics request.
#[derive(serde::Deserialize)]
pub struct DiagnosticsForm {
    csrf: String,
    purpose: String,
    breadcrumbs: Option<String>,
    extra: Option<String>,
    days: String,
    max_reports: String,
}

/// The form closing one.
#[derive(serde::Deserialize)]
pub struct CloseForm {
    csrf: String,
    id: String,
}

csrf_field!(DiagnosticsForm, CloseForm);

fn issue_service<'a>(state: &'a AppState, session: &crate::sessions::Session) -> obscura_admin::AdminService<'a> {
    let actor = obscura_admin::Actor::User { name: session.username.clone(), role: session.role };
    obscura_admin::AdminService::new(&*state.meta, &*state.audit, actor, state.clock.now_ms())
}

/// `POST /errors/{fingerprint}/diagnostics?site=…` (analysts and up, CSRF): opens a
/// diagnostics request on the issue, then back to it.
pub async fn post_diagnostics(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Analyst>,
    Path(fingerprint): Path<String>,
    UrlQuery(params): UrlQuery<Params>,
    CsrfForm(form): CsrfForm<DiagnosticsForm>,
) -> Response {
    let domain = params.get("site").cloned().unwrap_or_default();
    let wants: Vec<DetailKind> =
        [(form.breadcrumbs.is_some(), DetailKind::Breadcrumbs), (form.extra.is_some(), DetailKind::Extra)]
            .into_iter()
            .filter_map(|(on, kind)| on.then_some(kind))
            .collect();
    let (Ok(days), Ok(max_reports)) = (form.days.trim().parse::<u32>(), form.max_reports.trim().parse::<u32>()) else {
        return (StatusCode::BAD_REQUEST, "days and reports must be whole numbers").into_response();
    };
    let opened = issue_service(&state, &session).open_diagnostics(
        &domain,
        &fingerprint,
        &form.purpose,
        &wants,
        days,
        max_reports,
    );
    if let Err(e) = opened {
        return crate::admin_errors::admin_error_response(e);
    }
    (StatusCode::SEE_OTHER, [(LOCATION, format!("/errors/{fingerprint}?site={}", enc(&domain)))]).into_response()
}

/// `POST /errors/{fingerprint}/diagnostics/close?site=…` (analysts and up, CSRF): closes a
/// diagnostics request, then back to the issue.
pub async fn post_close_diagnostics(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Analyst>,
    Path(fingerprint): Path<String>,
    UrlQuery(params): UrlQuery<Params>,
    CsrfForm(form): CsrfForm<CloseForm>,
) -> Response {
    let domain = params.get("site").cloned().unwrap_or_default();
    if let Err(e) = issue_service(&state, &session).close_diagnostics(&domain, &form.id) {
        return crate::admin_errors::admin_error_response(e);
    }
    (StatusCode::SEE_OTHER, [(LOCATION, format!("/errors/{fingerprint}?site={}", enc(&domain)))]).into_response()
}
