//! `obscura import logs`: a site's history from its web server's access logs (nginx, Apache,
//! Caddy), plain or gzip-compressed, from files or standard input.
//!
//! Every page view goes through the same enrich → desensitize path as a live hit, at its own
//! time; automated clients are kept apart as ever. Lines that are no page views (assets,
//! redirects, errors, other methods) are counted and skipped; unreadable lines are counted
//! and reported with their line numbers, and never stop the import.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use obscura_ingest::decode::access_log::{Line, LogFormat, Skip, read_line};
use obscura_ingest::decode::native::Decoded;
use obscura_store::meta::Site;
use time::Date;

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use obscura_model::Event;

use super::{Problems, display, open};
use crate::app::App;

/// The formats `--format` names.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// nginx's `combined` format.
    Nginx,
    /// Apache's combined or common format.
    Apache,
    /// Caddy's JSON access log.
    CaddyJson,
}

impl From<Format> for LogFormat {
    fn from(f: Format) -> LogFormat {
        match f {
            Format::Nginx => LogFormat::Nginx,
            Format::Apache => LogFormat::Apache,
            Format::CaddyJson => LogFormat::CaddyJson,
        }
    }
}

/// The options of `obscura import logs`.
#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// The site the logs are of (as added with `obscura site add`).
    #[arg(long)]
    pub site: String,
    /// The logs' format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Log files, plain or gzip-compressed, in time order; `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// What an import found, line by line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogTally {
    /// Lines read.
    pub lines: u64,
    /// Page views stored as people's.
    pub page_views: u64,
    /// Page views of automated clients, kept apart.
    pub automated: u64,
    /// Requests for assets and other files that are no pages.
    pub assets: u64,
    /// Requests other than `GET`.
    pub other_methods: u64,
    /// Requests not answered 2xx or 304.
    pub other_statuses: u64,
    /// Unreadable lines, and page views the pipeline refused (e.g. a path it cannot read).
    pub unreadable: Problems,
}

impl LogTally {
    fn add(&mut self, other: LogTally) {
        self.lines += other.lines;
        self.page_views += other.page_views;
        self.automated += other.automated;
        self.assets += other.assets;
        self.other_methods += other.other_methods;
        self.other_statuses += other.other_statuses;
        self.unreadable.merge(other.unreadable);
    }

    fn unreadable(&mut self, file: &str, line: u64, why: &str) {
        self.unreadable.add(format!("{file}:{line}: {why}"));
    }

    /// The summary printed at the end.
    pub fn summary(&self, seconds: f64) -> String {
        let rate = self.lines as f64 / seconds.max(1e-9);
        let mut out = format!(
            "read {} lines in {seconds:.1} s ({rate:.0} lines/s)\n  page views stored:        {}\n  automated, kept apart:    {}\n  assets and other files:   {}\n  other methods than GET:   {}\n  not answered 2xx or 304:  {}\n  unreadable:               {}\n",
            self.lines,
            self.page_views,
            self.automated,
            self.assets,
            self.other_methods,
            self.other_statuses,
            self.unreadable.count,
        );
        out.push_str(&self.unreadable.lines());
        out
    }
}

/// Imports `files` of `format` into `site`; returns what was found. Nothing is kept of a
/// line but what every live hit keeps.
///
/// One thread reads and parses lines; page views go to a worker per core, chosen by the
/// visitor's address and browser, so each visitor's page views are prepared in order (their
/// visits are built as live ones); a writer stores the prepared events in large chunks.
pub async fn import(app: &App, site: &Site, format: LogFormat, files: &[PathBuf]) -> anyhow::Result<LogTally> {
    let (pipeline, store, site, files) = (app.pipeline.clone(), app.store.clone(), site.clone(), files.to_vec());
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
        std::thread::scope(|scope| {
            let (events, stored) = sync_channel::<Prepared>(8);
            let writer = scope.spawn(move || write_events(stored, workers, store, &runtime));
            let mut to_workers = Vec::with_capacity(workers);
            let mut working = Vec::with_capacity(workers);
            for worker in 0..workers {
                let (pages, received) = sync_channel::<Vec<Page>>(4);
                to_workers.push(pages);
                let (pipeline, site, files, events) = (&pipeline, &site, &files, events.clone());
                let worker = std::thread::Builder::new()
                    .name("obscura-import".into())
                    .spawn_scoped(scope, move || prepare_pages(worker, received, pipeline, site, files, events))?;
                working.push(worker);
            }
            drop(events);
            let read = read_files(&files, format, &site.domain, &to_workers);
            drop(to_workers);
            let mut tally = LogTally::default();
            for worker in working {
                tally.add(worker.join().map_err(|_| anyhow::anyhow!("an import worker failed"))?);
            }
            writer.join().map_err(|_| anyhow::anyhow!("the import's writer failed"))??;
            tally.add(read?);
            Ok(tally)
        })
    })
    .await?
}

