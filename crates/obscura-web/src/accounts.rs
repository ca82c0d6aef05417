//! Accounts: argon2id password hashes, login and logout.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use crate::layout::page;
use crate::password_hashing::Busy;
use obscura_admin::credentials::{hash_password, random_token, verify_password};
use obscura_admin::rules;

use crate::extract::{signed_in, with_csrf};
use crate::sessions::{COOKIE, cookie};
use crate::state::AppState;

const LOGIN_CSRF_COOKIE: &str = "obscura_login_csrf";

/// Verifying against this when the user does not exist keeps timing the same.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2ZHBr5hCdpGqnsA7hRQBx3Bd2d5G3jT7Lg5Kx4u2bHg";

fn login_page(status: StatusCode, message: Option<&str>) -> Response {
    let csrf = random_token();
    let body = page(
        "Log in",
        html! {
            main class="login" {
                h1 { "Obscura" }
                @if let Some(m) = message { p class="error" role="alert" { (m) } }
                form method="post" action="/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    label { "User name" input name="username" autocomplete="username" required autofocus; }
                    label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                    button type="submit" { "Log in" }
                }
            }
        },
    );
    (
        status,
        [(SET_COOKIE, format!("{LOGIN_CSRF_COOKIE}={csrf}; HttpOnly; SameSite=Strict; Path=/login"))],
        Html(body.into_string()),
    )
        .into_response()
}

/// `GET /login` (public): the login form, with a fresh CSRF token in a cookie limited to `/login`.
pub async fn get_login() -> Response {
    login_page(StatusCode::OK, None)
}

/// The login form: user name, password, and the CSRF token of the login page's cookie.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

/// `POST /login` (public): checks the password (guesses limited per network and per account) and starts a
/// session, redirecting to `/` with the session cookie; otherwise the form again with the reason (403 for a
/// stale form, 429 over the limit, 401 for a wrong name or password, 503 when hashing is saturated).
pub async fn post_login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = state.clock.now();
    if cookie(&headers, LOGIN_CSRF_COOKIE).as_deref() != Some(form.csrf.as_str()) {
        return login_page(StatusCode::FORBIDDEN, Some("The form expired. Please try again."));
    }
    let client = crate::client_ip::resolve(&state.trusted_proxies, peer.ip(), &headers);
    let account = format!("user:{}", form.username);
    if state.login_attempts.try_attempt(client, &account, now).is_err() {
        return login_page(StatusCode::TOO_MANY_REQUESTS, Some("Too many failed attempts. Try again in 15 minutes."));
    }
    // Checked live, not from the cached copy: a user removed or whose password changed on
    // another node must not sign in here with the old one.
    let meta_store = state.meta.clone();
    let meta = match tokio::task::spawn_blocking(move || meta_store.read_now()).await {
        Ok(Ok(meta)) => meta,
        failed => {
            if let Ok(Err(e)) = failed {
                tracing::error!("sign-in refused: {e:#}");
            }
            state.login_attempts.succeeded(client, &account);
            return login_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Signing in is unavailable: the user accounts cannot be read right now. Try again shortly."),
            );
        }
    };
    let user = meta.users.iter().find(|u| u.username == form.username).cloned();
    let hash = user.as_ref().map_or(DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
    let password = form.password.clone();
    let verified = match state.password_hashing.run(move || verify_password(&hash, &password)).await {
        Ok(verified) => verified,
        Err(Busy) => {
            // Not the client's fault: the attempt is not held against them.
            state.login_attempts.succeeded(client, &account);
            return login_page(StatusCode::SERVICE_UNAVAILABLE, Some(Busy::MESSAGE));
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        return login_page(StatusCode::UNAUTHORIZED, Some("Wrong user name or password."));
    };
    state.login_attempts.succeeded(client, &account);
    let token = state.sessions.create(&user.username, user.role, now);
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, "/".to_owned()),
            (SET_COOKIE, format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=604800")),
        ],
    )
        .into_response()
}

