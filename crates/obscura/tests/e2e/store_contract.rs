//! The contract every `EventStore` backend keeps, written once against the trait: durable
//! appends, exact counts over a fixed data set, days listed, a day destroyed, some sites purged
//! from a day, k-anonymous aggregates. The embedded store runs it here; another backend runs the
//! same checks by adding its own [`Backend`].

use std::path::PathBuf;
use std::sync::Arc;

use obscura_model::{Clock, Event, ManualClock};
use obscura_query::Dialect;
use obscura_query::sql::RollupSql;
use obscura_store::crypto::Key;
use obscura_store::{EmbeddedStore, EventStore, Param, SqlQuery, StoreOptions};
use time::macros::{date, datetime};
use time::{Date, Duration};

/// A way to open a backend on a folder, again and again (reopening must find what was stored).
trait Backend {
    fn open(&self) -> Arc<dyn EventStore>;
}

struct Embedded {
    dir: PathBuf,
    key: Key,
    clock: Arc<ManualClock>,
}

impl Backend for Embedded {
    fn open(&self) -> Arc<dyn EventStore> {
        Arc::new(
            EmbeddedStore::open(StoreOptions {
                data_dir: self.dir.join("data"),
                keyring_path: self.dir.join("keys/keyring"),
                master_key: self.key.clone(),
                clock: self.clock.clone(),
                rollup: Some(Arc::new(RollupSql(Dialect::DataFusion))),
                flush_rows: 1_000,
            })
            .expect("the embedded store opens"),
        )
    }
}

/// The fixed data set: on each of three days, site 1 gets `3 × day` pageviews from `day`
/// visitors and site 2 gets 2 pageviews from 2 visitors (day = 1, 2, 3).
const DAYS: [Date; 3] = [date!(2026 - 03 - 01), date!(2026 - 03 - 02), date!(2026 - 03 - 03)];

fn expected_pageviews(site: u32, day: usize) -> u64 {
    if site == 1 { 3 * (day as u64 + 1) } else { 2 }
}

fn expected_visitors(site: u32, day: usize) -> u64 {
    if site == 1 { day as u64 + 1 } else { 2 }
}

fn data_set() -> Vec<Event> {
    let mut events = Vec::new();
    for (d, day) in DAYS.iter().enumerate() {
        let noon = day.midnight().assume_utc() + Duration::hours(12);
        for site in [1, 2] {
            let visitors = expected_visitors(site, d);
            for n in 0..expected_pageviews(site, d) {
                let at = noon + Duration::seconds(n as i64);
                events.push(obscura_ingest::synthetic::pageview(site, n % visitors, at, &format!("/page/{}", n % 2)));
            }
        }
    }
    events
}

async fn count(store: &dyn EventStore, sql: &str, site: u32, day: Date) -> u64 {
    let query =
        SqlQuery { sql: sql.into(), params: vec![Param::UInt(site), Param::Text(obscura_model::format_day(day))] };
    let batches = store.query(&query).await.expect("the query runs");
    let column = obscura_store::arrow_reexport::format_column(batches[0].column(0));
    column.trim().parse().expect("a count")
}

async fn pageviews(store: &dyn EventStore, site: u32, day: Date) -> u64 {
    count(store, "SELECT count(*) FROM events WHERE site = $1 AND day = $2", site, day).await
}

async fn visitors(store: &dyn EventStore, site: u32, day: Date) -> u64 {
    count(store, "SELECT count(DISTINCT visitor) FROM events WHERE site = $1 AND day = $2", site, day).await
}

/// Every check, in order, on one backend whose clock stands at `clock`.
async fn contract(backend: &dyn Backend, clock: &ManualClock) {
    let today = date!(2026 - 03 - 05);
    clock.set(today.midnight().assume_utc() + Duration::hours(10));

    // Imports land on their days; every count equals the hand-computed one.
    let store = backend.open();
    store.import(data_set()).await.expect("import");
    for (d, day) in DAYS.iter().enumerate() {
        for site in [1, 2] {
            assert_eq!(pageviews(store.as_ref(), site, *day).await, expected_pageviews(site, d), "site {site} {day}");
            assert_eq!(visitors(store.as_ref(), site, *day).await, expected_visitors(site, d), "site {site} {day}");
        }
        assert_eq!(store.sites_of_day(*day).await.expect("sites"), vec![1, 2]);
    }
    assert_eq!(store.days(), DAYS.to_vec(), "days with data, oldest first");

    // Appends are durable: acknowledged, then found again after reopening.
    let now = clock.now();
    let appended: Vec<Event> = (0..25)
        .map(|n| obscura_ingest::synthetic::pageview(1, n, now + Duration::milliseconds(n as i64), "/now"))
        .collect();
    store.append(appended).await.expect("append");
    assert_eq!(pageviews(store.as_ref(), 1, today).await, 25);
    drop(store);
    let store = backend.open();
    assert_eq!(pageviews(store.as_ref(), 1, today).await, 25, "appended events survive a reopen");
    assert_eq!(pageviews(store.as_ref(), 1, DAYS[0]).await, 3);

    // k-anonymous aggregates: no cell describes fewer than k visitors.
    let k = 2;
    let cells = store.k_anonymous_rollup(DAYS[2], &[1, 2], k).await.expect("aggregates");
    assert!(cells.num_rows() > 0, "the day has cells");
    let counts = obscura_store::arrow_reexport::format_column(cells.column_by_name("visitors").expect("visitors"));
    for visitors in counts.lines() {
        assert!(visitors.parse::<u64>().expect("a count") >= u64::from(k), "a cell of {visitors} visitors");
    }

    // Purging a site from a day removes its rows, and only its rows.
    let removed = store.purge_sites(DAYS[1], &[1]).await.expect("purge");
    assert_eq!(removed, expected_pageviews(1, 1));
    assert_eq!(pageviews(store.as_ref(), 1, DAYS[1]).await, 0);
    assert_eq!(pageviews(store.as_ref(), 2, DAYS[1]).await, expected_pageviews(2, 1));
    assert_eq!(store.sites_of_day(DAYS[1]).await.expect("sites"), vec![2]);

    // Destroying a day removes all of it and nothing else, for good.
    store.destroy_day(DAYS[0]).await.expect("destroy");
    assert_eq!(pageviews(store.as_ref(), 1, DAYS[0]).await, 0);
    assert_eq!(pageviews(store.as_ref(), 2, DAYS[0]).await, 0);
    assert!(!store.days().contains(&DAYS[0]));
    drop(store);
    let store = backend.open();
    assert_eq!(pageviews(store.as_ref(), 2, DAYS[0]).await, 0, "a destroyed day stays destroyed");
    assert_eq!(pageviews(store.as_ref(), 2, DAYS[1]).await, expected_pageviews(2, 1), "a purge survives a reopen");
    assert_eq!(pageviews(store.as_ref(), 1, DAYS[2]).await, expected_pageviews(1, 2));
    assert_eq!(pageviews(store.as_ref(), 1, today).await, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_contract_embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-05 10:00 UTC)));
    let backend = Embedded { dir: dir.path().to_path_buf(), key: Key::random(), clock: clock.clone() };
    contract(&backend, &clock).await;
}
