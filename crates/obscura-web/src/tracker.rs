//! `GET /js/obscura.js`: the tracking script, compiled into the binary.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

pub const TRACKER_JS: &str = include_str!("../../../tracker/obscura.js");

pub async fn tracker_js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
            // Sites on other origins load this script.
            (axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        TRACKER_JS,
    )
}
