//! The embedded backend: write-ahead log with group commit → hot tier → encrypted day files,
//! queried with DataFusion.
//!
//! Two threads keep the tiers moving. The write-ahead-log thread only appends, fsyncs,
//! acknowledges and hands rows to the hot tier; when a day's hot rows are due for a file it
//! freezes them (a move) and wakes the flusher. The flusher sorts, encrypts and writes the day
//! file, swaps it for the frozen rows in one step that queries cannot straddle, builds the rollup
//! of a finished day, and only then deletes the log segments the file replaces.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use arrow::array::RecordBatch;
use async_trait::async_trait;
use datafusion::common::ScalarValue;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use obscura_model::{Clock, Event, Metric, day_of_ms, format_day, parse_day};
use obscura_query::errors::{ErrorCountRow, IssueRow, IssueSummary};
use obscura_query::measures::{MeasureCell, MeasureCells};
use time::Date;
use tokio::sync::{RwLock, oneshot};

use crate::cold::{self, FACTORY_ID, KeyringFactory};
use crate::crypto::Key;
use crate::durable_fs::{create_dir_durably, sync_dir, sync_parent_dir};
use crate::hot::{FrozenChunk, HotTable, HotTier};
use crate::key_log::{KeyHash, KeyLog, StoredKey};
use crate::keyring::Keyring;
use crate::rollup;
use crate::row::StoredRow;
use crate::sql::Dialect;
use crate::wal::{self, Segment};
use crate::{DayCell, EventStore, Param, RollupCell, SqlQuery, StoreError};
use obscura_query::{Aggregate, AutomatedPoint, BreakdownRow, Dimension, Interval, OpenVisit, Query, SeriesPoint};

mod answers;
mod error_answers;
mod flusher;
pub(crate) mod kept_aggregates;
mod measure_rollups;
mod recovery;
mod rollups;
mod writer;

use flusher::Flusher;
use recovery::*;
use rollups::Rollups;
use writer::{Commit, Writer};

/// By default today's hot rows are written to a day file once this many have arrived (see
/// [`StoreOptions::flush_rows`]); a finished day's rows always are.
pub const DEFAULT_FLUSH_ROWS: usize = 100_000;
/// At most this many rows go into one group commit.
const MAX_GROUP_ROWS: usize = 20_000;
/// How many recent day-file writes [`EmbeddedStore::flushes`] reports.
const FLUSH_LOG_LEN: usize = 1024;

/// How to open an [`EmbeddedStore`].
pub struct StoreOptions {
    /// The data folder: write-ahead log, day files, rollups and aggregates, all encrypted.
    pub data_dir: PathBuf,
    /// The keyring file, outside `data_dir`: a backup of the data folder must hold no key.
    pub keyring_path: PathBuf,
    /// The master key, which seals the keyring (and so every day's key) and the kept aggregates.
    pub master_key: Key,
    /// The clock that says which UTC day is today (when a day is finished and due for its file).
    pub clock: Arc<dyn Clock>,
    /// Whether finished days are rolled up (tests of the tiers alone leave it off).
    pub rollups: bool,
    /// Today's hot rows are written to a day file once this many have arrived: fewer means less
    /// memory and a shorter replay after a crash, more means fewer, larger files.
    pub flush_rows: usize,
}

/// One day file written by the flusher: when (from freezing the rows to deleting their log
/// segments) and how many rows.
#[derive(Debug, Clone)]
pub struct FlushSpan {
    /// The UTC day the file holds rows of.
    pub day: Date,
    /// How many rows the file holds.
    pub rows: usize,
    /// When the rows were frozen for the file.
    pub started: Instant,
    /// When the log segments the file replaces were deleted.
    pub finished: Instant,
}

/// The embedded [`EventStore`]: every event is durable in the encrypted write-ahead log before
/// `append` returns, and reaches per-day encrypted Parquet files in the background.
/// Dropping it, or calling [`EmbeddedStore::close`], stops its background threads.
pub struct EmbeddedStore {
    events_dir: PathBuf,
    rollups: Rollups,
    /// Speed cells kept past retention.
    kept_measures: Arc<measure_rollups::KeptMeasures>,
    /// Finished days' answers to error questions.
    error_days: crate::error_days::ErrorDays,
    clock: Arc<dyn Clock>,
    wal_dir: PathBuf,
    /// The idempotency key log ([`KeyLog`]), read when a server starts.
    keys_dir: PathBuf,
    master_key: Key,
    keyring: Arc<Keyring>,
    hot: Arc<HotTier>,
    ctx: SessionContext,
    commits: Mutex<Option<Sender<Commit>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    flush_rows: Arc<AtomicUsize>,
    flush_log: Arc<Mutex<VecDeque<FlushSpan>>>,
    closing: Arc<AtomicBool>,
    /// Held while a day is destroyed or re-keyed, so the flusher does not write it at the same time.
    maintenance: Arc<Mutex<()>>,
    /// Queries plan (list the day files, copy the hot rows) under a read guard; the flusher swaps
    /// a day file for its frozen rows under the write guard, so no query sees both or neither.
    handover: Arc<RwLock<()>>,
    /// This process's lock on the store, released when it closes.
    lock: Mutex<Option<std::fs::File>>,
    #[cfg(test)]
    flush_pause: Arc<tests::FlushPause>,
}

