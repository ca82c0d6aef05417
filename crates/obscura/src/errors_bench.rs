//! `obscura bench errors`: Sentry envelopes ingested over HTTP beside the bare-route ceiling,
//! then the Errors tab's queries over N error reports spread over 30 days.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use obscura_model::{Event, EventKind};
use obscura_privacy::scrub::scrub_text;
use obscura_query::{Dimension, Filter, Query, TimeRange};
use obscura_store::EventStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::{self, App};
use crate::bench::{BENCH_SITE, LoadKind, RssSampler, fresh_app_with, load_from_process, median_ms, tempfile_dir};
use crate::config::Backend;

/// Exception types of the generated bugs.
const KINDS: [&str; 6] =
    ["TypeError", "RangeError", "NetworkError", "ChunkLoadError", "SyntaxError", "QuotaExceededError"];

/// One envelope as a browser SDK sends it: `i` picks the bug (one of 200) and the line.
pub fn envelope_body(i: u64) -> String {
    let bug = i % 200;
    let event = format!(
        r#"{{"event_id":"{i:032x}","platform":"javascript","level":"error","release":"shop@1.{}.0","environment":"production","request":{{"url":"https://{BENCH_SITE}/page/{}"}},"exception":{{"values":[{{"type":"{}","value":"failed on item {i}","stacktrace":{{"frames":[{{"filename":"https://{BENCH_SITE}/js/vendor.js","function":"dispatch","lineno":1,"in_app":false}},{{"filename":"https://{BENCH_SITE}/js/app.js","function":"handler{bug}","lineno":{},"in_app":true}}]}}}}]}}}}"#,
        i % 4,
        i % 50,
        KINDS[(bug % 6) as usize],
        10 + i % 300,
    );
    format!("{{\"event_id\":\"{i:032x}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n", event.len())
}

/// The envelope load: [`envelope_body`] to `url` (which carries the DSN key).
pub fn envelope_request(
    url: String,
) -> impl Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Clone + Send + Sync {
    move |c: &reqwest::Client, i: u64| {
        c.post(&url)
            .header("content-type", "text/plain;charset=UTF-8")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            )
            .body(envelope_body(i))
    }
}

/// `reports` error reports of 300 issues spread over the 30 days before today, as the
/// pipeline stores them; `day` is 0 to 29.
fn error_history(site: u32, reports: usize, day: usize) -> Vec<Event> {
    let today = time::OffsetDateTime::now_utc().date();
    let date = today - time::Duration::days(30 - day as i64);
    let per_day = reports / 30;
    let mut rng = StdRng::seed_from_u64(day as u64 + 1_000);
    let browsers = ["Chrome", "Firefox", "Safari", "Edge"];
    (0..per_day)
        .map(|_| {
            let at = date.midnight().assume_utc() + time::Duration::milliseconds(rng.random_range(0..86_400_000));
            // A few issues make most reports, as in real applications.
            let issue = (rng.random::<f64>().powi(3) * 300.0) as u64;
            let mut e = obscura_ingest::synthetic::pageview(site, rng.random_range(0..per_day as u64 / 3 + 1), at, "/checkout");
            e.kind = EventKind::Error;
            e.visit = 0;
            e.visit_seq = 0;
            e.browser = Some(scrub_text(browsers[rng.random_range(0..4)]));
            e.name = Some(scrub_text(&format!("{issue:016x}")));
            let kind = KINDS[(issue % 6) as usize];
            e.props = [
                ("type", kind.to_owned()),
                ("message", format!("failed in handler {issue}")),
                ("culprit", format!("handler{issue} (/js/app.js)")),
                ("level", "error".to_owned()),
                ("release", format!("shop@1.{}.0", rng.random_range(0..4))),
                ("environment", "production".to_owned()),
                ("frames", format!("handler{issue} (https://{BENCH_SITE}/js/app.js:42)\ndispatch (https://{BENCH_SITE}/js/vendor.js:1) [library]")),
            ]
            .iter()
            .map(|(k, v)| (scrub_text(k), scrub_text(v)))
            .collect();
            e
        })
        .collect()
}

