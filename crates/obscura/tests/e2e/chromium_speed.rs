//! The tracker's performance part in real headless Chromium: a page on its own origin whose
//! assets come from two local "CDN" hosts (one sending `Timing-Allow-Origin`, one not), with
//! Google's `web-vitals` library (npm) on the same page measuring the same page load.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Html;
use fantoccini::Locator;
use serde_json::Value;

use crate::chromium::{screenshot, start_browser_with};
use crate::harness::{SITE, TestClient, TestServer};

fn web_vitals_js() -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles/web-vitals.iife.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is needed (scripts/fetch-data gets it from npm): {e}", path.display()))
}

fn test_page(obscura: &str, cdn_a: &str, cdn_b: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>Speed test</title>
<script src="/web-vitals.js"></script>
<script>['onFCP','onLCP','onCLS','onTTFB','onINP'].forEach(function(f){{webVitals[f](function(m){{navigator.sendBeacon('/web-vitals-report',JSON.stringify({{name:m.name,value:m.value}}))}})}});</script>
<script defer data-site="{SITE}" src="{obscura}/js/perf.js"></script>
<script defer src="{cdn_b}/lib.js"></script>
</head><body>
<div id="top"></div>
<h1>Speed test page</h1>
<img id="hero" class="hero wide" src="{cdn_a}/hero.svg" width="900" height="450" alt="">
<p>Text below the picture.</p>
<button id="work">Work</button>
<script>
setTimeout(function(){{var d=document.createElement('div');d.style.height='120px';d.textContent='Inserted above';document.getElementById('top').appendChild(d)}},300);
document.getElementById('work').addEventListener('click',function(){{var t=performance.now();while(performance.now()-t<150){{}}document.body.appendChild(document.createTextNode(' clicked'))}});
</script></body></html>"#
    )
}

/// A picture with enough detail to count for LCP: Chromium leaves out images of too few bytes
/// for their size (under 0.05 bits per pixel, such as one plain rectangle).
fn hero_svg() -> String {
    let tiles: String = (0..300)
        .map(|i| {
            let (x, y) = ((i % 20) * 45, (i / 20) * 30);
            format!(
                r##"<rect x="{x}" y="{y}" width="45" height="30" fill="#{:06x}"/>"##,
                (i * 2_654_435_761u64) & 0xff_ffff
            )
        })
        .collect();
    format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="900" height="450">{tiles}</svg>"#)
}

