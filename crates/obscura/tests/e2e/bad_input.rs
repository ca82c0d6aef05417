//! Bad input gets a clear 4xx with a JSON message, never a 500; policy drops are 202.

use serde_json::{Value, json};
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

async fn post_raw(s: &TestServer, body: impl Into<reqwest::Body>, headers: &[(&str, &str)]) -> (u16, Value) {
    // A person's browser: a request without a User-Agent is a robot's, kept apart (P5).
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let mut req = reqwest::Client::new().post(format!("{}/api/event", s.base)).header("user-agent", firefox).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_bad_input_answers_4xx_with_reasons() {
    let s = TestServer::start(datetime!(2026-06-01 10:00 UTC)).await;
    let ok = json!({"site": SITE, "url": format!("https://{SITE}/")}).to_string();

    let (status, body) = post_raw(&s, "{nope", &[]).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("invalid JSON"), "{body}");

    let (status, body) = post_raw(&s, json!({"url": "https://x.y/"}).to_string(), &[]).await;
    assert_eq!((status, body["error"].as_str().unwrap().contains("site")), (400, true), "{body}");

    let (status, body) =
        post_raw(&s, json!({"site": "unknown.example", "url": "https://unknown.example/"}).to_string(), &[]).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("obscura site add"), "{body}");

    let (status, body) = post_raw(&s, json!({"site": SITE, "url": "ftp://nope/"}).to_string(), &[]).await;
    assert_eq!(status, 400, "{body}");

    let long = "a".repeat(70 * 1024);
    let (status, body) =
        post_raw(&s, json!({"site": SITE, "url": format!("https://{SITE}/{long}")}).to_string(), &[]).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("64 KiB"));

    let (status, body) =
        post_raw(&s, json!({"site": SITE, "url": format!("https://{SITE}/{}", "b".repeat(5000))}).to_string(), &[])
            .await;
    assert_eq!(status, 400, "{body}");

    // Privacy signals: dropped by policy, answered 202, nothing stored.
    for header in [("sec-gpc", "1"), ("dnt", "1")] {
        let (status, body) = post_raw(&s, ok.clone(), &[header]).await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, _) = post_raw(&s, ok.clone(), &[]).await;
    assert_eq!(status, 204);
    let agg = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!(agg["results"]["pageviews"], 1, "GPC/DNT hits must not be stored: {agg}");
    let status = s.api("/api/v1/ingest/status").await;
    assert_eq!((status["stored"].as_u64(), status["dropped_by_policy"].as_u64()), (Some(1), Some(2)), "{status}");
    assert!(status["rejected"].as_u64().unwrap() >= 4, "{status}");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_api_rejects_bad_tokens_and_parameters() {
    let s = TestServer::start(datetime!(2026-06-01 10:00 UTC)).await;
    let get = |path: String, token: Option<String>| {
        let base = s.base.clone();
        async move {
            let mut req = reqwest::Client::new().get(format!("{base}{path}"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    let agg = format!("/api/v1/stats/aggregate?site={SITE}");
    assert_eq!(get(agg.clone(), None).await.0, 401);
    assert_eq!(get(agg.clone(), Some("obs_wrong".into())).await.0, 401);
    let (status, msg) = get(format!("{agg}&range=forever"), Some(s.token.clone())).await;
    assert_eq!(status, 400);
    assert!(msg.contains("unknown range"), "{msg}");
    let (status, msg) = get(format!("{agg}&filters=colour==red"), Some(s.token.clone())).await;
    assert_eq!(status, 400);
    assert!(msg.contains("unknown dimension"), "{msg}");
    let (status, msg) = get(format!("{agg}&range=custom&from=2026-13-01&to=2026-01-01"), Some(s.token.clone())).await;
    assert_eq!(status, 400, "{msg}");
    let (status, _) = get("/api/v1/stats/aggregate?site=nope.example".into(), Some(s.token.clone())).await;
    assert_eq!(status, 404);
    let (status, msg) =
        get(format!("/api/v1/stats/breakdown?site={SITE}&dimension=page&limit=0"), Some(s.token.clone())).await;
    assert_eq!(status, 400, "{msg}");
    s.stop();
}