/// A page view read from a log, with where it was.
struct Page {
    file: usize,
    line: u64,
    hit: obscura_model::RawHit,
}

/// Events a worker prepared from one send of page views, and the latest day among them.
struct Prepared {
    worker: usize,
    events: Vec<Event>,
    latest: Option<Date>,
}

/// Page views sent to a worker at once.
const PAGES_PER_SEND: usize = 1024;
/// Events per chunk written at most: large day files, few of them, and bounded memory.
const EVENTS_PER_WRITE: usize = 200_000;

/// Reads every file, tallying what is no page view and sending page views to the workers.
fn read_files(
    files: &[PathBuf],
    format: LogFormat,
    domain: &str,
    workers: &[SyncSender<Vec<Page>>],
) -> anyhow::Result<LogTally> {
    let mut tally = LogTally::default();
    let mut pending: Vec<Vec<Page>> = workers.iter().map(|_| Vec::with_capacity(PAGES_PER_SEND)).collect();
    let send = |worker: usize, pages: Vec<Page>| {
        workers[worker].send(pages).map_err(|_| anyhow::anyhow!("an import worker stopped"))
    };
    for (index, file) in files.iter().enumerate() {
        let (mut input, progress) = open(file)?;
        let name = display(file);
        let mut buf = Vec::with_capacity(1024);
        let mut number = 0u64;
        loop {
            buf.clear();
            if input.read_until(b'\n', &mut buf).with_context(|| format!("cannot read {name}"))? == 0 {
                break;
            }
            number += 1;
            let text = String::from_utf8_lossy(&buf);
            if text.trim().is_empty() {
                continue;
            }
            tally.lines += 1;
            match read_line(format, &text, domain) {
                Err(why) => tally.unreadable(&name, number, &why),
                Ok(Line::Skipped(Skip::Asset)) => tally.assets += 1,
                Ok(Line::Skipped(Skip::Method)) => tally.other_methods += 1,
                Ok(Line::Skipped(Skip::Status)) => tally.other_statuses += 1,
                Ok(Line::Page(hit)) => {
                    let worker = worker_of(&hit, workers.len());
                    pending[worker].push(Page { file: index, line: number, hit: *hit });
                    if pending[worker].len() == PAGES_PER_SEND {
                        send(worker, std::mem::replace(&mut pending[worker], Vec::with_capacity(PAGES_PER_SEND)))?;
                    }
                }
            }
            if number.is_multiple_of(8192) {
                progress.lines(tally.lines);
            }
        }
        progress.lines(tally.lines);
        progress.finish();
    }
    for (worker, pages) in pending.into_iter().enumerate() {
        if !pages.is_empty() {
            send(worker, pages)?;
        }
    }
    Ok(tally)
}

/// The worker of a hit's visitor: one visitor's page views are prepared in order by one worker.
fn worker_of(hit: &obscura_model::RawHit, workers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (hit.ip, &hit.headers.user_agent).hash(&mut hasher);
    (hasher.finish() % workers as u64) as usize
}

/// A worker: prepares page views through the pipeline, counting them, and sends the events on.
fn prepare_pages(
    worker: usize,
    received: Receiver<Vec<Page>>,
    pipeline: &obscura_ingest::Pipeline,
    site: &Site,
    files: &[PathBuf],
    events: SyncSender<Prepared>,
) -> LogTally {
    let mut tally = LogTally::default();
    for pages in received {
        let mut prepared = Vec::with_capacity(pages.len());
        let latest = pages.last().map(|p| p.hit.received_at.date());
        for Page { file, line, hit } in pages {
            let decoded = Decoded { site_domain: String::new(), hit, signals: None };
            match pipeline.prepare_given(decoded, site, None) {
                Ok(Some((event, automated))) => {
                    if automated {
                        tally.automated += 1;
                    } else {
                        tally.page_views += 1;
                    }
                    prepared.push(event);
                }
                Ok(None) => {
                    tally.unreadable(&files[file].display().to_string(), line, "the site collects no page views")
                }
                Err(e) => tally.unreadable(&files[file].display().to_string(), line, &e.to_string()),
            }
        }
        if events.send(Prepared { worker, events: prepared, latest }).is_err() {
            // The writer stopped: its error is the import's.
            break;
        }
    }
    tally
}

