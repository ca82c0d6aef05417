//! Shared read-only links: `/share/<token>` shows one site's dashboard without a login.
//!
//! The token is long and random and stored only as a hash; a link may also need a password and
//! may expire; revoking it removes it. Every view through a link is audited as `share:<id>`, the
//! id being random too and telling nothing of the token. Password guesses on a link are limited
//! like logins; a right password grants the browser the link for [`GRANT_LIFETIME`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Form, Path, Query as UrlQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_store::meta::Share;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::dashboard::{Viewer, render_dashboard};
use crate::layout::page;
use crate::password_hashing::Busy;
use crate::sessions::cookie;
use crate::state::AppState;
use crate::stats_query::{Params, Reader};
use obscura_admin::credentials::{random_token, secret_digest, verify_password};

/// How long a browser that entered a link's password may view it without entering it again.
pub const GRANT_LIFETIME: Duration = Duration::hours(12);
/// Grants held at most; beyond it the one closest to expiry goes.
pub const MAX_GRANTS: usize = 10_000;

/// Browsers that entered the password of a protected link: the hash of their grant cookie →
/// the link and when the grant ends. Bounded and expiring.
pub struct ShareGrants {
    grants: Mutex<HashMap<String, Grant>>,
    capacity: usize,
}

struct Grant {
    share_id: String,
    expires: OffsetDateTime,
}

impl Default for ShareGrants {
    fn default() -> Self {
        ShareGrants::with_capacity(MAX_GRANTS)
    }
}

impl ShareGrants {
    /// A table holding at most `capacity` grants (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        ShareGrants { grants: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    /// Grants `share_id` to a browser; returns the cookie value (only its hash is kept).
    pub fn grant(&self, share_id: &str, now: OffsetDateTime) -> String {
        let value = random_token();
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants.retain(|_, g| g.expires > now);
        if grants.len() >= self.capacity {
            let soonest = grants.iter().min_by_key(|(_, g)| g.expires).map(|(k, _)| k.clone());
            if let Some(key) = soonest {
                grants.remove(&key);
            }
        }
        grants.insert(secret_digest(&value), Grant { share_id: share_id.to_owned(), expires: now + GRANT_LIFETIME });
        value
    }

    /// Whether the cookie `value` grants `share_id` at `now`.
    pub fn allows(&self, value: &str, share_id: &str, now: OffsetDateTime) -> bool {
        let grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants.get(&secret_digest(value)).is_some_and(|g| g.share_id == share_id && g.expires > now)
    }

