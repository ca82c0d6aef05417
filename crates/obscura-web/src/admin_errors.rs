//! The one place where an administrative failure becomes an HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use obscura_admin::AdminError;

/// The status and message for `error`: not found 404, forbidden 403, invalid 400, conflict
/// 409, storage 503 (the action may succeed when tried again).
pub fn admin_error_response(error: AdminError) -> Response {
    let status = match &error {
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::Forbidden(_) => StatusCode::FORBIDDEN,
        AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
        AdminError::Conflict(_) => StatusCode::CONFLICT,
        AdminError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, error.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_errors_map_to_one_status_each() {
        let cases = [
            (AdminError::NotFound("no user \"x\"".into()), 404),
            (AdminError::Forbidden("only owners make owners".into()), 403),
            (AdminError::Invalid("a viewer needs at least one site".into()), 400),
            (AdminError::Conflict("user x already exists".into()), 409),
            (AdminError::Storage("disk full".into()), 503),
        ];
        for (error, status) in cases {
            assert_eq!(admin_error_response(error).status().as_u16(), status);
        }
    }
}
