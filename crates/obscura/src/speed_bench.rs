//! `obscura bench speed`: speed beacons ingested over HTTP beside the bare-route ceiling, then
//! the speed dashboard's queries over N beacons spread over 30 days.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use obscura_model::{Event, EventKind, Metric};
use obscura_privacy::scrub::scrub_text;
use obscura_query::{Dimension, Query, TimeRange};
use obscura_store::EventStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::{self, App};
use crate::bench::{
    BENCH_SITE, LoadKind, RssSampler, fresh_app, fresh_app_with, load_from_process, median_ms, tempfile_dir,
};
use crate::config::Backend;

/// Public CDN hosts the generated pages load from (all in the built-in map), with a protocol.
const CDN_HOSTS: [(&str, &str, &str); 3] = [
    ("cdn.jsdelivr.net", "jsDelivr", "h2"),
    ("cdnjs.cloudflare.com", "cdnjs", "h3"),
    ("fonts.gstatic.com", "Google", "h2"),
];

/// One beacon body as the performance part sends it; `i` picks the page and the values.
pub fn beacon_body(i: u64) -> String {
    let mut rng = StdRng::seed_from_u64(i);
    let lcp = lognormal(&mut rng, 1_800.0, 0.6);
    let (host, _, protocol) = CDN_HOSTS[(i % 3) as usize];
    format!(
        r#"{{"site":"{BENCH_SITE}","url":"https://{BENCH_SITE}/page/{}","nav":"navigate","connection":"4g","vitals":{{"ttfb":{:.0},"fcp":{:.0},"lcp":{lcp:.0},"inp":{:.0},"cls":{:.4},"load":{:.0}}},"lcp_element":"main>img.hero","cdn":[{{"host":"{host}","protocol":"{protocol}","resources":4,"cache_hits":1,"timing_hidden":0,"dns":3,"connect":18,"tls":12,"ttfb":{:.0},"download":{:.0},"bytes":48213}}]}}"#,
        i % 200,
        lognormal(&mut rng, 300.0, 0.5),
        lcp * 0.6,
        lognormal(&mut rng, 120.0, 0.7),
        rng.random::<f64>().powi(3) * 0.3,
        lcp * 1.3,
        lognormal(&mut rng, 40.0, 0.6),
        lognormal(&mut rng, 8.0, 0.8),
    )
}

/// The speed-beacon load: [`beacon_body`] from a few Chrome builds.
pub fn speed_event(url: String) -> impl Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Clone + Send + Sync {
    move |c: &reqwest::Client, i: u64| {
        c.post(&url)
            .header("content-type", "text/plain")
            .header(
                "user-agent",
                format!(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/13{}.0.0.0 Safari/537.36",
                    i % 7
                ),
            )
            .body(beacon_body(i))
    }
}

/// A log-normal value with this median and shape.
fn lognormal(rng: &mut StdRng, median: f64, sigma: f64) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (median * (sigma * z).exp()).min(590_000.0)
}

