//! The page chrome every HTML page shares: the frame with its head, and the stylesheet and
//! script it links.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use maud::{DOCTYPE, Markup, html};

/// The dashboard stylesheet, compiled into the binary.
pub const APP_CSS: &str = include_str!("../assets/app.css");

/// The dashboard script (the light/dark theme switch), compiled into the binary.
pub const APP_JS: &str = include_str!("../assets/app.js");

/// `GET /static/app.css` (public): [`APP_CSS`], cacheable for an hour.
pub async fn app_css() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")], APP_CSS)
}

/// `GET /static/app.js` (public): [`APP_JS`], cacheable for an hour.
pub async fn app_js() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/javascript; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")], APP_JS)
}

/// The page frame shared by every HTML page.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Obscura" }
                link rel="stylesheet" href="/static/app.css";
            }
            body { (body) }
        }
    }
}
