//! `obscura export`: tables from the command line, and a whole site moved to another
//! installation with `obscura export site` and `obscura import obscura`.

use serde_json::json;

use crate::harness::{SITE, TestServer};
use crate::imports::{plausible_zip, text};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Twelve visitors today: the home page, then pricing; four sign up on the pro plan; one
/// looks at an order page whose number the path keeps as `:id`.
async fn visits(s: &TestServer) {
    for n in 0..12u8 {
        let ip = [127, 0, 1, n + 1];
        for page in ["/", "/pricing"] {
            let hit = json!({"site": SITE, "url": format!("https://{SITE}{page}")});
            assert!(s.send(ip, FIREFOX, hit).await.is_success());
        }
        if n < 4 {
            let signup = json!({"site": SITE, "kind": "event", "name": "signup", "url": format!("https://{SITE}/pricing"), "props": {"plan": "pro"}});
            assert!(s.send(ip, FIREFOX, signup).await.is_success());
        }
    }
    let order = json!({"site": SITE, "url": format!("https://{SITE}/orders/88123456")});
    assert!(s.send([127, 0, 1, 1], FIREFOX, order).await.is_success());
}

/// What the stats API says about the site from `from` to today: the figures a move must keep.
async fn answers(s: &TestServer, from: time::Date, today: time::Date) -> Vec<serde_json::Value> {
    let q = format!("site={SITE}&range=custom&from={from}&to={today}");
    let mut out = vec![s.api(&format!("/api/v1/stats/aggregate?{q}")).await["results"].clone()];
    for dimension in ["page", "event", "prop:plan", "browser", "source", "entry_page"] {
        out.push(s.api(&format!("/api/v1/stats/breakdown?{q}&dimension={dimension}")).await["results"].clone());
    }
    out.push(s.api(&format!("/api/v1/stats/goals?{q}")).await["results"].clone());
    out.push(s.api(&format!("/api/v1/stats/funnels?{q}")).await["results"].clone());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_obscura_site_export_moves_a_site_with_the_same_answers() {
    let now = time::OffsetDateTime::now_utc();
    let today = now.date();
    let old_days: Vec<time::Date> = (60..63).rev().map(|back| today - time::Duration::days(back)).collect();
    let from = old_days[0];

    // The old installation: three days of kept aggregates past retention (from a Plausible
    // export), today's events, a goal and a funnel.
    let old = TestServer::start(now).await;
    visits(&old).await;
    let plausible = old.dir.path().join("plausible.zip");
    plausible_zip(&plausible, &old_days[..2], old_days[2]);
    for args in [
        &["goal", "add", SITE, "--name", "Pro signup", "--event", "signup", "--property", "plan=pro"][..],
        &[
            "funnel",
            "add",
            SITE,
            "--name",
            "Buy",
            "--step",
            "page=/",
            "--step",
            "page=/pricing",
            "--step",
            "event=signup",
        ],
    ] {
        let added = old.cli(args);
        assert!(added.status.success(), "{}", text(&added));
    }
    let file = old.dir.path().join("moved.obscura.zip");
    let (mut command, mut export) = (old.command(), old.command());
    let (old, (imported, exported)) = old
        .restart_after(|| {
            let imported = command.args(["import", "plausible", "--site", SITE]).arg(&plausible).output().unwrap();
            (imported, export.args(["export", "site", "--site", SITE, "--out"]).arg(&file).output().unwrap())
        })
        .await;
    assert!(imported.status.success(), "{}", text(&imported));
    let summary = text(&exported);
    assert!(exported.status.success(), "{summary}");
    assert!(summary.contains("events:                   29 on 1 days"), "12 × 2 pages, 4 signups, 1 order: {summary}");
    assert!(summary.contains("days kept as aggregates:  3"), "{summary}");
    assert!(!file.with_extension("zip.partial").exists());
    let before = answers(&old, from, today).await;
    assert_eq!(before[0]["pageviews"].as_u64(), Some(300 + 301 + 302 + 25), "{:?}", before[0]);
    let funnel: Vec<u64> =
        before[8][0]["steps"].as_array().unwrap().iter().map(|s| s["visits"].as_u64().unwrap()).collect();
    assert_eq!((funnel, &before[7][0]["conversions"]), (vec![12, 12, 4], &json!(4)), "{before:?}");

    // The new installation reads it: same answers, and the goal and funnel came along.
    let new = TestServer::start(now).await;
    let mut command = new.command();
    let (new, moved) = new.restart_after(|| command.args(["import", "obscura"]).arg(&file).output().unwrap()).await;
    let summary = text(&moved);
    assert!(moved.status.success(), "{summary}");
    assert!(summary.contains("events stored:            29 on 1 days"), "{summary}");
    assert!(summary.contains("goals, funnels added:     1, 1"), "{summary}");
    assert_eq!(answers(&new, from, today).await, before);

    // Again: every day has data now, so nothing is counted twice.
    let mut command = new.command();
    let (new, again) = new.restart_after(|| command.args(["import", "obscura"]).arg(&file).output().unwrap()).await;
    let summary = text(&again);
    assert!(again.status.success() && summary.contains("days with data already:   4 (left alone)"), "{summary}");
    assert_eq!(answers(&new, from, today).await, before);

    // Not an export: a clear error, nothing stored.
    let mut command = new.command();
    let (new, wrong) =
        new.restart_after(|| command.args(["import", "obscura"]).arg(&plausible).output().unwrap()).await;
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("is no Obscura site export") && text(&wrong).contains("no site.json"),
        "{}",
        text(&wrong)
    );
    new.stop();
    old.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_table_writes_the_apis_csv_and_parquet_and_is_audited() {
    let now = time::OffsetDateTime::now_utc();
    let s = TestServer::start(now).await;
    visits(&s).await;
    let api_csv = reqwest::Client::new()
        .get(format!("{}/api/v1/export.csv?site={SITE}&dimension=page&range=today", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let parquet = s.dir.path().join("pages.parquet");
    let (mut csv_command, mut parquet_command, mut bad_command) = (s.command(), s.command(), s.command());
    let (s, (csv, written, bad)) = s
        .restart_after(|| {
            let table = ["export", "table", "--site", SITE, "--dimension", "page", "--range", "today"];
            let csv = csv_command.args(table).output().unwrap();
            let written =
                parquet_command.args(table).args(["--format", "parquet", "--out"]).arg(&parquet).output().unwrap();
            let bad = bad_command.args(["export", "table", "--site", SITE, "--dimension", "colour"]).output().unwrap();
            (csv, written, bad)
        })
        .await;
    assert!(csv.status.success(), "{}", text(&csv));
    assert_eq!(String::from_utf8(csv.stdout).unwrap(), api_csv, "the command's CSV is the API's");
    assert!(written.status.success() && text(&written).contains("3 rows written"), "{}", text(&written));
    let rows: usize =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&parquet).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
    assert_eq!(rows, 3);
    assert!(!bad.status.success() && text(&bad).contains("colour"), "{}", text(&bad));
    let log = obscura_store::audit::AuditLog::open(&s.data_dir, s.master_key()).unwrap();
    let exports: Vec<_> = log.read_all().unwrap().into_iter().filter(|r| r.action == "export").collect();
    assert_eq!(exports.len(), 3, "the two tables and the API's: {exports:?}");
    assert!(exports.iter().filter(|r| r.actor == "cli").count() == 2, "{exports:?}");
    s.stop();
}