    /// Grants held, counting expired ones until the next grant sweeps them out.
    pub fn len(&self) -> usize {
        self.grants.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no grant is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn grant_cookie(share: &Share) -> String {
    format!("obscura_share_{}", share.id)
}

fn find(state: &AppState, token: &str) -> Result<Share, Response> {
    let now_ms = state.clock.now_ms();
    let digest = secret_digest(token);
    let gone = || {
        (
            StatusCode::NOT_FOUND,
            Html(
                page("Link not found", html! { main { h1 { "This link does not exist or was revoked" } } })
                    .into_string(),
            ),
        )
            .into_response()
    };
    let share = state.meta.get().shares.iter().find(|s| s.sha256 == digest).cloned().ok_or_else(gone)?;
    if share.expires_ms.is_some_and(|e| e <= now_ms) {
        return Err((
            StatusCode::GONE,
            Html(page("Link expired", html! { main { h1 { "This link has expired" } } }).into_string()),
        )
            .into_response());
    }
    Ok(share)
}

const SHARE_CSRF_COOKIE: &str = "obscura_share_csrf";

fn password_page(token: &str, status: StatusCode, message: Option<&str>) -> Response {
    let csrf = random_token();
    let body = page(
        "Shared dashboard",
        html! {
            main.login {
                h1 { "This dashboard is protected" }
                @if let Some(m) = message { p.error role="alert" { (m) } }
                form method="post" {
                    input type="hidden" name="csrf" value=(csrf);
                    label { "Password" input name="password" type="password" required autofocus; }
                    button type="submit" { "Open" }
                }
            }
        },
    );
    let cookie = format!("{SHARE_CSRF_COOKIE}={csrf}; HttpOnly; SameSite=Strict; Path=/share/{token}");
    (status, [(SET_COOKIE, cookie)], Html(body.into_string())).into_response()
}

/// `GET /share/{token}` (holders of the link): the shared site's dashboard, read-only; the password form
/// (401) for a protected link the browser holds no grant for. 404 for an unknown or revoked link, 410 once
/// it has expired.
pub async fn get_share(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    UrlQuery(mut params): UrlQuery<Params>,
) -> Response {
    let share = match find(&state, &token) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if share.password_hash.is_some() {
        let now = state.clock.now();
        let granted =
            cookie(&headers, &grant_cookie(&share)).is_some_and(|c| state.share_grants.allows(&c, &share.id, now));
        if !granted {
            return password_page(&token, StatusCode::UNAUTHORIZED, None);
        }
    }
    let Some(site) = state.meta.get().site(share.site).cloned() else {
        return (StatusCode::NOT_FOUND, "the shared site no longer exists").into_response();
    };
    // A link shows its own site only, whatever the URL says.
    params.insert("site".into(), site.domain.clone());
    let viewer = Viewer {
        reader: Reader { actor: format!("share:{}", share.id), sites: Some(vec![site.id]) },
        base: format!("/share/{token}"),
        audited_base: "/share/…".into(),
        sites: vec![site],
        session: None,
    };
    render_dashboard(&state, viewer, params).await
}

/// The password form of a protected shared link: the password, and the CSRF token of the form's cookie.
#[derive(Deserialize)]
pub struct SharePassword {
    password: String,
    csrf: String,
}

/// `POST /share/{token}` (holders of the link): checks the link's password (guesses limited like logins)
/// and grants this browser the link for [`GRANT_LIFETIME`] with a cookie, then back to the dashboard.
pub async fn post_share_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
    form: Result<Form<SharePassword>, axum::extract::rejection::FormRejection>,
) -> Response {
    let share = match find(&state, &token) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (Some(hash), Ok(Form(form))) = (share.password_hash.clone(), form) else {
        return (StatusCode::SEE_OTHER, [(LOCATION, format!("/share/{token}"))]).into_response();
    };
    if cookie(&headers, SHARE_CSRF_COOKIE).as_deref() != Some(form.csrf.as_str()) {
        return password_page(&token, StatusCode::FORBIDDEN, Some("The form expired. Please try again."));
    }
    let now = state.clock.now();
    let client = crate::client_ip::resolve(&state.trusted_proxies, peer.ip(), &headers);
    let account = format!("share:{}", share.id);
    if state.login_attempts.try_attempt(client, &account, now).is_err() {
        return password_page(
            &token,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many wrong passwords. Try again in 15 minutes."),
        );
    }
    match state.password_hashing.run(move || verify_password(&hash, &form.password)).await {
        Ok(true) => {}
        Ok(false) => return password_page(&token, StatusCode::UNAUTHORIZED, Some("Wrong password.")),
        Err(Busy) => {
            // Not the client's fault: the attempt is not held against them.
            state.login_attempts.succeeded(client, &account);
            return password_page(&token, StatusCode::SERVICE_UNAVAILABLE, Some(Busy::MESSAGE));
        }
    }
    state.login_attempts.succeeded(client, &account);
    let grant = state.share_grants.grant(&share.id, now);
    let max_age = GRANT_LIFETIME.whole_seconds();
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, format!("/share/{token}")),
            (
                SET_COOKIE,
                format!(
                    "{}={grant}; HttpOnly; SameSite=Strict; Path=/share/{token}; Max-Age={max_age}",
                    grant_cookie(&share)
                ),
            ),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardening_share_grants_expire_and_are_bounded() {
        let grants = ShareGrants::with_capacity(3);
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let first = grants.grant("link-a", now);
        assert!(grants.allows(&first, "link-a", now));
        assert!(!grants.allows(&first, "link-b", now), "a grant opens its own link only");
        assert!(!grants.allows(&first, "link-a", now + GRANT_LIFETIME), "grants expire");
        // Full: the grant closest to expiry makes room.
        let later: Vec<String> = (1..=3).map(|i| grants.grant("link-a", now + Duration::minutes(i))).collect();
        assert_eq!(grants.len(), 3);
        assert!(!grants.allows(&first, "link-a", now + Duration::minutes(5)));
        assert!(later.iter().all(|g| grants.allows(g, "link-a", now + Duration::minutes(5))));
        // Expired grants are dropped from memory when new ones come.
        grants.grant("link-b", now + GRANT_LIFETIME + Duration::hours(1));
        assert_eq!(grants.len(), 1);
    }
}
