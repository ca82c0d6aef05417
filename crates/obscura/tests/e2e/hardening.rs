//! Hardening: what broke when Obscura was attacked and misused, proven fixed end to end.

use std::io::{Read, Write};
use std::time::Duration as StdDuration;

use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn results(v: &serde_json::Value) -> Vec<(String, u64)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].as_str().unwrap().to_owned(), r["visitors"].as_u64().unwrap()))
        .collect()
}

/// Item 15: a visitor whose address has no country still counts in the country breakdown, as
/// "(unknown)", so that the breakdown adds up to the total; and it can be filtered on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_breakdowns_show_rows_without_a_value_and_add_up_to_the_total() {
    let s = TestServer::start(datetime!(2026-03-10 12:00 UTC)).await;
    let pv = |path: &str| json!({"site": SITE, "url": format!("https://{SITE}{path}")});
    // 127.0.0.2 is Berlin in the test geo database; 127.0.0.9 is in no database.
    assert_eq!(s.send([127, 0, 0, 2], FIREFOX, pv("/")).await, 204);
    assert_eq!(s.send([127, 0, 0, 9], FIREFOX, pv("/")).await, 204);
    assert_eq!(s.send([127, 0, 0, 2], CHROME, pv("/?utm_source=news")).await, 204);
    let q = format!("site={SITE}&range=custom&from=2026-03-10&to=2026-03-10");
    let total = s.api(&format!("/api/v1/stats/aggregate?{q}")).await["results"]["visitors"].as_u64().unwrap();
    assert_eq!(total, 3);
    let countries = results(&s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=country")).await);
    assert_eq!(countries, [("DE".to_owned(), 2), ("(unknown)".to_owned(), 1)]);
    assert_eq!(countries.iter().map(|(_, v)| v).sum::<u64>(), total, "a breakdown adds up to the total");
    let sources = results(&s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=utm_source")).await);
    assert!(sources.contains(&("(none)".to_owned(), 2)) && sources.contains(&("news".to_owned(), 1)), "{sources:?}");
    // Clicking the row filters on it.
    let unknown = s.api(&format!("/api/v1/stats/aggregate?{q}&filters=country==(unknown)")).await;
    assert_eq!(unknown["results"]["pageviews"], 1, "{unknown}");
    let known = s.api(&format!("/api/v1/stats/aggregate?{q}&filters=country!=(unknown)")).await;
    assert_eq!(known["results"]["pageviews"], 2, "{known}");
    // After the day is rolled up the same holds.
    s.clock.set(datetime!(2026-03-11 00:30 UTC));
    s.wait_rolled_up(time::macros::date!(2026 - 03 - 10)).await;
    let rolled = results(&s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=country")).await);
    assert_eq!(rolled, countries);
    s.stop();
}

/// Item 3: a salt save that fails is retried until it succeeds, so an expired salt does not stay
/// in the file (P2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_p02_failed_salt_save_is_retried() {
    let s = TestServer::start(datetime!(2026-05-01 09:00 UTC)).await;
    assert_eq!(s.send([127, 0, 0, 2], FIREFOX, json!({"site": SITE, "url": format!("https://{SITE}/")})).await, 204);
    let salts = s.keyring_path().with_file_name("salts");
    let doc = obscura_store::sealed_json::SealedJson::new(salts.clone(), b"obscura salts v1", s.master_key());
    let stored_days =
        || -> Vec<String> { doc.load::<Vec<(String, String)>>().unwrap().into_iter().map(|(d, _)| d).collect() };
    assert_eq!(stored_days(), ["2026-05-01"]);
    // The next save fails: something sits where its temporary file goes.
    let obstacle = salts.with_extension("tmp");
    std::fs::create_dir_all(obstacle.join("x")).unwrap();
    s.clock.set(datetime!(2026-05-03 00:30 UTC));
    s.maintenance.run_once().await;
    assert_eq!(s.maintenance.pipeline.salt_days(), [time::macros::date!(2026 - 05 - 03)], "gone from memory at once");
    assert_eq!(stored_days(), ["2026-05-01"], "the failed save left the file as it was");
    std::fs::remove_dir_all(&obstacle).unwrap();
    // The next round saves, though nothing changed in memory since.
    s.clock.set(datetime!(2026-05-03 00:31 UTC));
    s.maintenance.run_once().await;
    assert_eq!(stored_days(), ["2026-05-03"], "the expired salt is gone from the file too");
    s.stop();
}

/// Reads until the server closes the connection; true if it did within `within`.
fn closed_within(stream: &mut std::net::TcpStream, within: StdDuration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Item 11: the plain-HTTP listener closes a connection that sends its headers too slowly
/// (slow-loris) and one that stays silent, like the TLS listener; a normal client is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_plain_http_closes_slow_and_idle_connections() {
    let s = TestServer::start_with(datetime!(2026-03-10 12:00 UTC), |c| {
        c.limits.header_timeout_secs = 1;
        c.limits.idle_timeout_secs = 2;
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let (slow, idle, normal) = tokio::task::spawn_blocking(move || {
        // Slow-loris: half the headers, then a pause longer than the header timeout.
        let mut slow = std::net::TcpStream::connect(&addr).unwrap();
        slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
        let slow_closed = closed_within(&mut slow, StdDuration::from_secs(5));
        // Idle: connects and says nothing.
        let mut idle = std::net::TcpStream::connect(&addr).unwrap();
        let idle_closed = closed_within(&mut idle, StdDuration::from_secs(6));
        // A normal request is answered.
        let mut normal = std::net::TcpStream::connect(&addr).unwrap();
        normal.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        normal.read_to_string(&mut answer).unwrap();
        (slow_closed, idle_closed, answer)
    })
    .await
    .unwrap();
    assert!(slow, "a request whose headers stall is cut off");
    assert!(idle, "a silent connection is closed");
    assert!(normal.starts_with("HTTP/1.1 204"), "{normal}");
    s.stop();
}
