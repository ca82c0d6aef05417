//! `/sites`: the list of sites and adding one; `/sites/{domain}/settings`: what a site collects,
//! its privacy-signal switch, its retention and its shared links.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_admin::{SiteSettings, rules};
use obscura_store::meta::{Collection, GeoLevel, Role};

use super::service;
use crate::admin_errors::admin_error_response;
use crate::extract::{Admin, CsrfForm, RequireRole, csrf_field};
use crate::layout::page;
use crate::state::AppState;

/// `GET /sites` (admins): every site with its privacy-signal and location settings, and a form to add one.
pub async fn list_sites(State(state): State<AppState>, RequireRole(session, _): RequireRole<Admin>) -> Response {
    let meta = state.meta.get();
    let body = page(
        "Sites",
        html! {
            header.top {
                h1 { "Sites" }
                nav.actions {
                    a href="/" { "Dashboard" }
                    a href="/users" { "Users" }
                    a href="/tokens" { "API tokens" }
                    @if session.role >= Role::Owner { a href="/audit" { "Audit log" } }
                    a href="/account" { "Account (" (session.username) ")" }
                }
            }
            main {
                table.top {
                    thead { tr { th { "Site" } th { "Privacy signals" } th { "Locations" } th { "" } } }
                    tbody {
                        @for s in &meta.sites {
                            tr {
                                td { a href=(format!("/?site={}", s.domain)) { (s.domain) } }
                                td { @if s.respect_dnt { "honoured" } @else { "ignored" } }
                                td { (s.collect.geo.as_str()) }
                                td { a href=(format!("/sites/{}/settings", s.domain)) { "Settings" } }
                            }
                        }
                    }
                }
                form.settings method="post" action="/sites" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "Add a site (its domain) " input name="domain" required maxlength="253" placeholder="example.com"; }
                    button type="submit" { "Add site" }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}

/// The form adding a site: its domain.
#[derive(serde::Deserialize)]
pub struct NewSiteForm {
    csrf: String,
    domain: String,
}

/// `POST /sites`: adds a site (admins), with the default collection settings.
pub async fn add_site(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    CsrfForm(form): CsrfForm<NewSiteForm>,
) -> Response {
    let domain = match service(&state, &session).add_site(&form.domain, true, state.privacy.default_retention_days) {
        Ok(site) => site.domain,
        Err(e) => return admin_error_response(e),
    };
    (StatusCode::SEE_OTHER, [(LOCATION, format!("/sites/{domain}/settings"))]).into_response()
}

const SWITCHES: [(&str, &str); 7] = [
    ("referrer", "Referrer (host and channel)"),
    ("device", "Device (browser, OS, brand, model)"),
    ("screen", "Screen class"),
    ("network", "Network operator"),
    ("frequency", "Visit frequency (new/returning, buckets)"),
    ("engagement", "Engaged time"),
    ("performance", "Page speed (web vitals, CDN timings; needs the tracker's performance part)"),
];

fn switch(c: &Collection, name: &str) -> bool {
    match name {
        "referrer" => c.referrer,
        "device" => c.device,
        "screen" => c.screen,
        "network" => c.network,
        "frequency" => c.frequency,
        "performance" => c.performance,
        _ => c.engagement,
    }
}

/// `GET /sites/{domain}/settings` (admins): what the site collects, its privacy-signal switch, its
/// retention and its shared links, each editable; 404 for an unknown site.
pub async fn get_settings(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    Path(domain): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(site) = state.meta.get().site_by_domain(&domain).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            Html(page("Not found", html! { main { h1 { "No such site" } } }).into_string()),
        )
            .into_response();
    };
    let c = &site.collect;
    let body = page(
        "Site settings",
        html! {
            header.top { h1 { "Settings · " (site.domain) } nav.actions { a href="/sites" { "Sites" } a href=(format!("/?site={}", site.domain)) { "Dashboard" } } }
            main.settings {
                form method="post" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    fieldset {
                        legend { "Privacy signals" }
                        label { input type="checkbox" name="respect_dnt" checked[site.respect_dnt]; " Honour Global Privacy Control and Do-Not-Track (recommended)" }
                    }
                    fieldset {
                        legend { "Collect" }
                        @for (name, label) in SWITCHES { label { input type="checkbox" name=(name) checked[switch(c, name)]; " " (label) } }
                        label { "Keep this share of speed beacons, percent "
                            input type="number" name="performance_sample_percent" min="1" max="100" value=(c.performance_sample_percent);
                        }
                        label { "Location precision "
                            select name="geo" {
                                @for g in GeoLevel::ALL { option value=(g.as_str()) selected[g == c.geo] { (g.as_str()) } }
                            }
                        }
                    }
                    fieldset {
                        legend { "Retention" }
                        label { "Delete per-event data after days "
                            input type="number" name="retention_days" min="1" max=(obscura_store::meta::MAX_RETENTION_DAYS) value=(site.retention_days) required;
                        }
                        p.muted { "Deleting destroys the data's encryption key, so backups become unreadable too." }
                    }
                    button type="submit" { "Save" }
                }
                h2 { "Error reporting" }
                @match &site.error_key {
                    Some(key) => {
                        p { "Sentry SDKs report this site's errors to Obscura with this DSN:" }
                        pre.dsn { (dsn(&state, &headers, key, site.id)) }
                        p.muted { "A DSN key is public (it is in your pages); it names the site. Messages, frames and pages are scrubbed before they are stored." }
                    }
                    None => { p.muted { "This site has no DSN key yet." } }
                }
                form method="post" action=(format!("/sites/{}/dsn", site.domain)) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { @if site.error_key.is_some() { "Make a new DSN key (the old one stops working)" } @else { "Make a DSN key" } }
                }
                h2 { "Shared links" }
                @let shares: Vec<_> = state.meta.get().shares.iter().filter(|s| s.site == site.id).cloned().collect();
                @if shares.is_empty() { p.muted { "No shared links." } }
                @for share in &shares {
                    form.inline method="post" action=(format!("/sites/{}/shares/revoke", site.domain)) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="id" value=(share.id);
                        code { (share.id) } " · " (if share.password_hash.is_some() { "password" } else { "no password" }) " · expires "
                        (share.expires_ms.map_or("never".to_owned(), obscura_model::format_ms)) " "
                        button type="submit" { "Revoke" }
                    }
                }
                form method="post" action=(format!("/sites/{}/shares", site.domain)) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    fieldset {
                        legend { "New shared link" }
                        label { "Password (optional, at least 10 characters) " input name="password" type="password" minlength="10"; }
                        label { "Expires after days (empty: never) " input name="expires_days" type="number" min="1" max="3650"; }
                        button type="submit" { "Create link" }
                    }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}

