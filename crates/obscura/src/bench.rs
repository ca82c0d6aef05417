//! The benchmark harness: `obscura bench ingest`, `obscura bench query`, `obscura bench purge`,
//! and `obscura bench speed` (in [`crate::speed_bench`]).
//!
//! Figures are reported side by side from one run (the machine is shared and noisy): ingest is
//! compared with a bare 204 route of the same server under the same load.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use obscura_model::SystemClock;
use obscura_query::{Dimension, Interval, Query, TimeRange};
use obscura_store::meta::Role;
use obscura_store::{EventStore, StoreError};

use crate::app::{self, App};
use crate::config::{Backend, Config};
use crate::load_profile::LoadProfile;
use crate::{admin, demo};

/// The `obscura bench` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCmd {
    /// Durable ingest over HTTP (keep-alive), beside a bare 204 route of the same server, then
    /// again while day files are written.
    Ingest {
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Events per day file in the last phase (`flush_rows`), low enough that day files are
        /// written while events arrive; the other phases use the configured value.
        #[arg(long, default_value_t = 50_000)]
        flush_rows: usize,
        /// Only the simple load: one client address, 97 User-Agents, one kind of pageview.
        /// By default the realistic load (see `load_profile`) runs too, and the day-file phase
        /// uses it.
        #[arg(long)]
        simple: bool,
        /// Where events are stored: the embedded store, or the ClickHouse cluster of the
        /// configuration (`[clickhouse] shards` or `OBSCURA_CLICKHOUSE_SHARDS`; a fresh database
        /// each run). ClickHouse writes no day files, so the day-file phase is the embedded
        /// store's only.
        #[arg(long, value_enum, default_value = "embedded")]
        backend: crate::config::Backend,
        /// Ingest nodes, each with its own data folder, sharing the ClickHouse database and
        /// (from 2 on) the PostgreSQL of the configuration (`[postgres] url` or
        /// `OBSCURA_POSTGRES_URL`, a fresh schema each run) for metadata, salts and open visits;
        /// requests go to them in turn, as from a round-robin load balancer. With PostgreSQL
        /// configured, a single node shares its visits there too, so the cost of shared visits
        /// shows beside a run without it.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// With ClickHouse: answer once the shards acknowledged (`cluster`) or once the node's
        /// spool holds the events (`node`); the configuration's `clickhouse.acknowledge` otherwise.
        #[arg(long, value_enum)]
        acknowledge: Option<crate::config::Acknowledge>,
    },
    /// The load generator of `bench ingest`, run as its own process so that the server's
    /// memory and CPU figures are the server's alone. Prints `ok failed elapsed_µs p50_µs
    /// p99_µs`; with `--samples FILE`, writes one `sent_µs_since_epoch latency_µs` line per
    /// request there.
    #[command(hide = true)]
    Load {
        /// The URL requests go to; several, comma-separated, take requests in turn.
        #[arg(long)]
        url: String,
        /// What to send.
        #[arg(long)]
        load: LoadKind,
        /// Concurrent keep-alive connections.
        #[arg(long)]
        connections: usize,
        /// How long to send, in milliseconds.
        #[arg(long)]
        millis: u64,
        /// The first request number (request numbers pick visitors in the realistic load).
        #[arg(long, default_value_t = 0)]
        first: u64,
        /// Where to write each request's send time and latency.
        #[arg(long)]
        samples: Option<std::path::PathBuf>,
    },
    /// Every dashboard query over N generated events spread over 30 days.
    Query {
        /// Events to load (1M default; 10M for the large run).
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Runs per query (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also load the same traffic into the ClickHouse cluster of the configuration (a fresh
        /// database) and run every query there, side by side.
        #[arg(long)]
        clickhouse: bool,
    },
    /// Speed beacons over HTTP beside the bare-route ceiling, then the speed dashboard's
    /// queries over N beacons spread over 30 days.
    Speed {
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds per ingest phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Beacons to load for the queries (1M default).
        #[arg(long, default_value_t = 1_000_000)]
        beacons: usize,
        /// Runs per query (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also load the same beacons into the ClickHouse cluster of the configuration (a fresh
        /// database) and run every speed query there, side by side.
        #[arg(long)]
        clickhouse: bool,
    },
    /// Sentry envelopes over HTTP beside the bare-route ceiling, then the Errors tab's queries
    /// over N error reports spread over 30 days.
    Errors {
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds per ingest phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Error reports to load for the queries (1M default).
        #[arg(long, default_value_t = 1_000_000)]
        reports: usize,
        /// Runs per query (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also load the same reports into the ClickHouse cluster of the configuration (a fresh
        /// database) and run every query there, side by side.
        #[arg(long)]
        clickhouse: bool,
    },
    /// `obscura import logs` of a generated nginx log of N lines (7 days of a site's page
    /// views, their assets, a crawler, redirects and missing pages), plain and gzipped.
    Import {
        /// Lines in the log (1M default).
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
    },
    /// Crash safety: N cycles of load through the batch API, `kill -9` of the server at a
    /// random moment and a restart; counts acknowledged events lost and events duplicated.
    Crash {
        /// Kill-and-restart cycles.
        #[arg(long, default_value_t = 200)]
        cycles: u32,
    },
    /// Retention (P13): destroying a whole day of N events, and re-keying a day to remove
    /// one site's rows.
    Purge {
        /// Events in the day (1M default).
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
    },
}

/// Runs one `obscura bench` subcommand.
pub async fn run(cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Purge { events } => purge(events).await,
        BenchCmd::Crash { cycles } => crate::crash_bench::bench(cycles).await,
        BenchCmd::Import { lines } => {
            // As `obscura import` runs.
            crate::app::without_huge_pages();
            import_logs(lines).await
        }
        BenchCmd::Ingest { connections, seconds, flush_rows, simple, backend, nodes, acknowledge } => {
            let setup = IngestSetup { backend, nodes, acknowledge };
            ingest(connections, StdDuration::from_secs(seconds), flush_rows, simple, setup).await
        }
        BenchCmd::Query { events, runs, clickhouse } => query(events, runs, clickhouse).await,
        BenchCmd::Speed { connections, seconds, beacons, runs, clickhouse } => {
            crate::speed_bench::run(connections, seconds, beacons, runs, clickhouse).await
        }
        BenchCmd::Errors { connections, seconds, reports, runs, clickhouse } => {
            crate::errors_bench::run(connections, seconds, reports, runs, clickhouse).await
        }
        BenchCmd::Load { url, load, connections, millis, first, samples } => {
            generate_load(&url, load, connections, StdDuration::from_millis(millis), first, samples).await
        }
    }
}

