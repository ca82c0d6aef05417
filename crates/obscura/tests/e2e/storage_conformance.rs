//! The storage conformance suite: what every `EventStore` backend must do, written once against
//! the trait and run on each backend. A fixed, hand-countable data set goes in; every query the
//! dashboard asks must come back with the numbers counted by hand below — from rollups (days
//! imported as finished) and from raw rows (the same visits appended today) alike — and appends
//! are durable, filters hold, a day is destroyed, some sites are purged from a day, k-anonymous
//! aggregates are kept past retention and days are listed. Speed measurements and error reports
//! have their own parts.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use obscura_model::{Event, EventKind, ManualClock, Metric};
use obscura_privacy::scrub::scrub_text;
use obscura_query::errors::ErrorCountRow;
use obscura_query::measures::MeasureCell;
use obscura_query::{Aggregate, BreakdownRow, Dimension, Filter, Interval, Query, SeriesPoint, TimeRange};
use obscura_store::crypto::Key;
use obscura_store::{ClickHouseOptions, ClickHouseStore, EmbeddedStore, EventStore, StoreOptions};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

/// A backend under test: opens its store again and again on the same storage (reopening must
/// find what was stored).
pub trait Backend {
    fn open(&self) -> Pin<Box<dyn Future<Output = Arc<dyn EventStore>> + Send + '_>>;
}

struct Embedded {
    dir: PathBuf,
    key: Key,
    clock: Arc<ManualClock>,
}

impl Backend for Embedded {
    fn open(&self) -> Pin<Box<dyn Future<Output = Arc<dyn EventStore>> + Send + '_>> {
        Box::pin(async move {
            let store = EmbeddedStore::open(StoreOptions {
                data_dir: self.dir.join("data"),
                keyring_path: self.dir.join("keys/keyring"),
                master_key: self.key.clone(),
                clock: self.clock.clone(),
                rollups: true,
                flush_rows: 1_000,
            })
            .expect("the embedded store opens");
            Arc::new(store) as Arc<dyn EventStore>
        })
    }
}

/// A fresh database on the test cluster (two shards behind a Distributed table).
pub struct ClickHouse {
    pub options: ClickHouseOptions,
}

impl ClickHouse {
    pub fn new(clock: Arc<ManualClock>) -> Self {
        let options = ClickHouseOptions {
            shards: crate::harness::clickhouse_shards(),
            database: crate::harness::unique_database("obscura_conformance"),
            cluster: "obscura".into(),
            user: None,
            password: None,
            clock,
            spool: None,
        };
        ClickHouse { options }
    }

    /// Drops the test database from every shard.
    pub async fn drop_database(&self) {
        crate::harness::drop_clickhouse_database(&self.options.shards, &self.options.database).await;
    }
}

impl Backend for ClickHouse {
    fn open(&self) -> Pin<Box<dyn Future<Output = Arc<dyn EventStore>> + Send + '_>> {
        Box::pin(async move {
            let store = ClickHouseStore::connect(self.options.clone()).await.expect("the ClickHouse store connects");
            Arc::new(store) as Arc<dyn EventStore>
        })
    }
}

/// Two finished days and today; the clock stands at [`NOW`].
pub const DAY_1: Date = date!(2026 - 03 - 01);
pub const DAY_2: Date = date!(2026 - 03 - 02);
pub const DAY_3: Date = date!(2026 - 03 - 03);
pub const TODAY: Date = date!(2026 - 03 - 05);
pub const NOW: OffsetDateTime = datetime!(2026-03-05 13:00 UTC);

/// One event of the data set.
#[allow(clippy::too_many_arguments)]
fn event(
    site: u32,
    visitor: u64,
    at: OffsetDateTime,
    path: &str,
    seq: u16,
    gap_ms: u32,
    prev: Option<&str>,
    country: Option<&str>,
    browser: &str,
) -> Event {
    let mut e = obscura_ingest::synthetic::pageview(site, visitor, at, path);
    e.visit = visitor * 1_000 + u64::from(at.day());
    e.visit_seq = seq;
    e.visit_gap_ms = gap_ms;
    e.prev_path = prev.map(scrub_text);
    e.country = country.map(scrub_text);
    e.continent = country.map(|_| "EU");
    e.browser = Some(scrub_text(browser));
    e.browser_version = Some(scrub_text("133"));
    e
}

/// Site 1's visits of one day (`day` at 10:00–12:00), counted by hand in [`site_1_day`]:
/// - visitor 1 (DE, Firefox) from a search: `/`, 30 s later `/pricing`, 30 s later a `signup`
///   event with `plan=pro` on `/pricing`;
/// - visitor 2 (DE, Chrome), direct: `/`;
/// - visitor 3 (FR, Firefox) from social media: `/blog`.
fn site_1_visits(day: Date, visitor_base: u64) -> Vec<Event> {
    let at = |h: u8, s: u8| day.with_hms(h, 0, s).expect("a time").assume_utc();
    let (v1, v2, v3) = (visitor_base + 1, visitor_base + 2, visitor_base + 3);
    let mut entry = event(1, v1, at(10, 0), "/", 1, 0, None, Some("DE"), "Firefox");
    entry.source = "search";
    entry.referrer_host = Some(scrub_text("google.com"));
    let second = event(1, v1, at(10, 30), "/pricing", 2, 30_000, Some("/"), Some("DE"), "Firefox");
    let mut signup = event(
        1,
        v1,
        day.with_hms(10, 1, 0).expect("a time").assume_utc(),
        "/pricing",
        2,
        30_000,
        None,
        Some("DE"),
        "Firefox",
    );
    signup.kind = EventKind::Custom;
    signup.name = Some(scrub_text("signup"));
    signup.props = vec![(scrub_text("plan"), scrub_text("pro"))];
    let mut direct = event(1, v2, at(11, 0), "/", 1, 0, None, Some("DE"), "Chrome");
    direct.source = "direct";
    let mut social = event(1, v3, at(12, 0), "/blog", 1, 0, None, Some("FR"), "Firefox");
    social.source = "social";
    social.referrer_host = Some(scrub_text("twitter.com"));
    vec![entry, second, signup, direct, social]
}

/// Everything imported: site 1's visits on day 1; one visitor on day 2 (no country, direct,
/// `/`); site 2's one pageview on day 1.
fn imported() -> Vec<Event> {
    let mut events = site_1_visits(DAY_1, 0);
    let mut later = event(1, 4, DAY_2.with_hms(9, 0, 0).expect("a time").assume_utc(), "/", 1, 0, None, None, "Safari");
    later.source = "direct";
    events.push(later);
    events.push(event(
        2,
        5,
        DAY_1.with_hms(9, 0, 0).expect("a time").assume_utc(),
        "/other-site",
        1,
        0,
        None,
        Some("DE"),
        "Firefox",
    ));
    events
}