/// The measurement events of `beacons` page loads spread over the 30 days before today, as
/// the pipeline would store them: six vitals and one CDN provider's four figures each.
fn speed_history(site: u32, beacons: usize, day: usize) -> Vec<Event> {
    let today = time::OffsetDateTime::now_utc().date();
    let date = today - time::Duration::days(30 - day as i64);
    let per_day = beacons / 30;
    let mut rng = StdRng::seed_from_u64(day as u64);
    let mut events = Vec::with_capacity(per_day * 10);
    let countries = ["DE", "FR", "US", "CN", "GB", "IN", "BR", "JP", "NL", "PL"];
    for b in 0..per_day {
        let at = date.midnight().assume_utc() + time::Duration::milliseconds(rng.random_range(0..86_400_000));
        let visitor = rng.random_range(0..per_day as u64 / 2 + 1);
        let path = format!("/page/{}", rng.random_range(0..200));
        let country = countries[rng.random_range(0..countries.len())];
        let base = {
            let mut e = obscura_ingest::synthetic::pageview(site, visitor, at, &path);
            e.kind = EventKind::Measure;
            e.visit_seq = 0;
            e.country = Some(scrub_text(country));
            e.province = Some(scrub_text(&format!("{country}-{}", rng.random_range(0..8))));
            e.network = Some(scrub_text(&format!("Network {}", rng.random_range(0..30))));
            e.device_type = ["desktop", "mobile", "tablet"][rng.random_range(0..3)];
            e
        };
        let lcp = lognormal(&mut rng, 1_800.0, 0.6);
        let vitals = [
            (Metric::Ttfb, lognormal(&mut rng, 300.0, 0.5)),
            (Metric::Fcp, lcp * 0.6),
            (Metric::Lcp, lcp),
            (Metric::Inp, lognormal(&mut rng, 120.0, 0.7)),
            (Metric::Cls, rng.random::<f64>().powi(3) * 0.3),
            (Metric::Load, lcp * 1.3),
        ];
        for (metric, value) in vitals {
            let mut e = base.clone();
            e.measure = Some((metric, value.round()));
            events.push(e);
        }
        let (_, provider, protocol) = CDN_HOSTS[b % 3];
        let labels =
            vec![(scrub_text("provider"), scrub_text(provider)), (scrub_text("protocol"), scrub_text(protocol))];
        for (metric, value) in [
            (Metric::CdnTtfb, lognormal(&mut rng, 40.0, 0.6)),
            (Metric::CdnDownload, lognormal(&mut rng, 8.0, 0.8)),
            (Metric::CdnResources, 4.0),
            (Metric::CdnCacheHits, 1.0),
        ] {
            let mut e = base.clone();
            e.measure = Some((metric, value.round()));
            e.props = labels.clone();
            events.push(e);
        }
    }
    events
}

/// The queries of the speed dashboard (`/speed`), each with its median time.
async fn dashboard_queries(store: &dyn EventStore, q: &Query, runs: usize) -> anyhow::Result<Vec<(String, f64)>> {
    let provider = || Dimension::Prop("provider".into());
    let page_vitals = [Metric::Lcp, Metric::Inp, Metric::Cls];
    let cases: Vec<(&str, Vec<Metric>, Vec<Dimension>)> = vec![
        ("vitals, whole site", Metric::VITALS.to_vec(), vec![]),
        ("LCP, INP, CLS by page", page_vitals.to_vec(), vec![Dimension::Page]),
        ("LCP, INP, CLS by device", page_vitals.to_vec(), vec![Dimension::DeviceType]),
        ("LCP, TTFB by country", vec![Metric::Lcp, Metric::Ttfb], vec![Dimension::Country]),
        ("CDN by provider and protocol", Metric::CDN.to_vec(), vec![provider(), Dimension::Prop("protocol".into())]),
        (
            "CDN TTFB by province × network × provider",
            vec![Metric::CdnTtfb],
            vec![Dimension::Province, Dimension::Network, provider()],
        ),
        (
            "CDN TTFB, download by page × provider",
            vec![Metric::CdnTtfb, Metric::CdnDownload, Metric::CdnResources],
            vec![Dimension::Page, provider()],
        ),
    ];
    let mut rows = Vec::new();
    for (name, metrics, by) in cases {
        let ms = median_ms(runs, || async { store.measures(q, &metrics, &by).await.map(drop) }).await?;
        rows.push((name.to_owned(), ms));
    }
    Ok(rows)
}

/// Filtered speed questions: one a rolled grouping answers (a filter on its dimension), one
/// only the rows can (two filters no grouping holds together).
async fn filtered_queries(store: &dyn EventStore, q: &Query, runs: usize) -> anyhow::Result<Vec<(String, f64)>> {
    let cases = [
        ("vitals, filtered by country (from the by-country cells)", vec!["country==DE|FR"]),
        ("vitals, filtered by country and device (from rows)", vec!["country==DE|FR", "device_type==mobile"]),
    ];
    let mut rows = Vec::new();
    for (name, filters) in cases {
        let filters = filters.iter().map(|f| obscura_query::Filter::parse(f)).collect::<Result<_, _>>()?;
        let filtered = Query { filters, ..q.clone() };
        let ms = median_ms(runs, || async { store.measures(&filtered, &Metric::VITALS, &[]).await.map(drop) }).await?;
        rows.push((name.to_owned(), ms));
    }
    Ok(rows)
}

