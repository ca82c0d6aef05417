//! Sites and their settings, for admins and owners: the list of sites, and per site the privacy
//! signal switch and the collection switches (which dimensions are collected at all).

use axum::extract::{Form, Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_admin::{Actor, AdminError, AdminService, SiteSettings, rules};
use obscura_store::meta::{Collection, GeoLevel, Role};

use crate::admin_errors::admin_error_response;
use crate::overview::page;
use crate::sessions::Session;
use crate::state::AppState;

/// The session of an admin or owner and their form, if it carries the session's CSRF token; or
/// the response to send instead.
fn admin_form<T>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<T>, axum::extract::rejection::FormRejection>,
    csrf: impl Fn(&T) -> &str,
) -> Result<(Session, T), Response> {
    let session = admin(state, headers)?;
    let form = crate::accounts::with_csrf(&session, form, csrf)?;
    Ok((session, form))
}

/// Records an administrative action taken in the UI.
pub fn audit(state: &AppState, session: &Session, action: &str, detail: &str) {
    let ts_ms = state.clock.now_ms();
    let actor = format!("user:{}", session.username);
    let entry = obscura_store::audit::AuditEntry { ts_ms, actor: &actor, action, site: None, detail };
    if let Err(e) = state.audit.append(entry) {
        tracing::error!("cannot write the audit log: {e:#}");
    }
}

/// Administrative actions as the signed-in user, now.
fn service<'a>(state: &'a AppState, session: &Session) -> AdminService<'a> {
    AdminService::new(&state.meta, &state.audit, actor(session), now_ms(state))
}

fn actor(session: &Session) -> Actor {
    Actor::User { name: session.username.clone(), role: session.role }
}

fn now_ms(state: &AppState) -> i64 {
    state.clock.now_ms()
}

/// Runs an action that hashes a password on the bounded hashing pool.
async fn with_hashing<T: Send + 'static>(
    state: &AppState,
    session: &Session,
    action: impl FnOnce(&AdminService<'_>) -> Result<T, AdminError> + Send + 'static,
) -> Result<T, Response> {
    let (meta, audit, actor, now) = (state.meta.clone(), state.audit.clone(), actor(session), now_ms(state));
    match state.password_hashing.run(move || action(&AdminService::new(&meta, &audit, actor, now))).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(admin_error_response(e)),
        Err(crate::password_hashing::Busy) => {
            Err((StatusCode::SERVICE_UNAVAILABLE, crate::password_hashing::Busy::MESSAGE).into_response())
        }
    }
}

