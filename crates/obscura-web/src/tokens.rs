//! API tokens, checked on every API request. They are made by the admin service
//! (`obscura_admin::credentials::new_token`): shown once, stored as SHA-256.

use axum::http::HeaderMap;
use obscura_store::meta::{ApiToken, Metadata};

use crate::api_error::ApiError;

/// The token named by `Authorization: Bearer …`, if valid and unexpired.
pub fn authenticate(headers: &HeaderMap, meta: &Metadata, now_ms: i64) -> Result<ApiToken, ApiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <token>` header"))?;
    let secret = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?
        .trim();
    let digest = obscura_admin::credentials::secret_digest(secret);
    let token = meta
        .tokens
        .iter()
        .find(|t| t.sha256 == digest)
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked API token"))?;
    if token.expires_ms.is_some_and(|e| e <= now_ms) {
        return Err(ApiError::unauthorized("this API token has expired"));
    }
    Ok(token.clone())
}
