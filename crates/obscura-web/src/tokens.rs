//! API tokens: shown once, stored as SHA-256 (they are long random secrets, so a fast hash is
//! enough), checked on every API request.

use axum::http::HeaderMap;
use obscura_store::meta::{ApiToken, Metadata, TokenScope};
use sha2::{Digest, Sha256};

use crate::api_error::ApiError;

/// Makes a new token: returns the secret (to show once) and the record to store.
pub fn new_token(name: &str, scope: TokenScope, sites: Vec<u32>, now_ms: i64, expires_ms: Option<i64>) -> (String, ApiToken) {
    let secret = format!("obs_{}", hex::encode(rand::random::<[u8; 20]>()));
    let record = ApiToken {
        id: secret[..12].to_owned(),
        sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        name: name.to_owned(),
        scope,
        sites,
        created_ms: now_ms,
        expires_ms,
    };
    (secret, record)
}

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
    let digest = hex::encode(Sha256::digest(secret.as_bytes()));
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
