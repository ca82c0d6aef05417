//! Shared read-only links: `/share/<token>` shows one site's dashboard without a login.
//!
//! The token is long and random and stored only as a hash; a link may also need a password and
//! may expire; revoking it removes it. Every view through a link is audited as `share:<id>`.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Form, Path, Query as UrlQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_store::meta::Share;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::accounts::{hash_password, verify_password};
use crate::overview::{Viewer, page, render_dashboard};
use crate::sessions::{cookie, random_token};
use crate::state::AppState;
use crate::stats_api::{Params, Reader};

/// Creates a link for `site`; returns the token (shown once) and the record to store.
pub fn new_share(site: u32, password: Option<&str>, now_ms: i64, expires_ms: Option<i64>) -> anyhow::Result<(String, Share)> {
    let token = random_token();
    let share = Share {
        id: token[..10].to_owned(),
        sha256: hex::encode(Sha256::digest(token.as_bytes())),
        site,
        password_hash: password.map(hash_password).transpose()?,
        expires_ms,
        created_ms: now_ms,
    };
    Ok((token, share))
}

/// Passwords entered for protected links, per browser: cookie value → share id.
#[derive(Default)]
pub struct ShareGrants(Mutex<HashMap<String, String>>);

fn grant_cookie(share: &Share) -> String {
    format!("obscura_share_{}", share.id)
}

fn find(state: &AppState, token: &str) -> Result<Share, Response> {
    let now_ms = (state.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let gone = || (StatusCode::NOT_FOUND, Html(page("Link not found", html! { main { h1 { "This link does not exist or was revoked" } } }).into_string())).into_response();
    let share = state.meta.get().shares.iter().find(|s| s.sha256 == digest).cloned().ok_or_else(gone)?;
    if share.expires_ms.is_some_and(|e| e <= now_ms) {
        return Err((StatusCode::GONE, Html(page("Link expired", html! { main { h1 { "This link has expired" } } }).into_string())).into_response());
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
        let granted = cookie(&headers, &grant_cookie(&share))
            .is_some_and(|c| state.share_grants.0.lock().unwrap_or_else(|e| e.into_inner()).get(&c) == Some(&share.id));
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
        sites: vec![site],
        session: None,
    };
    render_dashboard(&state, viewer, params).await
}

#[derive(Deserialize)]
pub struct SharePassword {
    password: String,
    csrf: String,
}

pub async fn post_share_password(
    State(state): State<AppState>,
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
    if !tokio::task::spawn_blocking(move || verify_password(&hash, &form.password)).await.unwrap_or(false) {
        return password_page(&token, StatusCode::UNAUTHORIZED, Some("Wrong password."));
    }
    let grant = random_token();
    state.share_grants.0.lock().unwrap_or_else(|e| e.into_inner()).insert(grant.clone(), share.id.clone());
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, format!("/share/{token}")),
            (SET_COOKIE, format!("{}={grant}; HttpOnly; SameSite=Strict; Path=/share/{token}", grant_cookie(&share))),
        ],
    )
        .into_response()
}