/// The DSN of a site's key, at the address the browser used.
fn dsn(state: &AppState, headers: &axum::http::HeaderMap, key: &str, site: u32) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if state.https { "https" } else { "http" };
    format!("{scheme}://{key}@{host}/{site}")
}

/// The form making a new DSN key.
#[derive(serde::Deserialize)]
pub struct DsnForm {
    csrf: String,
}

/// `POST /sites/{domain}/dsn` (admins, with the session's CSRF token): makes a new DSN key for
/// the site, then back to its settings.
pub async fn post_dsn(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    Path(domain): Path<String>,
    CsrfForm(_): CsrfForm<DsnForm>,
) -> Response {
    if let Err(e) = service(&state, &session).new_error_key(&domain) {
        return admin_error_response(e);
    }
    (StatusCode::SEE_OTHER, [(LOCATION, format!("/sites/{domain}/settings"))]).into_response()
}

/// Checkboxes send `on` when ticked and nothing otherwise.
#[derive(serde::Deserialize)]
pub struct SettingsForm {
    csrf: String,
    respect_dnt: Option<String>,
    referrer: Option<String>,
    device: Option<String>,
    screen: Option<String>,
    network: Option<String>,
    frequency: Option<String>,
    engagement: Option<String>,
    performance: Option<String>,
    /// Absent: unchanged.
    performance_sample_percent: Option<String>,
    geo: String,
    /// Absent: unchanged.
    retention_days: Option<String>,
}

/// `POST /sites/{domain}/settings` (admins, with the session's CSRF token): saves the site's collection,
/// privacy-signal and retention settings, then back to the settings page.
pub async fn post_settings(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    Path(domain): Path<String>,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Response {
    let Some(geo) = GeoLevel::parse(&form.geo) else {
        return (StatusCode::BAD_REQUEST, "geo must be off, continent, country or province").into_response();
    };
    let sample = match form.performance_sample_percent.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match text.parse::<u8>() {
            Ok(p) if (1..=100).contains(&p) => Some(p),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    "the share of speed beacons kept must be a whole percent from 1 to 100",
                )
                    .into_response();
            }
        },
    };
    let collect = Collection {
        referrer: form.referrer.is_some(),
        device: form.device.is_some(),
        screen: form.screen.is_some(),
        geo,
        network: form.network.is_some(),
        frequency: form.frequency.is_some(),
        engagement: form.engagement.is_some(),
        performance: form.performance.is_some(),
        performance_sample_percent: sample.unwrap_or(site_sample(&state, &domain)),
    };
    let retention_days = match form.retention_days.as_deref().map(rules::retention_days_text).transpose() {
        Ok(days) => days,
        Err(e) => return admin_error_response(e),
    };
    let settings = SiteSettings { collect, respect_dnt: form.respect_dnt.is_some(), retention_days };
    if let Err(e) = service(&state, &session).update_site_settings(&domain, settings) {
        return admin_error_response(e);
    }
    (StatusCode::SEE_OTHER, [(LOCATION, format!("/sites/{domain}/settings"))]).into_response()
}

/// The site's current share of speed beacons kept (100 for an unknown site).
fn site_sample(state: &AppState, domain: &str) -> u8 {
    state.meta.get().site_by_domain(domain).map_or(100, |s| s.collect.performance_sample_percent)
}

csrf_field!(NewSiteForm, SettingsForm, DsnForm);