/// What a load-generator process sends.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum LoadKind {
    /// `GET` of the given URL.
    Bare,
    /// The simple pageview of [`simple_event`].
    Simple,
    /// The realistic mix of [`LoadProfile`].
    Realistic,
    /// Speed beacons of the tracker's performance part.
    Speed,
    /// Sentry envelopes of one error report each (the URL carries the DSN key).
    Envelope,
}

impl LoadKind {
    fn name(self) -> &'static str {
        match self {
            LoadKind::Bare => "bare",
            LoadKind::Simple => "simple",
            LoadKind::Realistic => "realistic",
            LoadKind::Speed => "speed",
            LoadKind::Envelope => "envelope",
        }
    }
}

/// The `bench load` process: sends `kind` requests to `url` and prints the outcome.
async fn generate_load(
    url: &str,
    kind: LoadKind,
    connections: usize,
    duration: StdDuration,
    first: u64,
    samples: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let urls: Vec<String> = url.split(',').map(str::to_owned).collect();
    let n = urls.len() as u64;
    let phase = match kind {
        LoadKind::Bare => load(connections, duration, move |c, i| c.get(&urls[(i % n) as usize])).await,
        LoadKind::Simple => {
            let events: Vec<_> = urls.into_iter().map(simple_event).collect();
            load(connections, duration, move |c, i| events[(i % n) as usize](c, i + first)).await
        }
        LoadKind::Speed => {
            let events: Vec<_> = urls.into_iter().map(crate::speed_bench::speed_event).collect();
            load(connections, duration, move |c, i| events[(i % n) as usize](c, i + first)).await
        }
        LoadKind::Envelope => {
            let events: Vec<_> = urls.into_iter().map(crate::errors_bench::envelope_request).collect();
            load(connections, duration, move |c, i| events[(i % n) as usize](c, i + first)).await
        }
        LoadKind::Realistic => {
            let profile = Arc::new(realistic_profile()?);
            eprintln!(
                "realistic load: addresses from {} public ranges{}, {} browser builds, new visitors every 5 events, the access log on",
                profile.ranges(),
                if profile.ranges() > 100_000 {
                    " of the network operator database"
                } else {
                    " (built-in; run scripts/fetch-data for the real list)"
                },
                profile.browsers().len()
            );
            let events: Vec<_> = urls.into_iter().map(|url| realistic_event(url, profile.clone())).collect();
            load(connections, duration, move |c, i| events[(i % n) as usize](c, i + first)).await
        }
    };
    println!(
        "{} {} {} {} {}",
        phase.ok,
        phase.failed,
        phase.elapsed.as_micros(),
        (phase.p50_ms * 1000.0).round() as u64,
        (phase.p99_ms * 1000.0).round() as u64
    );
    if let Some(path) = samples {
        let (now, epoch_now) = (Instant::now(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?);
        let mut out = String::with_capacity(phase.samples.len() * 24);
        use std::fmt::Write as _;
        for (sent, us) in &phase.samples {
            let sent_epoch = epoch_now.saturating_sub(now.duration_since(*sent));
            writeln!(out, "{} {us}", sent_epoch.as_micros())?;
        }
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Runs one phase in a load-generator process (`obscura bench load`). Returns the phase and
/// the server's highest resident memory while it ran. With `keep_samples`, the requests' send
/// times and latencies come back too, read only after the memory figure is taken.
pub(crate) async fn load_from_process(
    url: String,
    kind: LoadKind,
    connections: usize,
    duration: StdDuration,
    first: u64,
    rss: &RssSampler,
    keep_samples: Option<&std::path::Path>,
) -> anyhow::Result<(Phase, f64)> {
    let exe = std::env::current_exe().context("finding the obscura binary for the load generator")?;
    let mut command = std::process::Command::new(exe);
    command
        .args(["bench", "load", "--url", &url, "--load", kind.name()])
        .args(["--connections", &connections.to_string(), "--millis", &duration.as_millis().to_string()])
        .args(["--first", &first.to_string()])
        .stderr(std::process::Stdio::inherit());
    if let Some(path) = keep_samples {
        command.arg("--samples").arg(path);
    }
    rss.phase_peak_mb();
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let peak = rss.phase_peak_mb();
    anyhow::ensure!(output.status.success(), "the load generator failed: {}", output.status);
    let text = String::from_utf8(output.stdout).context("load generator output")?;
    let summary: Vec<u64> =
        text.split_whitespace().map(str::parse).collect::<Result<_, _>>().context("load generator summary")?;
    let [ok, failed, elapsed_us, p50_us, p99_us] = summary[..] else { anyhow::bail!("load generator summary: {text}") };
    let mut phase = Phase {
        ok,
        failed,
        elapsed: StdDuration::from_micros(elapsed_us),
        p50_ms: p50_us as f64 / 1000.0,
        p99_ms: p99_us as f64 / 1000.0,
        samples: Vec::new(),
    };
    if let Some(path) = keep_samples {
        // Send times come as microseconds since the epoch; map them onto this process's clock.
        let (now, epoch_now) = (Instant::now(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?);
        let text = std::fs::read_to_string(path).context("load generator samples")?;
        for line in text.lines() {
            let (sent, us) = line.split_once(' ').context("load generator sample")?;
            let sent = StdDuration::from_micros(sent.parse().context("load generator sample")?);
            let sent = now.checked_sub(epoch_now.saturating_sub(sent)).unwrap_or(now);
            phase.samples.push((sent, us.parse().context("load generator sample")?));
        }
    }
    Ok((phase, peak))
}

/// The realistic load, with the network operator database's address ranges when installed.
fn realistic_profile() -> anyhow::Result<LoadProfile> {
    let config = Config::load(None)?;
    let asn_csv = config.enrich.asn_databases.iter().find(|p| p.to_string_lossy().ends_with("ipv4.csv")).cloned();
    Ok(LoadProfile::new(BENCH_SITE, asn_csv.as_deref()))
}

pub(crate) const BENCH_SITE: &str = "bench.obscura.test";

/// A fresh app in a temporary folder with the bench site and an owner; returns the owner's password.
pub(crate) async fn fresh_app(dir: &std::path::Path) -> anyhow::Result<(App, String)> {
    fresh_app_with(dir, |_| {}).await
}

/// Like [`fresh_app`], with a change to the configuration.
pub(crate) async fn fresh_app_with(
    dir: &std::path::Path,
    configure: impl FnOnce(&mut Config),
) -> anyhow::Result<(App, String)> {
    let mut config = Config::load(None)?;
    configure(&mut config);
    config.data_dir = dir.join("data");
    config.master_key_file = dir.join("master.key");
    config.master_key_hex = None;
    if config.postgres.url.is_some() {
        config.postgres.schema = Some(format!("obscura_bench_{}", std::process::id()));
    }
    if config.backend == Backend::ClickHouse {
        config.clickhouse.database = format!("obscura_bench_{}", std::process::id());
        config.validate().context(
            "the ClickHouse benchmark needs [clickhouse] shards or OBSCURA_CLICKHOUSE_SHARDS \
             (scripts/clickhouse-cluster start runs a local two-shard cluster)",
        )?;
    }
    let app = app::open(&config, Arc::new(SystemClock)).await?;
    // A further node of one installation (shared metadata) finds the site and owner made.
    if app.meta.get().site_by_domain(BENCH_SITE).is_some() {
        return Ok((app, String::new()));
    }
    admin::add_site(&*app.meta, BENCH_SITE, true, obscura_store::meta::MAX_RETENTION_DAYS)?;
    let password = admin::add_user(&*app.meta, "bench", Role::Owner, None)?;
    Ok((app, password))
}

pub(crate) struct Phase {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) elapsed: StdDuration,
    /// Median and 99th-percentile latency, in ms.
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// When each request was sent, and how long its answer took (µs); only when asked for.
    pub(crate) samples: Vec<(Instant, u32)>,
}

impl Phase {
    pub(crate) fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// The `p` quantile of `latencies_us`, in milliseconds.
fn percentile(mut latencies_us: Vec<u32>, p: f64) -> f64 {
    if latencies_us.is_empty() {
        return 0.0;
    }
    latencies_us.sort_unstable();
    let idx = ((latencies_us.len() - 1) as f64 * p).round() as usize;
    latencies_us[idx] as f64 / 1000.0
}

/// Runs `connections` workers, each sending requests back to back for `duration`.
async fn load<F>(connections: usize, duration: StdDuration, make: F) -> Phase
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
    let make = Arc::new(make);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let client = client.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut samples) = (0u64, 0u64, Vec::new());
            let mut i = worker as u64 * 1_000_000_000;
            while Instant::now() < deadline {
                let t = Instant::now();
                match make(&client, i).send().await {
                    Ok(r) if r.status().is_success() => ok += 1,
                    _ => failed += 1,
                }
                samples.push((t, t.elapsed().as_micros().min(u32::MAX as u128) as u32));
                i += 1;
            }
            (ok, failed, samples)
        }));
    }
    let mut phase =
        Phase { ok: 0, failed: 0, elapsed: StdDuration::ZERO, p50_ms: 0.0, p99_ms: 0.0, samples: Vec::new() };
    for t in tasks {
        let (ok, failed, mut samples) = t.await.expect("worker");
        phase.ok += ok;
        phase.failed += failed;
        phase.samples.append(&mut samples);
    }
    phase.elapsed = start.elapsed();
    let latencies: Vec<u32> = phase.samples.iter().map(|(_, us)| *us).collect();
    (phase.p50_ms, phase.p99_ms) = (percentile(latencies.clone(), 0.5), percentile(latencies, 0.99));
    phase
}

