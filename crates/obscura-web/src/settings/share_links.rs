//! Shared read-only links to a site's dashboard: made (the link is shown once) and revoked from the
//! site's settings page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_admin::rules;

use super::{service, with_hashing};
use crate::admin_errors::admin_error_response;
use crate::extract::{Admin, CsrfForm, RequireRole, csrf_field};
use crate::layout::page;
use crate::state::AppState;

/// The form making a shared link: an optional password (empty: none) and days until it expires (empty:
/// never).
#[derive(serde::Deserialize)]
pub struct NewShareForm {
    csrf: String,
    password: String,
    expires_days: String,
}

/// `POST /sites/{domain}/shares`: makes a shared link and shows its URL once.
pub async fn create_share(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    Path(domain): Path<String>,
    CsrfForm(form): CsrfForm<NewShareForm>,
) -> Response {
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

/// The form revoking a shared link: its id.
#[derive(serde::Deserialize)]
pub struct RevokeShareForm {
    csrf: String,
    id: String,
}

/// `POST /sites/{domain}/shares/revoke` (admins, with the session's CSRF token): revokes a shared link, then
/// back to the site's settings.
pub async fn revoke_share(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    Path(domain): Path<String>,
    CsrfForm(form): CsrfForm<RevokeShareForm>,
) -> Response {
    if let Err(e) = service(&state, &session).revoke_share(&form.id) {
        return admin_error_response(e);
    }
    (StatusCode::SEE_OTHER, [(LOCATION, format!("/sites/{domain}/settings"))]).into_response()
}

csrf_field!(NewShareForm, RevokeShareForm);
