//! `GET /js/obscura.js`: the tracking script, compiled into the binary.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

/// The tracking script (`tracker/obscura.js`), compiled into the binary.
pub const TRACKER_JS: &str = include_str!("../../../tracker/obscura.js");

/// `GET /js/obscura.js` (public): the tracking script, cacheable for an hour and loadable from any origin.
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn tracker_is_at_most_1024_bytes_gzipped_and_sets_no_cookies() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(super::TRACKER_JS.as_bytes()).unwrap();
        let size = gz.finish().unwrap().len();
        assert!(size <= 1024, "tracker is {size} bytes gzipped");
        assert!(!super::TRACKER_JS.contains("document.cookie"));
        assert!(super::TRACKER_JS.contains("globalPrivacyControl"));
    }
}
