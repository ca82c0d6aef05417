//! The ClickHouse dialect on a current ClickHouse release: every statement the backend sends for
//! the dashboard (and the rollup it writes) runs on the test cluster (Debian's 18.16, two
//! shards) and in chdb (an in-process ClickHouse of a 2026 release) over the same rows, and the
//! answers must be the same.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use obscura_query::{Filter, TimeRange};
use serde_json::Value;
use time::macros::date;

use super::*;

const FIRST: Date = date!(2026 - 03 - 01);
const SECOND: Date = date!(2026 - 03 - 02);

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test cluster's shards: `OBSCURA_TEST_CLICKHOUSE`, or started by the project's script.
pub(super) fn shards() -> Vec<String> {
    let split = |list: &str| list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if let Ok(list) = std::env::var("OBSCURA_TEST_CLICKHOUSE") {
        return split(&list);
    }
    let script = repository().join("scripts/clickhouse-cluster");
    assert!(Command::new("bash").arg(&script).arg("start").status().expect("bash runs").success());
    let env = Command::new("bash").arg(&script).arg("env").output().expect("bash runs");
    let env = String::from_utf8_lossy(&env.stdout).into_owned();
    split(env.split_once('=').expect("the script prints the addresses").1.trim().trim_matches('"'))
}

/// The virtualenv's Python with chdb, made by the project's script when missing.
fn python() -> PathBuf {
    let venv = std::env::var("OBSCURA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/obscura-venv"));
    let python = venv.join("bin/python");
    let has_chdb = |p: &PathBuf| Command::new(p).args(["-c", "import chdb"]).status().is_ok_and(|s| s.success());
    if !has_chdb(&python) {
        let made = Command::new("bash").arg(repository().join("scripts/test-venv")).status().expect("bash runs");
        assert!(made.success() && has_chdb(&python), "scripts/test-venv could not install chdb");
    }
    python
}

/// Two days of visits on two sites, with every kind of value the queries treat apart: missing
/// countries and versions, referrers, campaign tags, a property, returning visitors, exits.
fn rows() -> Vec<StoredRow> {
    let mut rows = Vec::new();
    for (d, day) in [FIRST, SECOND].into_iter().enumerate() {
        for v in 0..12u64 {
            let site = if v == 11 { 2 } else { 1 };
            let pages = ["/", "/pricing", "/blog/a?x", "/docs"];
            let start = obscura_model::unix_ms(day.midnight().assume_utc()) + (v as i64 * 37 + d as i64) * 60_000;
            for seq in 1..=(1 + v % 3) as u16 {
                let mut row = crate::wal::tests::row(start + i64::from(seq) * 45_000);
                row.site = site;
                row.visitor = 1_000 + v * 10 + d as u64;
                row.visit = 50_000 + v * 10 + d as u64;
                row.visit_seq = seq;
                row.visit_gap_ms = if seq == 1 { 0 } else { 45_000 };
                row.kind = 0;
                row.name = None;
                row.props = None;
                row.path = pages[(v as usize + usize::from(seq)) % pages.len()].to_owned();
                row.prev_path = (seq > 1).then(|| pages[(v as usize + usize::from(seq) - 1) % pages.len()].to_owned());
                row.referrer_host = (seq == 1 && v % 3 == 1).then(|| "news.example".to_owned());
                row.source = ["direct", "search", "social"][v as usize % 3].to_owned();
                row.utm_campaign = (v % 4 == 2).then(|| "spring".to_owned());
                row.country = [Some("DE"), Some("FR"), None][v as usize % 3].map(str::to_owned);
                row.continent = row.country.as_ref().map(|_| "EU".to_owned());
                row.browser = Some(["Firefox", "Chrome"][v as usize % 2].to_owned());
                row.browser_version = (v % 5 != 0).then(|| "133".to_owned());
                row.os = Some("Linux".to_owned());
                row.os_version = None;
                row.returning = (v % 4 == 0).then_some(true);
                rows.push(row);
            }
            if v % 3 == 0 {
                let mut event = crate::wal::tests::row(start + 200_000);
                event.site = site;
                event.visitor = 1_000 + v * 10 + d as u64;
                event.visit = 50_000 + v * 10 + d as u64;
                event.kind = 1;
                event.name = Some("signup".to_owned());
                event.props = Some("\u{1}plan\u{2}pro\u{1}".to_owned());
                rows.push(event);
            }
        }
    }
    rows
}