/// One line of the ingest table.
fn row(label: &str, phase: &Phase) {
    println!("| {label} | {:.0} | {:.2} | {:.2} | {} |", phase.rate(), phase.p50_ms, phase.p99_ms, phase.failed);
}

/// The simple load: one client address, 97 User-Agent variants, one kind of pageview.
fn simple_event(
    url: String,
) -> impl Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Clone + Send + Sync + 'static {
    move |c: &reqwest::Client, i: u64| {
        let body = format!(
            r#"{{"site":"{BENCH_SITE}","kind":"pageview","url":"https://{BENCH_SITE}/page/{}?utm_source=bench","referrer":"https://www.google.com/","screen_width":1440,"returning":true,"days_since_last":"2-7","visit_count":"2-3"}}"#,
            i % 500
        );
        c.post(&url)
            .header("content-type", "text/plain")
            .header(
                "user-agent",
                format!("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.{}", i % 97),
            )
            .body(body)
    }
}

/// The realistic load of [`LoadProfile`], sent through the trusted proxy header.
fn realistic_event(
    url: String,
    profile: Arc<LoadProfile>,
) -> impl Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Clone + Send + Sync + 'static {
    move |c: &reqwest::Client, i: u64| {
        let r = profile.request(i);
        let mut req = c
            .post(&url)
            .header("content-type", "text/plain")
            .header("user-agent", r.browser.user_agent.as_str())
            .header("x-forwarded-for", r.forwarded_for.to_string());
        if let Some((ua, mobile, platform)) = &r.browser.hints {
            req = req
                .header("sec-ch-ua", ua.as_str())
                .header("sec-ch-ua-mobile", *mobile)
                .header("sec-ch-ua-platform", *platform);
        }
        req.body(r.body)
    }
}