/// The writer: stores events in chunks, and rolls up each day once, when every worker has
/// gone past it (logs are in time order; a day that gets late lines is rolled up again at the
/// end). A chunk is stored, and a day rolled up, while the writer gathers the next (one of
/// each at a time), so the store's work overlaps the workers'.
fn write_events(
    received: Receiver<Prepared>,
    workers: usize,
    store: std::sync::Arc<dyn obscura_store::EventStore>,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let mut chunk = Vec::with_capacity(EVENTS_PER_WRITE);
    let mut latest: Vec<Option<Date>> = vec![None; workers];
    // Days with events in the chunk or stored, not yet rolled up.
    let mut unrolled: BTreeSet<Date> = BTreeSet::new();
    // One chunk being stored and one day being rolled up, while the writer gathers the next.
    type Task<T> = Option<tokio::task::JoinHandle<Result<T, obscura_store::StoreError>>>;
    let (mut storing, mut rolling): (Task<Vec<Date>>, Task<()>) = (None, None);
    fn finish<T>(task: &mut Task<T>, runtime: &tokio::runtime::Handle) -> anyhow::Result<()> {
        if let Some(task) = task.take() {
            runtime.block_on(task)??;
        }
        Ok(())
    }
    let store_chunk = |chunk: &mut Vec<Event>, storing: &mut Task<Vec<Date>>| -> anyhow::Result<()> {
        finish(storing, runtime)?;
        let (store, events) = (store.clone(), std::mem::replace(chunk, Vec::with_capacity(EVENTS_PER_WRITE)));
        *storing = Some(runtime.spawn(async move { store.import_unrolled(events).await }));
        Ok(())
    };
    for prepared in received {
        unrolled.extend(prepared.events.iter().map(|e| obscura_model::day_of_ms(e.ts_ms)));
        chunk.extend(prepared.events);
        if prepared.latest.is_some() {
            latest[prepared.worker] = prepared.latest;
        }
        // Every day before the one all workers have reached is complete.
        let reached = latest.iter().copied().min().flatten();
        let complete: Vec<Date> = match reached {
            Some(reached) => unrolled.range(..reached).copied().collect(),
            None => Vec::new(),
        };
        if chunk.len() >= EVENTS_PER_WRITE || !complete.is_empty() {
            store_chunk(&mut chunk, &mut storing)?;
        }
        if !complete.is_empty() {
            // The complete days' rows are stored before their rollup reads them.
            finish(&mut storing, runtime)?;
            finish(&mut rolling, runtime)?;
            unrolled.retain(|d| !complete.contains(d));
            let store = store.clone();
            rolling = Some(runtime.spawn(async move { store.roll_up_days(&complete).await }));
        }
    }
    if !chunk.is_empty() {
        store_chunk(&mut chunk, &mut storing)?;
    }
    finish(&mut storing, runtime)?;
    finish(&mut rolling, runtime)?;
    let days: Vec<Date> = unrolled.into_iter().collect();
    Ok(runtime.block_on(store.roll_up_days(&days))?)
}

/// `obscura import logs`: imports, then runs the maintenance a server would (the salts made
/// for past days are destroyed, days past retention kept only as k-anonymous aggregates), and
/// prints the summary.
pub async fn run(app: App, args: LogsArgs) -> anyhow::Result<()> {
    let site = super::site(&app, &args.site)?;
    let started = Instant::now();
    let tally = import(&app, &site, args.format.into(), &args.files).await?;
    let seconds = started.elapsed().as_secs_f64();
    app.maintenance.run_once().await;
    app.store.close();
    print!("{}", tally.summary(seconds));
    if tally.lines > 0 && tally.unreadable.count == tally.lines {
        anyhow::bail!("no line was readable as {:?}: is --format right?", args.format);
    }
    Ok(())
}
