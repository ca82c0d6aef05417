//! Plausible's own tracker (its npm package, `@plausible-analytics/tracker`) in real headless
//! Chromium, pointed at Obscura: what a site switching from Plausible keeps.

use std::time::Duration;

use axum::response::Html;
use serde_json::json;

use crate::chromium::start_person_browser;
use crate::harness::{SITE, TestClient, TestServer};

fn plausible_js() -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles/plausible.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is needed (scripts/fetch-data gets it from npm): {e}", path.display()))
}

/// A page that loads Plausible's tracker as its documentation shows, with Obscura as the
/// endpoint; it signs up with a revenue, then leaves (which sends Plausible's engagement event).
fn test_page(obscura: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>Plausible tracker test</title>
<script type="module">
import {{ init, track }} from '/plausible.js';
init({{ domain: '{SITE}', endpoint: '{obscura}/api/event', captureOnLocalhost: true }});
setTimeout(() => {{
  track('Purchase', {{ props: {{ plan: 'pro' }}, revenue: {{ amount: 15.99, currency: 'EUR' }} }});
  setTimeout(() => {{ location.href = '/bye'; }}, 3500);
}}, 300);
</script></head><body><h1>Shop</h1></body></html>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_plausible_tracker_reports_to_obscura_and_the_dashboard_shows_it() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let page = test_page(&s.base);
    let script = plausible_js();
    let site = axum::Router::new()
        .route("/", axum::routing::get(move || async move { Html(page) }))
        .route(
            "/plausible.js",
            axum::routing::get(move || async move { ([("content-type", "application/javascript")], script) }),
        )
        .route("/bye", axum::routing::get(|| async { Html("<!doctype html><p>Bye</p>") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, site).await });

    let browser = start_person_browser(&site_url);
    let mut kinds = (0, 0, 0);
    for _ in 0..150 {
        let rows = s.stored_rows().await;
        let count = |k| rows.iter().filter(|r| r.kind == k).count();
        kinds = (count(0), count(1), count(2));
        if kinds.0 > 0 && kinds.1 > 0 && kinds.2 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(browser);
    assert!(kinds.0 == 1 && kinds.1 == 1 && kinds.2 >= 1, "page views, events, engagement stored: {kinds:?}");

    let q = format!("site={SITE}&range=today");
    let agg = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!(
        (agg["results"]["visitors"].as_u64(), agg["results"]["pageviews"].as_u64()),
        (Some(1), Some(1)),
        "{agg}"
    );
    let events = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=event")).await;
    assert_eq!(events["results"][0]["value"], "Purchase", "{events}");
    let plan = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=prop:plan")).await;
    assert_eq!(plan["results"][0]["value"], "pro", "{plan}");
    let currency = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=prop:currency")).await;
    assert_eq!(currency["results"][0]["value"], "EUR", "{currency}");
    let owner = TestClient::sign_in(&s.base, "owner", &s.password).await;
    let (_, html) = owner.get(&format!("/?site={SITE}&range=today&events=event")).await;
    assert!(html.contains("Purchase"), "the dashboard shows Plausible's custom event");

    // Plausible's answers: 202 `ok` for what it takes, a 4xx saying what is wrong otherwise.
    let post = |body: serde_json::Value| {
        reqwest::Client::new()
            .post(format!("{}/api/event", s.base))
            .header("content-type", "text/plain")
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
            .body(body.to_string())
            .send()
    };
    let taken = post(json!({"n": "pageview", "u": format!("https://{SITE}/from-the-api"), "d": SITE})).await.unwrap();
    assert_eq!(taken.status(), 202);
    assert_eq!(taken.text().await.unwrap(), "ok");
    let missing = post(json!({"n": "pageview", "d": SITE})).await.unwrap();
    assert_eq!(missing.status(), 400);
    assert!(missing.text().await.unwrap().contains("missing field `u`"));
    let unknown =
        post(json!({"n": "pageview", "u": "https://elsewhere.example/", "d": "elsewhere.example"})).await.unwrap();
    assert_eq!(unknown.status(), 404);
    s.stop();
}
