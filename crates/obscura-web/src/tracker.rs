//! `GET /js/obscura.js`, `GET /js/perf.js` and `GET /js/errors.js`: the tracking script, its
//! performance part and its error part, compiled into the binary.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

/// The tracking script (`tracker/obscura.js`), compiled into the binary.
pub const TRACKER_JS: &str = include_str!("../../../tracker/obscura.js");

/// A script as sites load it: cacheable for an hour, loadable from any origin.
fn script(body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
            // Sites on other origins load these scripts.
            (axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
}

/// `GET /js/obscura.js` (public): the tracking script, cacheable for an hour and loadable from any origin.
pub async fn tracker_js() -> impl IntoResponse {
    script(TRACKER_JS)
}

/// The tracking script's performance part (`tracker/perf.js`): a site that wants speed figures
/// loads it beside the tracking script.
pub const PERF_JS: &str = include_str!("../../../tracker/perf.js");

/// `GET /js/perf.js` (public): the performance part, cacheable like the tracking script.
pub async fn perf_js() -> impl IntoResponse {
    script(PERF_JS)
}

/// The tracking script's error part (`tracker/errors.js`): a site that wants its visitors'
/// JavaScript errors loads it with its DSN (`data-dsn`); it reports them to Sentry's store
/// endpoint, at most ten distinct ones a page, and sends what happened before an error only
/// when the site asked the person and they agreed (`obscura.onDiagnosticsRequest`).
pub const ERRORS_JS: &str = include_str!("../../../tracker/errors.js");

/// `GET /js/errors.js` (public): the error part, cacheable like the tracking script.
pub async fn errors_js() -> impl IntoResponse {
    script(ERRORS_JS)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn tracker_is_at_most_1408_bytes_gzipped_and_sets_no_cookies() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(super::TRACKER_JS.as_bytes()).unwrap();
        let size = gz.finish().unwrap().len();
        // 1,280 until the tracker learned to hold events while the server asks it to wait.
        assert!(size <= 1408, "tracker is {size} bytes gzipped");
        assert!(!super::TRACKER_JS.contains("document.cookie"));
        assert!(super::TRACKER_JS.contains("globalPrivacyControl"));
    }

    #[test]
    fn tracker_performance_part_is_at_most_1536_bytes_gzipped_and_honours_privacy_signals() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(super::PERF_JS.as_bytes()).unwrap();
        let size = gz.finish().unwrap().len();
        assert!(size <= 1536, "the performance part is {size} bytes gzipped");
        assert!(!super::PERF_JS.contains("document.cookie") && !super::PERF_JS.contains("innerText"));
        assert!(super::PERF_JS.contains("globalPrivacyControl") && super::PERF_JS.contains("obscura_ignore"));
    }

    #[test]
    fn tracker_error_part_is_at_most_1536_bytes_gzipped_and_honours_privacy_signals() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(super::ERRORS_JS.as_bytes()).unwrap();
        let size = gz.finish().unwrap().len();
        assert!(size <= 1536, "the error part is {size} bytes gzipped");
        assert!(!super::ERRORS_JS.contains("document.cookie") && !super::ERRORS_JS.contains("innerText"));
        assert!(super::ERRORS_JS.contains("globalPrivacyControl") && super::ERRORS_JS.contains("obscura_ignore"));
        // Breadcrumbs go only into the report sent with a consent token (P7).
        assert_eq!(super::ERRORS_JS.matches("breadcrumbs:crumbs").count(), 1);
        assert!(super::ERRORS_JS.contains("obscura_consent='+t.token"));
    }
}