fn query(first: Date, last: Date, filters: &[&str]) -> Query {
    Query {
        site: 1,
        range: TimeRange::days(first, last).expect("a range"),
        filters: filters.iter().map(|f| Filter::parse(f).expect("a filter")).collect(),
    }
}

fn aggregate(
    visitors: u64,
    visits: u64,
    pageviews: u64,
    views_per_visit: f64,
    bounce_rate: f64,
    visit_duration: f64,
) -> Aggregate {
    Aggregate { visitors, visits, pageviews, views_per_visit, bounce_rate, visit_duration }
}

fn row(value: &str, visitors: u64, visits: u64, pageviews: u64, events: u64) -> BreakdownRow {
    BreakdownRow { value: value.to_owned(), visitors, visits, pageviews, events }
}

async fn breakdown(store: &dyn EventStore, q: &Query, dim: &str) -> Vec<BreakdownRow> {
    let dim = Dimension::parse(dim).expect("a dimension");
    store.breakdown(q, &dim, 10).await.unwrap_or_else(|e| panic!("breakdown {}: {e}", dim.name()))
}

/// Every figure of site 1's visits on `day` (see [`site_1_visits`]), counted by hand.
async fn site_1_day(store: &dyn EventStore, day: Date, how: &str) {
    let q = query(day, day, &[]);
    // 3 visits, 4 pageviews; only visitor 1's visit has a second pageview; 60 s of gaps.
    assert_eq!(store.aggregate(&q).await.unwrap(), aggregate(3, 3, 4, 1.33, 66.7, 20.0), "aggregate, {how}");
    assert_eq!(
        breakdown(store, &q, "page").await,
        [row("/", 2, 2, 2, 0), row("/blog", 1, 1, 1, 0), row("/pricing", 1, 0, 1, 0)],
        "pages, {how}"
    );
    assert_eq!(breakdown(store, &q, "entry_page").await, [row("/", 2, 2, 2, 0), row("/blog", 1, 1, 1, 0)], "{how}");
    assert_eq!(
        breakdown(store, &q, "exit_page").await.iter().map(|r| (r.value.as_str(), r.visits)).collect::<Vec<_>>(),
        [("/", 1), ("/blog", 1), ("/pricing", 1)],
        "exits, {how}"
    );
    assert_eq!(breakdown(store, &q, "country").await, [row("DE", 2, 2, 3, 1), row("FR", 1, 1, 1, 0)], "{how}");
    assert_eq!(
        breakdown(store, &q, "source").await,
        [row("direct", 1, 1, 1, 0), row("search", 1, 1, 1, 0), row("social", 1, 1, 1, 0)],
        "sources, {how}"
    );
    assert_eq!(
        breakdown(store, &q, "referrer").await,
        [row("(none)", 1, 1, 1, 0), row("google.com", 1, 1, 1, 0), row("twitter.com", 1, 1, 1, 0)],
        "referrers, {how}"
    );
    assert_eq!(breakdown(store, &q, "browser").await, [row("Firefox", 2, 2, 3, 1), row("Chrome", 1, 1, 1, 0)], "{how}");
    assert_eq!(
        breakdown(store, &q, "browser_version").await,
        [row("Firefox 133", 2, 2, 3, 1), row("Chrome 133", 1, 1, 1, 0)],
        "{how}"
    );
    assert_eq!(breakdown(store, &q, "event").await, [row("signup", 1, 0, 0, 1)], "events, {how}");
    assert_eq!(breakdown(store, &q, "prop:plan").await, [row("pro", 1, 0, 0, 1)], "properties, {how}");
    assert_eq!(breakdown(store, &q, "previous_page").await, [row("/", 1, 0, 1, 0)], "{how}");
    assert_eq!(breakdown(store, &q, "flow").await, [row("/ → /pricing", 1, 0, 1, 0)], "{how}");
    assert_eq!(breakdown(store, &q, "visitor_type").await, [row("new", 3, 3, 4, 1)], "{how}");

    // Filters: rows, whole visits, negation, "contains", the label of missing values.
    let filtered = |filters: &[&str]| query(day, day, filters);
    assert_eq!(
        store.aggregate(&filtered(&["country==DE"])).await.unwrap(),
        aggregate(2, 2, 3, 1.5, 50.0, 30.0),
        "{how}"
    );
    assert_eq!(
        store.aggregate(&filtered(&["source==search"])).await.unwrap(),
        aggregate(1, 1, 2, 2.0, 0.0, 60.0),
        "{how}"
    );
    assert_eq!(
        store.aggregate(&filtered(&["source!=search"])).await.unwrap(),
        aggregate(2, 2, 2, 1.0, 100.0, 0.0),
        "{how}"
    );
    assert_eq!(store.aggregate(&filtered(&["page~=PRIC"])).await.unwrap(), aggregate(1, 0, 1, 0.0, 0.0, 0.0), "{how}");
    assert_eq!(
        store.aggregate(&filtered(&["referrer==(none)"])).await.unwrap(),
        aggregate(1, 1, 1, 1.0, 100.0, 0.0),
        "{how}"
    );
    assert_eq!(
        store.aggregate(&filtered(&["country==DE|FR", "browser!=Chrome"])).await.unwrap(),
        aggregate(2, 2, 3, 1.5, 50.0, 30.0),
        "{how}"
    );
    assert_eq!(
        breakdown(store, &filtered(&["country==FR"]), "page").await,
        [row("/blog", 1, 1, 1, 0)],
        "a filtered breakdown, {how}"
    );
    assert_eq!(
        breakdown(store, &filtered(&["prop:plan==pro"]), "event").await,
        [row("signup", 1, 0, 0, 1)],
        "a property filter, {how}"
    );

    // Hours: visitor 1 at 10:00, visitor 2 at 11:00, visitor 3 at 12:00.
    let hours = store.timeseries(&q, Interval::Hour).await.unwrap();
    assert_eq!(hours.len(), 24, "every hour of the day, {how}");
    let busy: Vec<(i64, u64, u64, u64)> = hours
        .iter()
        .filter(|p| p.pageviews > 0)
        .map(|p| {
            (
                (p.bucket_ms - obscura_model::unix_ms(day.midnight().assume_utc())) / 3_600_000,
                p.visitors,
                p.visits,
                p.pageviews,
            )
        })
        .collect();
    assert_eq!(busy, [(10, 1, 1, 2), (11, 1, 1, 1), (12, 1, 1, 1)], "{how}");
}

