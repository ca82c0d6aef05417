//! The batch API (`POST /api/batch`): servers and apps send up to 10,000 events at once, with
//! their own times; a retry never counts twice.

use obscura::admin;
use obscura_store::meta::TokenScope;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_api_stores_events_at_their_times_once_whatever_the_retries() {
    let s = TestServer::start(datetime!(2026-07-10 09:00 UTC)).await;
    let meta = s.meta();
    admin::add_site(&meta, "other.example", true, 30).unwrap();
    let ingest = admin::add_token(&meta, "server", TokenScope::Ingest, &[SITE.to_owned()], None).unwrap();
    s.reload_metadata();
    let post = |token: Option<&str>, body: String| {
        let mut req = reqwest::Client::new()
            .post(format!("{}/api/batch", s.base))
            .header("user-agent", "shop-backend/1.0")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let event = |path: &str, at: &str, key: &str| {
        json!({"site": SITE, "url": format!("https://{SITE}{path}"), "timestamp": at, "idempotency_key": key,
               "user_agent": FIREFOX, "ip": "203.0.113.7"})
    };
    // A thousand page views of five days ago, as NDJSON, and a few that are refused alone.
    let mut lines: Vec<String> = (0..1000)
        .map(|i| event(&format!("/p{}", i % 10), "2026-07-05T12:00:00Z", &format!("k{i}")).to_string())
        .collect();
    lines.push(event("/too-old", "2026-01-01T00:00:00Z", "old").to_string());
    lines.push(json!({"site": "other.example", "url": "https://other.example/"}).to_string());
    lines.push("{not json".to_owned());
    lines.push(event("/p0", "2026-07-05T12:00:00Z", "k0").to_string());
    let body = lines.join("\n");

    assert_eq!(post(None, body.clone()).await.unwrap().status(), 401, "no token");
    assert_eq!(post(Some(&s.token), body.clone()).await.unwrap().status(), 403, "a read token sends nothing");
    let res = post(Some(&ingest), body.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        (answer["stored"].as_u64(), answer["duplicates"].as_u64(), answer["refused"].as_u64()),
        (Some(1000), Some(1), Some(3)),
        "{}",
        answer["results"][1000]
    );
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 1004, "one result per event, in order");
    assert!(results[1000]["error"].as_str().unwrap().contains("retention"), "{}", results[1000]);
    assert_eq!(results[1001]["code"], 403, "a site the token may not send to: {}", results[1001]);
    assert!(results[1002]["error"].as_str().unwrap().contains("invalid JSON"));
    assert_eq!(results[1003]["status"], "duplicate", "the same key twice in one batch");

    // The retry (say, after a timeout) stores nothing again.
    let retry: Value = post(Some(&ingest), body).await.unwrap().json().await.unwrap();
    assert_eq!(
        (retry["stored"].as_u64(), retry["duplicates"].as_u64()),
        (Some(0), Some(1001)),
        "{}",
        retry["results"][0]
    );

    // The page views are on the day they happened, with the visitor's browser.
    let day = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=custom&from=2026-07-05&to=2026-07-05")).await;
    assert_eq!(day["results"]["pageviews"].as_u64(), Some(1000), "{day}");
    let today = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!(today["results"]["pageviews"].as_u64(), Some(0), "{today}");
    let browsers = s.api(&format!("/api/v1/stats/breakdown?site={SITE}&range=30d&dimension=browser")).await;
    assert_eq!(browsers["results"][0]["value"], "Firefox", "{browsers}");

    // A JSON array works too; a batch over 10,000 events is refused whole.
    let array = json!([event("/array", "2026-07-09T08:00:00Z", "a1")]).to_string();
    let answer: Value = post(Some(&ingest), array).await.unwrap().json().await.unwrap();
    assert_eq!(answer["stored"], 1, "{answer}");
    let huge = format!("[{}]", vec![r#"{"site":"shop.example","url":"https://shop.example/"}"#; 10_001].join(","));
    let res = post(Some(&ingest), huge).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("at most 10000 events"));
    s.stop();
}
