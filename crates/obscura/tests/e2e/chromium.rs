//! The tracker in real headless Chromium (Debian's `chromium` + `chromium-driver`), against a test
//! page on another origin, as on a real site.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::response::Html;
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::harness::{SITE, TestServer};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Driver(Child);

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
<script defer data-site="{SITE}" src="{tracker_origin}/js/obscura.js"></script>
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
// A person's visit, for a browser no WebDriver drives: sign up, move on in the app, follow an
// outbound link, then leave.
if (location.search == '?person') setTimeout(function () {
  document.getElementById('signup').click();
  document.getElementById('spa').click();
  document.getElementById('out').click();
  setTimeout(function () { location.href = '/bye'; }, 500);
}, 700);
"#;

/// Serves the test page, whose tracker comes from `tracker_origin`, on an origin of its own;
/// returns its URL.
async fn serve_test_site(tracker_origin: &str) -> String {
    let page = test_page(tracker_origin);
    let site = axum::Router::new()
        .route("/", axum::routing::get(move || async move { Html(page) }))
        .route("/page.js", axum::routing::get(|| async { ([("content-type", "application/javascript")], PAGE_JS) }));
    let site_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}/", site_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(site_listener, site).await });
    site_url
}

/// How every test runs Chromium: headless, quiet (no background networking, updates or sync), without a GPU.
const HEADLESS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,900",
];

/// Headless Chromium as a person's browser: no WebDriver (whose ChromeDriver leaves its `cdc_`
/// globals in every page), its own User-Agent, and no WebGL rendered in software (headless
/// Chromium's SwiftShader; a person's browser has a GPU), on `url` until dropped.
pub fn start_person_browser(url: &str) -> (Driver, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new(CHROMIUM)
        .args(HEADLESS)
        .arg("--disable-3d-apis")
        .arg(format!("--user-agent={}", person_ua()))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Driver(child), profile)
}

/// Starts ChromeDriver and a headless Chromium session with a fresh profile.
async fn start_browser() -> (Driver, fantoccini::Client, tempfile::TempDir) {
    start_browser_with(&[]).await
}

/// Like [`start_browser`], with more command-line switches for Chromium.
pub async fn start_browser_with(extra: &[String]) -> (Driver, fantoccini::Client, tempfile::TempDir) {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "Chromium and ChromeDriver are needed: `apt-get install chromium chromium-driver` (scripts/test installs them)"
    );
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = HEADLESS.map(String::from).to_vec();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend_from_slice(extra);
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), json!({ "binary": CHROMIUM, "args": args }));
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(c) =
            ClientBuilder::new(connector).capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await
        {
            return (driver, c, profile);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("chromedriver did not accept a session");
}