fn point(day: Date, visitors: u64, visits: u64, pageviews: u64) -> SeriesPoint {
    SeriesPoint { bucket_ms: obscura_model::unix_ms(day.midnight().assume_utc()), visitors, visits, pageviews }
}

/// Every check, in order, on one backend.
pub async fn conformance(backend: &dyn Backend) {
    let store = backend.open().await;
    assert!(store.days().await.unwrap().is_empty(), "a new store is empty");

    // Imported finished days are answered from rollups, with the same numbers as raw rows.
    store.import(imported()).await.expect("import");
    assert_eq!(store.days().await.unwrap(), [DAY_1, DAY_2], "days with rows, oldest first");
    assert_eq!(store.rollup_days().await.unwrap(), [DAY_1, DAY_2], "finished days imported are rolled up");
    site_1_day(store.as_ref(), DAY_1, "a rolled-up day").await;

    // Today's appends: the same visits, from raw rows.
    store.append(site_1_visits(TODAY, 100)).await.expect("append");
    site_1_day(store.as_ref(), TODAY, "today's rows").await;
    assert!(!store.rollup_days().await.unwrap().contains(&TODAY), "today is not rolled up yet");

    // Several days: visitors add up over days, empty days are zeros.
    let days = query(DAY_1, DAY_3, &[]);
    assert_eq!(store.aggregate(&days).await.unwrap(), aggregate(4, 4, 5, 1.25, 75.0, 15.0));
    assert_eq!(
        store.timeseries(&days, Interval::Day).await.unwrap(),
        [point(DAY_1, 3, 3, 4), point(DAY_2, 1, 1, 1), point(DAY_3, 0, 0, 0)]
    );
    assert_eq!(
        breakdown(store.as_ref(), &days, "country").await,
        [row("DE", 2, 2, 3, 1), row("(unknown)", 1, 1, 1, 0), row("FR", 1, 1, 1, 0)]
    );
    let week = query(DAY_1, TODAY, &[]);
    assert_eq!(
        store.aggregate(&week).await.unwrap(),
        aggregate(7, 7, 9, 1.29, 71.4, 17.1),
        "rollups and raw rows together"
    );
    assert_eq!(
        breakdown(store.as_ref(), &query(DAY_1, DAY_1, &[]), "page").await.len(),
        3,
        "site 2's page stays apart"
    );
    let other_site = Query { site: 2, ..query(DAY_1, DAY_2, &[]) };
    assert_eq!(store.aggregate(&other_site).await.unwrap(), aggregate(1, 1, 1, 1.0, 100.0, 0.0));
    assert_eq!(
        store.aggregate(&Query { site: 3, ..days.clone() }).await.unwrap(),
        Aggregate::default(),
        "no such site"
    );

    // Rows read back; counts; sites per day; open visits.
    assert_eq!(store.count_events().await.unwrap(), 7 + 5);
    assert_eq!(store.rows_of_day(DAY_1, Some(1)).await.unwrap().len(), 5);
    assert_eq!(store.rows_of_day(DAY_1, None).await.unwrap().len(), 6);
    let paths: Vec<String> = store.rows_of_day(DAY_1, Some(2)).await.unwrap().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/other-site"]);
    assert_eq!(store.sites_of_day(DAY_1).await.unwrap(), [1, 2]);
    let mut open =
        store.open_visits(obscura_model::unix_ms(TODAY.with_hms(10, 0, 30).unwrap().assume_utc())).await.unwrap();
    open.sort_by_key(|v| v.last_ms);
    let open: Vec<(u64, u64, Option<&str>)> =
        open.iter().map(|v| (v.visit, v.pageviews, v.last_path.as_deref())).collect();
    assert_eq!(
        open,
        [(101_005, 2, Some("/pricing")), (102_005, 1, Some("/")), (103_005, 1, Some("/blog"))],
        "visits with events since 10:00:30 today"
    );

    // Appends are durable: found again after reopening.
    drop(store);
    let store = backend.open().await;
    site_1_day(store.as_ref(), TODAY, "after reopening").await;

    // k-anonymous aggregates: no cell under k visitors; small cells of one-value-per-visitor
    // dimensions merge into "(other)" only if that reaches k.
    let cells = store.k_anonymous_rollup(DAY_1, &[1], 2).await.expect("aggregates");
    assert!(cells.iter().all(|c| c.visitors >= 2 && c.site == 1), "{cells:?}");
    let found: Vec<(&str, Option<&str>, i64)> =
        cells.iter().map(|c| (c.dim.as_str(), c.value.as_deref(), c.visitors)).collect();
    for kept in [
        ("", None, 3),
        ("page", Some("/"), 2),
        ("entry_page", Some("/"), 2),
        ("country", Some("DE"), 2),
        ("continent", Some("EU"), 3),
        ("browser", Some("Firefox"), 2),
        ("utm_campaign", Some("(none)"), 3),
        ("visitor_type", Some("new"), 3),
    ] {
        assert!(found.contains(&kept), "{kept:?} is kept: {found:?}");
    }
    for small in ["/blog", "/pricing", "FR", "Chrome", "signup", "google.com", "direct"] {
        assert!(!found.iter().any(|(_, value, _)| *value == Some(small)), "{small} counts one visitor: {found:?}");
    }
    store.keep_aggregates(DAY_1, &cells).await.expect("kept");

    // Purging a site from a day removes its rows, and only its rows.
    assert_eq!(store.purge_sites(DAY_1, &[2]).await.expect("purge"), 1);
    assert_eq!(store.sites_of_day(DAY_1).await.unwrap(), [1]);
    assert_eq!(store.aggregate(&Query { site: 2, ..query(DAY_1, DAY_1, &[]) }).await.unwrap(), Aggregate::default());
    site_1_day(store.as_ref(), DAY_1, "after another site was purged").await;

    // Destroying a day removes all of it; its kept aggregates still answer unfiltered views.
    store.destroy_day(DAY_1).await.expect("destroy");
    assert_eq!(store.days().await.unwrap(), [DAY_2, TODAY]);
    assert!(store.rows_of_day(DAY_1, None).await.unwrap().is_empty());
    let day_1 = query(DAY_1, DAY_1, &[]);
    assert_eq!(store.aggregate(&day_1).await.unwrap(), aggregate(3, 3, 4, 1.33, 66.7, 20.0), "from kept aggregates");
    assert_eq!(breakdown(store.as_ref(), &day_1, "page").await, [row("/", 2, 2, 2, 0)], "only cells of k visitors");
    assert_eq!(
        store.aggregate(&query(DAY_1, DAY_1, &["country==DE"])).await.unwrap(),
        Aggregate::default(),
        "no rows to filter"
    );
    assert!(store.rollup_days().await.unwrap().contains(&DAY_1));

    drop(store);
    let store = backend.open().await;
    assert!(store.rows_of_day(DAY_1, None).await.unwrap().is_empty(), "a destroyed day stays destroyed");
    assert_eq!(store.aggregate(&day_1).await.unwrap().pageviews, 4, "kept aggregates survive a reopen");
    // A full-site export reads them back as they were kept, of the site asked for only.
    let kept = store.kept_of_site(1).await.expect("kept of site 1");
    assert_eq!(kept.iter().map(|d| d.day).collect::<Vec<_>>(), [DAY_1]);
    let mut read_back = kept[0].aggregates.clone();
    let mut stored: Vec<_> = cells.iter().filter(|c| c.site == 1).cloned().collect();
    for list in [&mut read_back, &mut stored] {
        list.sort_by(|a, b| (&a.dim, &a.value).cmp(&(&b.dim, &b.value)));
    }
    assert_eq!(read_back, stored);
    assert!(store.kept_of_site(7).await.unwrap().is_empty(), "no site 7");
    assert_eq!(store.count_events().await.unwrap(), 1 + 5);
    store.close();
}

