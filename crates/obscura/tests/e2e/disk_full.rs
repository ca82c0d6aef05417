//! A full disk: the data folder on a small tmpfs (`scripts/small-fs`, mounted by the test
//! script) that the test fills. Ingest is answered `503` with `Retry-After` (never a 500),
//! nothing already stored is damaged, and ingest resumes by itself when space returns.

use std::io::Write;

use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn small_fs() -> std::path::PathBuf {
    let dir = std::env::var_os("OBSCURA_SMALL_FS").expect(
        "the disk-full test needs a small filesystem: `scripts/small-fs start` and \
         `eval \"$(scripts/small-fs env)\"` (scripts/test does both)",
    );
    std::path::PathBuf::from(dir)
}

/// Fills the filesystem of `path` to the last byte.
fn fill(path: &std::path::Path) {
    let mut ballast = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while ballast.write_all(&block).is_ok() {}
    while ballast.write_all(&[0]).is_ok() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_ingest_answers_503_keeps_what_was_stored_and_resumes_when_space_returns() {
    let root = tempfile::tempdir_in(small_fs()).unwrap();
    let data = root.path().join("data");
    let s = TestServer::start_with(datetime!(2026-07-10 09:00 UTC), |c| c.data_dir = data.clone()).await;
    let event = |n: u32| json!({"site": SITE, "url": format!("https://{SITE}/p{n}"), "kind": "pageview"});
    let mut acknowledged = 0;
    for n in 0..50 {
        assert_eq!(s.send([127, 0, 1, n as u8], FIREFOX, event(n)).await, 204);
        acknowledged += 1;
    }

    // The disk fills up: ingest goes on until a write fails, then every answer is a 503.
    let ballast = root.path().join("ballast");
    fill(&ballast);
    let mut refused = 0;
    for n in 50..2_050u32 {
        // One address each, so that no client's pace looks automated.
        let res = TestServer::client_from([127, 2, (n >> 8) as u8, n as u8])
            .post(format!("{}/api/event", s.base))
            .header("user-agent", FIREFOX)
            .body(event(n).to_string())
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            204 => acknowledged += 1,
            503 => {
                assert_eq!(res.headers()["retry-after"], "5", "a 503 says when to come back");
                assert!(res.text().await.unwrap().contains("retry later"));
                refused += 1;
                if refused == 20 {
                    break;
                }
            }
            other => panic!("a full disk is answered 503, not {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!(refused, 20, "the full disk never refused an event");
    // Every read is recorded in the audit log first (P12): with no room for the record, a read
    // is answered 503 too rather than served unrecorded.
    let read = reqwest::Client::new()
        .get(format!("{}/api/v1/stats/aggregate?site={SITE}&range=today", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 503);

    // Space returns: ingest and reading resume by themselves.
    std::fs::remove_file(&ballast).unwrap();
    let figures = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!(figures["results"]["pageviews"], acknowledged, "{figures}");
    for n in 0..10 {
        assert_eq!(s.send([127, 3, 0, n], FIREFOX, event(9_000 + u32::from(n))).await, 204);
        acknowledged += 1;
    }
    // Nothing already stored was damaged: a restart replays every acknowledged event, once.
    let s = s.restart().await;
    assert_eq!(s.store.count_events().await.unwrap(), acknowledged);
    let figures = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!(figures["results"]["pageviews"], acknowledged, "{figures}");
    s.stop();
}
