//! Several stateless nodes on one installation: two `obscura serve` processes' worth of apps on
//! the same ClickHouse cluster and the same PostgreSQL, as behind a load balancer. A visitor
//! whose requests alternate between the nodes keeps one visit; metadata, salts and the audit
//! chain are shared; PostgreSQL going away stops sign-ins clearly but not ingest.

use std::collections::BTreeMap;

use obscura::config::{Backend, Config};
use obscura_store::audit::AuditTrail;
use obscura_store::postgres::{PgAuditLog, Postgres};
use reqwest::StatusCode;
use time::OffsetDateTime;

use crate::harness::{
    SITE, TestServer, clickhouse_shards, free_port, postgres_url, stored_paths, unique_database, wait_healthy,
};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Where the nodes of one installation meet: a ClickHouse database, a PostgreSQL schema and
/// one master key.
#[derive(Clone)]
struct Installation {
    database: String,
    postgres: String,
    schema: String,
    master_key_hex: String,
}

impl Installation {
    fn new(postgres: String) -> Installation {
        Installation {
            database: unique_database("obscura_nodes"),
            postgres,
            schema: unique_database("nodes"),
            master_key_hex: rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    fn configure(&self, c: &mut Config) {
        c.backend = Backend::ClickHouse;
        c.clickhouse.shards = clickhouse_shards();
        c.clickhouse.database = self.database.clone();
        c.postgres.url = Some(self.postgres.clone());
        c.postgres.schema = Some(self.schema.clone());
        c.master_key_hex = Some(self.master_key_hex.clone());
    }

    async fn node(&self, now: OffsetDateTime) -> TestServer {
        let this = self.clone();
        TestServer::start_with(now, move |c| this.configure(c)).await
    }

    fn audit(&self) -> PgAuditLog {
        let key = obscura_store::crypto::Key::from_hex(&self.master_key_hex).unwrap();
        PgAuditLog::new(std::sync::Arc::new(Postgres::connect(&self.postgres, Some(&self.schema)).unwrap()), key)
    }
}

fn pageview(path: &str) -> serde_json::Value {
    serde_json::json!({"site": SITE, "url": format!("https://{SITE}{path}")})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_visits_salts_metadata_and_one_audit_chain() {
    let now = OffsetDateTime::now_utc();
    let install = Installation::new(postgres_url());
    let a = install.node(now).await;
    let b = install.node(now).await;
    assert!(b.token.is_empty(), "the second node found the site the first one made");
    let nodes = [&a, &b];

    // Three visitors, each with four pageviews alternating between the nodes.
    for visitor in 0..3u8 {
        for (step, path) in ["/", "/pricing", "/docs", "/signup"].iter().enumerate() {
            let node = nodes[step % 2];
            let status = node.send([127, 0, 2, 10 + visitor], FIREFOX, pageview(path)).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "visitor {visitor} step {step}");
        }
    }
    let rows = a.stored_rows().await;
    assert_eq!(rows.len(), 12);
    let mut visits: BTreeMap<u64, Vec<_>> = BTreeMap::new();
    for row in &rows {
        visits.entry(row.visit).or_default().push(row);
    }
    assert_eq!(visits.len(), 3, "one visit per visitor, whichever node took each request");
    for rows in visits.values_mut() {
        rows.sort_by_key(|r| r.visit_seq);
        let seqs: Vec<u16> = rows.iter().map(|r| r.visit_seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        let prev: Vec<Option<&str>> = rows.iter().map(|r| r.prev_path.as_deref()).collect();
        assert_eq!(prev, vec![None, Some("/"), Some("/pricing"), Some("/docs")], "the flow crosses nodes");
        assert!(rows.iter().all(|r| r.visitor == rows[0].visitor), "the visitor hashes alike on both nodes");
    }
    assert_eq!(a.pipeline.salt_days(), b.pipeline.salt_days());

    // Both nodes answer with the same numbers; each read lands in the one shared chain.
    let question = format!("/api/v1/stats/aggregate?site={SITE}&range=today");
    let on_b = reqwest::Client::new()
        .get(format!("{}{question}", b.base))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let on_a = a.api(&question).await;
    assert_eq!(on_a, on_b);
    assert_eq!(on_a["results"]["visits"], 3, "{on_a}");
    assert_eq!(on_a["results"]["pageviews"], 12, "{on_a}");
    let audit = install.audit();
    let reads = audit.read_all().unwrap().into_iter().filter(|r| r.action == "read").count();
    assert_eq!(reads, 2, "one audit record per read, from either node");
    assert!(audit.verify().unwrap() >= 2, "the chain written by two nodes verifies");

    // A site added through one node takes events on the other within seconds.
    obscura::admin::add_site(&*a.server_meta(), "second.example", true, 30).unwrap();
    let body = serde_json::json!({"site": "second.example", "url": "https://second.example/"});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while b.send([127, 0, 2, 40], FIREFOX, body.clone()).await != StatusCode::NO_CONTENT {
        assert!(std::time::Instant::now() < deadline, "node B never learned of the new site");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    a.stop();
    b.stop();
    crate::harness::drop_clickhouse_database(&clickhouse_shards(), &install.database).await;
}

/// An `obscura` process of `install` with its own folder `dir` (data and keyring): `args` run to
/// completion (the admin commands) or, with `serve`, the node on `port`.
fn node_process(install: &Installation, dir: &std::path::Path, port: u16, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_obscura"));
    command
        .args(args)
        .env("OBSCURA_DATA_DIR", dir.join("data"))
        .env("OBSCURA_LISTEN", format!("127.0.0.1:{port}"))
        .env("OBSCURA_BACKEND", "clickhouse")
        .env("OBSCURA_CLICKHOUSE_SHARDS", clickhouse_shards().join(","))
        .env("OBSCURA_CLICKHOUSE_DATABASE", &install.database)
        .env("OBSCURA_POSTGRES_URL", &install.postgres)
        .env("OBSCURA_POSTGRES_SCHEMA", &install.schema)
        .env("OBSCURA_MASTER_KEY", &install.master_key_hex)
        .env("OBSCURA_KEYRING_FILE", dir.join("keyring"))
        .env("OBSCURA_LOG", "warn")
        .stdout(std::process::Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_one_killed_under_load_clients_retry_on_the_other_and_nothing_acknowledged_is_lost() {
    use std::sync::{Arc, Mutex};
    let install = Installation::new(postgres_url());
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let added = node_process(&install, dirs[0].path(), 0, &["site", "add", "killed.example"]).status().unwrap();
    assert!(added.success(), "the site is added through the shared metadata");
    let ports = [free_port(), free_port()];
    let bases: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let mut nodes = Vec::new();
    for i in 0..2 {
        nodes.push(node_process(&install, dirs[i].path(), ports[i], &["serve"]).spawn().unwrap());
        wait_healthy(&bases[i]).await;
    }

    // Clients send to both nodes in turn, as a load balancer would, and retry a request the
    // node did not answer on the other one.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap();
    let mut workers = Vec::new();
    for w in 0..16usize {
        let (client, acknowledged, stop, bases) = (client.clone(), acknowledged.clone(), stop.clone(), bases.clone());
        workers.push(tokio::spawn(async move {
            let mut retried = 0;
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return retried;
                }
                let path = format!("/w{w}/{i}");
                let body =
                    serde_json::json!({"site": "killed.example", "url": format!("https://killed.example{path}")});
                let mut answered = false;
                for attempt in 0..4 {
                    let base = &bases[(w + i + attempt) % 2];
                    match client
                        .post(format!("{base}/api/event"))
                        .header("user-agent", FIREFOX)
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == StatusCode::NO_CONTENT => {
                            answered = true;
                            break;
                        }
                        Ok(r) => panic!("{path}: {}", r.status()),
                        Err(_) => retried += 1,
                    }
                }
                assert!(answered, "{path}: neither node answered");
                acknowledged.lock().unwrap().push(path);
            }
            retried
        }));
    }
    let count = || acknowledged.lock().unwrap().len();
    // A worker that fails (panics) stops adding: fail rather than wait for ever.
    let wait_for = |n: usize| {
        let count = &count;
        let workers = &workers;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while count() < n {
                assert!(!workers.iter().any(|w: &tokio::task::JoinHandle<usize>| w.is_finished()), "a client failed");
                assert!(std::time::Instant::now() < deadline, "the load stalled at {} events", count());
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(1_500).await;
    // Node A dies without warning, in the middle of the load.
    unsafe { libc::kill(nodes[0].id() as i32, libc::SIGKILL) };
    nodes[0].wait().unwrap();
    let at_kill = count();
    wait_for(at_kill + 1_500).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut retried = 0;
    for w in workers {
        retried += w.await.unwrap();
    }
    nodes[1].kill().unwrap();
    nodes[1].wait().unwrap();
    assert!(retried > 0, "requests to the killed node were retried on the other");

    let stored = stored_paths(&clickhouse_shards(), &install.database).await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    let lost: Vec<&String> = acknowledged.iter().filter(|p| !stored.contains_key(*p)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events are lost: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
    // A request in flight when node A died may have been stored there and again on node B.
    let twice: u32 = stored.values().map(|n| n - 1).sum();
    assert!(twice <= 16, "only requests in flight at the kill may be stored twice: {twice}");
    eprintln!(
        "acknowledged {} ({at_kill} before the kill), retried {retried}, stored twice {twice}",
        acknowledged.len()
    );
    crate::harness::drop_clickhouse_database(&clickhouse_shards(), &install.database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_start_with_an_error_naming_postgres_when_it_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        master_key_file: dir.path().join("master.key"),
        postgres: obscura::config::PostgresConfig {
            url: Some("postgres://obscura@127.0.0.1:9/obscura".into()),
            schema: None,
        },
        ..Default::default()
    };
    let clock = std::sync::Arc::new(obscura_model::ManualClock::new(OffsetDateTime::now_utc()));
    let err = match obscura::app::open(&config, clock).await {
        Ok(_) => panic!("started without its metadata store"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("cannot reach PostgreSQL at 127.0.0.1:9/obscura"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_ingest_goes_on_for_known_sites_and_sign_in_fails_clearly() {
    // A PostgreSQL of its own, so stopping it disturbs no other test.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres-test");
    let env = [("OBSCURA_POSTGRES_DIR", "/tmp/obscura-postgres-faults"), ("OBSCURA_POSTGRES_PORT", "15433")];
    let run = |command: &str| {
        let status = std::process::Command::new("bash").args([script, command]).envs(env).status().unwrap();
        assert!(status.success(), "postgres-test {command} failed");
    };
    run("start");
    let install = Installation::new("postgres://obscura@127.0.0.1:15433/obscura".into());
    let now = OffsetDateTime::now_utc();
    let node = install.node(now).await;
    assert_eq!(node.send([127, 0, 2, 50], FIREFOX, pageview("/before")).await, StatusCode::NO_CONTENT);

    run("stop");
    for (i, path) in ["/during-1", "/during-2"].iter().enumerate() {
        let status = node.send([127, 0, 2, 51 + i as u8], FIREFOX, pageview(path)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "ingest goes on for a known site");
    }
    let ready = reqwest::get(format!("{}/ready", node.base)).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let login = crate::harness::submit_login(&reqwest::Client::new(), &node.base, "owner", &node.password).await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = login.text().await.unwrap();
    assert!(page.contains("Signing in is unavailable"), "{page}");

    run("start");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reqwest::get(format!("{}/ready", node.base)).await.unwrap().status() != StatusCode::NO_CONTENT {
        assert!(std::time::Instant::now() < deadline, "the node never became ready again");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let paths: Vec<String> = node.stored_rows().await.into_iter().map(|r| r.path).collect();
    for path in ["/before", "/during-1", "/during-2"] {
        assert!(paths.iter().any(|p| p == path), "{path} was stored: {paths:?}");
    }
    assert_eq!(install.audit().verify().unwrap(), install.audit().read_all().unwrap().len() as u64);
    node.stop();
    crate::harness::drop_clickhouse_database(&clickhouse_shards(), &install.database).await;
}