/// The site the speed beacons are sent for.
const SPEED_SITE: u32 = 3;

/// One measurement event: of a page load of `visitor` on [`SPEED_SITE`] at `at`.
fn measurement(
    visitor: u64,
    at: OffsetDateTime,
    path: &str,
    country: &str,
    m: (Metric, f64),
    labels: &[(&str, &str)],
) -> Event {
    let mut e = event(SPEED_SITE, visitor, at, path, 0, 0, None, Some(country), "Chrome");
    e.kind = EventKind::Measure;
    e.measure = Some(m);
    e.network = Some(scrub_text(if country == "DE" { "Telekom" } else { "Orange" }));
    e.props = labels.iter().map(|(k, v)| (scrub_text(k), scrub_text(v))).collect();
    e
}

/// Speed beacons of one day at noon, one per page load: load `i` (1 to 100) has LCP `i × 50`
/// ms (50 to 5000 ms), on `/` for odd `i`, `/slow` for even; loads 1–60 from DE, the rest from
/// FR; every load also brings CLS `i / 1000` and two CDN entries (cdnjs over h2: TTFB `i` ms, 3
/// resources, 1 cache hit; jsDelivr over h3: TTFB `2i` ms, 2 resources).
fn beacons(day: Date, visitor_base: u64) -> Vec<Event> {
    let mut events = Vec::new();
    for i in 1..=100u64 {
        let at = day.with_hms(12, 0, 0).expect("a time").assume_utc() + time::Duration::seconds(i as i64);
        let (path, country) = (if i % 2 == 1 { "/" } else { "/slow" }, if i <= 60 { "DE" } else { "FR" });
        let v = visitor_base + i;
        let x = i as f64;
        events.push(measurement(v, at, path, country, (Metric::Lcp, x * 50.0), &[("element", "main>img")]));
        events.push(measurement(v, at, path, country, (Metric::Cls, x / 1000.0), &[]));
        for (provider, protocol, ttfb, resources, hits) in
            [("cdnjs", "h2", x, 3.0, 1.0), ("jsDelivr", "h3", 2.0 * x, 2.0, 0.0)]
        {
            let labels = [("provider", provider), ("protocol", protocol)];
            events.push(measurement(v, at, path, country, (Metric::CdnTtfb, ttfb), &labels));
            events.push(measurement(v, at, path, country, (Metric::CdnResources, resources), &labels));
            if hits > 0.0 {
                events.push(measurement(v, at, path, country, (Metric::CdnCacheHits, hits), &labels));
            }
        }
    }
    events
}

fn cell<'a>(cells: &'a [MeasureCell], keys: &[&str], metric: Metric) -> &'a MeasureCell {
    cells
        .iter()
        .find(|c| c.keys == keys && c.metric == metric.name())
        .unwrap_or_else(|| panic!("no cell {keys:?} {}: {cells:?}", metric.name()))
}

/// Within the sketch's accuracy (0.5%, and 0.05% from the buckets) of `exact`.
fn near(value: Option<f64>, exact: f64) -> bool {
    value.is_some_and(|v| (v - exact).abs() <= exact * 0.006)
}

