//! The admin pages: sites and their settings, shared links, API tokens, users and the audit
//! log, one module each. Every change goes through the admin service, as the signed-in user.

pub mod api_tokens;
pub mod audit_log;
pub mod share_links;
pub mod sites;
pub mod users;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use obscura_admin::{Actor, AdminError, AdminService};

use crate::admin_errors::admin_error_response;
use crate::sessions::Session;
use crate::state::AppState;

/// Administrative actions as the signed-in user, now.
pub(crate) fn service<'a>(state: &'a AppState, session: &Session) -> AdminService<'a> {
    AdminService::new(&*state.meta, &*state.audit, actor(session), state.clock.now_ms())
}

fn actor(session: &Session) -> Actor {
    Actor::User { name: session.username.clone(), role: session.role }
}

/// Runs an action that hashes a password on the bounded hashing pool.
pub(crate) async fn with_hashing<T: Send + 'static>(
    state: &AppState,
    session: &Session,
    action: impl FnOnce(&AdminService<'_>) -> Result<T, AdminError> + Send + 'static,
) -> Result<T, Response> {
    let (meta, audit, actor, now) = (state.meta.clone(), state.audit.clone(), actor(session), state.clock.now_ms());
    match state.password_hashing.run(move || action(&AdminService::new(&*meta, &*audit, actor, now))).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(admin_error_response(e)),
        Err(crate::password_hashing::Busy) => {
            Err((StatusCode::SERVICE_UNAVAILABLE, crate::password_hashing::Busy::MESSAGE).into_response())
        }
    }
}