/// Serves one "CDN" host on its own port: `/hero.svg` after 150 ms and `/lib.js`, with
/// `Timing-Allow-Origin: *` when `open`.
async fn cdn(open: bool) -> u16 {
    let headers = move |kind: &'static str| {
        let mut h = vec![("content-type", kind), ("cache-control", "no-store")];
        if open {
            h.push(("timing-allow-origin", "*"));
        }
        axum::http::HeaderMap::from_iter(h.into_iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())))
    };
    let app = axum::Router::new()
        .route(
            "/hero.svg",
            axum::routing::get(move || async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                (headers("image/svg+xml"), hero_svg())
            }),
        )
        .route(
            "/lib.js",
            axum::routing::get(move || async move { (headers("application/javascript"), "window.lib=1;") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// The measurements stored so far, by metric name (the last value of each).
async fn stored_measurements(s: &TestServer) -> BTreeMap<String, f64> {
    s.stored_rows().await.into_iter().filter(|r| r.kind == 3).filter_map(|r| Some((r.metric?, r.value?))).collect()
}

fn cell<'a>(answer: &'a Value, keys: &[&str], metric: &str) -> Option<&'a Value> {
    answer["results"].as_array()?.iter().find(|c| c["metric"] == metric && c["keys"] == serde_json::json!(keys))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_speed_vitals_agree_with_web_vitals_and_cdn_timings_show_in_api_and_dashboard() {
    let s = TestServer::start_with(time::OffsetDateTime::now_utc(), |c| {
        // One host named for every site, one for this site only.
        c.enrich.cdn_hosts = BTreeMap::from([("cdn-a.test".into(), "CDN A".into())]);
        c.enrich.site_cdn_hosts =
            BTreeMap::from([(SITE.into(), BTreeMap::from([("cdn-b.test".into(), "CDN B".into())]))]);
    })
    .await;
    obscura::admin::set_speed(&*s.server_meta(), SITE, true, 100).unwrap();
    let (port_a, port_b) = (cdn(true).await, cdn(false).await);
    let page = test_page(&s.base, &format!("http://cdn-a.test:{port_a}"), &format!("http://cdn-b.test:{port_b}"));
    let vitals_js = web_vitals_js();
    // What web-vitals reports, as it reports it: each metric when final (the page hidden).
    let reports: Arc<Mutex<serde_json::Map<String, Value>>> = Arc::default();
    let collected = reports.clone();
    let site = axum::Router::new()
        .route("/", axum::routing::get(move || async move { Html(page) }))
        .route(
            "/web-vitals.js",
            axum::routing::get(move || async move { ([("content-type", "application/javascript")], vitals_js) }),
        )
        .route(
            "/web-vitals-report",
            axum::routing::post(move |body: String| async move {
                let report: Value = serde_json::from_str(&body).unwrap();
                let name = report["name"].as_str().unwrap().to_owned();
                collected.lock().unwrap().insert(name, report["value"].clone());
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, site).await });

    let resolve = "--host-resolver-rules=MAP cdn-a.test 127.0.0.1,MAP cdn-b.test 127.0.0.1".to_owned();
    let person = [
        resolve.clone(),
        "--disable-blink-features=AutomationControlled".into(),
        format!("--user-agent={}", crate::chromium::person_ua()),
    ];
    let (_driver, browser, _profile) = start_browser_with(&person).await;
    browser.goto(&site_url).await.unwrap();
    browser.wait().for_element(Locator::Id("work")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    browser.find(Locator::Id("work")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    screenshot(&browser, "chromium_speed_page.png").await;
    // Leaving the page hides it: the beacon goes, and web-vitals reports its final values.
    browser.goto("about:blank").await.unwrap();
    let mut stored = BTreeMap::new();
    for _ in 0..50 {
        stored = stored_measurements(&s).await;
        if stored.contains_key("lcp") && reports.lock().unwrap().len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.close().await.unwrap();
    let reference = Value::Object(reports.lock().unwrap().clone());

    // The same page load, measured by web-vitals and by the performance part.
    for (name, metric, tolerance) in
        [("FCP", "fcp", 1.0), ("LCP", "lcp", 1.0), ("TTFB", "ttfb", 1.0), ("INP", "inp", 1.0), ("CLS", "cls", 1e-4)]
    {
        let expected = reference[name]
            .as_f64()
            .unwrap_or_else(|| panic!("web-vitals reported no {name}: {reference}; Obscura: {stored:?}"));
        let got = *stored.get(metric).unwrap_or_else(|| panic!("no {metric} stored: {stored:?}"));
        assert!((got - expected).abs() <= tolerance, "{name}: web-vitals {expected}, Obscura {got} ({stored:?})");
    }
    assert!(reference["INP"].as_f64().unwrap() >= 150.0, "the click's work shows in INP: {reference}");
    assert!(reference["CLS"].as_f64().unwrap() > 0.0, "the inserted block shifted the layout: {reference}");
    assert!(stored.contains_key("load"), "page load time: {stored:?}");

    // The API: the vitals, the LCP element as a selector, and both providers.
    let q = format!("site={SITE}&range=today");
    let vitals = s.api(&format!("/api/v1/stats/performance?{q}")).await;
    let lcp = cell(&vitals, &[], "lcp").unwrap_or_else(|| panic!("{vitals}"));
    assert_eq!(lcp["samples"], 1, "{vitals}");
    assert!((lcp["p75"].as_f64().unwrap() - stored["lcp"]).abs() <= stored["lcp"] * 0.006, "{lcp}");
    let elements = s.api(&format!("/api/v1/stats/performance?{q}&metrics=lcp&by=prop:element")).await;
    let element = elements["results"][0]["keys"][0].as_str().unwrap_or_default();
    assert!(element.ends_with(">img#hero.hero.wide"), "the LCP element as a selector, never its text: {elements}");
    let cdn = s
        .api(&format!(
            "/api/v1/stats/performance?{q}&by=prop:provider&metrics=cdn.resources,cdn.timing_hidden,cdn.ttfb,cdn.download"
        ))
        .await;
    let resources = |provider: &str| cell(&cdn, &[provider], "cdn.resources").map(|c| c["sum"].as_f64().unwrap());
    assert_eq!(resources("CDN A"), Some(1.0), "the picture: {cdn}");
    assert_eq!(resources("CDN B"), Some(1.0), "the script: {cdn}");
    let ttfb_a = cell(&cdn, &["CDN A"], "cdn.ttfb").unwrap_or_else(|| panic!("CDN A shows its timings: {cdn}"));
    assert!(ttfb_a["p50"].as_f64().unwrap() >= 140.0, "the picture waits 150 ms before its first byte: {ttfb_a}");
    assert_eq!(cell(&cdn, &["CDN B"], "cdn.timing_hidden").map(|c| c["sum"].clone()), Some(1.0.into()), "{cdn}");
    assert!(cell(&cdn, &["CDN B"], "cdn.ttfb").is_none(), "hidden timings are not zeros: {cdn}");

    // The dashboard shows the same.
    let owner = TestClient::sign_in(&s.base, "owner", &s.password).await;
    let (status, html) = owner.get(&format!("/speed?site={SITE}&range=today")).await;
    assert_eq!(status, 200);
    for expected in [
        "data-metric=\"lcp\"",
        "data-provider=\"CDN A\"",
        "data-provider=\"CDN B\"",
        "Fastest provider",
        "p75 LCP per day",
        "img#hero.hero.wide",
        "<svg class=\"cdn\"",
    ] {
        assert!(html.contains(expected), "the speed dashboard lacks {expected}: {html}");
    }
    let resources = html.split_once("Slowest resources per page").map(|(_, rest)| rest).unwrap_or_default();
    assert!(resources.contains("<td>CDN A</td>"), "the page's slowest provider: {resources}");

    // A browser driven as a robot (webdriver, headless): its beacon never counts.
    let (_driver, robot, _profile) = start_browser_with(&[resolve]).await;
    robot.goto(&site_url).await.unwrap();
    robot.wait().for_element(Locator::Id("work")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    robot.goto("about:blank").await.unwrap();
    let mut automated = 0;
    for _ in 0..50 {
        let status = s.api("/api/v1/ingest/status").await;
        automated = status["speed"]["automated"].as_u64().unwrap_or(0);
        if automated > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    robot.close().await.unwrap();
    assert_eq!(automated, 1, "the automated browser's beacon was recognised and counted");
    let after = s.api(&format!("/api/v1/stats/performance?{q}&metrics=lcp")).await;
    assert_eq!(cell(&after, &[], "lcp").unwrap()["samples"], 1, "no robot in the speed figures: {after}");
    s.stop();
}