/// The Errors tab's queries (the list, its two filter rows), a filtered list and an issue's
/// page (the issue, five breakdowns, its latest reports): the tab once as the first view ever
/// (every finished day read from its rows), then maintenance's round of questions (which reads
/// the days' cells), then each view once as the first since and each query's median as views come
/// again.
async fn tab_queries(app: &App, q: &Query, runs: usize) -> anyhow::Result<Vec<(String, f64)>> {
    let store = app.store.as_ref();
    let cold = Instant::now();
    tab(store, q).await?;
    let mut rows = vec![(
        "the Errors tab, first view before maintenance (3 queries)".to_owned(),
        cold.elapsed().as_secs_f64() * 1000.0,
    )];
    let warm = Instant::now();
    app.maintenance.warm_errors().await;
    rows.push(("maintenance's round of the Errors tab's questions".to_owned(), warm.elapsed().as_secs_f64() * 1000.0));
    let ms = median_ms(runs, || async { store.issues(q, 100).await.map(drop) }).await?;
    rows.push(("issues with trend (100)".to_owned(), ms));
    for (name, dim) in [("reports by release", release()), ("reports by environment", environment())] {
        let ms = median_ms(runs, || async { store.error_breakdown(q, &dim, 20).await.map(drop) }).await?;
        rows.push((name.to_owned(), ms));
    }
    let again: f64 = rows[2..].iter().map(|(_, ms)| ms).sum();
    rows.push(("**the Errors tab, again (3 queries)**".to_owned(), again));
    let filtered = Query { filters: vec![Filter::parse("prop:release==shop@1.2.0")?], ..q.clone() };
    let cold = Instant::now();
    store.issues(&filtered, 100).await?;
    rows.push(("issues filtered by release, first view".to_owned(), cold.elapsed().as_secs_f64() * 1000.0));
    let ms = median_ms(runs, || async { store.issues(&filtered, 100).await.map(drop) }).await?;
    rows.push(("issues filtered by release, again".to_owned(), ms));
    // The second issue: maintenance asked about the top one.
    let issues = store.issues(q, 2).await?;
    let second = issues.get(1).context("fewer than two issues were loaded")?;
    let one = Query { filters: vec![Filter::parse(&format!("event=={}", second.fingerprint))?], ..q.clone() };
    let cold = Instant::now();
    issue_page(store, &one).await?;
    rows.push((
        format!("an issue's page, first view (7 queries; {} reports)", second.events),
        cold.elapsed().as_secs_f64() * 1000.0,
    ));
    let ms = median_ms(runs, || issue_page(store, &one)).await?;
    rows.push(("**an issue's page, again (7 queries)**".to_owned(), ms));
    Ok(rows)
}

fn release() -> Dimension {
    Dimension::Prop("release".into())
}

fn environment() -> Dimension {
    Dimension::Prop("environment".into())
}

/// An issue's page: the issue, its latest reports and five breakdowns.
async fn issue_page(store: &dyn EventStore, one: &Query) -> Result<(), obscura_store::StoreError> {
    store.issues(one, 1).await?;
    store.error_reports(one, 20).await?;
    for d in [release(), environment(), Dimension::Browser, Dimension::Os, Dimension::Page] {
        store.error_breakdown(one, &d, 10).await?;
    }
    Ok(())
}

/// The Errors tab's first screen: the issue list and its two filter rows.
async fn tab(store: &dyn EventStore, q: &Query) -> anyhow::Result<()> {
    store.issues(q, 100).await?;
    store.error_breakdown(q, &release(), 20).await?;
    store.error_breakdown(q, &environment(), 20).await?;
    Ok(())
}

/// Runs `obscura bench errors`; with `clickhouse`, the queries also on the ClickHouse cluster
/// of the configuration, side by side.
pub async fn run(
    connections: usize,
    seconds: u64,
    reports: usize,
    runs: usize,
    clickhouse: bool,
) -> anyhow::Result<()> {
    if clickhouse {
        crate::bench::check_clickhouse_configured("bench errors")?;
    }
    ingest(connections, StdDuration::from_secs(seconds)).await?;
    let embedded = queries(Backend::Embedded, reports, runs).await?;
    let beside = if clickhouse { Some(queries(Backend::ClickHouse, reports, runs).await?) } else { None };
    crate::bench::print_side_by_side("errors query", runs, &embedded, beside.as_deref());
    Ok(())
}