/// The process's peak resident memory since it started (data files loading included), in MB.
fn peak_rss_mb() -> Option<f64> {
    memory_mb("VmHWM:")
}

/// The highest resident memory seen during each phase, sampled every 50 ms.
pub(crate) struct RssSampler {
    max_kb: Arc<std::sync::atomic::AtomicU64>,
}

impl RssSampler {
    pub(crate) fn start() -> Self {
        let max_kb = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sampled = Arc::downgrade(&max_kb);
        tokio::spawn(async move {
            while let Some(max_kb) = sampled.upgrade() {
                let kb = memory_mb("VmRSS:").map_or(0, |mb| (mb * 1024.0) as u64);
                max_kb.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                drop(max_kb);
                tokio::time::sleep(StdDuration::from_millis(50)).await;
            }
        });
        Self { max_kb }
    }

    /// The highest figure since the last call, in MB; starts the next phase.
    fn phase_peak_mb(&self) -> f64 {
        let kb = self.max_kb.swap(0, std::sync::atomic::Ordering::Relaxed);
        kb as f64 / 1024.0
    }
}

/// A memory figure of this process from `/proc/self/status`, in MB.
fn memory_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Where `bench ingest` stores events, through how many nodes.
struct IngestSetup {
    backend: Backend,
    nodes: usize,
    acknowledge: Option<crate::config::Acknowledge>,
}

