//! `/users`: accounts and their roles; admins add and remove them, owners only by owners.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_store::meta::Role;

use super::{service, with_hashing};
use crate::admin_errors::admin_error_response;
use crate::extract::{Admin, CsrfForm, RequireRole, csrf_field};
use crate::layout::page;
use crate::sessions::Session;
use crate::state::AppState;

/// `GET /users`: accounts and their roles; admins add and remove them (owners only by owners).
pub async fn users_page(State(state): State<AppState>, RequireRole(session, _): RequireRole<Admin>) -> Response {
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

/// The form adding a user: the user name, the role, and for a viewer the sites (comma-separated domains).
#[derive(serde::Deserialize)]
pub struct NewUserForm {
    csrf: String,
    username: String,
    role: String,
    sites: String,
}

/// `POST /users` (admins, with the session's CSRF token; only owners may add an owner): adds a user with a
/// generated password, shown once.
pub async fn add_user(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    CsrfForm(form): CsrfForm<NewUserForm>,
) -> Response {
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

/// The form removing a user: the user name.
#[derive(serde::Deserialize)]
pub struct RemoveUserForm {
    csrf: String,
    username: String,
}

/// `POST /users/remove` (admins, with the session's CSRF token; owners only by owners, never oneself):
/// removes a user and ends their sessions.
pub async fn remove_user(
    State(state): State<AppState>,
    RequireRole(session, _): RequireRole<Admin>,
    CsrfForm(form): CsrfForm<RemoveUserForm>,
) -> Response {
    if let Err(e) = service(&state, &session).remove_user(&form.username) {
        return admin_error_response(e);
    }
    state.sessions.end_all(&form.username);
    (StatusCode::SEE_OTHER, [(LOCATION, "/users")]).into_response()
}

csrf_field!(NewUserForm, RemoveUserForm);
