//! JSON errors for API routes: a status and a message that says what was wrong.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// A store failure: logged in full, answered as 503 without internals (paths, engine
    /// messages); the request may be retried.
    pub fn unavailable(err: impl std::fmt::Display) -> Self {
        tracing::error!("store error: {err}");
        Self::new(503, "the store could not answer; the server log has the details")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

impl From<obscura_query::QueryError> for ApiError {
    fn from(e: obscura_query::QueryError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}