/// Runs `obscura bench speed`; with `clickhouse`, the queries also on the ClickHouse cluster of
/// the configuration, side by side.
pub async fn run(
    connections: usize,
    seconds: u64,
    beacons: usize,
    runs: usize,
    clickhouse: bool,
) -> anyhow::Result<()> {
    if clickhouse {
        crate::bench::check_clickhouse_configured("bench speed")?;
    }
    ingest(connections, StdDuration::from_secs(seconds)).await?;
    let embedded = queries(Backend::Embedded, beacons, runs).await?;
    let beside = if clickhouse { Some(queries(Backend::ClickHouse, beacons, runs).await?) } else { None };
    crate::bench::print_side_by_side("speed query", runs, &embedded, beside.as_deref());
    Ok(())
}

async fn ingest(connections: usize, duration: StdDuration) -> anyhow::Result<()> {
    let dir = tempfile_dir("obscura-bench-speed")?;
    let (app, _) = fresh_app(&dir).await?;
    crate::admin::set_speed(&*app.meta, BENCH_SITE, true, 100)?;
    let store = app.store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(app::serve(app, listener));
    println!(
        "bench speed: {} store, {connections} keep-alive connections, {}s per phase; the load generator is a second process on this machine",
        store.backend(),
        duration.as_secs()
    );
    let rss = RssSampler::start();
    let (bare, _) =
        load_from_process(format!("{base}/health"), LoadKind::Bare, connections, duration, 0, &rss, None).await?;
    let before = store.count_events().await?;
    let (speed, peak) =
        load_from_process(format!("{base}/api/vitals"), LoadKind::Speed, connections, duration, 0, &rss, None).await?;
    let stored = store.count_events().await? - before;
    println!();
    println!("| phase | requests/s | measurements stored/s | p50 ms | p99 ms | failed | server peak RSS MB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| bare `GET /health` (ceiling) | {:.0} | – | {:.2} | {:.2} | {} | – |",
        bare.rate(),
        bare.p50_ms,
        bare.p99_ms,
        bare.failed
    );
    println!(
        "| speed beacons `POST /api/vitals` (6 vitals + 1 CDN provider each) | {:.0} | {:.0} | {:.2} | {:.2} | {} | {peak:.0} |",
        speed.rate(),
        stored as f64 / speed.elapsed.as_secs_f64(),
        speed.p50_ms,
        speed.p99_ms,
        speed.failed
    );
    println!("beacons / bare ceiling: {:.2}", speed.rate() / bare.rate());
    server.abort();
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Loads `beacons` page loads over 30 days into a fresh store of `backend` and times every
/// speed question over them.
async fn queries(backend: Backend, beacons: usize, runs: usize) -> anyhow::Result<Vec<(String, f64)>> {
    let dir = tempfile_dir("obscura-bench-speed-query")?;
    let (app, _): (App, String) = fresh_app_with(&dir, |c| c.backend = backend).await?;
    let site = app.pipeline.resolve_site(BENCH_SITE)?.id;
    let t = Instant::now();
    let mut loaded = 0;
    for day in 0..30 {
        let events = speed_history(site, beacons, day);
        loaded += events.len();
        app.store.import(events).await?;
    }
    println!();
    println!(
        "bench speed queries, {} store: {} beacons ({loaded} measurements) over 30 days loaded in {:.1}s",
        app.store.backend(),
        beacons / 30 * 30,
        t.elapsed().as_secs_f64()
    );
    let today = time::OffsetDateTime::now_utc().date();
    let q = Query {
        site,
        range: TimeRange::days(today - time::Duration::days(30), today - time::Duration::days(1))?,
        filters: vec![],
    };
    let mut rows = dashboard_queries(app.store.as_ref(), &q, runs).await?;
    let all: f64 = rows.iter().map(|(_, ms)| ms).sum();
    rows.push((format!("**the speed dashboard's {} queries**", rows.len()), all));
    rows.extend(filtered_queries(app.store.as_ref(), &q, runs).await?);
    let store: Arc<dyn EventStore> = app.store.clone();
    drop(app);
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}
