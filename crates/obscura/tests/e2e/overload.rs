//! Overload: when ingest outruns the store, or memory is over its ceiling, ingest is answered
//! `503` with `Retry-After` at once (nothing waits in an unbounded queue), what was acknowledged
//! is stored, and ingest recovers by itself.

use obscura::admin;
use obscura_store::meta::TokenScope;
use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn batch(client: usize, round: usize) -> String {
    (0..25)
        .map(|i| {
            json!({"site": SITE, "url": format!("https://{SITE}/c{client}"), "timestamp": "2026-07-10T08:00:00Z",
                   "idempotency_key": format!("{client}-{round}-{i}"), "user_agent": FIREFOX,
                   "ip": format!("203.0.113.{}", client % 250)})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_ingest_past_the_queue_is_answered_503_with_retry_after_and_nothing_acknowledged_is_lost() {
    let s = TestServer::start_with(datetime!(2026-07-10 09:00 UTC), |c| c.limits.ingest_queue_events = 30).await;
    let token = admin::add_token(&s.meta(), "server", TokenScope::Ingest, &[SITE.to_owned()], None).unwrap();
    s.reload_metadata();
    let client = reqwest::Client::new();
    let post = |body: String| client.post(format!("{}/api/batch", s.base)).bearer_auth(&token).body(body).send();
    // 48 clients at once, 25 events each: more than 30 events wait for the store at a time.
    let mut acknowledged = 0u64;
    let mut refused = 0;
    for round in 0..6 {
        let answers = futures::future::join_all((0..48).map(|c| post(batch(c, round)))).await;
        for res in answers {
            let res = res.unwrap();
            match res.status().as_u16() {
                200 => {
                    let answer: serde_json::Value = res.json().await.unwrap();
                    acknowledged += answer["stored"].as_u64().unwrap();
                }
                503 => {
                    refused += 1;
                    assert_eq!(res.headers()["retry-after"], "5", "a 503 says when to come back");
                    let text = res.text().await.unwrap();
                    assert!(text.contains("overloaded") && text.contains("waiting to be stored"), "{text}");
                }
                other => panic!("only 200 or 503 under overload, not {other}: {}", res.text().await.unwrap()),
            }
        }
    }
    assert!(refused > 0, "the queue of 30 events was never full");
    assert!(acknowledged > 0, "some batches were taken");
    assert_eq!(s.pipeline.admission().waiting(), 0, "every place is freed once answered");
    assert_eq!(s.store.count_events().await.unwrap(), acknowledged, "every acknowledged event is stored, no other");
    // Alone, a batch goes through again: the server recovered by itself.
    let res = post(batch(999, 0)).await.unwrap();
    assert_eq!(res.status(), 200);
    let metrics = client.get(format!("{}/metrics", s.base)).bearer_auth(&s.token).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.contains(&format!("obscura_ingest_overload_refusals_total {refused}")), "{text}");
    assert!(text.contains("obscura_resident_memory_bytes "), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_memory_over_the_ceiling_refuses_ingest_but_not_the_dashboard_and_recovers() {
    // 64 MB, the least allowed, is under what a test process holds: every ingest is refused.
    let s = TestServer::start_with(datetime!(2026-07-10 09:00 UTC), |c| c.limits.memory_mb = 64).await;
    let event = json!({"site": SITE, "url": format!("https://{SITE}/"), "kind": "pageview"});
    let res = reqwest::Client::new()
        .post(format!("{}/api/event", s.base))
        .header("user-agent", FIREFOX)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert!(res.text().await.unwrap().contains("memory ceiling"));
    // Reading the figures is not ingest: still answered.
    let figures = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!(figures["results"]["pageviews"], 0, "{figures}");
    assert_eq!(s.store.count_events().await.unwrap(), 0);
    // Memory back under the ceiling (here: the ceiling lifted), ingest goes on by itself.
    s.pipeline.admission().set_memory_ceiling(0);
    assert_eq!(s.send([127, 0, 0, 9], FIREFOX, event).await, 204);
    assert_eq!(s.store.count_events().await.unwrap(), 1);
}
