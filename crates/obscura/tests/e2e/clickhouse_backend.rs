//! Obscura served from the ClickHouse backend: the same dashboard numbers as the embedded store
//! for the same traffic, readiness, a shard going down (spooled, refused or partial answers, and
//! nothing acknowledged lost or doubled), and a clear refusal to start without the cluster.

use obscura::config::{Acknowledge, Backend};
use obscura_query::Dimension;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::harness::{SITE, TestServer, clickhouse_shards, stored_paths, unique_database};

/// A test server on a fresh database of the test cluster.
async fn clickhouse_server(now: OffsetDateTime) -> (TestServer, String) {
    let database = unique_database("obscura_e2e");
    let shards = clickhouse_shards();
    let db = database.clone();
    let s = TestServer::start_with(now, move |c| {
        c.backend = Backend::ClickHouse;
        c.clickhouse.shards = shards;
        c.clickhouse.database = db;
    })
    .await;
    (s, database)
}

async fn drop_database(database: &str) {
    crate::harness::drop_clickhouse_database(&clickhouse_shards(), database).await;
}

/// Every question the dashboard and the stats API ask, over `range` (with filters).
fn questions(range: &str) -> Vec<String> {
    let q = format!("site={SITE}&{range}");
    let mut paths = vec![
        format!("/api/v1/stats/aggregate?{q}&compare=previous"),
        format!("/api/v1/stats/timeseries?{q}&interval=day"),
        format!("/api/v1/stats/timeseries?{q}&interval=hour"),
        format!("/api/v1/stats/aggregate?{q}&filters=device_type==desktop"),
        format!("/api/v1/stats/aggregate?{q}&filters=source!=direct"),
        format!("/api/v1/stats/breakdown?{q}&dimension=page&filters=browser~=fire"),
        format!("/api/v1/stats/breakdown?{q}&dimension=country&filters=exit_page==/"),
    ];
    for (_, name) in Dimension::FIXED.iter() {
        paths.push(format!("/api/v1/stats/breakdown?{q}&dimension={name}&limit=100"));
    }
    paths.push(format!("/api/v1/stats/breakdown?{q}&dimension=prop:plan"));
    paths
}

