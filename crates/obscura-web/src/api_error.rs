//! JSON errors for API routes: a status and a message that says what was wrong.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An API error, answered as its status with the JSON body `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status sent.
    pub status: StatusCode,
    /// What was wrong, in words for the caller.
    pub message: String,
}

impl ApiError {
    /// An error with status code `status` (400 if that is not a valid status code).
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), message: message.into() }
    }

    /// 400 Bad Request: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 401 Unauthorized: no credentials, or credentials that are not valid.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    /// 403 Forbidden: the caller is known but may not do this.
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
