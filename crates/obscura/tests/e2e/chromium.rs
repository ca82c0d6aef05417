//! The tracker in real headless Chromium (Debian's `chromium` + `chromium-driver`), against a test
//! page on another origin, as on a real site.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::response::Html;
use fantoccini::{ClientBuilder, Locator};
use obscura_store::{EventStore, SqlQuery};
use serde_json::json;

use crate::harness::{SITE, TestServer};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn test_page(tracker_origin: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>Tracker test</title>
<script>window.obscura=window.obscura||function(){{(window.obscura.q=window.obscura.q||[]).push(arguments)}};</script>
<script defer data-site="{SITE}" data-allow-automation src="{tracker_origin}/js/obscura.js"></script>
<script defer src="/page.js"></script></head>
<body><h1>Tracker test page</h1>
<button id="signup">Sign up</button>
<a id="spa" href="/docs">Docs (single-page navigation)</a>
<a id="out" href="https://example.org/elsewhere">Outbound</a>
</body></html>"#
    )
}

const PAGE_JS: &str = r#"
document.getElementById('signup').addEventListener('click', function () { obscura('signup', {plan: 'pro'}); });
document.getElementById('spa').addEventListener('click', function (e) { e.preventDefault(); history.pushState({}, '', '/docs'); });
document.getElementById('out').addEventListener('click', function (e) { e.preventDefault(); });
"#;

async fn count(store: &dyn EventStore, sql: &str) -> i64 {
    let batches = store.query(&SqlQuery { sql: sql.into(), params: vec![] }).await.unwrap();
    let col = batches[0].column(0);
    obscura_store::arrow_reexport::format_column(col).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_tracker_sends_pageviews_events_and_engagement() {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "Chromium and ChromeDriver are needed: `apt-get install chromium chromium-driver` (scripts/test installs them)"
    );
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;

    // The site under test, on its own origin.
    let page = test_page(&s.base);
    let site = axum::Router::new()
        .route("/", axum::routing::get(move || async move { Html(page) }))
        .route("/page.js", axum::routing::get(|| async { ([("content-type", "application/javascript")], PAGE_JS) }));
    let site_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}/", site_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(site_listener, site).await });

    let port = free_port();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--disable-quic", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let mut browser = None;
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => {
                browser = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let browser = browser.expect("chromedriver did not accept a session");

    browser.goto(&site_url).await.unwrap();
    browser.wait().for_element(Locator::Id("signup")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    browser.find(Locator::Id("signup")).await.unwrap().click().await.unwrap();
    browser.find(Locator::Id("spa")).await.unwrap().click().await.unwrap();
    browser.find(Locator::Id("out")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shot = browser.screenshot().await.unwrap();
    let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("chromium_tracker_page.png"), shot).unwrap();
    // Leaving the page sends the engagement beacon.
    browser.goto("about:blank").await.unwrap();

    let store = s.app_store.clone();
    let mut engagement = 0;
    for _ in 0..50 {
        engagement = count(store.as_ref(), "SELECT count(*) FROM events WHERE kind = 2").await;
        if engagement > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.close().await.unwrap();
    assert!(engagement > 0, "no engagement event arrived");

    let q = format!("site={SITE}&range=today");
    let pages = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=page")).await;
    let mut paths: Vec<&str> = pages["results"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    paths.sort();
    assert_eq!(paths, vec!["/", "/docs"], "{pages}");
    let events = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=event")).await;
    let mut names: Vec<&str> = events["results"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, vec!["Outbound Link: Click", "signup"], "{events}");
    let plan = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=prop:plan")).await;
    assert_eq!(plan["results"][0]["value"], "pro");
    let flow = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=previous_page&filters=page==/docs")).await;
    assert_eq!(flow["results"][0]["value"], "/", "SPA navigation keeps the visit: {flow}");
    let agg = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!((agg["results"]["visitors"].as_u64(), agg["results"]["visits"].as_u64()), (Some(1), Some(1)), "{agg}");
    let screens = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=screen")).await;
    assert!(!screens["results"].as_array().unwrap().is_empty(), "screen class missing: {screens}");
    let browsers = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=browser")).await;
    assert!(!browsers["results"].as_array().unwrap().is_empty(), "browser missing: {browsers}");
    let visitor_type = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=visitor_type")).await;
    assert_eq!(visitor_type["results"][0]["value"], "new", "{visitor_type}");
    s.stop();
}