impl EmbeddedStore {
    /// The maintenance lock, taken without blocking an async worker: the flusher holds it while
    /// it waits for queries to finish planning, and a query needs a worker to finish, so a
    /// worker blocked here could wait for ever (on a one-core machine there is one worker).
    async fn lock_maintenance(&self) -> std::sync::MutexGuard<'_, ()> {
        loop {
            match self.maintenance.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Opens (or creates) the store in `data_dir`, replaying the write-ahead log.
    pub fn open(options: StoreOptions) -> anyhow::Result<Self> {
        let StoreOptions { data_dir, keyring_path, master_key, clock, rollups, flush_rows } = options;
        let events_dir = data_dir.join("events");
        let wal_dir = data_dir.join("wal");
        let rollups_dir = data_dir.join("rollups");
        for dir in [&events_dir, &wal_dir, &rollups_dir] {
            create_dir_durably(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        // Two processes writing one store (a server and an import, two servers) would lose rows.
        let lock = crate::durable_fs::lock_folder(&data_dir, || {
            format!(
                "the store in {} is in use by another Obscura process (a running server?): stop it first",
                data_dir.display()
            )
        })?;
        let aggregates = Arc::new(kept_aggregates::Aggregates::open(data_dir.join("aggregates"), master_key.clone())?);
        let kept_measures =
            Arc::new(measure_rollups::KeptMeasures::open(data_dir.join("aggregates"), master_key.clone())?);
        let keyring = Arc::new(Keyring::open(master_key.clone(), keyring_path)?);
        let hot = Arc::new(HotTier::default());
        finish_destroys(&[&events_dir, &rollups_dir, &wal_dir], &keyring)?;
        finish_rekeys(&events_dir, &rollups_dir, &keyring)?;
        cold::remove_staged(&events_dir)?;
        cold::remove_staged(&rollups_dir)?;
        let keys_dir = data_dir.join("keys");
        let mut key_log = KeyLog::open(keys_dir.clone(), master_key.clone(), clock.now().date())?;
        let next_segment = replay(&events_dir, &wal_dir, &keyring, &hot, &mut key_log)?;

        let config = SessionConfig::new().with_target_partitions(2).with_information_schema(false);
        let ctx = SessionContext::new_with_config(config);
        ctx.runtime_env().register_parquet_encryption_factory(FACTORY_ID, Arc::new(KeyringFactory(keyring.clone())));
        ctx.register_table("cold", Arc::new(cold::listing_table(&events_dir, crate::row::FILE_SCHEMA.clone())?))?;
        ctx.register_table("hot", Arc::new(HotTable(hot.clone())))?;
        let rollup_cache = Arc::new(rollup::RollupCache::new(rollups_dir.clone(), keyring.clone(), aggregates.clone()));
        ctx.register_table("rollups", Arc::new(rollup::RollupTable(rollup_cache.clone())))?;
        futures::executor::block_on(ctx.sql("CREATE VIEW events AS SELECT * FROM cold UNION ALL SELECT * FROM hot"))?;

        let handover = Arc::new(RwLock::new(()));
        let measure_rollups = Arc::new(measure_rollups::MeasureRollups::new(rollups_dir.clone(), keyring.clone()));
        let error_answers = Arc::new(error_answers::ErrorAnswerFiles::new(rollups_dir.clone(), keyring.clone()));
        let rollups = Rollups {
            aggregates,
            measures: measure_rollups,
            dir: rollups_dir,
            enabled: rollups,
            ctx: ctx.clone(),
            keyring: keyring.clone(),
            runtime: tokio::runtime::Handle::try_current().ok(),
            cache: rollup_cache,
            handover: handover.clone(),
        };
        let (commits, commit_rx) = channel();
        let (wake_flusher, wake_rx) = channel();
        let maintenance = Arc::new(Mutex::new(()));
        let flush_rows = Arc::new(AtomicUsize::new(flush_rows.max(1)));
        let flush_log = Arc::new(Mutex::new(VecDeque::new()));
        let closing = Arc::new(AtomicBool::new(false));
        #[cfg(test)]
        let flush_pause = Arc::new(tests::FlushPause::default());
        let writer = Writer {
            wal_dir: wal_dir.clone(),
            keyring: keyring.clone(),
            hot: hot.clone(),
            clock: clock.clone(),
            active: HashMap::new(),
            key_log,
            next_segment,
            flush_rows: flush_rows.clone(),
            wake_flusher,
        };
        let flusher = Flusher {
            events_dir: events_dir.clone(),
            wal_dir: wal_dir.clone(),
            keyring: keyring.clone(),
            hot: hot.clone(),
            clock: clock.clone(),
            rollups: rollups.clone(),
            maintenance: maintenance.clone(),
            handover: handover.clone(),
            log: flush_log.clone(),
            closing: closing.clone(),
            #[cfg(test)]
            pause: flush_pause.clone(),
        };
        let writer = std::thread::Builder::new().name("obscura-wal".into()).spawn(move || writer.run(commit_rx))?;
        let flusher = std::thread::Builder::new().name("obscura-flush".into()).spawn(move || {
            // Writing a day file can wait; answering requests cannot. On a small machine the
            // flusher would otherwise take a core from the request handlers for its duration.
            // SAFETY: setpriority on the calling thread (who = 0) has no memory effects.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
            flusher.run(wake_rx)
        })?;
        Ok(EmbeddedStore {
            lock: Mutex::new(Some(lock)),
            events_dir,
            rollups,
            kept_measures,
            // One process owns the files: a day changes only through this store.
            error_days: crate::error_days::ErrorDays::new(None, Some(error_answers)),
            clock,
            wal_dir,
            keys_dir,
            master_key: master_key.clone(),
            keyring,
            hot,
            ctx,
            commits: Mutex::new(Some(commits)),
            writer: Mutex::new(Some(writer)),
            flusher: Mutex::new(Some(flusher)),
            flush_rows,
            flush_log,
            closing,
            maintenance,
            handover,
            #[cfg(test)]
            flush_pause,
        })
    }

    /// Stops the writer after it has committed everything already submitted, and the flusher
    /// after the day file it is writing (frozen rows not yet written stay in the log).
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.commits.lock().unwrap_or_else(|e| e.into_inner()).take();
        for thread in [&self.writer, &self.flusher] {
            if let Some(handle) = thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = handle.join();
            }
        }
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The per-day keys of this store.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// Rows in the hot tier per day, including rows being written to a day file (for status
    /// and tests).
    pub fn hot_days(&self) -> Vec<(Date, usize)> {
        self.hot.days()
    }

    /// Changes how many of today's hot rows make a day file (see [`StoreOptions::flush_rows`]).
    pub fn set_flush_rows(&self, rows: usize) {
        self.flush_rows.store(rows.max(1), Ordering::Relaxed);
    }

    /// The most recent day files written by the flusher, oldest first.
    pub fn flushes(&self) -> Vec<FlushSpan> {
        self.flush_log.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }

    /// Stores rows (with their idempotency keys' hashes: one per row, or none) and returns once
    /// they are durable in the write-ahead log.
    async fn commit_rows(&self, rows: Vec<StoredRow>, keys: Vec<Option<KeyHash>>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        {
            let commits = self.commits.lock().unwrap_or_else(|e| e.into_inner());
            let tx = commits.as_ref().ok_or(StoreError::Closed)?;
            tx.send(Commit { rows, keys, done }).map_err(|_| StoreError::Closed)?;
        }
        wait.await.map_err(|_| StoreError::Closed)?.map_err(|e| StoreError::Storage(anyhow::anyhow!(e)))
    }
}

impl EmbeddedStore {
    /// Runs a rendered read-only query over tables `events` and `rollups`.
    pub(crate) async fn run_sql(&self, query: &SqlQuery) -> Result<Vec<RecordBatch>, StoreError> {
        let failed = |e: datafusion::error::DataFusionError| StoreError::Query(e.to_string());
        let df = self.ctx.sql_with_options(&query.sql, read_only()).await.map_err(failed)?;
        let params: Vec<ScalarValue> = query.params.iter().map(scalar).collect();
        let df = df.with_param_values(params).map_err(failed)?;
        let task = Arc::new(df.task_ctx());
        // Planning lists the day files and copies the hot rows: both at one side of any hand-over.
        let plan = {
            let _planning = self.handover.read().await;
            df.create_physical_plan().await.map_err(failed)?
        };
        datafusion::physical_plan::collect(plan, task).await.map_err(failed)
    }

    /// The days answered from rollups (see [`EventStore::rollup_days`]).
    fn rolled_days(&self) -> Vec<Date> {
        let mut days: Vec<Date> = cold::list_days(&self.rollups.dir)
            .into_iter()
            .filter(|(_, files)| !files.is_empty())
            .map(|(d, _)| d)
            .collect();
        // A day whose events are all gone is read from its aggregates alone; a day with event
        // files but no rollup (not built yet, or a rebuild failed) is read from its files.
        let with_events: Vec<Date> = self.event_days();
        days.extend(self.rollups.aggregates.days().into_iter().filter(|d| !with_events.contains(d)));
        days.sort();
        days.dedup();
        days
    }

    fn event_days(&self) -> Vec<Date> {
        let mut days: Vec<Date> = cold::list_days(&self.events_dir).into_iter().map(|(d, _)| d).collect();
        days.extend(self.hot.days().into_iter().map(|(d, _)| d));
        days.sort();
        days.dedup();
        days
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl EmbeddedStore {
    /// Replaces a finished day's files with `kept` under a new key; the old key is destroyed,
    /// so copies of the old files (backups) become unreadable. The caller holds the
    /// maintenance lock.
    ///
    /// Crash-safe (see [`finish_rekeys`]): the new file is written under a *pending* key in
    /// `.rekey-<day>`; the old folders are set aside as `.shred-<day>` (rollups first: a rollup
    /// left under a destroyed key would break table `rollups`); every step is made durable
    /// before the pending key becomes the day's key, which is the point of no return. A failure
    /// before it puts everything back.
    fn rekey(&self, day: Date, kept: &RecordBatch) -> anyhow::Result<()> {
        let name = format_day(day);
        let staging = self.events_dir.join(format!("{REKEY_PREFIX}{name}"));
        let set_aside = [
            (cold::day_dir(&self.rollups.dir, day), self.rollups.dir.join(format!("{SHRED_PREFIX}{name}"))),
            (cold::day_dir(&self.events_dir, day), self.events_dir.join(format!("{SHRED_PREFIX}{name}"))),
        ];
        let prepare = || -> anyhow::Result<()> {
            if staging.exists() {
                fs::remove_dir_all(&staging)?;
            }
            let key = self.keyring.create_pending(day)?;
            cold::write_sealed_file(&staging, &key, day, "part-rekeyed.parquet", kept)?;
            sync_dir(&self.events_dir)?;
            for (from, to) in &set_aside {
                if from.exists() {
                    fs::rename(from, to)?;
                    sync_dir(to.parent().expect("inside a store folder"))?;
                }
            }
            Ok(())
        };
        let prepared = prepare();
        forget_listings(&self.ctx);
        self.rollups.cache.remove(day);
        self.rollups.measures.remove(day);
        if let Err(e) = prepared {
            // Put the old folders back; the pending key and the staging folder go.
            for (from, to) in set_aside.iter().rev() {
                if to.exists() && !from.exists() {
                    let _ = fs::rename(to, from);
                }
            }
            let _ = fs::remove_dir_all(&staging);
            let _ = self.keyring.drop_pending(day);
            forget_listings(&self.ctx);
            return Err(e.context(format!("re-keying {day} failed; the day is unchanged")));
        }
        self.keyring.commit_pending(day)?;
        fs::rename(&staging, cold::day_dir(&self.events_dir, day))?;
        sync_dir(&self.events_dir)?;
        forget_listings(&self.ctx);
        for (_, trash) in set_aside {
            if trash.exists() {
                fs::remove_dir_all(&trash).with_context(|| format!("cannot remove {}", trash.display()))?;
            }
        }
        Ok(())
    }
}

/// Queries may only read: no DDL, no DML (e.g. `COPY … TO`, which would write plaintext), no
/// session statements.
fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// DataFusion caches directory listings without expiry: after files appear or disappear the
/// cache must be emptied, or queries would not see them.
fn forget_listings(ctx: &SessionContext) {
    if let Some(cache) = ctx.runtime_env().cache_manager.get_list_files_cache() {
        cache.clear();
    }
}

fn scalar(p: &Param) -> ScalarValue {
    match p {
        Param::UInt(v) => ScalarValue::UInt32(Some(*v)),
        Param::Text(v) => ScalarValue::Utf8(Some(v.clone())),
        Param::Timestamp(v) => ScalarValue::TimestampMillisecond(Some(*v), Some("UTC".into())),
    }
}

#[async_trait]
impl crate::error_days::ErrorRows for EmbeddedStore {
    async fn summaries_by_day(&self, q: &Query) -> Result<Vec<(Date, IssueSummary)>, StoreError> {
        let batches = self.run_sql(&Dialect::DataFusion.issues_by_day(q)).await?;
        Ok(answers::by_day(&batches, answers::issue_summaries))
    }

    async fn counts_by_day(&self, q: &Query, dim: &Dimension) -> Result<Vec<(Date, ErrorCountRow)>, StoreError> {
        let batches = self.run_sql(&Dialect::DataFusion.error_breakdown_by_day(q, dim)).await?;
        Ok(answers::by_day(&batches, answers::error_counts))
    }

    async fn cells_by_day(
        &self,
        q: &Query,
        grouping: crate::error_cells::Grouping,
    ) -> Result<Vec<(Date, crate::error_cells::CellRow)>, StoreError> {
        let dims = grouping.dims();
        let batches = self.run_sql(&Dialect::DataFusion.error_cells_by_day(q, &dims)).await?;
        Ok(answers::error_cells(&batches, dims.len()))
    }

    async fn summaries(&self, q: &Query, limit: u32) -> Result<Vec<IssueSummary>, StoreError> {
        Ok(answers::issue_summaries(&self.run_sql(&Dialect::DataFusion.issues(q, limit)).await?))
    }

    async fn trend(
        &self,
        q: &Query,
        interval: Interval,
        fingerprints: &[String],
    ) -> Result<Vec<(String, i64, u64)>, StoreError> {
        Ok(answers::issue_trend(&self.run_sql(&Dialect::DataFusion.issue_trend(q, interval, fingerprints)).await?))
    }

    async fn counts(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<ErrorCountRow>, StoreError> {
        Ok(answers::error_counts(&self.run_sql(&Dialect::DataFusion.error_breakdown(q, dim, limit)).await?))
    }

    async fn latest(&self, q: &Query, limit: u32) -> Result<Vec<StoredRow>, StoreError> {
        let cond = Dialect::DataFusion.error_rows(q);
        let sql = SqlQuery {
            sql: format!("SELECT * FROM events WHERE {} ORDER BY ts DESC LIMIT {limit}", cond.sql),
            params: cond.params,
        };
        let mut rows = Vec::new();
        for batch in &self.run_sql(&sql).await? {
            rows.extend(crate::row::batch_to_rows(batch)?);
        }
        Ok(rows)
    }
}

#[async_trait]
impl EventStore for EmbeddedStore {
    async fn append(&self, events: Vec<Event>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.commit_rows(events.into_iter().map(StoredRow::from).collect(), Vec::new()).await
    }

    async fn append_keyed(&self, events: Vec<Event>, keys: Vec<Option<KeyHash>>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.commit_rows(events.into_iter().map(StoredRow::from).collect(), keys).await
    }

    async fn stored_keys(&self, since_ms: i64) -> Result<Vec<StoredKey>, StoreError> {
        let (dir, master) = (self.keys_dir.clone(), self.master_key.clone());
        tokio::task::spawn_blocking(move || crate::key_log::read_since(&dir, &master, since_ms))
            .await
            .map_err(|e| StoreError::Storage(e.into()))?
            .map_err(StoreError::Storage)
    }

    async fn import_unrolled(&self, events: Vec<Event>) -> Result<Vec<Date>, StoreError> {
        let mut by_day: BTreeMap<Date, Vec<StoredRow>> = BTreeMap::new();
        for e in events {
            by_day.entry(day_of_ms(e.ts_ms)).or_default().push(StoredRow::from(e));
        }
        let events_dir = self.events_dir.clone();
        let keyring = self.keyring.clone();
        let days: Vec<Date> = by_day.keys().copied().collect();
        for day in &days {
            self.error_days.forget(*day).await;
        }
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            for (day, rows) in by_day {
                let batch = crate::row::rows_to_batch(&rows, &format_day(day));
                let name = format!("import-{}.parquet", hex::encode(rand::random::<[u8; 8]>()));
                cold::write_day_file(&events_dir, &keyring, day, &name, &[batch])?;
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Storage(e.into()))??;
        forget_listings(&self.ctx);
        Ok(days)
    }

    async fn roll_up_days(&self, days: &[Date]) -> Result<(), StoreError> {
        let today = self.clock.now().date();
        for day in days.iter().filter(|d| **d < today) {
            self.rollups.build(*day).await?;
        }
        Ok(())
    }

    async fn destroy_day(&self, day: Date) -> Result<(), StoreError> {
        let io = StoreError::Storage;
        self.error_days.forget(day).await;
        let _guard = self.lock_maintenance().await;
        self.hot.remove(day);
        // Files first leave the tables (a file without its key would fail every query), then the
        // key is destroyed, then the bytes.
        // A crash part-way leaves `.destroy-<day>` folders that the next start finishes.
        let name = format_day(day);
        let folders = [
            (cold::day_dir(&self.events_dir, day), self.events_dir.join(format!("{DESTROY_PREFIX}{name}"))),
            (cold::day_dir(&self.rollups.dir, day), self.rollups.dir.join(format!("{DESTROY_PREFIX}{name}"))),
            (self.wal_dir.join(&name), self.wal_dir.join(format!("{DESTROY_PREFIX}{name}"))),
        ];
        let mut trash: Vec<PathBuf> = [
            self.events_dir.join(format!("{REKEY_PREFIX}{name}")),
            self.events_dir.join(format!("{SHRED_PREFIX}{name}")),
            self.rollups.dir.join(format!("{SHRED_PREFIX}{name}")),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
        for (from, to) in folders {
            if from.exists() {
                fs::rename(&from, &to).map_err(|e| io(e.into()))?;
                // Durable before the key goes: a day folder back under its name without its
                // key would fail every query after a crash.
                sync_parent_dir(&to).map_err(|e| io(e.into()))?;
                trash.push(to);
            }
        }
        forget_listings(&self.ctx);
        self.rollups.cache.remove(day);
        self.rollups.measures.remove(day);
        self.keyring.destroy(day).map_err(io)?;
        for dir in trash {
            fs::remove_dir_all(&dir).map_err(|e| io(anyhow::anyhow!("cannot remove {}: {e}", dir.display())))?;
        }
        Ok(())
    }

    async fn purge_sites(&self, day: Date, sites: &[u32]) -> Result<u64, StoreError> {
        let io = StoreError::Storage;
        self.error_days.forget(day).await;
        let (removed, kept) = {
            let _guard = self.lock_maintenance().await;
            if self.hot.days().iter().any(|(d, _)| *d == day) {
                return Err(StoreError::DayBeingWritten(day));
            }
            let Some(key) = self.keyring.get(day) else { return Ok(0) };
            let batches = cold::read_day(&self.events_dir, day, &key).map_err(io)?;
            let before: usize = batches.iter().map(RecordBatch::num_rows).sum();
            let kept = cold::without_sites(&batches, sites).map_err(io)?;
            let removed = (before - kept.num_rows()) as u64;
            if removed == 0 {
                return Ok(0);
            }
            if kept.num_rows() > 0 {
                self.rekey(day, &kept).map_err(io)?;
            }
            (removed, kept.num_rows())
        };
        if kept == 0 {
            self.destroy_day(day).await?;
            return Ok(removed);
        }
        // The old rollup was made with the old key and the removed rows; make it anew.
        if let Err(e) = self.rollups.build(day).await {
            tracing::error!(%day, "cannot roll up the re-keyed day; it will be read from its day files: {e:#}");
        }
        Ok(removed)
    }

    async fn k_anonymous_rollup(&self, day: Date, sites: &[u32], k: u32) -> Result<Vec<RollupCell>, StoreError> {
        let io = StoreError::Storage;
        let Some(rows) = self.rollups.compute(day).await.map_err(io)? else { return Ok(Vec::new()) };
        let cells = kept_aggregates::batch_to_cells(&rows).map_err(io)?;
        let expiring: Vec<RollupCell> = cells.into_iter().filter(|c| sites.contains(&c.site)).collect();
        Ok(crate::aggregates::k_anonymize(&expiring, k))
    }

    async fn keep_aggregates(&self, day: Date, cells: &[RollupCell]) -> Result<(), StoreError> {
        let aggregates = self.rollups.aggregates.clone();
        let cells = cells.to_vec();
        tokio::task::spawn_blocking(move || aggregates.add(day, &cells))
            .await
            .map_err(|e| StoreError::Storage(e.into()))??;
        Ok(())
    }

    async fn k_anonymous_measures(&self, day: Date, sites: &[u32], k: u32) -> Result<Vec<DayCell>, StoreError> {
        let cells = self.rollups.compute_measures(day).await.map_err(StoreError::Storage)?;
        let visitors = self.rollups.compute_measure_visitors(day).await.map_err(StoreError::Storage)?;
        Ok(crate::measure_rollup::k_anonymous(cells, &visitors, sites, k))
    }

    async fn keep_measures(&self, day: Date, cells: &[DayCell]) -> Result<(), StoreError> {
        let kept = self.kept_measures.clone();
        let cells = cells.to_vec();
        tokio::task::spawn_blocking(move || kept.keep(day, &cells))
            .await
            .map_err(|e| StoreError::Storage(e.into()))??;
        Ok(())
    }

    async fn sites_of_day(&self, day: Date) -> Result<Vec<u32>, StoreError> {
        Ok(answers::sites(&self.run_sql(&Dialect::DataFusion.sites_of_day(day)).await?))
    }

    async fn rollup_days(&self) -> Result<Vec<Date>, StoreError> {
        Ok(self.rolled_days())
    }

    async fn kept_of_site(&self, site: u32) -> Result<Vec<crate::KeptDay>, StoreError> {
        let aggregates = self.rollups.aggregates.of_site(site).map_err(StoreError::Storage)?;
        let measures = self
            .kept_measures
            .cells(|_| true)
            .into_iter()
            .flat_map(|(day, cells)| {
                cells.all().iter().filter(|c| c.site == site).map(|c| (day, c.clone())).collect::<Vec<_>>()
            })
            .collect();
        Ok(crate::KeptDay::by_day(aggregates, measures))
    }

    async fn days(&self) -> Result<Vec<Date>, StoreError> {
        Ok(self.event_days())
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn aggregate(&self, q: &Query) -> Result<Aggregate, StoreError> {
        let batches = self.run_sql(&Dialect::DataFusion.aggregate(q, &self.rolled_days())).await?;
        Ok(answers::totals(&batches).into_aggregate())
    }

    async fn timeseries(&self, q: &Query, interval: Interval) -> Result<Vec<SeriesPoint>, StoreError> {
        let batches = self.run_sql(&Dialect::DataFusion.timeseries(q, interval, &self.rolled_days())).await?;
        Ok(obscura_query::results::fill_gaps(answers::series(&batches), q, interval))
    }

    async fn breakdown(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<BreakdownRow>, StoreError> {
        let batches = self.run_sql(&Dialect::DataFusion.breakdown(q, dim, limit, &self.rolled_days())).await?;
        Ok(answers::breakdown(&batches))
    }

    async fn measures(&self, q: &Query, metrics: &[Metric], by: &[Dimension]) -> Result<Vec<MeasureCell>, StoreError> {
        let mut cells = MeasureCells::default();
        // Whole days of a grouping (and filters) the rollups keep come from their cells.
        let mut kept_days = Vec::new();
        if let Some(plan) = crate::measure_rollup::plan(q, by, metrics) {
            let in_range = |d: Date| crate::sql::day_in_range(q, d);
            let rolled = self.rollups.measures.cells(in_range).map_err(StoreError::Storage)?;
            let kept = self.kept_measures.cells(in_range);
            kept_days = plan.merge_days(&mut cells, rolled, kept, q.site);
        }
        let kept: Vec<&Date> = kept_days.iter().collect();
        if !crate::sql::covers(q, &kept) {
            let batches = self.run_sql(&Dialect::DataFusion.measure_histogram(q, metrics, by, &kept)).await?;
            for (_, row) in answers::histogram_rows(&batches, by.len(), false) {
                cells.add(row);
            }
        }
        Ok(cells.into_cells())
    }

    async fn issues(&self, q: &Query, limit: u32) -> Result<Vec<IssueRow>, StoreError> {
        self.error_days.issues(self, q, limit, crate::error_days::finished_before(self.clock.as_ref())).await
    }

    async fn error_breakdown(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<ErrorCountRow>, StoreError> {
        let today = crate::error_days::finished_before(self.clock.as_ref());
        self.error_days.breakdown(self, q, dim, limit, today).await
    }

    async fn error_reports(&self, q: &Query, limit: u32) -> Result<Vec<StoredRow>, StoreError> {
        crate::error_days::latest_reports(self, q, limit).await
    }

    async fn automated_breakdown(
        &self,
        q: &Query,
        dim: &Dimension,
        limit: u32,
    ) -> Result<Vec<ErrorCountRow>, StoreError> {
        Ok(answers::error_counts(&self.run_sql(&Dialect::DataFusion.automated_breakdown(q, dim, limit)).await?))
    }

    async fn funnel(&self, q: &Query, steps: &[crate::meta::GoalTarget]) -> Result<Vec<u64>, StoreError> {
        let batches = self.run_sql(&Dialect::DataFusion.funnel(q, steps)).await?;
        Ok(answers::funnel_counts(&batches).into_iter().take(steps.len()).collect())
    }

    async fn automated_series(&self, q: &Query, interval: Interval) -> Result<Vec<AutomatedPoint>, StoreError> {
        Ok(answers::automated_points(&self.run_sql(&Dialect::DataFusion.automated_series(q, interval)).await?))
    }

    async fn open_visits(&self, since_ms: i64) -> Result<Vec<OpenVisit>, StoreError> {
        Ok(answers::open_visits(&self.run_sql(&Dialect::DataFusion.open_visits(since_ms)).await?))
    }

    async fn rows_of_day(&self, day: Date, site: Option<u32>) -> Result<Vec<StoredRow>, StoreError> {
        let batches = self.run_sql(&Dialect::DataFusion.rows_of_day(day, site)).await?;
        let mut rows = Vec::new();
        for batch in &batches {
            rows.extend(crate::row::batch_to_rows(batch)?);
        }
        Ok(rows)
    }

    async fn count_events(&self) -> Result<u64, StoreError> {
        Ok(answers::single_count(&self.run_sql(&Dialect::DataFusion.count_events()).await?, "n"))
    }

    async fn ready(&self) -> Result<(), StoreError> {
        let writing = self.commits.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if writing { Ok(()) } else { Err(StoreError::Closed) }
    }

    fn close(&self) {
        EmbeddedStore::close(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const DAY: Date = date!(2026 - 01 - 10);

    /// Stops the flusher after it has written a day file and before it hands the file over,
    /// until the test lets it go on.
    #[derive(Default)]
    pub(super) struct FlushPause {
        gate: Mutex<Option<(Sender<()>, Receiver<()>)>>,
    }

    impl FlushPause {
        pub(super) fn hold(&self) {
            let gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((reached, resume)) = gate.as_ref() {
                let _ = reached.send(());
                let _ = resume.recv();
            }
        }

        /// Returns (told when a flush stops, send or drop to let it go on).
        fn arm(&self) -> (Receiver<()>, Sender<()>) {
            let (reached_tx, reached_rx) = channel();
            let (resume_tx, resume_rx) = channel();
            *self.gate.lock().unwrap() = Some((reached_tx, resume_rx));
            (reached_rx, resume_tx)
        }
    }

    fn open_store(dir: &Path, master: &Key, flush_rows: usize) -> EmbeddedStore {
        EmbeddedStore::open(StoreOptions {
            data_dir: dir.join("data"),
            keyring_path: dir.join("keyring"),
            master_key: master.clone(),
            clock: Arc::new(obscura_model::ManualClock::new(datetime!(2026-01-10 12:00 UTC))),
            rollups: false,
            flush_rows,
        })
        .unwrap()
    }

    /// `n` rows of [`DAY`], numbered from `from`.
    fn rows(from: usize, n: usize) -> Vec<StoredRow> {
        let noon_ms = datetime!(2026-01-10 12:00 UTC).unix_timestamp() * 1000;
        (from..from + n).map(|i| crate::wal::tests::row(noon_ms + i as i64)).collect()
    }

    async fn count(store: &EmbeddedStore) -> i64 {
        store.count_events().await.unwrap() as i64
    }

    fn wal_segments(dir: &Path) -> Vec<u64> {
        wal::list_segments(&dir.join("data/wal")).unwrap().into_iter().map(|s| s.id).collect()
    }

    fn day_files(dir: &Path) -> Vec<String> {
        let day_dir = cold::day_dir(&dir.join("data/events"), DAY);
        let mut names: Vec<String> = fs::read_dir(day_dir)
            .map(|it| it.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            tokio::time::sleep(StdDuration::from_millis(25)).await;
        }
        panic!("timed out waiting until {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn durability_idempotency_keys_outlive_a_restart_and_the_flushed_log() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let store = open_store(dir.path(), &master, 1_000_000);
        store.commit_rows(rows(0, 3), vec![Some(11), None, Some(u128::MAX)]).await.unwrap();
        store.commit_rows(rows(3, 2), Vec::new()).await.unwrap();
        let now_ms = obscura_model::unix_ms(datetime!(2026-01-10 12:00 UTC));
        async fn keys(store: &EmbeddedStore) -> Vec<KeyHash> {
            let mut keys: Vec<KeyHash> = store.stored_keys(0).await.unwrap().into_iter().map(|(k, _)| k).collect();
            keys.sort();
            keys
        }
        assert_eq!(keys(&store).await, vec![11, u128::MAX]);
        assert!(store.stored_keys(now_ms + 1).await.unwrap().is_empty(), "each with when it was stored");
        store.close();
        drop(store);

        // A crash after the log record was durable, before the key log had the hashes: replay
        // copies them.
        fs::remove_dir_all(dir.path().join("data/keys")).unwrap();
        let store = open_store(dir.path(), &master, 1_000_000);
        assert_eq!(count(&store).await, 5);
        assert_eq!(keys(&store).await, vec![11, u128::MAX], "from the write-ahead log");
        // Once the rows are in a day file, the log's segments are gone; the key log remains.
        store.set_flush_rows(1);
        store.commit_rows(rows(5, 1), vec![Some(12)]).await.unwrap();
        wait_until("the day file is written", || wal_segments(dir.path()).is_empty()).await;
        store.close();
        drop(store);
        let store = open_store(dir.path(), &master, 1_000_000);
        assert_eq!(count(&store).await, 6);
        assert_eq!(keys(&store).await, vec![11, 12, u128::MAX]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hardening_acks_do_not_wait_for_day_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path(), &Key::random(), 100);
        let (flush_stopped, resume) = store.flush_pause.arm();
        store.commit_rows(rows(0, 100), Vec::new()).await.unwrap();
        flush_stopped.recv_timeout(StdDuration::from_secs(20)).expect("100 rows make a day file");
        let frozen_segments = wal_segments(dir.path());

        // The flusher stands still in the middle of the day file; commits go on regardless.
        for i in 1..=5 {
            tokio::time::timeout(StdDuration::from_secs(5), store.commit_rows(rows(i * 100, 10), Vec::new()))
                .await
                .expect("acknowledged while a day file is being written")
                .unwrap();
        }
        assert!(store.flushes().is_empty(), "the day file is not finished yet");
        assert_eq!(count(&store).await, 150);
        assert!(
            frozen_segments.iter().all(|s| wal_segments(dir.path()).contains(s)),
            "the log stays until the file is durable"
        );

        drop(resume);
        wait_until("the day file is handed over", || store.flushes().len() == 1).await;
        assert_eq!(store.flushes()[0].rows, 100);
        assert!(
            frozen_segments.iter().all(|s| !wal_segments(dir.path()).contains(s)),
            "the written rows' log is deleted"
        );
        assert_eq!(store.hot_days(), vec![(DAY, 50)], "later rows stay hot");
        assert_eq!(count(&store).await, 150);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hardening_query_during_flush_counts_once() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let store = Arc::new(open_store(dir.path(), &master, 1_000));
        let (flush_stopped, resume) = store.flush_pause.arm();
        store.commit_rows(rows(0, 1_000), Vec::new()).await.unwrap();
        flush_stopped.recv_timeout(StdDuration::from_secs(20)).expect("1000 rows make a day file");

        // Written but not handed over: on disk, yet counted once (from the hot tier).
        let files = day_files(dir.path());
        assert!(files.len() == 1 && files[0].ends_with(".parquet.tmp"), "staged day file: {files:?}");
        assert_eq!(count(&store).await, 1_000);

        // Queries run back to back while the file takes the rows' place.
        let stop = Arc::new(AtomicBool::new(false));
        let querying = {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    seen.push(count(&store).await);
                }
                seen
            })
        };
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        resume.send(()).unwrap();
        wait_until("the day file is handed over", || store.hot_days().is_empty()).await;
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        stop.store(true, Ordering::SeqCst);
        let seen = querying.await.unwrap();
        assert!(seen.len() > 2, "queries ran during the hand-over: {}", seen.len());
        assert!(seen.iter().all(|n| *n == 1_000), "every query counts each row once: {seen:?}");
        let files = day_files(dir.path());
        assert!(files.len() == 1 && files[0].ends_with(".parquet"), "published day file: {files:?}");
        assert_eq!(count(&store).await, 1_000);

        // After a restart the log does not bring the written rows back a second time.
        store.close();
        let reopened = open_store(dir.path(), &master, 1_000);
        assert_eq!(count(&reopened).await, 1_000);
        assert!(reopened.hot_days().is_empty());
    }

    struct Folders {
        _dir: tempfile::TempDir,
        events: PathBuf,
        rollups: PathBuf,
        keyring: Keyring,
    }

    fn folders() -> Folders {
        let dir = tempfile::tempdir().unwrap();
        let (events, rollups) = (dir.path().join("events"), dir.path().join("rollups"));
        fs::create_dir_all(&events).unwrap();
        fs::create_dir_all(&rollups).unwrap();
        let keyring = Keyring::open(Key::random(), dir.path().join("keyring")).unwrap();
        Folders { _dir: dir, events, rollups, keyring }
    }

    fn touch(dir: &Path, file: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(file), file).unwrap();
    }

    fn aside(root: &Path, prefix: &str) -> PathBuf {
        root.join(format!("{prefix}{}", format_day(DAY)))
    }

    #[test]
    fn p13_rekey_interrupted_after_setting_aside_goes_forward() {
        let f = folders();
        f.keyring.get_or_create(DAY).unwrap();
        let new_key = f.keyring.create_pending(DAY).unwrap();
        touch(&aside(&f.events, REKEY_PREFIX), "part-rekeyed.parquet");
        touch(&aside(&f.rollups, SHRED_PREFIX), "rollup.parquet");
        touch(&aside(&f.events, SHRED_PREFIX), "part-old.parquet");
        finish_rekeys(&f.events, &f.rollups, &f.keyring).unwrap();
        assert_eq!(f.keyring.get(DAY).unwrap().bytes(), new_key.bytes(), "the new key is the day's key");
        assert!(f.keyring.pending(DAY).is_none());
        assert!(cold::day_dir(&f.events, DAY).join("part-rekeyed.parquet").exists());
        assert!(!aside(&f.events, SHRED_PREFIX).exists() && !aside(&f.rollups, SHRED_PREFIX).exists());
        assert!(!cold::day_dir(&f.rollups, DAY).exists(), "no rollup under the destroyed key");
    }

    #[test]
    fn p13_rekey_interrupted_before_the_events_were_set_aside_is_undone() {
        let f = folders();
        let old_key = f.keyring.get_or_create(DAY).unwrap();
        f.keyring.create_pending(DAY).unwrap();
        touch(&cold::day_dir(&f.events, DAY), "part-old.parquet");
        touch(&aside(&f.rollups, SHRED_PREFIX), "rollup.parquet");
        touch(&aside(&f.events, REKEY_PREFIX), "part-rekeyed.parquet");
        finish_rekeys(&f.events, &f.rollups, &f.keyring).unwrap();
        assert_eq!(f.keyring.get(DAY).unwrap().bytes(), old_key.bytes(), "the old key stays");
        assert!(f.keyring.pending(DAY).is_none());
        assert!(cold::day_dir(&f.events, DAY).join("part-old.parquet").exists());
        assert!(cold::day_dir(&f.rollups, DAY).join("rollup.parquet").exists(), "the rollup is put back");
        assert!(!aside(&f.events, REKEY_PREFIX).exists());
    }

    #[test]
    fn p13_rekey_committed_but_not_moved_in_is_finished_and_stale_staging_removed() {
        let f = folders();
        f.keyring.get_or_create(DAY).unwrap();
        f.keyring.create_pending(DAY).unwrap();
        f.keyring.commit_pending(DAY).unwrap();
        touch(&aside(&f.events, REKEY_PREFIX), "part-rekeyed.parquet");
        finish_rekeys(&f.events, &f.rollups, &f.keyring).unwrap();
        assert!(cold::day_dir(&f.events, DAY).join("part-rekeyed.parquet").exists());

        // A staging folder of a day destroyed meanwhile must not come back.
        let g = folders();
        touch(&aside(&g.events, REKEY_PREFIX), "part-rekeyed.parquet");
        finish_rekeys(&g.events, &g.rollups, &g.keyring).unwrap();
        assert!(!cold::day_dir(&g.events, DAY).exists() && !aside(&g.events, REKEY_PREFIX).exists());
    }
}
