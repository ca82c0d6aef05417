//! P13: per-event data is destroyed once past its site's retention, by destroying keys, so a
//! copy of the data folder taken before (a backup) cannot be read afterwards.

use std::path::Path;

use obscura_store::Keyring;
use serde_json::json;
use time::macros::{date, datetime};

use crate::harness::{SITE, TestServer, files_under};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const LONG: &str = "long.example";

fn copy_dir(from: &Path, to: &Path) {
    for file in files_under(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

async fn pageviews(s: &TestServer, site: &str, from: &str) -> u64 {
    let q = format!("/api/v1/stats/aggregate?site={site}&range=custom&from={from}&to=2026-03-20");
    s.api(&q).await["results"]["pageviews"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p13_retention_purges_each_site_in_time_and_backups_become_unreadable() {
    let s = TestServer::start(datetime!(2026-03-10 12:00 UTC)).await;
    let meta = s.meta();
    obscura::admin::add_site(&meta, LONG, true, 90).unwrap();
    obscura::admin::set_retention(&meta, SITE, 7).unwrap();
    // The server rereads metadata within a second.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let pv = |site: &str, path: &str| json!({"site": site, "url": format!("https://{site}{path}")});
    assert_eq!(s.send([127, 0, 0, 2], UA, pv(SITE, "/first-day")).await, reqwest::StatusCode::NO_CONTENT);
    assert_eq!(s.send([127, 0, 0, 2], UA, pv(LONG, "/kept")).await, reqwest::StatusCode::NO_CONTENT);
    s.clock.set(datetime!(2026-03-11 12:00 UTC));
    assert_eq!(s.send([127, 0, 0, 2], UA, pv(SITE, "/second-day")).await, reqwest::StatusCode::NO_CONTENT);
    s.clock.set(datetime!(2026-03-12 00:30 UTC));
    s.wait_flushed().await;

    // A backup of the data folder, taken before anything expired.
    let backup = s.dir.path().join("backup");
    copy_dir(&s.data_dir, &backup);
    assert!(!files_under(&backup).iter().any(|f| f.ends_with("keyring")), "the backup must hold no keyring");

    let report = s.maintenance.enforce_retention().await.unwrap();
    assert!(report.is_empty(), "nothing has expired yet: {report:?}");
    assert_eq!(pageviews(&s, SITE, "2026-03-10").await, 2);

    // Day 1 is 7 days old: the short-retention site's rows go; the other site's stay.
    s.clock.set(datetime!(2026-03-17 00:00 UTC));
    let report = s.maintenance.enforce_retention().await.unwrap();
    assert!(report.destroyed_days.is_empty(), "{report:?}");
    assert_eq!(report.purged.len(), 1, "{report:?}");
    assert_eq!((report.purged[0].0, report.purged[0].2), (date!(2026 - 03 - 10), 1));
    assert_eq!(pageviews(&s, SITE, "2026-03-10").await, 1, "only the second day is left");
    assert_eq!(pageviews(&s, LONG, "2026-03-10").await, 1, "the 90-day site keeps its day");

    // Day 2 held only the short-retention site: destroyed whole, key and files.
    s.clock.set(datetime!(2026-03-18 00:00 UTC));
    let report = s.maintenance.enforce_retention().await.unwrap();
    assert_eq!(report.destroyed_days, vec![date!(2026 - 03 - 11)]);
    assert_eq!(pageviews(&s, SITE, "2026-03-10").await, 0);
    assert!(s.embedded().keyring().get(date!(2026 - 03 - 11)).is_none());

    // The backup: with every key that exists now, neither purged day can be read.
    let live = Keyring::open(s.master_key(), s.keyring_path()).unwrap();
    let events = backup.join("events");
    let day1_key = live.get(date!(2026 - 03 - 10)).expect("day 1 has a new key");
    let old_files = obscura_store::read_day_files(&events, date!(2026 - 03 - 10), &day1_key);
    assert!(old_files.is_err(), "the backup's day-1 file opened with the new key");
    assert!(live.get(date!(2026 - 03 - 11)).is_none(), "day 2 has no key at all");
    let backup_files = files_under(&events);
    assert!(
        backup_files.iter().any(|f| f.to_string_lossy().contains("2026-03-11")),
        "the backup still holds day 2's bytes"
    );

    // The re-keyed day and the other site's data survive a restart.
    let s = s.restart().await;
    assert_eq!(pageviews(&s, LONG, "2026-03-10").await, 1);
    assert_eq!(pageviews(&s, SITE, "2026-03-10").await, 0);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p03_only_k_anonymous_aggregates_outlive_retention() {
    let s = TestServer::start(datetime!(2026-03-10 12:00 UTC)).await;
    obscura::admin::set_retention(&s.meta(), SITE, 7).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let pv = |path: &str| json!({"site": SITE, "url": format!("https://{SITE}{path}")});
    for i in 0..6 {
        let ua = format!("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.{i}");
        assert_eq!(s.send([127, 0, 0, 2], &ua, pv("/popular")).await, reqwest::StatusCode::NO_CONTENT);
    }
    // One visitor with a rare combination: their own page and browser.
    let rare_ua =
        "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/49.0.2623.112 Safari/537.36";
    assert_eq!(s.send([127, 0, 0, 5], rare_ua, pv("/rare-p03-page")).await, reqwest::StatusCode::NO_CONTENT);
    s.clock.set(datetime!(2026-03-11 00:30 UTC));
    s.wait_flushed().await;
    let day = "site=shop.example&range=custom&from=2026-03-10&to=2026-03-10";
    let pages = format!("/api/v1/stats/breakdown?dimension=page&{day}");
    let browsers = format!("/api/v1/stats/breakdown?dimension=browser&{day}");
    assert!(s.api(&pages).await.to_string().contains("/rare-p03-page"), "the raw data holds the rare page");

    s.clock.set(datetime!(2026-03-17 00:00 UTC));
    let report = s.maintenance.enforce_retention().await.unwrap();
    assert_eq!(report.destroyed_days, vec![date!(2026 - 03 - 10)]);
    // The totals (7 visitors) and the popular page (6) pass k = 5; the rare page and the rare
    // browser (1 visitor each, and alone in their "(other)") do not.
    let totals = s.api(&format!("/api/v1/stats/aggregate?{day}")).await;
    assert_eq!(totals["results"]["pageviews"], 7, "{totals}");
    let pages = s.api(&pages).await.to_string();
    assert!(pages.contains("/popular"), "{pages}");
    assert!(!pages.contains("/rare-p03-page") && !pages.contains("(other)"), "{pages}");
    let browsers = s.api(&browsers).await.to_string();
    assert!(browsers.contains("Firefox") && !browsers.contains("Chrome"), "{browsers}");
    // Nothing of the day is left but the aggregates, and they are sealed.
    for f in files_under(&s.data_dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(8).any(|w| w == b"/popular"), "plaintext in {}", f.display());
    }
    s.stop();
}