/// Every speed figure of one day of [`beacons`], counted by hand.
async fn beacon_day(store: &dyn EventStore, day: Date, how: &str) {
    let speed_query = |filters: &[&str]| Query { site: SPEED_SITE, ..query(day, day, filters) };
    let q = speed_query(&[]);
    let totals = store.measures(&q, &[Metric::Lcp, Metric::Cls, Metric::Inp], &[]).await.expect("measures");
    assert_eq!(totals.len(), 2, "no INP was measured, {how}: {totals:?}");
    let lcp = cell(&totals, &[], Metric::Lcp);
    assert_eq!(lcp.samples, 100, "{how}");
    assert_eq!(lcp.sum, 50.0 * 5050.0, "sums are exact, {how}");
    // Good up to 2500 ms (i ≤ 50), poor above 4000 ms (i > 80).
    assert_eq!(lcp.ratings, [50, 30, 20], "{how}");
    for (p, exact) in [(50.0, 2500.0), (75.0, 3750.0), (95.0, 4750.0)] {
        assert!(near(lcp.percentile(p), exact), "p{p} LCP {:?} ≈ {exact}, {how}", lcp.percentile(p));
    }
    let cls = cell(&totals, &[], Metric::Cls);
    assert_eq!(cls.ratings, [100, 0, 0], "CLS up to 0.1 is good, {how}");
    assert!(near(cls.percentile(75.0), 0.075), "{how}: {:?}", cls.percentile(75.0));

    let pages = store.measures(&q, &[Metric::Lcp], &[Dimension::Page]).await.unwrap();
    assert_eq!(pages.len(), 2, "{how}");
    assert_eq!(cell(&pages, &["/"], Metric::Lcp).samples, 50);
    assert_eq!(cell(&pages, &["/slow"], Metric::Lcp).sum, 50.0 * 2550.0, "even loads, {how}");

    let providers = Dimension::Prop("provider".into());
    let by = [providers.clone(), Dimension::Prop("protocol".into())];
    let cdn = store.measures(&q, &[Metric::CdnTtfb, Metric::CdnResources, Metric::CdnCacheHits], &by).await.unwrap();
    assert_eq!(cell(&cdn, &["cdnjs", "h2"], Metric::CdnResources).sum, 300.0, "{how}");
    assert_eq!(cell(&cdn, &["cdnjs", "h2"], Metric::CdnCacheHits).sum, 100.0, "{how}");
    assert_eq!(cell(&cdn, &["jsDelivr", "h3"], Metric::CdnResources).sum, 200.0, "{how}");
    assert!(!cdn.iter().any(|c| c.keys == ["jsDelivr", "h3"] && c.metric == "cdn.cache_hits"), "{how}");
    assert!(near(cell(&cdn, &["cdnjs", "h2"], Metric::CdnTtfb).percentile(75.0), 75.0), "{how}");
    assert!(near(cell(&cdn, &["jsDelivr", "h3"], Metric::CdnTtfb).percentile(75.0), 150.0), "{how}");

    // Three dimensions: country × network × provider; missing values under their label.
    let grid = store
        .measures(&q, &[Metric::CdnTtfb], &[Dimension::Country, Dimension::Network, providers.clone()])
        .await
        .unwrap();
    assert_eq!(grid.len(), 4, "{how}: {grid:?}");
    assert_eq!(cell(&grid, &["DE", "Telekom", "cdnjs"], Metric::CdnTtfb).samples, 60, "{how}");
    assert_eq!(cell(&grid, &["FR", "Orange", "jsDelivr"], Metric::CdnTtfb).samples, 40, "{how}");
    let elements = store.measures(&q, &[Metric::Lcp], &[Dimension::Prop("element".into())]).await.unwrap();
    assert_eq!(elements.iter().map(|c| c.keys[0].as_str()).collect::<Vec<_>>(), ["main>img"], "{how}");
    let unlabelled = store.measures(&q, &[Metric::Cls], &[Dimension::Prop("element".into())]).await.unwrap();
    assert_eq!(unlabelled[0].keys, ["(none)"], "{how}");

    // Filters hold for measurements as for pageviews.
    let fr = store.measures(&speed_query(&["country==FR"]), &[Metric::Lcp], &[]).await.unwrap();
    assert_eq!(cell(&fr, &[], Metric::Lcp).samples, 40, "{how}");
    assert_eq!(cell(&fr, &[], Metric::Lcp).ratings, [0, 20, 20], "loads 61–100, {how}");
    let slow_fr = store.measures(&speed_query(&["country==FR", "page==/slow"]), &[Metric::Lcp], &[]).await.unwrap();
    // Every kind of filter, on a finished day answered from the rollups' cells and on today's rows.
    let samples = |cells: Vec<MeasureCell>, keys: &[&str], metric| cell(&cells, keys, metric).samples;
    let lcp_where = |filters: &'static [&'static str]| async move {
        store.measures(&speed_query(filters), &[Metric::Lcp], &[]).await
    };
    assert_eq!(samples(lcp_where(&["country!=DE"]).await.unwrap(), &[], Metric::Lcp), 40, "{how}");
    assert_eq!(samples(lcp_where(&["country~=d"]).await.unwrap(), &[], Metric::Lcp), 60, "{how}");
    assert!(lcp_where(&["country==(unknown)"]).await.unwrap().is_empty(), "{how}");
    let cdnjs = store.measures(&speed_query(&["prop:provider==cdnjs"]), &[Metric::CdnTtfb], &[]).await.unwrap();
    assert!(near(cell(&cdnjs, &[], Metric::CdnTtfb).percentile(75.0), 75.0), "{how}: {cdnjs:?}");
    let grid_de = store
        .measures(&speed_query(&["network==Telekom"]), &[Metric::CdnTtfb], &[Dimension::Country, providers.clone()])
        .await
        .unwrap();
    assert_eq!(grid_de.len(), 2, "{how}: {grid_de:?}");
    assert_eq!(samples(grid_de, &["DE", "jsDelivr"], Metric::CdnTtfb), 60, "{how}");
    let none = store.measures(&query(day, day, &[]), &[Metric::Lcp], &[]).await.unwrap();
    assert!(none.is_empty(), "another site's measurements stay apart, {how}");
    // Measurements are neither pageviews nor visits.
    let site = store.aggregate(&q).await.unwrap();
    assert_eq!((site.pageviews, site.visits), (0, 0), "{how}");
    assert_eq!(cell(&slow_fr, &[], Metric::Lcp).samples, 20, "{how}");
}

/// Speed measurements on one backend: stored beside pageviews without changing their figures,
/// answered per group with percentiles, ratings and sums (from rows, and from the day rollups of
/// finished days), filtered, durable; past retention only k-anonymous cells stay, and answer.
pub async fn measures_conformance(backend: &dyn Backend) {
    let store = backend.open().await;
    store.import(imported()).await.expect("import");
    store.import(beacons(DAY_1, 1_000)).await.expect("import beacons");
    beacon_day(store.as_ref(), DAY_1, "a finished day").await;
    site_1_day(store.as_ref(), DAY_1, "another site's measurements change nothing").await;

    store.append(beacons(TODAY, 2_000)).await.expect("append beacons");
    beacon_day(store.as_ref(), TODAY, "today's rows").await;
    let both =
        store.measures(&Query { site: SPEED_SITE, ..query(DAY_1, TODAY, &[]) }, &[Metric::Lcp], &[]).await.unwrap();
    assert_eq!(cell(&both, &[], Metric::Lcp).samples, 200, "days add up");
    assert_eq!(cell(&both, &[], Metric::Lcp).ratings, [100, 60, 40]);

    drop(store);
    let store = backend.open().await;
    beacon_day(store.as_ref(), TODAY, "after reopening").await;

    // Past retention only k-anonymous cells stay (P3): with k = 45, the 40 visitors of FR's
    // cells are too few; the whole day's (100), each page's (50) and DE's (60) are kept.
    let kept = store.k_anonymous_measures(DAY_1, &[SPEED_SITE], 45).await.expect("k-anonymous cells");
    assert!(kept.iter().all(|c| c.site == SPEED_SITE) && !kept.is_empty());
    assert!(!kept.iter().any(|c| c.keys.first().is_some_and(|k| k == "FR")), "small cells are not kept");
    store.keep_measures(DAY_1, &kept).await.expect("kept");
    store.destroy_day(DAY_1).await.expect("destroy");
    let day_1 = |filters: &[&str]| Query { site: SPEED_SITE, ..query(DAY_1, DAY_1, filters) };
    assert!(store.rows_of_day(DAY_1, None).await.unwrap().is_empty(), "the rows are gone");
    let totals = store.measures(&day_1(&[]), &[Metric::Lcp], &[]).await.unwrap();
    let lcp = cell(&totals, &[], Metric::Lcp);
    assert_eq!((lcp.samples, lcp.ratings), (100, [50, 30, 20]), "percentiles and ratings outlive the rows");
    assert!(near(lcp.percentile(75.0), 3750.0), "{:?}", lcp.percentile(75.0));
    let pages = store.measures(&day_1(&[]), &[Metric::Lcp], &[Dimension::Page]).await.unwrap();
    assert_eq!(cell(&pages, &["/slow"], Metric::Lcp).samples, 50);
    let grid = [Dimension::Country, Dimension::Network, Dimension::Prop("provider".into())];
    let grid = store.measures(&day_1(&[]), &[Metric::CdnTtfb], &grid).await.unwrap();
    assert_eq!(grid.iter().map(|c| c.keys[0].as_str()).collect::<Vec<_>>(), ["DE", "DE"], "both providers: {grid:?}");
    let de = store.measures(&day_1(&["country==DE"]), &[Metric::Lcp], &[]).await.unwrap();
    assert_eq!(cell(&de, &[], Metric::Lcp).samples, 60, "a kept cell answers a filter on its dimension");
    assert!(store.measures(&day_1(&["country==FR"]), &[Metric::Lcp], &[]).await.unwrap().is_empty(), "under k");
    assert!(
        store.measures(&day_1(&["country==DE", "page==/"]), &[Metric::Lcp], &[]).await.unwrap().is_empty(),
        "no kept grouping holds both, and no rows are left to filter"
    );

    drop(store);
    let store = backend.open().await;
    let totals = store.measures(&day_1(&[]), &[Metric::Lcp], &[]).await.unwrap();
    assert_eq!(cell(&totals, &[], Metric::Lcp).samples, 100, "kept speed cells survive a reopen");
    let exported = store.kept_of_site(SPEED_SITE).await.expect("kept of the site");
    assert_eq!(exported.len(), 1);
    assert_eq!((exported[0].day, exported[0].measures.len()), (DAY_1, kept.len()), "every kept speed cell");
    assert!(exported[0].aggregates.is_empty(), "no traffic cells were kept for it");
    store.close();
}