async fn ingest(
    connections: usize,
    duration: StdDuration,
    flush_rows: usize,
    simple_only: bool,
    IngestSetup { backend, nodes, acknowledge }: IngestSetup,
) -> anyhow::Result<()> {
    let dir = tempfile_dir("obscura-bench-ingest")?;
    let config = Config::load(None)?;
    anyhow::ensure!(nodes >= 1, "--nodes must be at least 1");
    anyhow::ensure!(
        nodes == 1 || (backend == Backend::ClickHouse && config.postgres.url.is_some()),
        "--nodes {nodes} needs --backend clickhouse and PostgreSQL for what the nodes share ([postgres] url or \
         OBSCURA_POSTGRES_URL; scripts/postgres-test start runs one)"
    );
    let mut apps = Vec::new();
    for n in 0..nodes {
        let node_dir = dir.join(format!("node{n}"));
        if n > 0 {
            // One installation: every node has the same master key.
            std::fs::create_dir_all(&node_dir)?;
            std::fs::copy(dir.join("node0/master.key"), node_dir.join("master.key"))?;
        }
        // The realistic load comes through a proxy on loopback, as behind nginx or a load balancer.
        let (app, _) = fresh_app_with(&node_dir, |c| {
            c.trusted_proxies = vec!["127.0.0.1".into()];
            c.backend = backend;
            if let Some(acknowledge) = acknowledge {
                c.clickhouse.acknowledge = acknowledge;
            }
        })
        .await?;
        apps.push(app);
    }
    let store = apps[0].store.clone();
    let embedded = apps[0].embedded.clone();
    let pipelines: Vec<_> = apps.iter().map(|a| a.pipeline.clone()).collect();
    let shared_visits = config.postgres.url.is_some() && backend == Backend::ClickHouse;
    let mut addrs = Vec::new();
    let mut servers = Vec::new();
    for app in apps {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        addrs.push(listener.local_addr()?);
        servers.push(tokio::spawn(app::serve(app, listener)));
    }
    let acknowledged_when = match (backend, acknowledge.unwrap_or(config.clickhouse.acknowledge)) {
        (Backend::Embedded, _) => "",
        (_, crate::config::Acknowledge::Cluster) => ", acknowledged by the shards",
        (_, crate::config::Acknowledge::Node) => ", acknowledged once in the node's spool",
    };
    println!(
        "bench ingest: {} store{acknowledged_when}, {nodes} node{} in this process{}, {connections} keep-alive connections, {}s per phase; the load generator is a second process on this machine",
        store.backend(),
        if nodes == 1 { "" } else { "s" },
        if shared_visits { ", open visits, salts and metadata shared in PostgreSQL" } else { "" },
        duration.as_secs()
    );

    let rss = RssSampler::start();
    let at_start = memory_mb("VmRSS:").unwrap_or(0.0);
    let urls = |path: &str| addrs.iter().map(|a| format!("http://{a}{path}")).collect::<Vec<_>>().join(",");
    let health = urls("/health");
    let url = urls("/api/event");
    let (bare, bare_peak) = load_from_process(health, LoadKind::Bare, connections, duration, 0, &rss, None).await?;
    let (simple, simple_peak) =
        load_from_process(url.clone(), LoadKind::Simple, connections, duration, 0, &rss, None).await?;
    let (realistic, realistic_peak) = if simple_only {
        (None, 0.0)
    } else {
        let (phase, peak) =
            load_from_process(url.clone(), LoadKind::Realistic, connections, duration, 0, &rss, None).await?;
        (Some(phase), peak)
    };
    // The same load with nothing weighed, side by side and taking turns (the machine is shared
    // and the store grows): what telling people from robots costs.
    let mut turns = Vec::new();
    if !simple_only {
        for turn in 0..4u64 {
            let weighed = turn % 2 == 1;
            pipelines.iter().for_each(|p| p.set_classifying(weighed));
            let first = 100_000_000 * (turn + 1);
            let (phase, _) =
                load_from_process(url.clone(), LoadKind::Realistic, connections, duration, first, &rss, None).await?;
            turns.push((weighed, phase));
        }
        pipelines.iter().for_each(|p| p.set_classifying(true));
    }
    // Again while today's events are written to day files every `flush_rows` events (the first
    // file also takes the rows of the phases before).
    let flushing_load = if simple_only { LoadKind::Simple } else { LoadKind::Realistic };
    let mut flushing = None;
    if let Some(embedded) = &embedded {
        embedded.set_flush_rows(flush_rows);
        let from = Instant::now();
        // Request numbers no earlier phase reached: new visitors again.
        let samples_file = dir.join("load-samples.txt");
        let (phase, peak) = load_from_process(
            url.clone(),
            flushing_load,
            connections,
            duration,
            500_000_000,
            &rss,
            Some(&samples_file),
        )
        .await?;
        let to = Instant::now();
        embedded.set_flush_rows(config.flush_rows);
        let flushes: Vec<_> = embedded.flushes().into_iter().filter(|f| f.finished > from && f.started < to).collect();
        flushing = Some((phase, peak, flushes));
    }
    let flushing_load = flushing_load.name();

    let acknowledged = simple.ok
        + realistic.as_ref().map_or(0, |r| r.ok)
        + turns.iter().map(|(_, phase)| phase.ok).sum::<u64>()
        + flushing.as_ref().map_or(0, |(phase, _, _)| phase.ok);
    // Acknowledged on the node, the last events reach ClickHouse a moment later.
    let load_ended = Instant::now();
    let mut stored = store.count_events().await?;
    while stored < acknowledged && load_ended.elapsed() < StdDuration::from_secs(60) {
        tokio::time::sleep(StdDuration::from_millis(50)).await;
        stored = store.count_events().await?;
    }
    let caught_up_ms = load_ended.elapsed().as_millis();
    println!();
    println!("| route | requests/s | p50 ms | p99 ms | failed |");
    println!("|---|---:|---:|---:|---:|");
    row("GET /health (bare 204)", &bare);
    row("POST /api/event, simple load (durable)", &simple);
    if let Some(realistic) = &realistic {
        row("POST /api/event, realistic load (durable)", realistic);
    }
    for (weighed, phase) in &turns {
        row(
            &format!("POST /api/event, realistic load, {}", if *weighed { "weighed" } else { "nothing weighed" }),
            phase,
        );
    }
    if let Some((phase, _, _)) = &flushing {
        row(&format!("POST /api/event, {flushing_load} load, a day file every {flush_rows} events"), phase);
    }
    println!();
    if let Some((phase, _, flushes)) = &flushing {
        let files: Vec<String> =
            flushes.iter().map(|f| format!("{} rows in {} ms", f.rows, (f.finished - f.started).as_millis())).collect();
        println!("day files written in the last phase: {} ({})", flushes.len(), files.join(", "));
        let overlaps = |(sent, us): &(Instant, u32)| {
            let answered = *sent + StdDuration::from_micros(u64::from(*us));
            flushes.iter().any(|f| *sent < f.finished && answered > f.started)
        };
        type Samples = Vec<(Instant, u32)>;
        let (during, outside): (Samples, Samples) = phase.samples.iter().copied().partition(overlaps);
        let during_latencies: Vec<u32> = during.iter().map(|(_, us)| *us).collect();
        let outside_latencies: Vec<u32> = outside.iter().map(|(_, us)| *us).collect();
        println!(
            "p99 across a day-file write: {:.2} ms over {} requests (p50 {:.2} ms); p99 outside: {:.2} ms over {} requests",
            percentile(during_latencies.clone(), 0.99),
            during.len(),
            percentile(during_latencies, 0.5),
            percentile(outside_latencies, 0.99),
            outside.len()
        );
    }
    println!(
        "acknowledged events: {acknowledged}; stored events counted in the store: {stored} (counted {caught_up_ms} ms after the load ended)"
    );
    println!("durable ingest / bare-route ceiling: simple load {:.2}", simple.rate() / bare.rate());
    if !turns.is_empty() {
        let rate = |weighed: bool| {
            let phases: Vec<_> = turns.iter().filter(|(w, _)| *w == weighed).map(|(_, p)| p.rate()).collect();
            phases.iter().sum::<f64>() / phases.len() as f64
        };
        println!(
            "telling people from robots, side by side in turns: realistic load {:.0} events/s weighed, {:.0} not weighed, {:.1} % fewer (target: at most 5 %)",
            rate(true),
            rate(false),
            100.0 * (1.0 - rate(true) / rate(false))
        );
    }
    if let Some(realistic) = &realistic {
        println!("durable ingest / bare-route ceiling: realistic load {:.2}", realistic.rate() / bare.rate());
    }
    for (n, pipeline) in pipelines.iter().enumerate() {
        let (open_visits, forgotten) = pipeline.visit_stats();
        let locally = pipeline.visits_assigned_locally.load(std::sync::atomic::Ordering::Relaxed);
        let shared = if shared_visits {
            format!("; visits assigned from this node's memory because PostgreSQL did not answer: {locally}")
        } else {
            String::new()
        };
        println!(
            "node {n}: open visits at the end: {open_visits} (forgotten early at the ceiling: {forgotten}); parsed User-Agents cached: {}{shared}",
            pipeline.enricher().cached_devices()
        );
    }
    let realistic_peak = if simple_only { String::new() } else { format!(", realistic {realistic_peak:.0} MB") };
    let flushing_peak = flushing
        .as_ref()
        .map_or(String::new(), |(_, peak, _)| format!(", {flushing_load} with day files {peak:.0} MB"));
    println!(
        "resident memory of the server, highest in each phase: before any load {at_start:.0} MB, bare {bare_peak:.0} MB, simple {simple_peak:.0} MB{realistic_peak}{flushing_peak}"
    );
    if let Some(mb) = peak_rss_mb() {
        println!(
            "peak resident memory of the process since it started (data files loading included): {mb:.0} MB; now {:.0} MB, of which {:.0} MB anonymous and {:.0} MB mapped files",
            memory_mb("VmRSS:").unwrap_or(0.0),
            memory_mb("RssAnon:").unwrap_or(0.0),
            memory_mb("RssFile:").unwrap_or(0.0)
        );
    }
    if stored != acknowledged {
        anyhow::bail!("stored {stored} events but acknowledged {acknowledged}");
    }
    if flushing.as_ref().is_some_and(|(_, _, flushes)| flushes.is_empty()) {
        anyhow::bail!("no day file was written in the last phase: lower --flush-rows");
    }
    let scrub_us = scrub_micros_per_event(200_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let share = scrub_us * 1e-6 * simple.rate() / cores;
    println!(
        "scrubbing (every text field of the simple event): {scrub_us:.2} µs per event; at {:.0} events/s on {cores} cores, {:.1} % of the CPU time",
        simple.rate(),
        share * 100.0
    );
    let (classify_us, people) = classify_micros_per_request(200_000, &config)?;
    let share = classify_us * 1e-6 * simple.rate() / cores;
    println!(
        "telling people from robots (robot lists, Client Hints, pace) on the realistic load's requests: {classify_us:.2} µs per request; at {:.0} events/s on {cores} cores, {:.1} % of the CPU time (target: at most 5 %); {:.2} % of those browsers' requests judged people's",
        simple.rate(),
        share * 100.0,
        people * 100.0
    );
    for server in servers {
        server.abort();
    }
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The time the classifier takes for one request of the realistic load (the configured robot
/// lists, the Client Hints check and the client's pace, as ingest asks it, P5), and the share of
/// those requests — real browsers' — it judged people's.
fn classify_micros_per_request(n: usize, config: &Config) -> anyhow::Result<(f64, f64)> {
    use obscura_enrich::bots::{Classifier, Evidence};
    use obscura_ingest::pace::PaceHit;
    let classifier = Classifier::new(config.enrich.robot_names()?);
    let profile = realistic_profile()?;
    let requests: Vec<_> = (0..n as u64)
        .map(|i| {
            let r = profile.request(i);
            let hints = r.browser.hints.as_ref().map(|(ua, mobile, platform)| obscura_enrich::ClientHints {
                ua: Some(ua.clone()),
                mobile: Some((*mobile).to_owned()),
                platform: Some((*platform).to_owned()),
                ..Default::default()
            });
            let hit = if r.body.contains(r#""kind":"pageview""#) {
                PaceHit::Pageview
            } else if r.body.contains(r#""kind":"engagement""#) {
                PaceHit::Engagement
            } else {
                PaceHit::Other
            };
            (r.browser, hints, std::net::IpAddr::V4(r.forwarded_for), hit)
        })
        .collect();
    let pace = obscura_ingest::pace::Pace::default();
    let mut people = 0;
    let t = Instant::now();
    for (i, (browser, hints, ip, hit)) in requests.iter().enumerate() {
        let seen = pace.count(1, *ip, &browser.user_agent, i as i64, *hit);
        let evidence = Evidence {
            user_agent: &browser.user_agent,
            hints: hints.as_ref(),
            secure: true,
            events_last_minute: Some(seen.this_minute),
            views_without_engagement: Some(seen.views_without_engagement),
            ..Default::default()
        };
        if std::hint::black_box(classifier.classify(&evidence)).verdict == obscura_enrich::bots::Verdict::Human {
            people += 1;
        }
    }
    Ok((t.elapsed().as_secs_f64() * 1e6 / n as f64, people as f64 / n as f64))
}

/// The time the scrubber takes for the text fields of one benchmark event: page URL, referrer
/// and the labels the enricher produces (browser, OS, location, network).
fn scrub_micros_per_event(n: usize) -> f64 {
    use obscura_privacy::{page_url, referrer, scrub};
    let user_agent_labels = ["Firefox", "133.0", "Linux", "x86_64"];
    let reference_labels = ["Germany", "Berlin", "Deutsche Telekom AG"];
    let t = Instant::now();
    for i in 0..n {
        let url = format!("https://{BENCH_SITE}/page/{}?utm_source=bench", i % 500);
        let page = page_url::normalize_page(&url).expect("valid URL");
        let referral = referrer::classify(Some("https://www.google.com/"), page.host.as_str(), true);
        std::hint::black_box((&page, &referral));
        for label in user_agent_labels {
            std::hint::black_box(scrub::scrub_user_agent_label(label));
        }
        for label in reference_labels {
            std::hint::black_box(scrub::reference_label(label));
        }
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

async fn purge(events: usize) -> anyhow::Result<()> {
    const OTHER_SITE: &str = "other.obscura.test";
    let dir = tempfile_dir("obscura-bench-purge")?;
    let (app, _) = fresh_app(&dir).await?;
    admin::add_site(&*app.meta, OTHER_SITE, true, obscura_store::meta::MAX_RETENTION_DAYS)?;
    let per_day = (events as f64 / 3.9).ceil() as usize;
    // Two finished days of the bench site, one more small site on the second.
    let loaded = demo::generate_history(&app, BENCH_SITE, 2, per_day, 7, false).await?;
    let other = demo::generate_history(&app, OTHER_SITE, 1, per_day / 20, 8, false).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let (older, newer) = (today - time::Duration::days(2), today - time::Duration::days(1));
    let store = app.store.as_ref();
    let count_day = |day: time::Date| async move { anyhow::Ok(store.rows_of_day(day, None).await?.len() as i64) };
    let older_rows = count_day(older).await?;
    let newer_rows = count_day(newer).await?;
    println!(
        "bench purge: {loaded} + {other} events loaded; {older}: {older_rows} events, {newer}: {newer_rows} events"
    );

    let t = Instant::now();
    store.destroy_day(older).await?;
    let destroy_ms = t.elapsed().as_secs_f64() * 1000.0;
    let bench_site = app.pipeline.resolve_site(BENCH_SITE)?.id;
    let t = Instant::now();
    let removed = store.purge_sites(newer, &[bench_site]).await?;
    let rekey_ms = t.elapsed().as_secs_f64() * 1000.0;
    let left = count_day(newer).await?;
    println!();
    println!("| operation | events | ms |");
    println!("|---|---:|---:|");
    println!("| destroy a whole day (key + files) | {older_rows} | {destroy_ms:.1} |");
    println!("| re-key a day without one site | {removed} removed, {left} kept | {rekey_ms:.1} |");
    if count_day(older).await? != 0 || left != newer_rows - removed as i64 {
        anyhow::bail!("purge left rows behind");
    }
    app.store.close();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Loads 30 days of generated traffic (about `events` events) into the bench site of `app`
/// and reports the time; returns the question over those 30 days.
async fn load_history(app: &App, events: usize) -> anyhow::Result<Query> {
    // Generated visitors average about 3.9 events on a weekday-weighted day; size the days to
    // reach `events` (the figure loaded is reported).
    let per_day = (events as f64 / 30.0 / 3.9).ceil() as usize;
    let t = Instant::now();
    let loaded = demo::generate_history(app, BENCH_SITE, 30, per_day, 7, false).await?;
    let load_time = t.elapsed();
    let stored = app.store.count_events().await?;
    println!(
        "bench query, {} store: loaded {loaded} events over 30 days in {:.1}s ({stored} in the store)",
        app.store.backend(),
        load_time.as_secs_f64()
    );
    let site = app.pipeline.resolve_site(BENCH_SITE)?;
    // The 30 whole days before today: every loaded event is in range.
    let today = time::OffsetDateTime::now_utc().date();
    Ok(Query {
        site: site.id,
        range: TimeRange::days(today - time::Duration::days(30), today - time::Duration::days(1))?,
        filters: vec![],
    })
}

/// The median time of every dashboard query over `q`.
async fn query_times(store: &dyn EventStore, q: &Query, runs: usize) -> anyhow::Result<Vec<(String, f64)>> {
    let filtered = Query { filters: vec![obscura_query::Filter::parse("country==DE|FR|US")?], ..q.clone() };
    let mut rows: Vec<(String, f64)> = Vec::new();
    let prev = Query { range: q.range.previous(), ..q.clone() };
    rows.push(("aggregate (30 d)".into(), median_ms(runs, || async { store.aggregate(q).await.map(drop) }).await?));
    rows.push((
        "aggregate, previous period".into(),
        median_ms(runs, || async { store.aggregate(&prev).await.map(drop) }).await?,
    ));
    rows.push((
        "timeseries by day".into(),
        median_ms(runs, || async { store.timeseries(q, Interval::Day).await.map(drop) }).await?,
    ));
    rows.push((
        "aggregate, filtered by country".into(),
        median_ms(runs, || async { store.aggregate(&filtered).await.map(drop) }).await?,
    ));
    for dim in [
        Dimension::Page,
        Dimension::EntryPage,
        Dimension::ExitPage,
        Dimension::Source,
        Dimension::Referrer,
        Dimension::UtmCampaign,
        Dimension::Country,
        Dimension::Province,
        Dimension::Network,
        Dimension::Browser,
        Dimension::Os,
        Dimension::DeviceModel,
        Dimension::Screen,
        Dimension::VisitorType,
        Dimension::Event,
        Dimension::Prop("plan".into()),
    ] {
        let ms = median_ms(runs, || async { store.breakdown(q, &dim, 10).await.map(drop) }).await?;
        rows.push((format!("breakdown {}", dim.name()), ms));
    }
    Ok(rows)
}

async fn query(events: usize, runs: usize, clickhouse: bool) -> anyhow::Result<()> {
    let dir = tempfile_dir("obscura-bench-query")?;
    let (app, password) = fresh_app(&dir).await?;
    let q = load_history(&app, events).await?;
    let rows = query_times(app.store.as_ref(), &q, runs).await?;
    let mut beside = None;
    if clickhouse {
        let ch_dir = tempfile_dir("obscura-bench-query-clickhouse")?;
        let (ch, _) = fresh_app_with(&ch_dir, |c| c.backend = Backend::ClickHouse).await?;
        let ch_q = load_history(&ch, events).await?;
        beside = Some(query_times(ch.store.as_ref(), &ch_q, runs).await?);
        ch.store.close();
        let _ = std::fs::remove_dir_all(&ch_dir);
    }
    let total: f64 = rows.iter().map(|(_, ms)| ms).sum();
    println!();
    match &beside {
        None => {
            println!("| query | median ms ({runs} runs) |");
            println!("|---|---:|");
            for (name, ms) in &rows {
                println!("| {name} | {ms:.1} |");
            }
            println!("| **all {} queries** | **{total:.1}** |", rows.len());
        }
        Some(ch_rows) => {
            println!("| query | embedded median ms | ClickHouse median ms | ClickHouse / embedded |");
            println!("|---|---:|---:|---:|");
            for ((name, ms), (_, ch_ms)) in rows.iter().zip(ch_rows) {
                println!("| {name} | {ms:.1} | {ch_ms:.1} | {:.2} |", ch_ms / ms);
            }
            let ch_total: f64 = ch_rows.iter().map(|(_, ms)| ms).sum();
            println!(
                "| **all {} queries** | **{total:.1}** | **{ch_total:.1}** | **{:.2}** |",
                rows.len(),
                ch_total / total
            );
        }
    }
    let slowest = rows.iter().map(|(_, ms)| *ms).fold(0.0, f64::max);
    println!();
    println!("slowest single query: {slowest:.1} ms");

    // The dashboard page as a browser gets it: rendered server-side over HTTP, gzip.
    let store = app.store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(app::serve(app, listener));
    let session = login(&base, "bench", &password).await?;
    let client = reqwest::Client::new();
    let (first, last) = (q.range.from.date(), (q.range.to - time::Duration::days(1)).date());
    let page_url = format!("{base}/?site={BENCH_SITE}&range=custom&from={first}&to={last}");
    let fetch = |url: String| {
        let (client, session) = (client.clone(), session.clone());
        async move {
            let res = client.get(url).header("cookie", session).header("accept-encoding", "gzip").send().await?;
            anyhow::ensure!(res.status().is_success(), "dashboard answered {}", res.status());
            Ok::<usize, anyhow::Error>(res.bytes().await?.len())
        }
    };
    let mut times = Vec::new();
    let mut html_bytes = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        html_bytes = fetch(page_url.clone()).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let css = fetch(format!("{base}/static/app.css")).await?;
    let js = fetch(format!("{base}/static/app.js")).await?;
    println!();
    println!(
        "dashboard page, 30 days, {} queries, rendered server-side: median {:.1} ms over {runs} runs",
        3 + 6,
        times[times.len() / 2]
    );
    println!(
        "page weight transferred (gzip): HTML {html_bytes} B + CSS {css} B + JS {js} B = {:.1} KB",
        (html_bytes + css + js) as f64 / 1024.0
    );
    server.abort();
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Logs in through the form; returns the session cookie.
async fn login(base: &str, username: &str, password: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let form = client.get(format!("{base}/login")).send().await?;
    let csrf_cookie = form.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let csrf_cookie = csrf_cookie.split(';').next().unwrap_or_default().to_owned();
    let html = form.text().await?;
    let csrf =
        html.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_owned();
    let res = client
        .post(format!("{base}/login"))
        .header("cookie", csrf_cookie)
        .form(&[("username", username), ("password", password), ("csrf", csrf.as_str())])
        .send()
        .await?;
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).context("login failed")?;
    Ok(cookie.split(';').next().unwrap_or_default().to_owned())
}

/// Median wall time of `runs` runs, in milliseconds.
pub(crate) async fn median_ms<F, Fut>(runs: usize, mut f: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f().await.context("benchmark query failed")?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Fails early, before minutes of work, when `--clickhouse` is asked for without a cluster in
/// the configuration.
pub(crate) fn check_clickhouse_configured(command: &str) -> anyhow::Result<()> {
    let mut config = Config::load(None)?;
    config.backend = crate::config::Backend::ClickHouse;
    config.validate().with_context(|| format!("{command} --clickhouse"))
}

/// Prints the `kind` queries' medians of the embedded store, and beside them ClickHouse's
/// when there are any, with the ratio.
pub(crate) fn print_side_by_side(
    kind: &str,
    runs: usize,
    embedded: &[(String, f64)],
    clickhouse: Option<&[(String, f64)]>,
) {
    println!();
    println!("| {kind}, 30 days | median ms ({runs} runs) |");
    println!("|---|---:|");
    for (name, ms) in embedded {
        println!("| {name} | {ms:.1} |");
    }
    let Some(beside) = clickhouse else { return };
    println!();
    println!("| {kind}, 30 days | embedded median ms | ClickHouse median ms | ClickHouse / embedded |");
    println!("|---|---:|---:|---:|");
    for ((name, ms), (_, ch_ms)) in embedded.iter().zip(beside) {
        println!("| {name} | {ms:.1} | {ch_ms:.1} | {:.2} |", ch_ms / ms);
    }
}

pub(crate) fn tempfile_dir(prefix: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `bench import`: the same generated log imported plain, then gzipped, each into a fresh store.
async fn import_logs(lines: u64) -> anyhow::Result<()> {
    use obscura_ingest::decode::access_log::LogFormat;
    let dir = tempfile_dir("obscura-bench-import")?;
    let plain = dir.join("access.log");
    let today = time::OffsetDateTime::now_utc().date();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&plain)?);
    let expected = crate::sample_log::write(&mut out, BENCH_SITE, today, 7, lines, 7)?;
    std::io::Write::flush(&mut out)?;
    drop(out);
    let gzipped = dir.join("access.log.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&gzipped)?, flate2::Compression::fast());
    std::io::copy(&mut std::fs::File::open(&plain)?, &mut gz)?;
    gz.finish()?;
    println!(
        "log: {} lines, {} people's page views, {} crawler's, {} other requests ({:.0} MB)",
        expected.lines,
        expected.page_views,
        expected.crawler_views,
        expected.no_page_views,
        std::fs::metadata(&plain)?.len() as f64 / 1e6
    );
    for (name, file) in [("plain", plain), ("gzip", gzipped)] {
        let store = tempfile_dir("obscura-bench-import")?;
        let (app, _) = fresh_app(&store).await?;
        let site = app.pipeline.resolve_site(BENCH_SITE)?;
        let started = Instant::now();
        let tally = crate::import::logs::import(&app, &site, LogFormat::Nginx, &[file]).await?;
        let seconds = started.elapsed().as_secs_f64();
        app.store.close();
        // Some people's addresses are in hosting networks, and kept apart with the crawler.
        let views = expected.page_views + expected.crawler_views;
        anyhow::ensure!(tally.page_views + tally.automated == views, "{name}: {tally:?} against {expected:?}");
        println!(
            "{name:>5}: {:.0} lines/s ({:.2} s; {} page views stored, {} kept apart)",
            tally.lines as f64 / seconds,
            seconds,
            tally.page_views,
            tally.automated
        );
        std::fs::remove_dir_all(&store)?;
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
