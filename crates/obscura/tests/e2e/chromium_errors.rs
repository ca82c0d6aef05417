//! The tracker's error part (`/js/errors.js`) in real headless Chromium, on a page of another
//! origin: an uncaught exception and an unhandled rejection become issues, with their frames;
//! the same error thrown again is reported once; personal data in a message is scrubbed.

use std::time::Duration;

use axum::response::Html;
use fantoccini::Locator;

use crate::chromium::{person_ua, start_browser_with};

/// A person's browser, as far as its User-Agent goes: a headless one's reports are kept out of
/// the error counts (P5).
fn person() -> [String; 1] {
    [format!("--user-agent={}", person_ua())]
}
use crate::harness::{SITE, TestServer};

const PAGE_JS: &str = r#"
function pay(order) { return order.total.price; }
document.getElementById('pay').addEventListener('click', function () { pay({}); });
document.getElementById('reject').addEventListener('click', function () {
  Promise.reject(new RangeError('quota 5 exceeded for jane@example.com'));
});
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_error_part_reports_exceptions_and_rejections_once_each() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let dsn = s.dsn();
    let page = format!(
        r#"<!doctype html><html><head><title>Errors test</title>
<script src="{}/js/errors.js" data-dsn="{dsn}" data-release="shop@2.0.0"></script>
<script defer src="/page.js"></script></head>
<body><button id="pay">Pay</button><button id="reject">Reject</button></body></html>"#,
        s.base
    );
    let app = axum::Router::new()
        .route("/", axum::routing::get(move || async move { Html(page) }))
        .route("/page.js", axum::routing::get(|| async { ([("content-type", "application/javascript")], PAGE_JS) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (_driver, browser, _profile) = start_browser_with(&person()).await;
    browser.goto(&page_url).await.unwrap();
    browser.wait().for_element(Locator::Id("pay")).await.unwrap();
    for button in ["pay", "pay", "reject"] {
        browser.find(Locator::Id(button)).await.unwrap().click().await.unwrap();
    }
    let issues = s.issues(2).await;
    browser.close().await.unwrap();
    assert_eq!(issues.len(), 2, "{issues:?}");
    let by_type = |t: &str| issues.iter().find(|i| i["type"] == t).unwrap_or_else(|| panic!("{t} in {issues:?}"));
    let type_error = by_type("TypeError");
    assert_eq!(type_error["events"], 1, "the same error thrown twice is reported once");
    assert!(type_error["message"].as_str().unwrap().contains("price"), "{type_error}");
    let frames = type_error["frames"].as_str().unwrap();
    assert!(frames.starts_with("pay (") && frames.contains("/page.js:2"), "the innermost frame first: {frames}");
    assert!(type_error["culprit"].as_str().unwrap().starts_with("pay"), "{type_error}");
    let range_error = by_type("RangeError");
    assert_eq!(range_error["message"], "quota 5 exceeded for [email]");
    let releases = s.api(&format!("/api/v1/stats/errors?site={SITE}&range=today&dimension=prop:release")).await;
    assert_eq!(releases["results"][0]["value"], "shop@2.0.0");
    let browsers = s.api(&format!("/api/v1/stats/errors?site={SITE}&range=today&dimension=browser")).await;
    let browser = browsers["results"][0]["value"].as_str().unwrap_or_default();
    assert!(browser.starts_with("Chrom"), "the browser comes from the User-Agent: {browsers}");
    s.stop();
}

/// Sentry's own browser SDK (`@sentry/browser`, bundled by `scripts/fetch-data`).
fn sentry_browser_bundle() -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles/sentry-browser.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; `scripts/fetch-data` bundles Sentry's browser SDK", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_sentry_browser_sdk_reports_to_obscura_without_personal_data() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let dsn = s.dsn();
    let page = format!(
        r#"<!doctype html><html><head><title>Sentry SDK test</title><script src="/sentry.js"></script>
<script>
Sentry.init({{ dsn: "{dsn}", release: "shop@3.1.0", environment: "staging", sendDefaultPii: true }});
Sentry.setUser({{ email: "jane@example.com", ip_address: "{{{{auto}}}}" }});
Sentry.addBreadcrumb({{ message: "paid with 4111 1111 1111 1111" }});
function checkout() {{ throw new TypeError("total of jane@example.com is undefined"); }}
</script></head>
<body><button id="boom" onclick="checkout()">Boom</button>
<button id="say" onclick="Sentry.captureMessage('order 1234 failed for jane@example.com')">Say</button></body></html>"#
    );
    let bundle = sentry_browser_bundle();
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { Html(page) })).route(
        "/sentry.js",
        axum::routing::get(move || async move { ([("content-type", "application/javascript")], bundle) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (_driver, browser, _profile) = start_browser_with(&person()).await;
    browser.goto(&page_url).await.unwrap();
    browser.wait().for_element(Locator::Id("boom")).await.unwrap();
    browser.find(Locator::Id("boom")).await.unwrap().click().await.unwrap();
    browser.find(Locator::Id("say")).await.unwrap().click().await.unwrap();
    let issues = s.issues(2).await;
    browser.close().await.unwrap();
    let titles: Vec<&str> = issues.iter().filter_map(|i| i["title"].as_str()).collect();
    assert!(titles.contains(&"TypeError: total of [email] is undefined"), "{titles:?}");
    assert!(titles.contains(&"order 1234 failed for [email]"), "{titles:?}");
    let thrown = issues.iter().find(|i| i["type"] == "TypeError").unwrap();
    assert!(thrown["frames"].as_str().unwrap().starts_with("checkout ("), "{thrown}");
    let stored = format!("{:?}", s.stored_rows().await);
    for planted in ["jane", "4111", "{{auto}}"] {
        assert!(!stored.contains(planted), "{planted} reached storage: {stored}");
    }
    assert!(stored.contains("shop@3.1.0") && stored.contains("staging"), "release and environment are kept");
    s.stop();
}

/// The consent flow end to end (P7): an operator opens a diagnostics request on an issue; a
/// page whose person declines sends no detail; one whose person agrees gets a single-use token
/// and sends its breadcrumbs, which the issue's page then shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_p07_detail_is_sent_only_after_the_person_agrees() {
    let s = TestServer::start(time::OffsetDateTime::now_utc()).await;
    let dsn = s.dsn();
    let page = format!(
        r#"<!doctype html><html><head><title>Consent test</title>
<script>window.obscura = function () {{}};</script>
<script src="{}/js/errors.js" data-dsn="{dsn}"></script>
<script>
obscura.onDiagnosticsRequest(function (request) {{
  window.asked = request.purpose;
  return new URLSearchParams(location.search).get('agree') === 'yes';
}});
function pay(order) {{ return order.total.price; }}
</script></head>
<body><button id="pay" onclick="pay({{}})">Pay</button></body></html>"#,
        s.base
    );
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { Html(page) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (_driver, browser, _profile) = start_browser_with(&person()).await;
    let pay = || async {
        browser.wait().for_element(Locator::Id("pay")).await.unwrap().click().await.unwrap();
    };
    browser.goto(&page_url).await.unwrap();
    pay().await;
    let fingerprint = s.error_reports(1).await[0].name.clone().expect("an issue");

    // The operator asks for breadcrumbs.
    let owner = crate::harness::TestClient::sign_in(&s.base, "owner", &s.password).await;
    let form = [("purpose", "Help us fix the checkout"), ("breadcrumbs", "on"), ("days", "7"), ("max_reports", "5")];
    let (status, body) = owner.post_form(&format!("/errors/{fingerprint}/diagnostics?site={SITE}"), &form).await;
    assert_eq!(status, 303, "{body}");

    browser.goto(&format!("{page_url}?agree=no")).await.unwrap();
    pay().await;
    s.error_reports(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = browser.execute("return window.asked", vec![]).await.unwrap();
    assert_eq!(asked, "Help us fix the checkout", "the page asked the person, with the operator's purpose");
    let declined = s.error_reports(2).await;
    assert_eq!(declined.len(), 2, "declined: no second report");
    assert!(declined.iter().all(|r| !r.props.as_deref().unwrap_or("").contains("detail")));

    browser.goto(&format!("{page_url}?agree=yes")).await.unwrap();
    pay().await;
    let all = s.error_reports(4).await;
    browser.close().await.unwrap();
    let with_detail: Vec<&str> =
        all.iter().filter_map(|r| r.props.as_deref()).filter(|p| p.contains("\u{1}detail\u{2}")).collect();
    assert_eq!(with_detail.len(), 1, "one consented report: {all:?}");
    assert!(with_detail[0].contains("button#pay") && with_detail[0].contains("navigation"), "{}", with_detail[0]);
    let (_, issue_page) = owner.get(&format!("/errors/{fingerprint}?site={SITE}&range=today")).await;
    assert!(issue_page.contains("Consented reports") && issue_page.contains("button#pay"), "{issue_page}");
    assert!(issue_page.contains("1 of 5 reports"), "{issue_page}");
    s.stop();
}