/// Two issues' fingerprints.
const ISSUE_A: &str = "aaaaaaaaaaaaaaaa";
const ISSUE_B: &str = "bbbbbbbbbbbbbbbb";

/// One error report of site 1 (kind 4, no visit), as the ingest pipeline stores it.
fn report(visitor: u64, at: OffsetDateTime, issue: &str, kind: &str, release: &str, browser: &str) -> Event {
    let mut e = event(1, visitor, at, "/checkout", 0, 0, None, Some("DE"), browser);
    e.kind = EventKind::Error;
    e.visit = 0;
    e.name = Some(scrub_text(issue));
    e.props = [("type", kind), ("message", "x is undefined"), ("release", release), ("frames", "pay (app.js:42)")]
        .iter()
        .map(|(k, v)| (scrub_text(k), scrub_text(v)))
        .collect();
    e
}

/// Site 1's error reports of [`DAY_1`]: issue A (TypeError) three times, by visitors 1, 1 and
/// 2, releases 1.0, 1.0 and 1.1, in Chrome; issue B (RangeError) once, visitor 3, release 1.1,
/// in Firefox.
fn day_1_reports() -> Vec<Event> {
    let at = |h: u8| DAY_1.with_hms(h, 30, 0).expect("a time").assume_utc();
    vec![
        report(1, at(10), ISSUE_A, "TypeError", "1.0", "Chrome"),
        report(1, at(11), ISSUE_A, "TypeError", "1.0", "Chrome"),
        report(2, at(12), ISSUE_A, "TypeError", "1.1", "Chrome"),
        report(3, at(12), ISSUE_B, "RangeError", "1.1", "Firefox"),
    ]
}

/// Error reports: issues with their counts, trend and latest parts; breakdowns; the latest
/// reports; filters; and no visit figure changes (rollups included).
pub async fn errors_conformance(backend: &dyn Backend) {
    let store = backend.open().await;
    let mut events = imported();
    events.extend(day_1_reports());
    store.import(events).await.expect("import");
    site_1_day(store.as_ref(), DAY_1, "error reports count no visit, visitor or pageview (rolled up)").await;
    let mut today = site_1_visits(TODAY, 100);
    let at = |m: u8| TODAY.with_hms(12, m, 0).expect("a time").assume_utc();
    today.push(report(105, at(1), ISSUE_A, "TypeError", "1.1", "Chrome"));
    today.push(report(106, at(2), ISSUE_A, "TypeError", "1.1", "Chrome"));
    store.append(today).await.expect("append");
    site_1_day(store.as_ref(), TODAY, "error reports count no visit, visitor or pageview (rows)").await;

    let week = query(DAY_1, TODAY, &[]);
    let issues = store.issues(&week, 10).await.expect("issues");
    assert_eq!(issues.len(), 2, "{issues:?}");
    let (a, b) = (&issues[0], &issues[1]);
    assert_eq!((a.fingerprint.as_str(), a.events, a.visitors), (ISSUE_A, 5, 4), "most reports first");
    assert_eq!((b.fingerprint.as_str(), b.events, b.visitors), (ISSUE_B, 1, 1));
    assert_eq!(a.first_ms, obscura_model::unix_ms(DAY_1.with_hms(10, 30, 0).unwrap().assume_utc()));
    assert_eq!(a.last_ms, obscura_model::unix_ms(at(2)));
    assert_eq!(a.trend, [3, 0, 0, 0, 2], "reports per day over the range");
    assert_eq!((a.title().as_str(), a.frames.as_deref()), ("TypeError: x is undefined", Some("pay (app.js:42)")));
    assert_eq!(b.kind.as_deref(), Some("RangeError"));

    let old_release = store.issues(&query(DAY_1, TODAY, &["prop:release==1.0"]), 10).await.unwrap();
    assert_eq!(old_release.iter().map(|i| (i.fingerprint.as_str(), i.events)).collect::<Vec<_>>(), [(ISSUE_A, 2)]);
    let one = store.issues(&query(DAY_1, TODAY, &[&format!("event=={ISSUE_B}")]), 10).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].fingerprint, ISSUE_B);
    assert_eq!(store.issues(&query(DAY_1, TODAY, &[]), 1).await.unwrap().len(), 1, "the limit holds");
    let other_site = Query { site: 2, ..query(DAY_1, TODAY, &[]) };
    assert!(store.issues(&other_site, 10).await.unwrap().is_empty(), "another site's issues");

    let releases = store.error_breakdown(&week, &Dimension::Prop("release".into()), 10).await.unwrap();
    let releases: Vec<(&str, u64, u64)> = releases.iter().map(|r| (r.value.as_str(), r.events, r.visitors)).collect();
    assert_eq!(releases, [("1.1", 4, 4), ("1.0", 2, 1)]);
    let browsers =
        store.error_breakdown(&query(DAY_1, TODAY, &[&format!("event=={ISSUE_B}")]), &Dimension::Browser, 10).await;
    assert_eq!(browsers.unwrap().iter().map(|r| (r.value.as_str(), r.events)).collect::<Vec<_>>(), [("Firefox", 1)]);

    // Finished days' filtered questions are answered from their cells; the same range less a
    // millisecond is not whole days and reads the rows: both agree, filter by filter.
    let issue_a = format!("event=={ISSUE_A}");
    let cases: [&[&str]; 7] = [
        &["prop:release==1.0"],
        &["prop:release!=1.0"],
        &["browser~=fire"],
        &["browser!=Chrome", "prop:release==1.1"],
        &["os==(unknown)"],
        &["os!=(unknown)"],
        &[&issue_a, "prop:release!=(unknown)"],
    ];
    for filters in cases {
        let whole = query(DAY_1 - time::Duration::days(2), DAY_1, filters);
        let mut partial = whole.clone();
        partial.range.to -= time::Duration::milliseconds(1);
        let parts = |issues: Vec<obscura_query::errors::IssueRow>| -> Vec<_> {
            issues.into_iter().map(|i| (i.fingerprint, i.events, i.visitors, i.first_ms, i.last_ms, i.kind)).collect()
        };
        let (cells, rows) = (store.issues(&whole, 10).await.unwrap(), store.issues(&partial, 10).await.unwrap());
        assert_eq!(parts(cells), parts(rows), "issues, {filters:?}");
        for dim in [Dimension::Prop("release".into()), Dimension::Browser, Dimension::Os, Dimension::Page] {
            let sorted = |mut found: Vec<ErrorCountRow>| {
                found.sort_by(|a, b| a.value.cmp(&b.value));
                found
            };
            let cells = sorted(store.error_breakdown(&whole, &dim, 10).await.unwrap());
            let rows = sorted(store.error_breakdown(&partial, &dim, 10).await.unwrap());
            assert_eq!(cells, rows, "{} of {filters:?}", dim.name());
        }
    }

    let latest = store.error_reports(&week, 2).await.unwrap();
    assert_eq!(latest.iter().map(|r| r.ts_ms).collect::<Vec<_>>(), [at(2), at(1)].map(obscura_model::unix_ms));
    assert!(latest.iter().all(|r| r.kind == 4 && r.name.as_deref() == Some(ISSUE_A)));

    drop(store);
    let store = backend.open().await;
    assert_eq!(store.issues(&week, 10).await.unwrap()[0].events, 5, "error reports survive a reopen");
    store.destroy_day(DAY_1).await.expect("destroy");
    let left = store.issues(&week, 10).await.unwrap();
    assert_eq!(left.iter().map(|i| (i.fingerprint.as_str(), i.events)).collect::<Vec<_>>(), [(ISSUE_A, 2)]);
    // The day's saved answers and cells went with it: a new start finds none of them.
    drop(store);
    let store = backend.open().await;
    let left = store.issues(&week, 10).await.unwrap();
    assert_eq!(left.iter().map(|i| (i.fingerprint.as_str(), i.events)).collect::<Vec<_>>(), [(ISSUE_A, 2)]);
    assert!(store.issues(&query(DAY_1, TODAY, &["prop:release==1.0"]), 10).await.unwrap().is_empty());
    store.close();
}

