//! Acknowledged means durable: `kill -9` of the server under load loses no acknowledged event.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::harness::{free_port, wait_healthy as wait_ready};

const BIN: &str = env!("CARGO_BIN_EXE_obscura");
const SITE: &str = "durable.example";

fn obscura(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("OBSCURA_DATA_DIR", dir.join("data"))
        .env("OBSCURA_MASTER_KEY_FILE", dir.join("master.key"))
        .env("OBSCURA_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "obscura {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn start(dir: &std::path::Path, port: u16) -> Child {
    Command::new(BIN)
        .arg("serve")
        .env("OBSCURA_DATA_DIR", dir.join("data"))
        .env("OBSCURA_MASTER_KEY_FILE", dir.join("master.key"))
        .env("OBSCURA_LISTEN", format!("127.0.0.1:{port}"))
        .env("OBSCURA_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durability_kill_9_under_load_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    obscura(dir.path(), &["site", "add", SITE]);
    let token_line = obscura(dir.path(), &["token", "add", "--name", "count"]);
    let token = token_line.split_whitespace().last().unwrap().to_owned();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(dir.path(), port);
    wait_ready(&base).await;

    let acked = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::new();
    let mut workers = Vec::new();
    for w in 0..32u64 {
        let (client, acked, base) = (client.clone(), acked.clone(), base.clone());
        workers.push(tokio::spawn(async move {
            for i in 0..100_000u64 {
                let body = format!(r#"{{"site":"{SITE}","url":"https://{SITE}/w{w}/{i}"}}"#);
                // A person's browser: requests without a User-Agent are kept apart as a robot's.
                let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
                match client.post(format!("{base}/api/event")).header("user-agent", firefox).body(body).send().await {
                    Ok(r) if r.status() == 204 => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Let the load run, then kill the server without warning.
    while acked.load(Ordering::SeqCst) < 2_000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    unsafe { libc::kill(server.id() as i32, libc::SIGKILL) };
    server.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acknowledged = acked.load(Ordering::SeqCst);

    let mut server = start(dir.path(), port);
    wait_ready(&base).await;
    let get = |path: &str| {
        let (url, token) = (format!("{base}{path}"), token.clone());
        async move {
            let res = reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    // One client at this pace is no person: most of its page views are kept apart (P5), and
    // every one of them counts here.
    let people = get(&format!("/api/v1/stats/aggregate?site={SITE}&range=7d")).await;
    let apart = get(&format!("/api/v1/stats/automated?site={SITE}&range=7d")).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let stored = people["results"]["pageviews"].as_u64().unwrap() + apart["hits"].as_u64().unwrap();
    assert!(stored >= acknowledged, "acknowledged {acknowledged} events but only {stored} survived kill -9");
    // At most the requests in flight at the kill (one per worker) may be stored unacknowledged.
    assert!(stored <= acknowledged + 32, "stored {stored}, acknowledged {acknowledged}");
    eprintln!("acknowledged {acknowledged}, stored after kill -9 and restart {stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durability_kill_9_cycles_lose_no_acknowledged_event_and_store_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let report = obscura::crash_bench::run(std::path::Path::new(BIN), dir.path(), 20).await.unwrap();
    eprintln!("{}", report.line());
    assert_eq!(report.lost, 0, "{}", report.line());
    assert!(report.sent > 0 && report.stored == report.sent, "{}", report.line());
    // A batch stored but unanswered at the kill is sent again to the next server, which knows
    // its idempotency keys from the store: nothing is stored twice.
    assert!(report.retried_batches > 0, "no kill caught a batch in flight: {}", report.line());
    assert_eq!(report.duplicated, 0, "{}", report.line());
}
