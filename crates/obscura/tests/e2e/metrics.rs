//! `GET /metrics`: Prometheus metrics, for a read token only, counting what ingest did.

use serde_json::json;

use crate::harness::{SITE, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_a_token_and_count_ingest_by_protocol_and_outcome() {
    let s = TestServer::start(time::macros::datetime!(2026-07-01 09:00 UTC)).await;
    let url = format!("{}/metrics", s.base);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 401, "no token, no metrics");

    assert_eq!(s.send([127, 0, 0, 2], FIREFOX, json!({"site": SITE, "url": format!("https://{SITE}/")})).await, 204);
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    assert_eq!(s.send([127, 0, 0, 3], googlebot, json!({"site": SITE, "url": format!("https://{SITE}/")})).await, 204);
    assert_eq!(s.send([127, 0, 0, 4], FIREFOX, json!({"site": SITE})).await, 400);
    let plausible = reqwest::Client::new()
        .post(format!("{}/api/event", s.base))
        .header("user-agent", FIREFOX)
        .body(json!({"n": "pageview", "u": format!("https://{SITE}/p"), "d": SITE}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(plausible.status(), 202);

    let res = reqwest::Client::new().get(&url).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = res.text().await.unwrap();
    for line in [
        r#"obscura_ingest_requests_total{protocol="obscura",outcome="stored"} 1"#,
        r#"obscura_ingest_requests_total{protocol="obscura",outcome="kept_apart"} 1"#,
        r#"obscura_ingest_requests_total{protocol="obscura",outcome="rejected"} 1"#,
        r#"obscura_ingest_requests_total{protocol="plausible",outcome="stored"} 1"#,
        r#"obscura_store_append_seconds_count 3"#,
        r#"obscura_store_append_seconds_bucket{le="+Inf"} 3"#,
        r#"obscura_store_failures_total{backend="embedded"} 0"#,
        r#"obscura_ingest_appends_waiting 0"#,
        r#"obscura_tls_handshakes_total{result="completed"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing from:\n{text}");
    }
    let share = text.lines().find_map(|l| l.strip_prefix("obscura_automated_share ")).expect("the automated share");
    assert!((share.parse::<f64>().unwrap() - 1.0 / 3.0).abs() < 1e-6, "{share}");
    assert!(text.lines().any(|l| l == "obscura_store_events 3"), "{text}");
    assert!(!text.contains(SITE), "no label names a site");

    // A Prometheus text-format parser reads it all.
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format");
    let stored = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "obscura_ingest_requests_total"
                && s.labels.get("protocol") == Some("plausible")
                && s.labels.get("outcome") == Some("stored")
        })
        .expect("Plausible's stored requests");
    // A parser of the classic format reads OpenMetrics' `_total` samples as untyped.
    let one = |v: &prometheus_parse::Value| matches!(v, prometheus_parse::Value::Counter(n) | prometheus_parse::Value::Untyped(n) if *n == 1.0);
    assert!(one(&stored.value), "{:?}", stored.value);
    assert!(scrape.samples.iter().any(|s| s.metric.starts_with("obscura_store_append_seconds")), "the histogram");
    s.stop();
}
