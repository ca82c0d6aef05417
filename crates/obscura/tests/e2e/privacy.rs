//! Privacy promises proven end to end: P2 (IPs never stored; salts destroyed after 48 h) and
//! P12 (nothing under the data folder is plaintext).

use obscura_store::{EventStore, SqlQuery};
use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer, files_under};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every text value of every stored row, decrypted through the store.
async fn decrypted_text(store: &dyn EventStore) -> String {
    let batches = store
        .query(&SqlQuery { sql: "SELECT * FROM events".into(), params: vec![] })
        .await
        .unwrap();
    let mut out = String::new();
    for b in &batches {
        for col in b.columns() {
            let text = obscura_store::arrow_reexport::format_column(col);
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p02_ip_never_reaches_the_store_and_p12_no_plaintext_on_disk() {
    let s = TestServer::start(datetime!(2026-04-01 10:00 UTC)).await;
    let marker = "PLAINTEXTMARKER7f3a";
    let body = json!({
        "site": SITE, "kind": "event", "name": format!("{marker}-event"),
        "url": format!("https://{SITE}/{marker}/from/203.0.113.77?utm_campaign={marker}&email=jane@example.com#frag"),
        "props": {"note": format!("{marker} written by jane.doe@example.com from 198.51.100.23"), "ip": "127.0.0.3"}
    });
    assert_eq!(s.send([127, 0, 0, 3], UA, body).await, reqwest::StatusCode::NO_CONTENT);
    let pv = json!({"site": SITE, "url": format!("https://{SITE}/{marker}/page"), "referrer": format!("https://blog.example.net/{marker}")});
    assert_eq!(s.send([127, 0, 0, 3], UA, pv).await, reqwest::StatusCode::NO_CONTENT);

    // Decrypted, the store holds the events but no IP or e-mail: not the sender's, not the ones in text.
    let text = decrypted_text(s.app_store.as_ref()).await;
    assert!(text.contains(marker), "the marker itself is analytics data and must be stored: {text}");
    for forbidden in ["127.0.0.3", "203.0.113.77", "198.51.100.23", "jane@example.com", "jane.doe@example.com"] {
        assert!(!text.contains(forbidden), "{forbidden} reached the store: {text}");
    }
    assert!(text.contains("[ip]") && text.contains("[email]"), "scrubbed placeholders expected: {text}");

    // Hot tier (write-ahead log) on disk: no marker in any file.
    let scan = |when: &str| {
        let files = files_under(&s.data_dir);
        assert!(!files.is_empty());
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            assert!(!contains(&bytes, marker.as_bytes()), "{when}: plaintext marker in {}", f.display());
            assert!(!contains(&bytes, b"shop.example"), "{when}: plaintext site name in {}", f.display());
        }
    };
    scan("write-ahead log");

    // After the day is flushed to its Parquet file: still nothing in plaintext.
    s.clock.set(datetime!(2026-04-02 00:10 UTC));
    for _ in 0..50 {
        if s.app_store.hot_days().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(s.app_store.hot_days().is_empty());
    assert!(files_under(&s.data_dir).iter().any(|f| f.extension().is_some_and(|e| e == "parquet")));
    scan("day files");
    let text = decrypted_text(s.app_store.as_ref()).await;
    assert!(text.contains(marker) && !text.contains("127.0.0.3"));
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p02_visitor_hash_changes_daily_and_old_salts_are_gone_from_disk() {
    let s = TestServer::start(datetime!(2026-05-01 09:00 UTC)).await;
    let pv = || json!({"site": SITE, "url": format!("https://{SITE}/")});
    assert_eq!(s.send([127, 0, 0, 2], UA, pv()).await, reqwest::StatusCode::NO_CONTENT);
    s.clock.set(datetime!(2026-05-02 09:00 UTC));
    assert_eq!(s.send([127, 0, 0, 2], UA, pv()).await, reqwest::StatusCode::NO_CONTENT);
    let batches = s
        .app_store
        .query(&SqlQuery { sql: "SELECT DISTINCT visitor FROM events".into(), params: vec![] })
        .await
        .unwrap();
    let distinct: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(distinct, 2, "the same visitor on two days must hash differently");

    // The salts file holds a salt of 2026-05-01 until 48 h after that day began, then never again.
    let salts = s.data_dir.join("salts");
    let before = std::fs::read(&salts).unwrap();
    s.clock.set(datetime!(2026-05-03 00:00 UTC));
    assert_eq!(s.send([127, 0, 0, 2], UA, pv()).await, reqwest::StatusCode::NO_CONTENT);
    let after = std::fs::read(&salts).unwrap();
    assert_ne!(before, after, "the salts file must be rewritten when a salt expires");
    let key = s.master_key();
    let doc = obscura_store::sealed_json::SealedJson::new(salts, b"obscura salts v1", key);
    let stored: Vec<(String, String)> = doc.load().unwrap();
    let days: Vec<&str> = stored.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(days, vec!["2026-05-02", "2026-05-03"], "no salt older than 48 h may exist");
    s.stop();
}