/// One hit of site 1 from an automated client, as the ingest pipeline stores it (kind 5, no
/// visit): what it was, the verdict and the strongest reason in its properties.
fn automated_hit(visitor: u64, at: OffsetDateTime, reason: &str, browser: &str, network: &str) -> Event {
    let mut e = event(1, visitor, at, "/pricing", 0, 0, None, Some("US"), browser);
    e.kind = EventKind::Automated;
    e.visit = 0;
    e.network = Some(scrub_text(network));
    e.props = [("was", "pageview"), ("verdict", "automated"), ("reason", reason), ("reasons", reason)]
        .iter()
        .map(|(k, v)| (scrub_text(k), scrub_text(v)))
        .collect();
    e
}

/// Automated hits (P5): kept apart, so no people's figure changes (rolled up or from rows);
/// their share over time and their reasons, agents and networks; gone with their day.
pub async fn automated_conformance(backend: &dyn Backend) {
    let store = backend.open().await;
    let at = |day: Date, h: u8| day.with_hms(h, 15, 0).expect("a time").assume_utc();
    let mut events = imported();
    events.push(automated_hit(900, at(DAY_1, 3), "robot_user_agent", "Googlebot", "Google LLC"));
    events.push(automated_hit(900, at(DAY_1, 4), "robot_user_agent", "Googlebot", "Google LLC"));
    events.push(automated_hit(901, at(DAY_1, 5), "webdriver", "Chrome", "Hetzner Online GmbH"));
    store.import(events).await.expect("import");
    site_1_day(store.as_ref(), DAY_1, "automated hits change no people's figure (rolled up)").await;
    let mut today = site_1_visits(TODAY, 100);
    today.push(automated_hit(902, at(TODAY, 9), "hints_contradict", "Chrome", "Hetzner Online GmbH"));
    store.append(today).await.expect("append");
    site_1_day(store.as_ref(), TODAY, "automated hits change no people's figure (rows)").await;

    let week = query(DAY_1, TODAY, &[]);
    let counts = |rows: Vec<ErrorCountRow>| -> Vec<(String, u64, u64)> {
        let mut rows: Vec<_> = rows.into_iter().map(|r| (r.value, r.events, r.visitors)).collect();
        rows.sort();
        rows
    };
    let reasons = store.automated_breakdown(&week, &Dimension::Prop("reason".into()), 10).await.unwrap();
    let expected = [("hints_contradict", 1, 1), ("robot_user_agent", 2, 1), ("webdriver", 1, 1)];
    assert_eq!(counts(reasons), expected.map(|(v, n, u)| (v.to_owned(), n, u)));
    let agents = store.automated_breakdown(&week, &Dimension::Browser, 1).await.unwrap();
    assert_eq!(agents.iter().map(|r| (r.value.as_str(), r.events)).collect::<Vec<_>>(), [("Chrome", 2)], "the top one");
    let networks = store.automated_breakdown(&week, &Dimension::Network, 10).await.unwrap();
    assert_eq!(counts(networks), [("Google LLC".to_owned(), 2, 1), ("Hetzner Online GmbH".to_owned(), 2, 2)]);
    let filtered = query(DAY_1, TODAY, &["network==Google LLC"]);
    assert_eq!(store.automated_breakdown(&filtered, &Dimension::Browser, 10).await.unwrap()[0].events, 2);
    // What each hit was, as the switch that counts them into people's figures asks.
    let viewed = query(DAY_1, TODAY, &["prop:was==pageview"]);
    let pages = store.automated_breakdown(&viewed, &Dimension::Page, 10).await.unwrap();
    assert_eq!(counts(pages), [("/pricing".to_owned(), 4, 3)]);
    assert!(
        store
            .automated_breakdown(&query(DAY_1, TODAY, &["prop:was==event"]), &Dimension::Page, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let day_ms = |d: Date| obscura_model::unix_ms(d.midnight().assume_utc());
    let series = store.automated_series(&week, Interval::Day).await.unwrap();
    let points =
        |s: Vec<obscura_query::AutomatedPoint>| s.iter().map(|p| (p.bucket_ms, p.hits, p.visitors)).collect::<Vec<_>>();
    assert_eq!(
        points(series),
        [(day_ms(DAY_1), 3, 2), (day_ms(TODAY), 1, 1)],
        "hits and visitors per day, empty days left out"
    );
    let other_site = Query { site: 2, ..week.clone() };
    assert!(store.automated_series(&other_site, Interval::Day).await.unwrap().is_empty());

    drop(store);
    let store = backend.open().await;
    store.destroy_day(DAY_1).await.expect("destroy");
    assert_eq!(
        points(store.automated_series(&week, Interval::Day).await.unwrap()),
        [(day_ms(TODAY), 1, 1)],
        "same retention"
    );
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_automated_embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(NOW));
    automated_conformance(&Embedded { dir: dir.path().to_path_buf(), key: Key::random(), clock }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_automated_clickhouse() {
    let backend = ClickHouse::new(Arc::new(ManualClock::new(NOW)));
    automated_conformance(&backend).await;
    backend.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_errors_embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(NOW));
    errors_conformance(&Embedded { dir: dir.path().to_path_buf(), key: Key::random(), clock }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_errors_clickhouse() {
    let backend = ClickHouse::new(Arc::new(ManualClock::new(NOW)));
    errors_conformance(&backend).await;
    backend.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_measures_embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(NOW));
    measures_conformance(&Embedded { dir: dir.path().to_path_buf(), key: Key::random(), clock }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_measures_clickhouse() {
    let backend = ClickHouse::new(Arc::new(ManualClock::new(NOW)));
    measures_conformance(&backend).await;
    backend.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(NOW));
    let backend = Embedded { dir: dir.path().to_path_buf(), key: Key::random(), clock };
    conformance(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_clickhouse() {
    let backend = ClickHouse::new(Arc::new(ManualClock::new(NOW)));
    conformance(&backend).await;
    backend.drop_database().await;
}

/// Goals (pages reached, events sent with a property's value) counted the same way on every
/// backend, over imported days.
pub async fn goals_conformance(backend: &dyn Backend) {
    use obscura_store::meta::{Goal, GoalTarget};
    let store = backend.open().await;
    store.import(imported()).await.expect("import");
    let goal = |name: &str, target| Goal { name: name.to_owned(), target };
    let page = |path: &str, contains| GoalTarget::Page { path: path.to_owned(), contains };
    let event = |plan: &str| GoalTarget::Event { name: "signup".into(), property: Some(("plan".into(), plan.into())) };
    let goals = [
        goal("Pricing", page("/pricing", false)),
        goal("Blog", page("/blo", true)),
        goal("Signup", GoalTarget::Event { name: "signup".into(), property: None }),
        goal("Pro", event("pro")),
        goal("Free", event("free")),
    ];
    let found = obscura_web::goals::figures(store.as_ref(), &query(DAY_1, DAY_2, &[]), &goals).await.unwrap();
    let seen: Vec<(&str, u64, u64, f64)> =
        found.iter().map(|g| (g.name.as_str(), g.conversions, g.visitors, g.conversion_rate)).collect();
    assert_eq!(
        seen,
        [
            ("Pricing", 1, 1, 25.0),
            ("Blog", 1, 1, 25.0),
            ("Signup", 1, 1, 25.0),
            ("Pro", 1, 1, 25.0),
            ("Free", 0, 0, 0.0)
        ],
        "four visitors over the two days"
    );
    let french =
        obscura_web::goals::figures(store.as_ref(), &query(DAY_1, DAY_2, &["country==FR"]), &goals[..2]).await.unwrap();
    assert_eq!(
        (french[0].visitors, french[1].visitors, french[1].conversion_rate),
        (0, 1, 100.0),
        "the range's filters hold"
    );
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_goals_embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(NOW));
    goals_conformance(&Embedded { dir: dir.path().to_path_buf(), key: Key::random(), clock }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_goals_clickhouse() {
    let backend = ClickHouse::new(Arc::new(ManualClock::new(NOW)));
    goals_conformance(&backend).await;
    backend.drop_database().await;
}

/// Funnels: visits taking steps in order within a visit, the same on every backend.
pub async fn funnels_conformance(backend: &dyn Backend) {
    use obscura_store::meta::GoalTarget;
    let store = backend.open().await;
    store.import(imported()).await.expect("import");
    let page = |path: &str| GoalTarget::Page { path: path.to_owned(), contains: false };
    let signup = |plan: Option<&str>| GoalTarget::Event {
        name: "signup".into(),
        property: plan.map(|p| ("plan".to_owned(), p.to_owned())),
    };
    let two_days = query(DAY_1, DAY_2, &[]);
    // Visitor 1: `/`, `/pricing`, signup (pro); visitor 2: `/`; visitor 3: `/blog`; day 2: `/`.
    let steps = [page("/"), page("/pricing"), signup(None)];
    assert_eq!(store.funnel(&two_days, &steps).await.unwrap(), [3, 1, 1]);
    assert_eq!(store.funnel(&two_days, &[page("/pricing"), page("/")]).await.unwrap(), [1, 0], "in order only");
    assert_eq!(store.funnel(&two_days, &[page("/"), signup(Some("free"))]).await.unwrap(), [3, 0]);
    let contains = GoalTarget::Page { path: "/blo".into(), contains: true };
    assert_eq!(store.funnel(&two_days, &[contains, page("/")]).await.unwrap(), [1, 0]);
    let germany = query(DAY_1, DAY_2, &["country==DE"]);
    assert_eq!(store.funnel(&germany, &steps).await.unwrap(), [2, 1, 1], "the range's filters hold");
    let eight: Vec<GoalTarget> = (0..8).map(|_| page("/")).collect();
    assert_eq!(store.funnel(&two_days, &eight).await.unwrap(), [3; 8], "eight steps");
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_funnels_embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(NOW));
    funnels_conformance(&Embedded { dir: dir.path().to_path_buf(), key: Key::random(), clock }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_conformance_funnels_clickhouse() {
    let backend = ClickHouse::new(Arc::new(ManualClock::new(NOW)));
    funnels_conformance(&backend).await;
    backend.drop_database().await;
}