/// The logout form: only the session's CSRF token.
#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// `POST /logout` (signed-in users, with the session's CSRF token): ends this session, clears its cookie and
/// redirects to `/login`.
pub async fn post_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    // Authentication first: without a session nothing about the request is looked at.
    let checked = signed_in(&state, &headers).and_then(|session| with_csrf(&session, form, |f| &f.csrf));
    if let Err(response) = checked {
        return response;
    }
    state.sessions.end(&headers);
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, "/login".to_owned()),
            (SET_COOKIE, format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")),
        ],
    )
        .into_response()
}

/// `GET /account`: change the password, log out everywhere.
pub async fn get_account(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers) {
        Ok(session) => account_page(StatusCode::OK, &session, None),
        Err(response) => response,
    }
}

fn account_page(status: StatusCode, session: &crate::sessions::Session, message: Option<&str>) -> Response {
    let body = page(
        "Account",
        html! {
            main.login {
                h1 { "Account: " (session.username) }
                @if let Some(m) = message { p role="alert" { (m) } }
                form method="post" action="/account/password" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "Current password" input name="current" type="password" autocomplete="current-password" required; }
                    label { "New password (at least 10 characters)" input name="new" type="password" autocomplete="new-password" minlength="10" required; }
                    button type="submit" { "Change password" }
                }
                form method="post" action="/account/logout-all" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Log out everywhere" }
                }
                p { a href="/" { "Back to the dashboard" } }
            }
        },
    );
    (status, Html(body.into_string())).into_response()
}

/// The password-change form: the CSRF token, the current password and the new one.
#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
}

/// `POST /account/password`: needs the current password; ends every session of the user.
pub async fn post_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let session = match signed_in(&state, &headers) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let form = match with_csrf(&session, form, |f| &f.csrf) {
        Ok(f) => f,
        Err(response) => return response,
    };
    if rules::password(&form.new, "new passwords").is_err() {
        let message = format!("The new password needs at least {} characters.", rules::MIN_PASSWORD_CHARS);
        return account_page(StatusCode::BAD_REQUEST, &session, Some(&message));
    }
    let meta = state.meta.get();
    let Some(user) = meta.users.iter().find(|u| u.username == session.username).cloned() else {
        return (StatusCode::FORBIDDEN, "this account no longer exists").into_response();
    };
    let (hash, current) = (user.password_hash.clone(), form.current.clone());
    match state.password_hashing.run(move || verify_password(&hash, &current)).await {
        Ok(true) => {}
        Ok(false) => return account_page(StatusCode::FORBIDDEN, &session, Some("The current password is wrong.")),
        Err(Busy) => return account_page(StatusCode::SERVICE_UNAVAILABLE, &session, Some(Busy::MESSAGE)),
    }
    let new = form.new.clone();
    let new_hash = match state.password_hashing.run(move || hash_password(&new)).await {
        Ok(Ok(hash)) => hash,
        Ok(Err(_)) => {
            return account_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &session,
                Some("The password could not be changed; try again."),
            );
        }
        Err(Busy) => return account_page(StatusCode::SERVICE_UNAVAILABLE, &session, Some(Busy::MESSAGE)),
    };
    let username = session.username.clone();
    let saved = state.meta.update(|m| {
        if let Some(u) = m.users.iter_mut().find(|u| u.username == username) {
            u.password_hash = new_hash.clone();
        }
        Ok(())
    });
    if saved.is_err() {
        return account_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &session,
            Some("The password could not be saved; try again."),
        );
    }
    crate::audit::record_action(&state, &session, "user.password", "changed own password");
    state.sessions.end_all(&session.username);
    (StatusCode::SEE_OTHER, [(LOCATION, "/login".to_owned())]).into_response()
}

/// `POST /account/logout-all`: ends every session of the user, on every device.
pub async fn post_logout_all(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let session = match signed_in(&state, &headers) {
        Ok(s) => s,
        Err(response) => return response,
    };
    if let Err(response) = with_csrf(&session, form, |f| &f.csrf) {
        return response;
    }
    state.sessions.end_all(&session.username);
    crate::audit::record_action(&state, &session, "user.logout_all", "ended every session");
    (StatusCode::SEE_OTHER, [(LOCATION, "/login".to_owned())]).into_response()
}
