//! Extractors for what many handlers need before they start: a signed-in user
//! ([`SignedIn`]), a minimum role ([`RequireRole`]) and a form carrying the session's CSRF
//! token ([`CsrfForm`]). Each answers for itself when the request does not qualify: a redirect to
//! the login page, a 403 page, or a 403 for a missing or stale token.

use std::marker::PhantomData;

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use obscura_store::meta::Role;
use serde::de::DeserializeOwned;

use crate::layout::page;
use crate::sessions::Session;
use crate::state::AppState;

/// The request's login session, or a redirect to the login page.
pub fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    state
        .sessions
        .get(headers, state.clock.now())
        .ok_or_else(|| (StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response())
}

/// The form, if it carries the session's CSRF token; otherwise the 403 to send, or a 400 saying
/// what is wrong with a form that does not parse (nothing is done either way).
pub fn with_csrf<T>(
    session: &Session,
    form: Result<Form<T>, axum::extract::rejection::FormRejection>,
    csrf: impl Fn(&T) -> &str,
) -> Result<T, Response> {
    match form {
        Ok(Form(f)) if csrf(&f) == session.csrf => Ok(f),
        Ok(_) => Err((StatusCode::FORBIDDEN, "missing or stale CSRF token").into_response()),
        Err(rejection) => {
            let message = format!("the form is incomplete or malformed: {}", rejection.body_text());
            Err((StatusCode::BAD_REQUEST, message).into_response())
        }
    }
}

/// The signed-in user's session; without one, a redirect to the login page.
pub struct SignedIn(pub Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        signed_in(state, &parts.headers).map(SignedIn)
    }
}

/// The least role a page needs, and what the refusal page says.
pub trait MinimumRole {
    /// The least role let in.
    const ROLE: Role;
    /// The heading of the 403 page shown to users below [`MinimumRole::ROLE`].
    const HEADING: &'static str;
    /// The sentence under that heading, saying who may use the page.
    const EXPLANATION: &'static str;
}

/// Analysts and up: changes to what the dashboard shows, such as an issue's status.
pub struct Analyst;

impl MinimumRole for Analyst {
    const ROLE: Role = Role::Analyst;
    const HEADING: &'static str = "Analysts only";
    const EXPLANATION: &'static str = "Changing an issue's status needs the analyst role or higher.";
}

/// Admins and owners: sites, users, tokens and their settings.
pub struct Admin;

impl MinimumRole for Admin {
    const ROLE: Role = Role::Admin;
    const HEADING: &'static str = "Admins only";
    const EXPLANATION: &'static str = "Site settings need the admin or owner role.";
}

/// Owners only: the audit log and the access log.
pub struct Owner;

impl MinimumRole for Owner {
    const ROLE: Role = Role::Owner;
    const HEADING: &'static str = "Owners only";
    const EXPLANATION: &'static str = "This page is for owners.";
}

/// The session of a user with at least role `R`; otherwise a redirect to the login page or a 403.
pub struct RequireRole<R>(pub Session, pub PhantomData<R>);

impl<R: MinimumRole + Send + Sync> FromRequestParts<AppState> for RequireRole<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = signed_in(state, &parts.headers)?;
        if session.role < R::ROLE {
            let body = page("Forbidden", html! { main { h1 { (R::HEADING) } p { (R::EXPLANATION) } } });
            return Err((StatusCode::FORBIDDEN, Html(body.into_string())).into_response());
        }
        Ok(RequireRole(session, PhantomData))
    }
}

/// A form that carries a CSRF token in a field.
pub trait CsrfProtected {
    /// The CSRF token the form carries.
    fn csrf(&self) -> &str;
}

/// Implements [`CsrfProtected`] for forms whose token is in a field named `csrf`.
macro_rules! csrf_field {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::extract::CsrfProtected for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use csrf_field;

/// A form posted by the signed-in user with their session's CSRF token; otherwise a redirect to
/// the login page, 403 for a missing or stale token, or 400 for a form that does not parse.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + CsrfProtected + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let session = signed_in(state, request.headers())?;
        let form = Form::<T>::from_request(request, state).await;
        with_csrf(&session, form, |f| f.csrf()).map(CsrfForm)
    }
}
