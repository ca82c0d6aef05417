//! `/tokens`: API tokens for the stats and ingest APIs, made (the secret is shown once) and revoked.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_admin::rules;

use super::service;
use crate::admin_errors::admin_error_response;
use crate::extract::{Admin, CsrfForm, RequireRole, csrf_field};
use crate::layout::page;
use crate::sessions::Session;
use crate::state::AppState;

/// `GET /tokens`: API tokens (never their secrets), a form to create one, revoke buttons.
pub async fn tokens_page(State(state): State<AppState>, RequireRole(session, _): RequireRole<Admin>) -> Response {
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
                                td { (t.expires_ms.map_or("never".to_owned(), obscura_model::format_ms)) }
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

/// The form creating an API token: its name, scope (`read`, `ingest` or `admin`), one site or all (empty),
/// and days until it expires (empty: never).
#[derive(serde::Deserialize)]
pub struct TokenForm {
    csrf: String,
    name: String,
    scope: String,
    site: String,
    expires_days: String,
}

/// `POST /tokens` (admins, with the session's CSRF token): creates an API token and shows its secret once.
pub async fn create_token(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> Response {
    use obscura_store::meta::TokenScope;
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

/// The form revoking an API token: its id.
#[derive(serde::Deserialize)]
pub struct RevokeForm {
    csrf: String,
    id: String,
}

/// `POST /tokens/revoke` (admins, with the session's CSRF token): revokes an API token, then back to
/// `/tokens`.
pub async fn revoke_token(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Response {
    if let Err(e) = service(&state, &session).revoke_token(&form.id) {
        return admin_error_response(e);
    }
    (StatusCode::SEE_OTHER, [(LOCATION, "/tokens")]).into_response()
}

csrf_field!(TokenForm, RevokeForm);