/// The session of an admin or owner, or the response to send instead.
fn admin(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    let session = crate::accounts::signed_in(state, headers)?;
    if session.role < Role::Admin {
        let body = page(
            "Forbidden",
            html! { main { h1 { "Admins only" } p { "Site settings need the admin or owner role." } } },
        );
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

#[derive(serde::Deserialize)]
pub struct NewSiteForm {
    csrf: String,
    domain: String,
}

/// `POST /sites`: adds a site (admins), with the default collection settings.
pub async fn add_site(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<NewSiteForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match admin_form(&state, &headers, form, |f| &f.csrf) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let domain = match service(&state, &session).add_site(&form.domain, true, state.privacy.default_retention_days) {
        Ok(site) => site.domain,
        Err(e) => return admin_error_response(e),
    };
    (StatusCode::SEE_OTHER, [(LOCATION, format!("/sites/{domain}/settings"))]).into_response()
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
                h2 { "Shared links" }
                @let shares: Vec<_> = state.meta.get().shares.iter().filter(|s| s.site == site.id).cloned().collect();
                @if shares.is_empty() { p.muted { "No shared links." } }
                @for share in &shares {
                    form.inline method="post" action=(format!("/sites/{}/shares/revoke", site.domain)) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="id" value=(share.id);
                        code { (share.id) } " · " (if share.password_hash.is_some() { "password" } else { "no password" }) " · expires "
                        (share.expires_ms.map_or("never".to_owned(), crate::stats_api::format_ms)) " "
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

#[derive(serde::Deserialize)]
pub struct NewShareForm {
    csrf: String,
    password: String,
    expires_days: String,
}

/// `POST /sites/{domain}/shares`: makes a shared link and shows its URL once.
pub async fn create_share(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: Result<Form<NewShareForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match admin_form(&state, &headers, form, |f| &f.csrf) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let password = Some(form.password.clone()).filter(|p| !p.is_empty());
    let expires_days = match rules::expiry_days_text(&form.expires_days) {
        Ok(days) => days,
        Err(e) => return admin_error_response(e),
    };
    let made = with_hashing(&state, &session, {
        let domain = domain.clone();
        move |admin| admin.add_share(&domain, password.as_deref(), expires_days)
    })
    .await;
    let (_, token) = match made {
        Ok(x) => x,
        Err(response) => return response,
    };
    let body = page(
        "Shared link",
        html! {
            main.login {
                h1 { "Shared link created" }
                p { "Copy it now: it is shown once and stored only as a hash." }
                p { code { (format!("/share/{token}")) } }
                p { a href=(format!("/share/{token}")) { "Open it" } " · " a href=(format!("/sites/{domain}/settings")) { "Back to the settings" } }
            }
        },
    );
    Html(body.into_string()).into_response()
}

#[derive(serde::Deserialize)]
pub struct RevokeShareForm {
    csrf: String,
    id: String,
}

pub async fn revoke_share(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: Result<Form<RevokeShareForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match admin_form(&state, &headers, form, |f| &f.csrf) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(e) = service(&state, &session).revoke_share(&form.id) {
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
    geo: String,
    /// Absent: unchanged.
    retention_days: Option<String>,
}

pub async fn post_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    form: Result<Form<SettingsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match admin_form(&state, &headers, form, |f| &f.csrf) {
        Ok(x) => x,
        Err(r) => return r,
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

/// `GET /audit`: the latest audit records and whether the chain is intact (owners only).
pub async fn audit_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match admin(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if session.role < Role::Owner {
        return (StatusCode::FORBIDDEN, Html(page("Forbidden", html! { main { h1 { "Owners only" } } }).into_string()))
            .into_response();
    }
    let verdict = match state.audit.verify() {
        Ok(n) => format!("Chain intact: {n} records."),
        Err(e) => format!("CHAIN BROKEN: {e:#}"),
    };
    let records = state.audit.read_all().unwrap_or_default();
    let body = page(
        "Audit log",
        html! {
            header.top { h1 { "Audit log" } nav.actions { a href="/" { "Dashboard" } a href="/sites" { "Sites" } a href="/tokens" { "API tokens" } } }
            main {
                p class=[verdict.starts_with("CHAIN").then_some("error")] { (verdict) }
                table.top {
                    thead { tr { th { "#" } th { "When (UTC)" } th { "Who" } th { "What" } th { "Site" } th { "Detail" } } }
                    tbody {
                        @for r in records.iter().rev().take(200) {
                            tr { td { (r.seq) } td { (crate::stats_api::format_ms(r.ts_ms)) } td { (r.actor) } td { (r.action) } td { (r.site.as_deref().unwrap_or("")) } td { (r.detail) } }
                        }
                    }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}

/// `GET /tokens`: API tokens (never their secrets), a form to create one, revoke buttons.
pub async fn tokens_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match admin(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    tokens_view(&state, &session, None)
}

fn tokens_view(state: &AppState, session: &Session, created: Option<&str>) -> Response {
    let meta = state.meta.get();
    let body = page(
        "API tokens",
        html! {
            header.top { h1 { "API tokens" } nav.actions { a href="/" { "Dashboard" } a href="/sites" { "Sites" } } }
            main {
                @if let Some(secret) = created {
                    p role="alert" { "New token (shown once, stored only as a hash): " code { (secret) } }
                }
                table.top {
                    thead { tr { th { "Id" } th { "Name" } th { "Scope" } th { "Sites" } th { "Expires" } th { "" } } }
                    tbody {
                        @for t in &meta.tokens {
                            tr {
                                td { code { (t.id) } } td { (t.name) } td { (format!("{:?}", t.scope).to_lowercase()) }
                                td { @if t.sites.is_empty() { "all" } @else { (t.sites.iter().filter_map(|id| meta.site(*id)).map(|s| s.domain.as_str()).collect::<Vec<_>>().join(", ")) } }
                                td { (t.expires_ms.map_or("never".to_owned(), crate::stats_api::format_ms)) }
                                td {
                                    form.inline method="post" action="/tokens/revoke" {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="id" value=(t.id);
                                        button type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Create a token" }
                form.settings method="post" action="/tokens" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "Name " input name="name" required maxlength="100"; }
                    label { "Scope "
                        select name="scope" { option value="read" { "read" } option value="ingest" { "ingest" } option value="admin" { "admin" } }
                    }
                    label { "Site (empty: all) "
                        select name="site" { option value="" { "all sites" } @for s in &meta.sites { option value=(s.domain) { (s.domain) } } }
                    }
                    label { "Expires after days (empty: never) " input name="expires_days" type="number" min="1" max="3650"; }
                    button type="submit" { "Create" }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}

#[derive(serde::Deserialize)]
pub struct TokenForm {
    csrf: String,
    name: String,
    scope: String,
    site: String,
    expires_days: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    use obscura_store::meta::TokenScope;
    let (session, form) = match admin_form(&state, &headers, form, |f| &f.csrf) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let scope = match form.scope.as_str() {
        "read" => TokenScope::Read,
        "ingest" => TokenScope::Ingest,
        "admin" => TokenScope::Admin,
        _ => return (StatusCode::BAD_REQUEST, "scope must be read, ingest or admin").into_response(),
    };
    let expires_days = match rules::expiry_days_text(&form.expires_days) {
        Ok(days) => days,
        Err(e) => return admin_error_response(e),
    };
    let sites: Vec<String> = Some(form.site.trim().to_owned()).filter(|d| !d.is_empty()).into_iter().collect();
    let secret = match service(&state, &session).add_token(&form.name, scope, &sites, expires_days) {
        Ok((_, secret)) => secret,
        Err(e) => return admin_error_response(e),
    };
    tokens_view(&state, &session, Some(&secret))
}

#[derive(serde::Deserialize)]
pub struct RevokeForm {
    csrf: String,
    id: String,
}

pub async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<RevokeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match admin_form(&state, &headers, form, |f| &f.csrf) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(e) = service(&state, &session).revoke_token(&form.id) {
        return admin_error_response(e);
    }
    (StatusCode::SEE_OTHER, [(LOCATION, "/tokens")]).into_response()
}

/// `GET /users`: accounts and their roles; admins add and remove them (owners only by owners).
pub async fn users_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match admin(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    users_view(&state, &session, None)
}

fn users_view(state: &AppState, session: &Session, created: Option<(&str, &str)>) -> Response {
    let meta = state.meta.get();
    let body = page(
        "Users",
        html! {
            header.top { h1 { "Users" } nav.actions { a href="/" { "Dashboard" } a href="/sites" { "Sites" } } }
            main {
                @if let Some((name, password)) = created {
                    p role="alert" { "User " (name) " created. Password (shown once): " code { (password) } }
                }
                table.top {
                    thead { tr { th { "User" } th { "Role" } th { "Sites" } th { "" } } }
                    tbody {
                        @for u in &meta.users {
                            tr {
                                td { (u.username) }
                                td { (format!("{:?}", u.role).to_lowercase()) }
                                td { @if u.role >= Role::Analyst { "all" } @else { (u.sites.iter().filter_map(|id| meta.site(*id)).map(|s| s.domain.as_str()).collect::<Vec<_>>().join(", ")) } }
                                td {
                                    @if u.username != session.username && (u.role < Role::Owner || session.role == Role::Owner) {
                                        form.inline method="post" action="/users/remove" {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            input type="hidden" name="username" value=(u.username);
                                            button type="submit" { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Add a user" }
                form.settings method="post" action="/users" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "User name " input name="username" required maxlength="64"; }
                    label { "Role "
                        select name="role" {
                            option value="viewer" { "viewer (assigned sites)" }
                            option value="analyst" { "analyst (all sites)" }
                            option value="admin" { "admin (sites, users, settings)" }
                            @if session.role == Role::Owner { option value="owner" { "owner" } }
                        }
                    }
                    label { "Sites for a viewer (comma-separated domains) " input name="sites"; }
                    button type="submit" { "Add user" }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}

#[derive(serde::Deserialize)]
pub struct NewUserForm {
    csrf: String,
    username: String,
    role: String,
    sites: String,
}

pub async fn add_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<NewUserForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match admin_form(&state, &headers, form, |f| &f.csrf) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(role) = Role::parse(&form.role) else {
        return (StatusCode::BAD_REQUEST, "role must be viewer, analyst, admin or owner").into_response();
    };
    let username = form.username.trim().to_owned();
    let domains: Vec<String> = form.sites.split(',').map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect();
    let added = with_hashing(&state, &session, {
        let username = username.clone();
        move |admin| admin.add_user(&username, role, None, &domains)
    })
    .await;
    let password = match added {
        Ok(password) => password,
        Err(response) => return response,
    };
    users_view(&state, &session, Some((&username, &password)))
}

#[derive(serde::Deserialize)]
pub struct RemoveUserForm {
    csrf: String,
    username: String,
}

pub async fn remove_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<RemoveUserForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match admin_form(&state, &headers, form, |f| &f.csrf) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(e) = service(&state, &session).remove_user(&form.username) {
        return admin_error_response(e);
    }
    state.sessions.end_all(&form.username);
    (StatusCode::SEE_OTHER, [(LOCATION, "/users")]).into_response()
}