async fn ingest(connections: usize, duration: StdDuration) -> anyhow::Result<()> {
    let dir = tempfile_dir("obscura-bench-errors")?;
    let (app, _) = fresh_app_with(&dir, |c| c.limits.errors_per_minute = 10_000_000).await?;
    let site = app.pipeline.resolve_site(BENCH_SITE)?;
    let key = site.error_key.clone().context("the bench site has a DSN key")?;
    let store = app.store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(app::serve(app, listener));
    println!(
        "bench errors: {} store, {connections} keep-alive connections, {}s per phase; the load generator is a second process on this machine",
        store.backend(),
        duration.as_secs()
    );
    let rss = RssSampler::start();
    let (bare, _) =
        load_from_process(format!("{base}/health"), LoadKind::Bare, connections, duration, 0, &rss, None).await?;
    let before = store.count_events().await?;
    let url = format!("{base}/api/{}/envelope/?sentry_key={key}", site.id);
    let (errors, peak) = load_from_process(url, LoadKind::Envelope, connections, duration, 0, &rss, None).await?;
    let stored = store.count_events().await? - before;
    println!();
    println!("| phase | requests/s | reports stored/s | p50 ms | p99 ms | failed | server peak RSS MB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| bare `GET /health` (ceiling) | {:.0} | – | {:.2} | {:.2} | {} | – |",
        bare.rate(),
        bare.p50_ms,
        bare.p99_ms,
        bare.failed
    );
    println!(
        "| Sentry envelopes `POST /api/{{site}}/envelope/` (one event each) | {:.0} | {:.0} | {:.2} | {:.2} | {} | {peak:.0} |",
        errors.rate(),
        stored as f64 / errors.elapsed.as_secs_f64(),
        errors.p50_ms,
        errors.p99_ms,
        errors.failed
    );
    println!("envelopes / bare ceiling: {:.2}", errors.rate() / bare.rate());
    server.abort();
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Loads `reports` error reports over 30 days into a fresh store of `backend` and times the
/// Errors tab's questions over them.
async fn queries(backend: Backend, reports: usize, runs: usize) -> anyhow::Result<Vec<(String, f64)>> {
    let dir = tempfile_dir("obscura-bench-errors-query")?;
    let (app, _): (App, String) = fresh_app_with(&dir, |c| c.backend = backend).await?;
    let site = app.pipeline.resolve_site(BENCH_SITE)?.id;
    let t = Instant::now();
    for day in 0..30 {
        app.store.import(error_history(site, reports, day)).await?;
    }
    println!();
    println!(
        "bench errors queries, {} store: {} error reports over 30 days loaded in {:.1}s",
        app.store.backend(),
        reports / 30 * 30,
        t.elapsed().as_secs_f64()
    );
    let today = time::OffsetDateTime::now_utc().date();
    let q = Query {
        site,
        range: TimeRange::days(today - time::Duration::days(30), today - time::Duration::days(1))?,
        filters: vec![],
    };
    let mut rows = tab_queries(&app, &q, runs).await?;
    // A restart: the finished days' answers and cells (read above, as maintenance reads them
    // every minute) come from where the backend saved them.
    let store: Arc<dyn EventStore> = app.store.clone();
    drop(app);
    store.close();
    drop(store);
    let (app, _) = fresh_app_with(&dir, |c| c.backend = backend).await?;
    let restarted = Instant::now();
    tab(app.store.as_ref(), &q).await?;
    rows.push(("the Errors tab, first view after a restart".to_owned(), restarted.elapsed().as_secs_f64() * 1000.0));
    let by_browser = Query { filters: vec![Filter::parse("browser==Firefox")?], ..q.clone() };
    let cold = Instant::now();
    app.store.issues(&by_browser, 100).await?;
    rows.push((
        "issues filtered by browser (never asked), first view after a restart".to_owned(),
        cold.elapsed().as_secs_f64() * 1000.0,
    ));
    let issues = app.store.issues(&q, 3).await?;
    let third = issues.get(2).context("fewer than three issues were loaded")?;
    let one = Query { filters: vec![Filter::parse(&format!("event=={}", third.fingerprint))?], ..q.clone() };
    let cold = Instant::now();
    issue_page(app.store.as_ref(), &one).await?;
    rows.push((
        format!("an issue's page, first view after a restart ({} reports)", third.events),
        cold.elapsed().as_secs_f64() * 1000.0,
    ));
    let store: Arc<dyn EventStore> = app.store.clone();
    drop(app);
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_errors_envelopes_decode_as_one_event_each() {
        let body = envelope_body(7);
        let envelope = obscura_ingest::decode::sentry::envelope(body.as_bytes()).expect("a valid envelope");
        assert_eq!(envelope.events.len(), 1);
        assert_eq!(envelope.event_id.as_deref(), Some("00000000000000000000000000000007"));
        assert_eq!(envelope.events[0].exceptions[0].frames.len(), 2);
    }
}