/// Saves a screenshot under target/test-artifacts.
pub async fn screenshot(browser: &fantoccini::Client, name: &str) {
    let shot = browser.screenshot().await.unwrap();
    let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join(name), shot).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_tracker_sends_pageviews_events_and_engagement() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;

    // The site under test, on its own origin.
    let site_url = serve_test_site(&s.base).await;

    // A person's browser: it signs up, moves on in the app, follows an outbound link and leaves,
    // which sends the engagement beacon.
    let person = start_person_browser(&format!("{site_url}?person"));
    let mut engagement = 0;
    for _ in 0..100 {
        engagement = s.stored_rows().await.iter().filter(|r| r.kind == 2).count();
        if engagement > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(person);
    let apart: Vec<_> = s.stored_rows().await.into_iter().filter(|r| r.kind == 5).map(|r| r.props).collect();
    assert!(engagement > 0, "no engagement event arrived; kept apart: {apart:?}");

    let q = format!("site={SITE}&range=today");
    let pages = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=page")).await;
    let mut paths: Vec<&str> =
        pages["results"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    paths.sort();
    assert_eq!(paths, vec!["/", "/docs"], "{pages}");
    let events = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=event")).await;
    let mut names: Vec<&str> =
        events["results"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
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
    assert_eq!(s.api(&format!("/api/v1/stats/automated?{q}")).await["hits"], 0, "the person is no robot");

    // Headless Chromium as WebDriver leaves it (its User-Agent says HeadlessChrome), then one
    // that passes for a person's browser by its User-Agent: the tracker's answers (webdriver,
    // WebGL in software) give it away. Each page view is kept apart from people's figures and
    // shown with its reasons (P5).
    let masked = [format!("--user-agent={}", person_ua())];
    for (n, extra) in [&[][..], &masked[..]].into_iter().enumerate() {
        let before = s.api(&format!("/api/v1/stats/automated?{q}")).await["hits"].as_u64();
        let (_driver, headless, _profile) = start_browser_with(extra).await;
        headless.goto(&site_url).await.unwrap();
        headless.wait().for_element(Locator::Id("signup")).await.unwrap();
        let mut automated = serde_json::Value::Null;
        for _ in 0..50 {
            automated = s.api(&format!("/api/v1/stats/automated?{q}")).await;
            if automated["hits"].as_u64() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        headless.close().await.unwrap();
        assert!(automated["hits"].as_u64() > before, "{automated}");
        let reasons: Vec<&str> =
            automated["reasons"].as_array().unwrap().iter().filter_map(|r| r["value"].as_str()).collect();
        if n == 0 {
            // The robot lists name HeadlessChrome where they are installed, and its own marker where
            // its User-Agent still carries it; the tracker sees WebDriver anyway.
            let telling = ["robot_user_agent", "automation_user_agent", "webdriver"];
            assert!(reasons.iter().any(|r| telling.contains(r)), "{automated}");
        } else {
            // Its hits are those whose User-Agent passed for a person's.
            let masked: Vec<String> = s
                .stored_rows()
                .await
                .iter()
                .filter(|r| r.kind == 5)
                .map(|r| r.props.clone().unwrap_or_default())
                .filter(|p| !p.contains("user_agent"))
                .collect();
            assert!(!masked.is_empty(), "the masked browser's hit is kept apart");
            // WebDriver gives it away; WebGL in software (`software_renderer`) too, where this
            // Chromium renders WebGL without a GPU at all.
            assert!(masked.iter().all(|p| p.contains("webdriver")), "{masked:?}");
        }
    }
    let agg = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!(agg["results"]["visitors"].as_u64(), Some(1), "people's figures unchanged: {agg}");
    s.stop();
}

/// An overloaded server answers `503` with `Retry-After`: the tracker holds what the page sends
/// meanwhile (sending nothing), and sends it all once the wait is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_tracker_backs_off_while_the_server_is_overloaded_and_sends_what_it_held() {
    // Memory over the ceiling (64 MB, under what the test process holds): ingest is refused.
    let s = TestServer::start_with(time::OffsetDateTime::now_utc(), |c| c.limits.memory_mb = 64).await;
    let site_url = serve_test_site(&s.base).await;
    let refused = || s.pipeline.admission().refused.load(std::sync::atomic::Ordering::Relaxed);

    let (_driver, browser, _profile) = start_browser().await;
    browser.goto(&site_url).await.unwrap();
    for _ in 0..50 {
        if refused() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refused(), 1, "the page view was refused");
    // Three events while the server asked to wait: held, not sent.
    browser.execute("obscura('signup'); obscura('signup'); obscura('signup')", vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(refused(), 1, "nothing is sent during the wait");
    s.pipeline.admission().set_memory_ceiling(0);
    let mut stored = 0;
    for _ in 0..100 {
        stored = s.store.count_events().await.unwrap();
        if stored >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 4, "the page view and the three events, sent once the wait was over");
    assert_eq!(refused(), 1);
    browser.close().await.unwrap();
}

/// A Chromium User-Agent of the installed version (its Client Hints must agree), without the
/// headless marker.
pub fn person_ua() -> &'static str {
    static UA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    UA.get_or_init(|| {
        let version = Command::new(CHROMIUM).arg("--version").output().expect("chromium --version");
        let text = String::from_utf8_lossy(&version.stdout);
        let major = text
            .split_whitespace()
            .find_map(|word| word.split('.').next().filter(|m| word.contains('.') && m.parse::<u32>().is_ok()))
            .unwrap_or_else(|| panic!("no version in `chromium --version`: {text}"))
            .to_owned();
        format!(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"
        )
    })
}

fn number(text: &str) -> String {
    text.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_dashboard_login_numbers_filter_url_dark_mode_and_shared_link() {
    let s = TestServer::start(time::macros::datetime!(2026-10-01 12:00 UTC)).await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    for (ip, ua, path) in [
        ([127, 0, 0, 2], firefox, "/"),
        ([127, 0, 0, 2], firefox, "/pricing"),
        ([127, 0, 0, 6], chrome, "/"),
        ([127, 0, 0, 7], chrome, "/blog"),
    ] {
        let body = json!({"site": SITE, "url": format!("https://{SITE}{path}"), "referrer": "https://www.google.com/"});
        assert_eq!(s.send(ip, ua, body).await, reqwest::StatusCode::NO_CONTENT);
    }
    let (_driver, browser, _profile) = start_browser().await;

    // Log in through the form.
    browser.goto(&format!("{}/", s.base)).await.unwrap();
    browser.wait().for_element(Locator::Css("input[name=username]")).await.unwrap();
    browser.find(Locator::Css("input[name=username]")).await.unwrap().send_keys("owner").await.unwrap();
    browser.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(&s.password).await.unwrap();
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Css("[data-metric=visitors] .value")).await.unwrap();

    // The dashboard's numbers are the API's for the same range.
    browser.goto(&format!("{}/?site={SITE}&range=today", s.base)).await.unwrap();
    let api = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    let shown = |m: &'static str| {
        let b = browser.clone();
        async move {
            number(&b.find(Locator::Css(&format!("[data-metric={m}] .value"))).await.unwrap().text().await.unwrap())
        }
    };
    assert_eq!(shown("visitors").await, api["results"]["visitors"].to_string());
    assert_eq!(shown("visits").await, api["results"]["visits"].to_string());
    assert_eq!(shown("pageviews").await, api["results"]["pageviews"].to_string());
    screenshot(&browser, "chromium_dashboard.png").await;

    // Click a row to filter: the URL carries the filter and the numbers follow it.
    browser.find(Locator::LinkText("Chrome")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Css("a.chip")).await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert!(url.query().unwrap_or_default().contains("filters=browser%3D%3DChrome"), "{url}");
    let filtered = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today&filters=browser==Chrome")).await;
    assert_eq!(shown("visitors").await, filtered["results"]["visitors"].to_string());
    assert_eq!(shown("pageviews").await, "2");
    screenshot(&browser, "chromium_dashboard_filtered.png").await;

    // The URL alone reproduces the view.
    browser.goto("about:blank").await.unwrap();
    browser.goto(url.as_str()).await.unwrap();
    browser.wait().for_element(Locator::Css("a.chip")).await.unwrap();
    assert_eq!(shown("pageviews").await, "2");
    assert!(browser.find(Locator::Css("a.chip")).await.unwrap().text().await.unwrap().contains("browser is Chrome"));

    // Dark mode: the switch changes the page's colours and the choice survives a reload.
    let background = || {
        let b = browser.clone();
        async move {
            b.execute("return getComputedStyle(document.body).backgroundColor", vec![])
                .await
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let light = background().await;
    browser.find(Locator::Id("theme")).await.unwrap().click().await.unwrap();
    let dark = background().await;
    assert_ne!(light, dark, "the theme switch changes the colours");
    browser.refresh().await.unwrap();
    browser.wait().for_element(Locator::Id("theme")).await.unwrap();
    assert_eq!(background().await, dark, "the chosen theme stays");
    screenshot(&browser, "chromium_dashboard_dark.png").await;

    // A shared link opens logged out.
    let meta = s.meta();
    let (_, token) = obscura::admin::add_share(&meta, SITE, None, None).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // the server rereads metadata each second
    browser.delete_all_cookies().await.unwrap();
    browser.goto(&format!("{}/share/{token}?range=today", s.base)).await.unwrap();
    browser.wait().for_element(Locator::Css("[data-metric=visitors] .value")).await.unwrap();
    assert_eq!(shown("visitors").await, api["results"]["visitors"].to_string());
    screenshot(&browser, "chromium_shared_link.png").await;
    browser.goto(&format!("{}/", s.base)).await.unwrap();
    assert!(browser.current_url().await.unwrap().path().ends_with("/login"), "the shared link grants nothing else");
    browser.close().await.unwrap();
    s.stop();
}