/// Whether two answers hold the same numbers. Visitor counts are estimates on both backends
/// (HyperLogLog in the embedded store, ClickHouse's `uniq`): they may differ by two or 3% (the
/// visitor hashes are salted anew each run, so the estimates' errors change from run to run).
/// Every other number is exact. Breakdown rows are compared by value, since rows whose visitor
/// estimates differ may swap places.
fn same_numbers(a: &Value, b: &Value, key: &str) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_numbers(v, w, k)))
        }
        (Value::Array(x), Value::Array(y)) => {
            let by_value = |rows: &Vec<Value>| {
                let mut rows = rows.clone();
                rows.sort_by(|p, q| p["value"].as_str().cmp(&q["value"].as_str()));
                rows
            };
            let (x, y) = (by_value(x), by_value(y));
            x.len() == y.len() && x.iter().zip(&y).all(|(v, w)| same_numbers(v, w, key))
        }
        (Value::Number(x), Value::Number(y)) if key == "visitors" => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            (x - y).abs() <= f64::max(2.0, 0.03 * x.max(y))
        }
        _ => a == b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_dashboard_numbers_equal_the_embedded_stores() {
    // Late in a day, whenever the test runs, so that today has traffic before "now".
    let now = OffsetDateTime::now_utc().replace_time(time::macros::time!(20:00));
    let embedded = TestServer::start(now).await;
    let (clickhouse, database) = clickhouse_server(now).await;
    assert_eq!(clickhouse.store.backend(), "clickhouse");

    // The same prepared events into both: three finished days (imported, so rolled up) and
    // today (appended, so read from raw rows).
    let site = embedded.pipeline.resolve_site(SITE).unwrap();
    let mut traffic = obscura::traffic::TrafficGenerator::new(SITE, 11);
    for back in (0..4).rev() {
        let day = now.date() - Duration::days(back);
        let visitors = traffic.visitors_for(day, 40);
        let events: Vec<_> = traffic
            .day(day, visitors, Some(now))
            .into_iter()
            .map(|h| embedded.pipeline.prepare(h, &site).unwrap())
            .collect();
        assert!(!events.is_empty());
        for s in [&embedded, &clickhouse] {
            if back == 0 {
                s.store.append(events.clone()).await.unwrap();
            } else {
                s.store.import(events.clone()).await.unwrap();
            }
        }
    }
    assert_eq!(embedded.store.count_events().await.unwrap(), clickhouse.store.count_events().await.unwrap());
    assert_eq!(embedded.store.rollup_days().await.unwrap(), clickhouse.store.rollup_days().await.unwrap());

    let mut compared = 0;
    for range in ["range=7d", "range=today", "range=30d"] {
        for path in questions(range) {
            let (a, b): (Value, Value) = (embedded.api(&path).await, clickhouse.api(&path).await);
            assert!(same_numbers(&a, &b, ""), "{path} differs between the embedded store and ClickHouse:\n{a}\n{b}");
            compared += 1;
        }
    }
    let overview = embedded.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=7d")).await;
    assert!(overview["results"]["pageviews"].as_u64().unwrap() > 100, "{overview}");
    assert!(compared > 90);
    embedded.stop();
    clickhouse.stop();
    drop_database(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_server_is_ready_and_answers_from_the_cluster() {
    let (s, database) = clickhouse_server(OffsetDateTime::now_utc()).await;
    let ready = reqwest::get(format!("{}/ready", s.base)).await.unwrap();
    assert_eq!(ready.status(), 204);
    let body = serde_json::json!({"site": SITE, "url": format!("https://{SITE}/from-a-browser")});
    assert_eq!(
        s.send([127, 0, 0, 2], "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", body).await,
        reqwest::StatusCode::NO_CONTENT
    );
    let pages = s.api(&format!("/api/v1/stats/breakdown?site={SITE}&range=today&dimension=page")).await;
    assert_eq!(pages["results"][0]["value"], "/from-a-browser", "{pages}");
    s.store.close();
    let closed = reqwest::get(format!("{}/ready", s.base)).await.unwrap();
    assert_eq!(closed.status(), 503);
    let text = closed.text().await.unwrap();
    assert!(text.contains("cannot be reached") && !text.contains("127.0.0.1"), "{text}");
    s.stop();
    drop_database(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_unreachable_cluster_stops_the_start_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = obscura::config::Config {
        data_dir: dir.path().join("data"),
        master_key_file: dir.path().join("keys/master.key"),
        backend: Backend::ClickHouse,
        ..Default::default()
    };
    config.clickhouse.shards = vec!["http://127.0.0.1:9".into()];
    config.validate().unwrap();
    let clock = std::sync::Arc::new(obscura_model::ManualClock::new(OffsetDateTime::now_utc()));
    let err = obscura::app::open(&config, clock).await.err().expect("no cluster, no start");
    assert!(format!("{err:#}").contains("cannot reach ClickHouse at http://127.0.0.1:9"), "{err:#}");

    config.clickhouse.shards.clear();
    assert!(format!("{:#}", config.validate().unwrap_err()).contains("[clickhouse] shards"));
    config.clickhouse.shards = vec!["10.0.0.5:8123".into()];
    assert!(format!("{:#}", config.validate().unwrap_err()).contains("must be an HTTP address"));
    config.clickhouse.shards = vec!["http://10.0.0.5:8123".into()];
    config.clickhouse.database = "obscura; DROP TABLE x".into();
    assert!(format!("{:#}", config.validate().unwrap_err()).contains("letters, digits and _"));
    let env = obscura::config::Config::default()
        .apply_env(|k| (k == "OBSCURA_BACKEND").then(|| "cassandra".to_owned()))
        .unwrap_err();
    assert!(format!("{env:#}").contains("must be embedded or clickhouse"));
}

/// Rows of `database.events_local` on each shard, counted on the shard itself.
async fn rows_per_shard(database: &str, condition: &str) -> Vec<u64> {
    let mut counts = Vec::new();
    for url in clickhouse_shards() {
        let sql = format!("SELECT count() FROM {database}.events_local WHERE {condition}");
        let text = reqwest::Client::new().post(&url).body(sql).send().await.unwrap().text().await.unwrap();
        counts.push(text.trim().parse().unwrap_or_else(|_| panic!("{url} answered {text}")));
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p13_clickhouse_retention_deletes_rows_on_every_shard_and_keeps_aggregates() {
    use time::macros::{date, datetime};
    const LONG: &str = "long.example";
    let (s, database) = clickhouse_server(datetime!(2026-03-10 12:00 UTC)).await;
    let meta = s.meta();
    obscura::admin::add_site(&meta, LONG, true, 90).unwrap();
    obscura::admin::set_retention(&meta, SITE, 7).unwrap();
    s.reload_metadata();
    // Enough visitors on the expiring site that its day keeps k-anonymous aggregates.
    let ua = |n: u32| format!("Mozilla/5.0 (X11; Linux x86_64; rv:{n}.0) Gecko/20100101 Firefox/{n}.0");
    for n in 0..12u32 {
        let body = serde_json::json!({"site": SITE, "url": format!("https://{SITE}/day-one")});
        assert_eq!(s.send([127, 0, 1, n as u8], &ua(100 + n), body).await, reqwest::StatusCode::NO_CONTENT);
    }
    let kept = serde_json::json!({"site": LONG, "url": format!("https://{LONG}/kept")});
    assert_eq!(s.send([127, 0, 0, 2], &ua(99), kept).await, reqwest::StatusCode::NO_CONTENT);
    s.clock.set(datetime!(2026-03-11 12:00 UTC));
    let later = serde_json::json!({"site": SITE, "url": format!("https://{SITE}/day-two")});
    assert_eq!(s.send([127, 0, 0, 3], &ua(98), later).await, reqwest::StatusCode::NO_CONTENT);
    let day_one = "day = '2026-03-10'";
    let before: u64 = rows_per_shard(&database, day_one).await.iter().sum();
    assert_eq!(before, 13);

    // Day one is 7 days old: the short-retention site's rows go from every shard, awaited and
    // verified; the other site's stay; the finished day is rolled up first.
    s.clock.set(datetime!(2026-03-17 00:10 UTC));
    s.store.maintain().await.unwrap();
    let report = s.maintenance.enforce_retention().await.unwrap();
    assert_eq!(report.purged, vec![(date!(2026 - 03 - 10), vec![1], 12)], "{report:?}");
    assert_eq!(rows_per_shard(&database, day_one).await.iter().sum::<u64>(), 1, "only the long site's row is left");
    let q = format!("site={SITE}&range=custom&from=2026-03-10&to=2026-03-10");
    let aggregate = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!(aggregate["results"]["pageviews"], 12, "kept aggregates answer for the day: {aggregate}");
    let pages = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=page")).await;
    assert_eq!(pages["results"][0]["value"], "/day-one", "{pages}");

    // Day one is 90 days old: the whole day goes, partitions dropped on every shard.
    s.clock.set(datetime!(2026-06-08 00:10 UTC));
    let report = s.maintenance.enforce_retention().await.unwrap();
    assert!(report.destroyed_days.contains(&date!(2026 - 03 - 10)), "{report:?}");
    assert_eq!(rows_per_shard(&database, "1").await, vec![0, 0], "nothing is left on any shard");
    let aggregate = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!(aggregate["results"]["pageviews"], 12, "the kept aggregates outlive the rows: {aggregate}");
    s.stop();
    drop_database(&database).await;
}

/// Pageview `n` of one test, to a path of its own.
fn numbered_event(n: u32) -> serde_json::Value {
    serde_json::json!({"site": SITE, "url": format!("https://{SITE}/event-{n}")})
}

/// Sends pageview `n` from an address of its own (so visits spread over both shards).
async fn send_numbered(base: &str, n: u32) -> reqwest::Response {
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    TestServer::client_from([127, 0, (n / 200) as u8, (n % 200) as u8 + 2])
        .post(format!("{base}/api/event"))
        .header("user-agent", ua)
        .json(&numbered_event(n))
        .send()
        .await
        .unwrap()
}

async fn aggregate_today(s: &TestServer) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/stats/aggregate?site={SITE}&range=today", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_a_stopped_shard_is_spooled_or_refused_and_nothing_acknowledged_is_lost_or_doubled() {
    let dir = "/tmp/obscura-clickhouse-faults";
    let (env, shards) = crate::harness::private_clickhouse_cluster(dir, 200);
    let node = |spool: bool, acknowledge: Acknowledge| {
        let (shard_list, database) = (shards.clone(), unique_database("obscura_faults"));
        let db = database.clone();
        async move {
            let s = TestServer::start_with(OffsetDateTime::now_utc(), move |c| {
                c.backend = Backend::ClickHouse;
                c.clickhouse.shards = shard_list;
                c.clickhouse.database = db;
                c.clickhouse.spool = spool;
                c.clickhouse.acknowledge = acknowledge;
            })
            .await;
            (s, database)
        }
    };
    // One node keeps what a shard does not take in its spool (the default); one has no spool
    // and refuses instead; one acknowledges every event once its spool holds it.
    let (spooling, spooling_db) = node(true, Acknowledge::Cluster).await;
    let (strict, strict_db) = node(false, Acknowledge::Cluster).await;
    let (ahead, ahead_db) = node(true, Acknowledge::Node).await;
    let mut acknowledged = (Vec::new(), Vec::new());
    for n in 0..20 {
        assert_eq!(send_numbered(&spooling.base, n).await.status(), 204);
        acknowledged.0.push(n);
        assert_eq!(send_numbered(&strict.base, n).await.status(), 204);
        acknowledged.1.push(n);
        assert_eq!(send_numbered(&ahead.base, n).await.status(), 204);
    }

    // Shard 2 goes down hard.
    let pid = std::fs::read_to_string(format!("{dir}/shard2/server.pid")).unwrap();
    assert!(std::process::Command::new("kill").args(["-9", pid.trim()]).status().unwrap().success());
    let mut refused = 0;
    for n in 20..80 {
        assert_eq!(send_numbered(&spooling.base, n).await.status(), 204, "the spool takes event {n}");
        acknowledged.0.push(n);
        assert_eq!(send_numbered(&ahead.base, n).await.status(), 204, "the spool takes event {n}");
        let res = send_numbered(&strict.base, n).await;
        match res.status().as_u16() {
            204 => acknowledged.1.push(n),
            503 => {
                assert_eq!(res.headers()["retry-after"], "5", "a 503 says when to come back");
                refused += 1;
            }
            other => panic!("event {n} answered {other}"),
        }
    }
    assert!(refused > 0, "without a spool, events bound for the stopped shard are refused, not acknowledged");
    let ready = |s: &TestServer| reqwest::get(format!("{}/ready", s.base));
    assert_eq!(
        ready(&strict).await.unwrap().status(),
        503,
        "not ready while a shard is down and nothing holds its rows"
    );
    assert_eq!(ready(&spooling).await.unwrap().status(), 204, "ready: the spool holds the down shard's rows");
    let spool_dir = spooling.data_dir.join("clickhouse-spool");
    let held = crate::harness::files_under(&spool_dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "spool"))
        .count();
    assert!(held > 0, "rows wait in the spool");
    for s in [&spooling, &strict] {
        // Each node notices within its next check (half a second).
        let mut body = serde_json::Value::Null;
        for _ in 0..50 {
            let (status, answer) = aggregate_today(s).await;
            assert_eq!(status, 200, "{answer}");
            body = answer;
            if body.get("partial").is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let partial = body["partial"].as_str().unwrap_or_else(|| panic!("the answer says it is partial: {body}"));
        assert!(partial.contains(&shards[1]), "it names the shard: {partial}");
    }
    let (_, body) = aggregate_today(&spooling).await;
    assert!(body["partial"].as_str().unwrap().contains("waiting to be stored"), "{body}");

    // The spooling node stops while its spool holds rows, then the shard comes back.
    let spooling = spooling.restart().await;
    let restarted = std::process::Command::new("bash")
        .args([concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/clickhouse-cluster"), "start"])
        .envs(env)
        .status()
        .unwrap();
    assert!(restarted.success());
    let mut complete = false;
    for _ in 0..150 {
        let (status, body) = aggregate_today(&spooling).await;
        if status == 200 && body.get("partial").is_none() {
            assert_eq!(body["results"]["pageviews"], 80, "{body}");
            complete = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(complete, "the spool drained into the shard once it was back");
    let mut ahead_complete = false;
    for _ in 0..50 {
        let (status, body) = aggregate_today(&ahead).await;
        if status == 200 && body.get("partial").is_none() && body["results"]["pageviews"] == 80 {
            ahead_complete = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ahead_complete, "the node that acknowledges on its spool stored everything once the shard was back");
    let mut strict_complete = false;
    for _ in 0..50 {
        if aggregate_today(&strict).await.1.get("partial").is_none() {
            strict_complete = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(strict_complete, "the strict node's answers are whole again");

    let all: Vec<u32> = (0..80).collect();
    let checks = [(&acknowledged.0, &spooling_db), (&acknowledged.1, &strict_db), (&all, &ahead_db)];
    for ((acked, database), what) in checks.into_iter().zip(["spooling", "strict", "ahead"]) {
        let paths = stored_paths(&shards, database).await;
        for n in acked {
            assert_eq!(
                paths.get(&format!("/event-{n}")),
                Some(&1),
                "{what} node: acknowledged event {n} is stored exactly once"
            );
        }
        assert_eq!(paths.values().sum::<u32>() as usize, acked.len(), "{what} node: nothing but what was acknowledged");
    }
    assert!(crate::harness::files_under(&spool_dir).iter().all(|f| f.extension().is_none_or(|e| e != "spool")));
    spooling.stop();
    strict.stop();
    ahead.stop();
    for database in [spooling_db, strict_db, ahead_db] {
        crate::harness::drop_clickhouse_database(&shards, &database).await;
    }
}