/// Every statement of the dashboard over both days (the first rolled up), as the client sends it.
fn statements(store: &ClickHouseStore) -> Vec<clickhouse::query::Query> {
    let d = Dialect::ClickHouse;
    let rolled = [FIRST];
    let plain = Query { site: 1, range: TimeRange::days(FIRST, SECOND).expect("a range"), filters: Vec::new() };
    let filtered = Query {
        filters: ["country==DE|(unknown)", "page!=/docs", "source~=SEA", "exit_page==/pricing", "prop:plan==pro"]
            .iter()
            .map(|f| Filter::parse(f).expect("a filter"))
            .collect(),
        ..plain.clone()
    };
    let rolled_day = Query { range: TimeRange::days(FIRST, FIRST).expect("a range"), ..plain.clone() };
    let mut out = Vec::new();
    for q in [&plain, &filtered, &rolled_day] {
        out.push(store.statement(&d.aggregate(q, &rolled), AGGREGATE_OUTER));
        for interval in [Interval::Day, Interval::Hour, Interval::Week] {
            out.push(store.statement(&d.timeseries(q, interval, &rolled), TIMESERIES_OUTER));
        }
        let dimensions = Dimension::FIXED.iter().map(|(dim, _)| dim.clone()).chain([Dimension::Prop("plan".into())]);
        for dim in dimensions {
            out.push(store.statement(&d.breakdown(q, &dim, 10, &rolled), BREAKDOWN_OUTER));
        }
    }
    out.push(
        store.statement(&d.open_visits(obscura_model::unix_ms(SECOND.midnight().assume_utc())), OPEN_VISITS_OUTER),
    );
    out.push(store.client.query("SELECT * FROM rollup_days"));
    out
}

/// Rows of a JSONCompact answer, each cell as text (18.16 quotes 64-bit integers, later
/// releases do not), sorted: row order is not part of what is compared.
fn normalised(rows: &Value) -> Vec<Vec<String>> {
    let cell = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out: Vec<Vec<String>> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r.as_array().expect("a row").iter().map(cell).collect())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_dialect_gives_the_same_answers_on_a_current_release() {
    let database = format!("obscura_dialect_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let clock = Arc::new(obscura_model::ManualClock::new(time::macros::datetime!(2026-03-02 18:00 UTC)));
    let options = ClickHouseOptions {
        shards: shards(),
        database: database.clone(),
        cluster: "obscura".into(),
        user: None,
        password: None,
        clock,
        spool: None,
    };
    let store = ClickHouseStore::connect(options.clone()).await.expect("the cluster is reachable");
    let rows = rows();
    store.rows(rows.clone()).await.expect("rows inserted");
    store.rollup_statement(FIRST).execute().await.expect("rolled up on the cluster");

    // The same tables and rows in chdb: events as a view of one MergeTree table.
    let mut setup = vec![format!("CREATE DATABASE {database}"), format!("USE {database}")];
    setup.extend(schema::shard_tables(&database, "unused").into_iter().skip(1).take(1));
    // `SELECT *` leaves out alias columns (`ts`), which a Distributed table keeps.
    setup.push(format!("CREATE VIEW {database}.events AS SELECT *, ts FROM {database}.events_local"));
    setup.extend(schema::rollup_tables(&database));
    // `day` is left out: the table computes it from the time, as on the cluster.
    let json_rows: Vec<String> =
        rows.iter().map(|r| serde_json::to_value(r).expect("a row serializes").to_string()).collect();
    setup.push(format!("INSERT INTO events_local FORMAT JSONEachRow {}", json_rows.join("\n")));
    setup.push(store.rollup_statement(FIRST).sql_display().to_string());

    let statements = statements(&store);
    let texts: Vec<String> = statements.iter().map(|q| q.sql_display().to_string()).collect();
    let mut child = Command::new(python())
        .arg(repository().join("scripts/chdb-run"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the chdb runner starts");
    let input = serde_json::json!({ "setup": setup, "queries": texts });
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.to_string().as_bytes()).expect("sent");
    let output = child.wait_with_output().expect("the chdb runner ends");
    let answer: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("chdb answered {e}: {}", String::from_utf8_lossy(&output.stdout)));
    assert!(answer.get("setup_error").is_none(), "chdb could not set up: {answer}");
    let version = answer["version"].as_str().unwrap_or_default().to_owned();
    assert!(version.starts_with("26."), "chdb runs ClickHouse {version}");

    let mut compared = 0;
    for ((statement, text), current) in
        statements.into_iter().zip(&texts).zip(answer["results"].as_array().expect("results"))
    {
        assert!(current.get("error").is_none(), "ClickHouse {version} refused:\n{text}\n{current}");
        let bytes = statement.fetch_bytes("JSONCompact").expect("sent").collect().await;
        let cluster: Value =
            serde_json::from_slice(&bytes.unwrap_or_else(|e| panic!("18.16 refused:\n{text}\n{e}"))).expect("JSON");
        assert_eq!(normalised(&cluster["data"]), normalised(current), "18.16 and {version} differ on:\n{text}");
        compared += 1;
    }
    assert!(compared > 60, "{compared} statements compared");
    for url in &options.shards {
        let _ = clickhouse::Client::default()
            .with_url(url)
            .query(&format!("DROP DATABASE IF EXISTS {database}"))
            .execute()
            .await;
    }
}
