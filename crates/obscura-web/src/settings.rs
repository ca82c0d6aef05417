//! Sites and their settings, for admins and owners: the list of sites, and per site the privacy
//! signal switch and the collection switches (which dimensions are collected at all).

use axum::extract::{Form, Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_store::meta::{Collection, GeoLevel, Role};

use crate::overview::page;
use crate::sessions::Session;
use crate::state::AppState;

/// The session of an admin or owner, or the response to send instead.
fn admin(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    let Some(session) = state.sessions.get(headers, state.clock.now()) else {
        return Err((StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response());
    };
    if session.role < Role::Admin {
        let body = page("Forbidden", html! { main { h1 { "Admins only" } p { "Site settings need the admin or owner role." } } });
        return Err((StatusCode::FORBIDDEN, Html(body.into_string())).into_response());
    }
    Ok(session)
}

pub async fn list_sites(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match admin(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let meta = state.meta.get();
    let body = page(
        "Sites",
        html! {
            header.top { h1 { "Sites" } nav.actions { a href="/" { "Dashboard" } a href="/account" { "Account (" (session.username) ")" } } }
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
                p.attribution { "Add a site with " code { "obscura site add example.com" } "." }
            }
        },
    );
    Html(body.into_string()).into_response()
}

const SWITCHES: [(&str, &str); 6] = [
    ("referrer", "Referrer (host and channel)"),
    ("device", "Device (browser, OS, brand, model)"),
    ("screen", "Screen class"),
    ("network", "Network operator"),
    ("frequency", "Visit frequency (new/returning, buckets)"),
    ("engagement", "Engaged time"),
];

fn switch(c: &Collection, name: &str) -> bool {
    match name {
        "referrer" => c.referrer,
        "device" => c.device,
        "screen" => c.screen,
        "network" => c.network,
        "frequency" => c.frequency,
        _ => c.engagement,
    }
}

pub async fn get_settings(State(state): State<AppState>, headers: HeaderMap, Path(domain): Path<String>) -> Response {
    let session = match admin(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(site) = state.meta.get().site_by_domain(&domain).cloned() else {
        return (StatusCode::NOT_FOUND, Html(page("Not found", html! { main { h1 { "No such site" } } }).into_string())).into_response();
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
                        label { "Location precision "
                            select name="geo" {
                                @for g in GeoLevel::ALL { option value=(g.as_str()) selected[g == c.geo] { (g.as_str()) } }
                            }
                        }
                    }
                    button type="submit" { "Save" }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
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
    geo: String,
}

pub async fn post_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: Result<Form<SettingsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let session = match admin(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = match form {
        Ok(Form(f)) if f.csrf == session.csrf => f,
        _ => return (StatusCode::FORBIDDEN, "missing or stale CSRF token").into_response(),
    };
    let Some(geo) = GeoLevel::parse(&form.geo) else {
        return (StatusCode::BAD_REQUEST, "geo must be off, continent, country or province").into_response();
    };
    let collect = Collection {
        referrer: form.referrer.is_some(),
        device: form.device.is_some(),
        screen: form.screen.is_some(),
        geo,
        network: form.network.is_some(),
        frequency: form.frequency.is_some(),
        engagement: form.engagement.is_some(),
    };
    let respect_dnt = form.respect_dnt.is_some();
    let saved = state.meta.update(|m| {
        let site = m.sites.iter_mut().find(|s| s.domain == domain).ok_or_else(|| anyhow::anyhow!("no such site"))?;
        site.collect = collect.clone();
        site.respect_dnt = respect_dnt;
        Ok(())
    });
    if let Err(e) = saved {
        return (StatusCode::NOT_FOUND, e.to_string()).into_response();
    }
    let ts_ms = (state.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
    let actor = format!("user:{}", session.username);
    let detail = format!("respect_dnt={respect_dnt} {collect:?}");
    let entry = obscura_store::audit::AuditEntry { ts_ms, actor: &actor, action: "site.settings", site: Some(&domain), detail: &detail };
    if let Err(e) = state.audit.append(entry) {
        tracing::error!("cannot write the audit log: {e:#}");
    }
    (StatusCode::SEE_OTHER, [(LOCATION, format!("/sites/{domain}/settings"))]).into_response()
}
