//! The ClickHouse backend, for installations that outgrow one machine: events in MergeTree
//! tables on a cluster of shards behind a Distributed table, rollups and kept aggregates beside
//! them, the same SQL shape as the embedded store (see [`crate::sql`]) in ClickHouse's dialect.
//!
//! Values always travel through the client library's binding (`?`), which escapes them; the
//! only names written into statements are the database and cluster names, which must be plain
//! identifiers. Retention is real deletion: a day's partitions are dropped on every shard, and
//! some sites' rows are removed from a day by a mutation that is awaited and then verified.
//! There is no key to destroy (unlike the embedded store's crypto-shredding): the rows are gone
//! from the servers once the mutation or the partition drop is done, and backups of the
//! ClickHouse data must follow the same retention.
//!
//! When a shard does not answer, appends go on: its rows wait in the node's encrypted spool
//! ([`spool`]) and reach it when it is back, and queries leave it out and say so
//! ([`EventStore::partial`]). Rollups wait until every shard answers.

#[cfg(test)]
mod current_release_tests;
mod error_answers;
mod rows;
mod schema;
mod spool;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use obscura_model::{Clock, Event, Metric, day_of_ms, format_day, parse_day};
use obscura_query::errors::{ErrorCountRow, IssueRow, IssueSummary};
use obscura_query::measures::{HistogramRow, MeasureCell, MeasureCells};
use obscura_query::{
    Aggregate, AutomatedPoint, BreakdownRow, Dimension, Interval, OpenVisit, Query, SeriesPoint, Totals,
};
use time::Date;
use tokio::sync::{mpsc, oneshot};

use crate::crypto::Key;
use crate::row::StoredRow;
use crate::sql::Dialect;
use crate::{DayCell, EventStore, Param, RollupCell, SqlQuery, StoreError};
use rows::{CellRow, MeasureCellRow, day_number, day_of_number};
use spool::Spool;

/// How a day's rollup goes into `rollup_days`: the rendered rollup SQL follows in parentheses.
const ROLLUP_INSERT: &str = "INSERT INTO rollup_days SELECT toDate(?) AS day, toUInt32(site), toString(dim), \
    if(dim = '', NULL, value), toInt64(visitors), toInt64(visits), toInt64(pageviews), toInt64(events), \
    toInt64(bounces), toInt64(duration_ms) FROM";
/// How each kind of answer is read: the rendered query goes in `{}`; explicit casts fix the
/// types RowBinary carries, whatever the server version infers.
const AGGREGATE_OUTER: &str = "SELECT toInt64(ifNull(visitors, 0)), toInt64(ifNull(visits, 0)), \
    toInt64(ifNull(pageviews, 0)), toInt64(ifNull(bounces, 0)), toInt64(ifNull(duration_ms, 0)) FROM ({})";
const TIMESERIES_OUTER: &str = "SELECT toInt64(bucket), toInt64(ifNull(visitors, 0)), toInt64(ifNull(visits, 0)), \
    toInt64(ifNull(pageviews, 0)) FROM ({})";
const BREAKDOWN_OUTER: &str = "SELECT toString(ifNull(value, '')), toInt64(ifNull(visitors, 0)), \
    toInt64(ifNull(visits, 0)), toInt64(ifNull(pageviews, 0)), toInt64(ifNull(events, 0)) FROM ({})";
const MEASURES_OUTER: &str = "SELECT toString(k0), toString(k1), toString(k2), toString(metric), toFloat64(bucket), \
    toInt64(rating), toInt64(n), toFloat64(ifNull(total, 0)) FROM ({})";
/// A row of [`MEASURE_DAY_OUTER`]: site, group values, metric, bucket, rating, count, sum.
type DayHistogramRow = (u32, String, String, String, String, f64, i64, i64, f64);

const MEASURE_DAY_OUTER: &str = "SELECT toUInt32(site), toString(k0), toString(k1), toString(k2), \
    toString(metric), toFloat64(bucket), toInt64(rating), toInt64(n), toFloat64(ifNull(total, 0)) FROM ({})";
const MEASURE_VISITORS_OUTER: &str = "SELECT toUInt32(site), toString(k0), toString(k1), toString(k2), \
    toString(metric), toInt64(visitors) FROM ({})";
const ISSUES_OUTER: &str = "SELECT toString(ifNull(fingerprint, '')), toInt64(events), toInt64(visitors), toInt64(first_ms), \
    toInt64(last_ms), toString(ifNull(latest_props, '')) FROM ({})";
const ISSUES_BY_DAY_OUTER: &str = "SELECT toString(on_day), toString(ifNull(fingerprint, '')), toInt64(events), \
    toInt64(visitors), toInt64(first_ms), toInt64(last_ms), toString(ifNull(latest_props, '')) FROM ({})";
const ERROR_COUNTS_BY_DAY_OUTER: &str =
    "SELECT toString(on_day), toString(ifNull(value, '')), toInt64(events), toInt64(visitors) FROM ({})";
const ERROR_CELLS_BY_DAY_OUTER: &str = "SELECT toString(on_day), toString(ifNull(v0, '')), toString(ifNull(v1, '')), \
    toString(ifNull(v2, '')), toString(ifNull(v3, '')), toString(ifNull(v4, '')), toInt64(events), toInt64(visitors), \
    toInt64(first_ms), toInt64(last_ms) FROM ({})";
/// A day's error cell, as [`ERROR_CELLS_BY_DAY_OUTER`] selects it.
#[derive(clickhouse::Row, serde::Deserialize)]
struct ErrorCellRow {
    day: String,
    values: [String; crate::error_cells::MAX_DIMS],
    events: i64,
    visitors: i64,
    first_ms: i64,
    last_ms: i64,
}
const FUNNEL_OUTER: &str = "SELECT toInt64(s0), toInt64(s1), toInt64(s2), toInt64(s3), toInt64(s4), toInt64(s5), \
    toInt64(s6), toInt64(s7) FROM ({})";
const AUTOMATED_POINTS_OUTER: &str = "SELECT toInt64(bucket), toInt64(events), toInt64(visitors) FROM ({})";
const ISSUE_TREND_OUTER: &str = "SELECT toString(ifNull(fingerprint, '')), toInt64(bucket), toInt64(events) FROM ({})";
const ERROR_COUNTS_OUTER: &str = "SELECT toString(ifNull(value, '')), toInt64(events), toInt64(visitors) FROM ({})";
const OPEN_VISITS_OUTER: &str = "SELECT toInt64(site), toUInt64(visitor), toUInt64(visit), toInt64(last_ms), \
    toInt64(pageviews), toString(last_path) FROM ({})";

/// At most this many rows go into one insert (group commit).
const MAX_BATCH_ROWS: usize = 50_000;
/// Imports are inserted in chunks of this many rows.
const IMPORT_CHUNK: usize = 100_000;
/// How long a mutation (removing rows) may take before the purge is reported as failed.
const MUTATION_TIMEOUT: StdDuration = StdDuration::from_secs(300);
/// A finished day is rolled up once it has been over this long, so late appends are in.
const ROLLUP_GRACE_MS: i64 = 5 * 60 * 1000;
/// How often the shards are asked whether they answer, and the spool drained into them.
const CHECK_EVERY: StdDuration = StdDuration::from_millis(500);
/// A shard that does not answer `SELECT 1` within this long counts as down.
const PING_TIMEOUT: StdDuration = StdDuration::from_secs(2);
/// Visits asked about at once when spooled rows are checked against their shard.
const CHECK_CHUNK: usize = 1_000;
/// How long sending an insert's rows, and then waiting for its acknowledgement, may take: a
/// shard that hangs must not hold up every append.
const INSERT_SEND_TIMEOUT: StdDuration = StdDuration::from_secs(10);
const INSERT_END_TIMEOUT: StdDuration = StdDuration::from_secs(60);
/// How long one spool drain step (check or insert) may take.
const DRAIN_STEP_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// How to reach the cluster.
#[derive(Clone)]
pub struct ClickHouseOptions {
    /// The HTTP address of each shard (`http://host:8123`). Queries, rollups and kept aggregates
    /// go to the first; tables are created on each.
    pub shards: Vec<String>,
    /// The database Obscura's tables live in (a plain identifier).
    pub database: String,
    /// The cluster's name in the servers' `remote_servers` configuration (a plain identifier).
    pub cluster: String,
    /// The user, if not `default`.
    pub user: Option<String>,
    /// The user's password.
    pub password: Option<String>,
    /// Says which day is finished (rolled up) and which is today.
    pub clock: Arc<dyn Clock>,
    /// Where this node keeps rows a shard could not take yet; without it, an append that a
    /// shard does not acknowledge fails (and the client is told to retry).
    pub spool: Option<SpoolOptions>,
}

/// The node-local spool of [`ClickHouseOptions`].
#[derive(Clone)]
pub struct SpoolOptions {
    /// The folder (on this node's disk) the sealed files go to.
    pub dir: PathBuf,
    /// The key they are sealed under (the master key).
    pub key: Key,
    /// How many bytes of sealed rows it takes before appends fail.
    pub max_bytes: u64,
    /// Acknowledge every append once it is held here, and store it in the cluster behind
    /// (faster: the answer waits for a local fsync, not for ClickHouse); otherwise only rows a
    /// shard does not take are held.
    pub acknowledge_on_node: bool,
}

struct Commit {
    rows: Vec<StoredRow>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The ClickHouse [`EventStore`]. `append` returns once every shard the rows went to has
/// acknowledged its insert.
pub struct ClickHouseStore {
    options: ClickHouseOptions,
    /// The first shard, with the database and the query settings.
    client: clickhouse::Client,
    /// The first shard for dashboard queries, which leave out shards that do not answer.
    reader: clickhouse::Client,
    /// Each shard, for statements that must run on every one (partitions, mutations).
    shards: Vec<clickhouse::Client>,
    /// The shards as appends see them: which answer, and the spool for those that do not.
    cluster: Arc<Cluster>,
    commits: Mutex<Option<mpsc::Sender<Commit>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Watches the shards and drains the spool, until the store closes.
    watcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    version: String,
    /// One rollup build at a time: a day's partition is dropped and filled again.
    rolling: tokio::sync::Mutex<()>,
    /// The days answered from rollups, as last read; emptied by whatever changes them (rollups,
    /// destroyed days, kept aggregates), so most queries need no extra round trip.
    rolled: Mutex<Option<Vec<Date>>>,
    /// Finished days' answers to error questions.
    error_days: crate::error_days::ErrorDays,
}

fn client(url: &str, options: &ClickHouseOptions) -> clickhouse::Client {
    let mut client = clickhouse::Client::default()
        .with_url(url)
        // 18.16 does not know the format validation asks for.
        .with_validation(false)
        // Rows of a visit share a shard (sharded by visit): visit-level subqueries run per shard.
        .with_setting("distributed_product_mode", "local");
    if let Some(user) = &options.user {
        client = client.with_user(user);
    }
    if let Some(password) = &options.password {
        client = client.with_password(password);
    }
    client
}

fn failed(what: &str, e: clickhouse::error::Error) -> StoreError {
    StoreError::Storage(anyhow::anyhow!("ClickHouse: {what}: {e}"))
}

/// `sql` with its `$n` placeholders turned into the client's `?`, and the values to bind in
/// that order (a placeholder may appear more than once).
fn placeholders(q: &SqlQuery) -> (String, Vec<Param>) {
    let mut sql = String::with_capacity(q.sql.len());
    let mut values = Vec::new();
    let mut chars = q.sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let digits: String = if c == '$' {
            std::iter::from_fn(|| chars.next_if(|(_, d)| d.is_ascii_digit()).map(|(_, d)| d)).collect()
        } else {
            String::new()
        };
        match digits.parse::<usize>() {
            Ok(n) if n >= 1 && n <= q.params.len() => {
                sql.push('?');
                values.push(q.params[n - 1].clone());
            }
            _ => {
                sql.push_str(&q.sql[i..i + c.len_utf8()]);
                sql.push_str(&digits);
            }
        }
    }
    (sql, values)
}

/// `day`'s rollup query, with its values in the client's order.
fn day_rollup(day: Date) -> (String, Vec<Param>) {
    placeholders(&SqlQuery { sql: Dialect::ClickHouse.rollup_day_sql(), params: vec![Param::Text(format_day(day))] })
}

fn bind(mut query: clickhouse::query::Query, values: &[Param]) -> clickhouse::query::Query {
    for value in values {
        query = match value {
            Param::Timestamp(v) => query.bind(*v),
            Param::UInt(v) => query.bind(*v),
            Param::Text(v) => query.bind(v.as_str()),
        };
    }
    query
}

/// Whether a server of `version` (`18.16.1`, `26.9.2.1`) has encrypted disks (21.10 and later).
fn has_encrypted_disks(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (21, 10)
}

fn yyyymmdd(day: Date) -> u32 {
    day.year() as u32 * 10_000 + u32::from(u8::from(day.month())) * 100 + u32::from(day.day())
}

impl ClickHouseStore {
    /// Connects to every shard, creates the tables that are missing and starts the group
    /// commit. Fails with the address of a shard that cannot be reached, or when the servers do
    /// not define the cluster.
    pub async fn connect(options: ClickHouseOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(!options.shards.is_empty(), "ClickHouse: no shard addresses are configured");
        for (what, name) in [("database", &options.database), ("cluster", &options.cluster)] {
            anyhow::ensure!(
                schema::is_identifier(name),
                "ClickHouse {what} name {name:?} must be letters, digits and _ (not starting with a digit)"
            );
        }
        let mut version = String::new();
        let mut unreachable = Vec::new();
        let plain: Vec<clickhouse::Client> = options.shards.iter().map(|url| client(url, &options)).collect();
        let tables = schema::shard_tables(&options.database, &options.cluster);
        for (i, (url, plain)) in options.shards.iter().zip(&plain).enumerate() {
            let v: String = match plain.query("SELECT version()").fetch_one().await {
                Ok(v) => v,
                // Another shard may be down at start when its rows can wait in the spool.
                Err(e) if i > 0 && options.spool.is_some() => {
                    unreachable.push((i, e.to_string()));
                    continue;
                }
                Err(e) => anyhow::bail!("cannot reach ClickHouse at {url}: {e}"),
            };
            let mut statements = tables.clone();
            if i == 0 {
                version = v;
                statements.extend(schema::rollup_tables(&options.database));
            }
            for statement in statements {
                plain
                    .query(&statement)
                    .execute()
                    .await
                    .map_err(|e| anyhow::anyhow!("ClickHouse at {url} cannot create Obscura's tables: {e}"))?;
            }
            add_missing_columns(plain, &options.database)
                .await
                .map_err(|e| anyhow::anyhow!("ClickHouse at {url} cannot add Obscura's new columns: {e}"))?;
        }
        let shards: Vec<clickhouse::Client> =
            options.shards.iter().map(|url| client(url, &options).with_database(&options.database)).collect();
        let defined: u64 = shards[0]
            .query("SELECT count() FROM system.clusters WHERE cluster = ?")
            .bind(options.cluster.as_str())
            .fetch_one()
            .await
            .map_err(|e| anyhow::anyhow!("ClickHouse at {}: {e}", options.shards[0]))?;
        anyhow::ensure!(
            defined as usize == options.shards.len(),
            "ClickHouse at {} defines cluster {:?} with {defined} shards, but {} addresses are configured: \
             the servers' remote_servers section must list every shard",
            options.shards[0],
            options.cluster,
            options.shards.len()
        );
        let client = shards[0].clone();
        // A dashboard query leaves out a shard that does not answer rather than failing;
        // `partial` says so. Rollups, retention and exports keep failing instead.
        let reader = shards[0].clone().with_setting("skip_unavailable_shards", "1");
        let spool = match options.spool.clone() {
            Some(s) => {
                Some(Arc::new(tokio::task::spawn_blocking(move || Spool::open(&s.dir, s.key, s.max_bytes)).await??))
            }
            None => None,
        };
        let cluster = Arc::new(Cluster {
            shards: shards.clone(),
            urls: options.shards.clone(),
            down_since: options.shards.iter().map(|_| AtomicI64::new(0)).collect(),
            ahead: options.spool.as_ref().is_some_and(|s| s.acknowledge_on_node),
            spool,
            unsent: Mutex::new(HashSet::new()),
            wake: tokio::sync::Notify::new(),
            clock: options.clock.clone(),
            rollups_dropped: AtomicBool::new(false),
            draining: tokio::sync::Mutex::new(()),
            tables,
            plain,
        });
        for (i, why) in unreachable {
            cluster.mark_down(i, &format!("not reachable at start: {why}"));
        }
        let (commits, rx) = mpsc::channel(1024);
        let committer = tokio::spawn(group_commit(cluster.clone(), rx));
        let watcher = tokio::spawn(watch_shards(cluster.clone()));
        // Other nodes may change a day: answers in memory are asked again after a while.
        let saved = Arc::new(error_answers::ErrorAnswerTable::new(client.clone(), options.clock.clone()));
        let error_days = crate::error_days::ErrorDays::new(Some(crate::error_days::TTL), Some(saved));
        let store = ClickHouseStore {
            options,
            client,
            reader,
            shards,
            cluster,
            commits: Mutex::new(Some(commits)),
            tasks: Mutex::new(vec![committer]),
            watcher: Mutex::new(Some(watcher)),
            version,
            rolling: tokio::sync::Mutex::new(()),
            rolled: Mutex::new(None),
            // Other nodes may purge or import: answers are asked again after a while.
            error_days,
        };
        let encrypted_disks = if has_encrypted_disks(&store.version) {
            let n: u64 = store
                .client
                .query("SELECT count() FROM system.disks WHERE type = 'encrypted'")
                .fetch_one()
                .await
                .unwrap_or(0);
            Some(n)
        } else {
            None
        };
        let at_rest = match encrypted_disks {
            Some(n) if n > 0 => {
                format!("{n} encrypted disks are defined: put Obscura's tables on them with a storage policy")
            }
            Some(_) => {
                "no encrypted disk is defined: define one, or keep the data folder on an encrypted volume".into()
            }
            None => "this version has no encrypted disks (21.10 and later do): keep the data folder on an \
                     encrypted volume"
                .into(),
        };
        tracing::warn!(
            version = %store.version,
            shards = store.options.shards.len(),
            "ClickHouse does not encrypt what Obscura stores in it by itself; {at_rest}. Retention is \
             Obscura's own (partitions dropped, rows deleted), not table TTL; keep ClickHouse backups no \
             longer than the shortest retention"
        );
        Ok(store)
    }

    /// The server version of the first shard.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Rolls up every finished day that has rows but no rollup yet (run by maintenance).
    /// Waits while a shard does not answer: a rollup of part of a day would stay wrong. (A
    /// finished day that spooled rows reach later loses its rollup then, and is rolled up
    /// again here.)
    pub async fn roll_up_finished_days(&self) -> Result<Vec<Date>, StoreError> {
        if self.cluster.any_down() {
            return Ok(Vec::new());
        }
        let finished = day_of_ms(self.options.clock.now_ms() - ROLLUP_GRACE_MS);
        let rolled: BTreeSet<Date> = self.dates("SELECT DISTINCT day FROM rollup_days").await?.into_iter().collect();
        let mut built = Vec::new();
        for day in self.event_days().await? {
            if day < finished && !rolled.contains(&day) {
                self.roll_up(day).await?;
                built.push(day);
            }
        }
        Ok(built)
    }

    /// Replaces `day`'s rollup with one computed from its rows now.
    async fn roll_up(&self, day: Date) -> Result<(), StoreError> {
        let _one = self.rolling.lock().await;
        self.drop_rollup(day).await?;
        // The speed cells first: a day counts as rolled up once `rollup_days` has it.
        self.roll_up_measures(day).await?;
        let built = self.rollup_statement(day).execute().await.map_err(|e| failed("rolling up a day", e));
        // Also after: a query in between may have read the days before the insert.
        self.forget_rolled_days();
        built
    }

    async fn dates(&self, sql: &str) -> Result<Vec<Date>, StoreError> {
        let days: Vec<u16> = self
            .client
            .query(&format!("{sql} ORDER BY day"))
            .fetch_all()
            .await
            .map_err(|e| failed("listing days", e))?;
        Ok(days.into_iter().map(day_of_number).collect())
    }

    async fn event_days(&self) -> Result<Vec<Date>, StoreError> {
        self.dates("SELECT DISTINCT day FROM events").await
    }

    async fn count_where(&self, condition: &str, day: Date, sites: Option<&[u32]>) -> Result<u64, StoreError> {
        let mut query =
            self.client.query(&format!("SELECT count() FROM events WHERE {condition}")).bind(format_day(day));
        if let Some(sites) = sites {
            query = query.bind(sites.to_vec());
        }
        query.fetch_one().await.map_err(|e| failed("counting rows", e))
    }

    /// Runs `statement`, bound to `day`'s partition, on every shard.
    async fn on_every_shard(&self, statement: &str, day: Date) -> Result<(), StoreError> {
        for (shard, url) in self.shards.iter().zip(&self.options.shards) {
            shard.query(statement).bind(yyyymmdd(day)).execute().await.map_err(|e| failed(&format!("at {url}"), e))?;
        }
        Ok(())
    }

    /// Waits until no mutation of `table` is pending on `shard`.
    async fn await_mutations(&self, shard: &clickhouse::Client, table: &str) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        loop {
            let pending: u64 = shard
                .query("SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0")
                .bind(self.options.database.as_str())
                .bind(table)
                .fetch_one()
                .await
                .map_err(|e| failed("checking a mutation", e))?;
            if pending == 0 {
                return Ok(());
            }
            if started.elapsed() > MUTATION_TIMEOUT {
                return Err(StoreError::Storage(anyhow::anyhow!(
                    "ClickHouse: removing rows from {table} did not finish within {} s",
                    MUTATION_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    }

    async fn rows(&self, rows: Vec<StoredRow>) -> Result<(), StoreError> {
        insert_rows(&self.shards, rows).await.map_err(|e| StoreError::Storage(anyhow::anyhow!(e)))
    }

    /// The statement for a rendered query wrapped in `outer` (which reads it as `({})`), its
    /// values bound by the client.
    fn statement(&self, rendered: &SqlQuery, outer: &str) -> clickhouse::query::Query {
        let (sql, values) = placeholders(rendered);
        bind(self.reader.query(&outer.replace("{}", &sql)), &values)
    }

    /// Runs a rendered query wrapped in `outer` and fetches rows of `T`.
    async fn fetch<T>(&self, rendered: &SqlQuery, outer: &str) -> Result<Vec<T>, StoreError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.statement(rendered, outer).fetch_all().await.map_err(|e| StoreError::Query(format!("ClickHouse: {e}")))
    }

    /// `day`'s speed cells of grouping `set` and `metrics`, from its rows.
    async fn day_cells(
        &self,
        day: Date,
        set: &[Dimension],
        metrics: &[Metric],
    ) -> Result<Vec<crate::measure_rollup::DayCell>, StoreError> {
        let failure = |e| failed("rolling up a day's speed figures", e);
        let rendered = Dialect::ClickHouse.measure_day_histogram(set, metrics);
        let (sql, values) = placeholders(&SqlQuery {
            sql: rendered.sql,
            params: std::iter::once(Param::Text(format_day(day))).chain(rendered.params).collect(),
        });
        let histogram: Vec<DayHistogramRow> = bind(self.client.query(&MEASURE_DAY_OUTER.replace("{}", &sql)), &values)
            .fetch_all()
            .await
            .map_err(failure)?;
        let histogram = histogram
            .into_iter()
            .map(|(site, k0, k1, k2, metric, bucket, rating, n, total)| {
                let keys = [k0, k1, k2].into_iter().take(set.len()).collect();
                (site, HistogramRow { keys, metric, bucket, rating: rating.clamp(0, 3) as u8, n: count(n), total })
            })
            .collect();
        Ok(crate::measure_rollup::day_cells(set, histogram))
    }

    /// Writes `day`'s speed cells (every rolled grouping) to `measure_rollup_days`.
    async fn roll_up_measures(&self, day: Date) -> Result<(), StoreError> {
        let failure = |e| failed("rolling up a day's speed figures", e);
        let mut rows = Vec::new();
        for (set, metrics) in crate::measure_rollup::rolled_sets() {
            let cells = self.day_cells(day, &set, metrics).await?;
            rows.extend(cells.into_iter().map(|c| MeasureCellRow::new(day_number(day), c)));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self.client.insert::<MeasureCellRow>("measure_rollup_days").await.map_err(failure)?;
        for row in &rows {
            insert.write(row).await.map_err(failure)?;
        }
        insert.end().await.map_err(failure)
    }

    /// The speed cells of `site` and grouping `by` in `table` (`measure_rollup_days` or
    /// `kept_measures`) on the days of `q`'s range, by day.
    async fn cells_in_range(
        &self,
        table: &str,
        site: u32,
        dims: &str,
        q: &Query,
    ) -> Result<Vec<(Date, crate::measure_rollup::DayCells)>, StoreError> {
        let first = q.range.from.date();
        let last = (q.range.to - time::Duration::milliseconds(1)).date();
        // The table is one of two constants, never input.
        let rows: Vec<MeasureCellRow> = self
            .reader
            .query(&format!("SELECT ?fields FROM {table} WHERE site = ? AND dims = ? AND day >= ? AND day <= ?"))
            .bind(site)
            .bind(dims)
            .bind(format_day(first))
            .bind(format_day(last))
            .fetch_all()
            .await
            .map_err(|e| StoreError::Query(format!("ClickHouse: {e}")))?;
        let mut days: BTreeMap<Date, Vec<crate::measure_rollup::DayCell>> = BTreeMap::new();
        for row in rows {
            days.entry(day_of_number(row.day)).or_default().push(row.into_cell());
        }
        Ok(days.into_iter().map(|(d, cells)| (d, crate::measure_rollup::DayCells::new(cells))).collect())
    }

    /// The statement that fills `rollup_days` with `day`'s rollup.
    fn rollup_statement(&self, day: Date) -> clickhouse::query::Query {
        let (sql, values) = day_rollup(day);
        // The day column's `?` comes first, then the rendered query's.
        let insert = format!("{ROLLUP_INSERT} ({sql})");
        bind(self.client.query(&insert).bind(format_day(day).as_str()), &values)
    }

    async fn rolled_days(&self) -> Result<Vec<Date>, StoreError> {
        if self.cluster.rollups_dropped.swap(false, Ordering::Relaxed) {
            self.forget_rolled_days();
        }
        if let Some(days) = self.rolled.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(days);
        }
        let days = self.dates("SELECT DISTINCT day FROM rollups").await?;
        *self.rolled.lock().unwrap_or_else(|e| e.into_inner()) = Some(days.clone());
        Ok(days)
    }

    /// Removes `day`'s rollup (the caller holds `rolling`).
    async fn drop_rollup(&self, day: Date) -> Result<(), StoreError> {
        self.forget_rolled_days();
        let dropped = drop_rollup_partition(&self.client, day).await;
        self.forget_rolled_days();
        dropped.map_err(|e| failed("removing a day's rollup", e))
    }

    /// Forgets the rolled-up days read last: they are about to change.
    fn forget_rolled_days(&self) {
        self.rolled.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The rows of each shard: the row of visit `v` goes to shard `v % shards`, where the
/// Distributed table (sharded by visit, equal weights) would put it.
fn split_by_shard(rows: Vec<StoredRow>, shards: usize) -> Vec<Vec<StoredRow>> {
    let mut per_shard: Vec<Vec<StoredRow>> = (0..shards).map(|_| Vec::new()).collect();
    for row in rows {
        per_shard[(row.visit % shards as u64) as usize].push(row);
    }
    per_shard
}

/// Drops `day`'s partition of `rollup_days` (on the first shard, `first`).
/// Adds the columns of [`rows::ADDED_EVENT_COLUMNS`] that tables made by an earlier release
/// lack (18.16 has no `ADD COLUMN IF NOT EXISTS`).
async fn add_missing_columns(shard: &clickhouse::Client, database: &str) -> Result<(), clickhouse::error::Error> {
    for table in ["events_local", "events"] {
        for (column, kind) in rows::ADDED_EVENT_COLUMNS {
            let present: u64 = shard
                .query("SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?")
                .bind(database)
                .bind(table)
                .bind(column)
                .fetch_one()
                .await?;
            if present == 0 {
                // Names come from constants and a checked identifier, never from input.
                shard.query(&format!("ALTER TABLE {database}.{table} ADD COLUMN {column} {kind}")).execute().await?;
            }
        }
    }
    Ok(())
}

async fn drop_rollup_partition(first: &clickhouse::Client, day: Date) -> Result<(), clickhouse::error::Error> {
    first.query("ALTER TABLE rollup_days DROP PARTITION ?").bind(yyyymmdd(day)).execute().await?;
    first.query("ALTER TABLE measure_rollup_days DROP PARTITION ?").bind(yyyymmdd(day)).execute().await
}

/// Runs `work` on the spool off the runtime's worker threads (it reads, writes and fsyncs
/// files), one error for both ways it can fail.
async fn on_spool<T: Send + 'static>(
    spool: &Arc<Spool>,
    work: impl FnOnce(&Spool) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let spool = spool.clone();
    tokio::task::spawn_blocking(move || work(&spool)).await?
}

/// Inserts `rows` into one shard's `events_local`; done when the shard acknowledged them.
async fn insert_into(shard: &clickhouse::Client, rows: &[StoredRow]) -> Result<(), clickhouse::error::Error> {
    let mut insert = shard
        .insert::<StoredRow>("events_local")
        .await?
        .with_timeouts(Some(INSERT_SEND_TIMEOUT), Some(INSERT_END_TIMEOUT));
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// Whether `e` says the shard could not be reached (rather than that it refused the request).
fn unreachable(e: &clickhouse::error::Error) -> bool {
    matches!(e, clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut)
}

/// Inserts rows into each shard's `events_local` directly, all shards at once, without the
/// extra hop through the first shard. Succeeds once every shard that got rows has acknowledged
/// them (imports: no spool).
async fn insert_rows(shards: &[clickhouse::Client], rows: Vec<StoredRow>) -> Result<(), String> {
    let per_shard = split_by_shard(rows, shards.len());
    let inserts = shards.iter().zip(per_shard).filter(|(_, rows)| !rows.is_empty()).map(|(shard, rows)| async move {
        insert_into(shard, &rows).await.map_err(|e| format!("ClickHouse did not take the rows: {e}"))
    });
    futures::future::try_join_all(inserts).await.map(drop)
}

/// The shards as appends see them: which answer now, and where rows wait for those that do not.
struct Cluster {
    shards: Vec<clickhouse::Client>,
    urls: Vec<String>,
    /// When each shard was last found not answering (ms since the epoch); 0 while it answers.
    down_since: Vec<AtomicI64>,
    spool: Option<Arc<Spool>>,
    /// Appends are acknowledged once held in the spool (see [`SpoolOptions`]).
    ahead: bool,
    /// Spooled files this process wrote and never tried to insert: their rows cannot be in the
    /// cluster yet, so draining them needs no check.
    unsent: Mutex<HashSet<u64>>,
    /// Wakes the drainer when files were added.
    wake: tokio::sync::Notify,
    clock: Arc<dyn Clock>,
    /// Set when a drain removed a finished day's rollup (its rows changed): the store's list of
    /// rolled-up days is stale.
    rollups_dropped: AtomicBool,
    /// One drain (or discard) at a time: two could both find rows missing and store them twice.
    draining: tokio::sync::Mutex<()>,
    /// The statements that create a shard's tables, run again when a shard comes back (it may
    /// not have had them: down since before this node started).
    tables: Vec<String>,
    /// Each shard without a database set: for pings and those statements, which work before
    /// the database exists.
    plain: Vec<clickhouse::Client>,
}

impl Cluster {
    fn is_down(&self, shard: usize) -> bool {
        self.down_since[shard].load(Ordering::Relaxed) != 0
    }

    fn any_down(&self) -> bool {
        (0..self.shards.len()).any(|i| self.is_down(i))
    }

    fn mark_down(&self, shard: usize, why: &str) {
        let now = self.clock.now_ms().max(1);
        if self.down_since[shard].compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            let then = if self.spool.is_some() {
                "its rows wait in this node's spool and queries leave it out until it is back"
            } else {
                "appends fail (no spool is configured) and queries leave it out until it is back"
            };
            tracing::warn!(shard = %self.urls[shard], "ClickHouse shard does not answer ({why}); {then}");
        }
    }

    fn mark_up(&self, shard: usize) {
        if self.down_since[shard].swap(0, Ordering::Relaxed) != 0 {
            tracing::info!(shard = %self.urls[shard], "ClickHouse shard answers again");
        }
    }

    /// Inserts each shard's rows, or holds them in the spool for a shard that does not take
    /// them (or holds them all, when acknowledging on the node); fails only when some rows are
    /// neither stored nor held, and then holds nothing.
    async fn insert_or_hold(&self, rows: Vec<StoredRow>) -> Result<(), String> {
        let parts: Vec<(usize, Vec<StoredRow>)> = split_by_shard(rows, self.shards.len())
            .into_iter()
            .enumerate()
            .filter(|(_, rows)| !rows.is_empty())
            .collect();
        if self.ahead {
            return self.hold(parts, true).await;
        }
        let tried = futures::future::join_all(parts.into_iter().map(|(i, rows)| self.try_insert(i, rows))).await;
        let mut to_hold = Vec::new();
        for outcome in tried {
            if let Err((shard, rows, e)) = outcome {
                if self.spool.is_none() {
                    return Err(e);
                }
                to_hold.push((shard, rows));
            }
        }
        if to_hold.is_empty() {
            return Ok(());
        }
        self.hold(to_hold, false).await
    }

    /// Inserts one shard's rows; on failure gives them back with the reason.
    async fn try_insert(&self, i: usize, rows: Vec<StoredRow>) -> Result<(), (usize, Vec<StoredRow>, String)> {
        if self.is_down(i) && self.spool.is_some() {
            return Err((i, rows, format!("shard {} does not answer", self.urls[i])));
        }
        match insert_into(&self.shards[i], &rows).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if unreachable(&e) {
                    self.mark_down(i, &e.to_string());
                } else {
                    tracing::warn!(shard = %self.urls[i], "ClickHouse shard refused an insert: {e}");
                }
                Err((i, rows, format!("shard {}: {e}", self.urls[i])))
            }
        }
    }

    /// Holds `parts` in the spool, durably, and wakes the drainer. `unsent`: no insert of
    /// these rows was tried.
    async fn hold(&self, parts: Vec<(usize, Vec<StoredRow>)>, unsent: bool) -> Result<(), String> {
        let spool = self.spool.as_ref().ok_or("no spool is configured")?;
        let files = on_spool(spool, move |spool| spool.hold(&parts))
            .await
            .map_err(|e| format!("the rows could not be stored or held: {e:#}"))?;
        if unsent {
            self.unsent.lock().unwrap_or_else(|e| e.into_inner()).extend(files.iter().map(|f| f.id));
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Asks every shard whether it answers; one that comes back gets its tables first.
    async fn check_shards(&self) {
        for (i, shard) in self.plain.iter().enumerate() {
            match tokio::time::timeout(PING_TIMEOUT, shard.query("SELECT 1").fetch_one::<u8>()).await {
                Ok(Ok(_)) if self.is_down(i) => match self.create_tables(i).await {
                    Ok(()) => self.mark_up(i),
                    Err(e) => {
                        tracing::warn!(shard = %self.urls[i], "ClickHouse shard answers but cannot create Obscura's tables: {e}")
                    }
                },
                Ok(Ok(_)) => {}
                Ok(Err(e)) => self.mark_down(i, &e.to_string()),
                Err(_) => self.mark_down(i, &format!("no answer within {} s", PING_TIMEOUT.as_secs())),
            }
        }
    }

    async fn create_tables(&self, shard: usize) -> Result<(), clickhouse::error::Error> {
        for statement in &self.tables {
            tokio::time::timeout(DRAIN_STEP_TIMEOUT, self.plain[shard].query(statement).execute())
                .await
                .map_err(|_| clickhouse::error::Error::TimedOut)??;
        }
        Ok(())
    }

    /// Hands spooled files to their shards, oldest first, several files to one insert, skipping
    /// shards that are down.
    async fn drain(&self, spool: &Arc<Spool>) {
        let _one = self.draining.lock().await;
        let files = match on_spool(spool, |spool| spool.pending()).await {
            Ok(files) => files,
            Err(e) => return tracing::error!("cannot list the ClickHouse spool: {e:#}"),
        };
        for shard in 0..self.shards.len() {
            let mine: Vec<&spool::SpoolFile> = files.iter().filter(|f| f.shard == shard).collect();
            let mut batch = Vec::new();
            let mut rows = 0;
            for (n, file) in mine.iter().enumerate() {
                batch.push((*file).clone());
                rows += file.rows;
                if (rows as usize) < MAX_BATCH_ROWS && n + 1 < mine.len() {
                    continue;
                }
                if self.is_down(shard) || !self.drain_files(spool, shard, std::mem::take(&mut batch)).await {
                    break;
                }
                rows = 0;
            }
        }
        for file in files.into_iter().filter(|f| f.shard >= self.shards.len()) {
            if let Err(e) = on_spool(spool, move |spool| spool.set_aside(&file)).await {
                tracing::error!("{e:#}");
            }
        }
    }

    /// Stores the rows of `files` (all of `shard`) that the shard lacks, then deletes the
    /// files. Returns whether to go on with the shard's next files.
    async fn drain_files(&self, spool: &Arc<Spool>, shard: usize, files: Vec<spool::SpoolFile>) -> bool {
        let mut rows = Vec::new();
        let mut readable = Vec::new();
        for file in files {
            let read = {
                let (spool, file) = (spool.clone(), file.clone());
                tokio::task::spawn_blocking(move || spool.read(&file)).await
            };
            match read {
                Ok(Ok(mut r)) => {
                    rows.append(&mut r);
                    readable.push(file);
                }
                Ok(Err(e)) => {
                    tracing::error!("{e:#}");
                    if let Err(e) = on_spool(spool, move |spool| spool.set_aside(&file)).await {
                        tracing::error!("{e:#}");
                    }
                }
                Err(e) => {
                    tracing::error!("reading the ClickHouse spool: {e}");
                    return false;
                }
            }
        }
        let days: BTreeSet<Date> = readable.iter().map(|f| f.day).collect();
        // Files never sent cannot be in the cluster; once sent, they are checked if they stay.
        let never_sent = {
            let mut unsent = self.unsent.lock().unwrap_or_else(|e| e.into_inner());
            let all = readable.iter().all(|f| unsent.contains(&f.id));
            for file in &readable {
                unsent.remove(&file.id);
            }
            all
        };
        let stored = tokio::time::timeout(DRAIN_STEP_TIMEOUT, async {
            let missing = if never_sent { rows } else { self.not_yet_stored(shard, rows).await? };
            if !missing.is_empty() {
                insert_into(&self.shards[shard], &missing).await?;
            }
            Ok::<usize, clickhouse::error::Error>(missing.len())
        })
        .await
        .unwrap_or(Err(clickhouse::error::Error::TimedOut));
        let inserted = match stored {
            Ok(n) => n,
            Err(e) if unreachable(&e) => {
                self.mark_down(shard, &e.to_string());
                return false;
            }
            Err(e) => {
                tracing::warn!(shard = %self.urls[shard], "ClickHouse shard refused spooled rows; trying again later: {e}");
                return false;
            }
        };
        if inserted > 0 {
            self.drop_stale_rollups(&days).await;
        }
        let count = readable.len();
        match on_spool(spool, move |spool| readable.iter().try_for_each(|f| spool.release(f))).await {
            Ok(()) => {
                tracing::info!(shard = %self.urls[shard], files = count, rows = inserted, "spooled rows stored");
                true
            }
            // Kept: the next round finds the rows stored and only deletes the files.
            Err(e) => {
                tracing::error!("cannot delete drained spool files: {e:#}");
                false
            }
        }
    }

    /// Removes the rollups of finished `days` whose rows just changed, so maintenance rolls
    /// them up again (a lost rollup only makes queries read rows until then).
    async fn drop_stale_rollups(&self, days: &BTreeSet<Date>) {
        let finished = day_of_ms(self.clock.now_ms() - ROLLUP_GRACE_MS);
        for day in days.iter().filter(|d| **d < finished) {
            let dropped = drop_rollup_partition(&self.shards[0], *day).await;
            self.rollups_dropped.store(true, Ordering::Relaxed);
            if let Err(e) = dropped {
                tracing::error!(%day, "spooled rows were stored after the day was rolled up, and its rollup cannot be removed: {e}");
            }
        }
    }

    /// The rows (of any days) that `shard` does not hold yet. An insert whose answer was lost
    /// may have landed, so a replay sends only what is missing: a spooled row is not counted
    /// twice. Rows are compared whole, as many times as each occurs.
    async fn not_yet_stored(
        &self,
        shard: usize,
        rows: Vec<StoredRow>,
    ) -> Result<Vec<StoredRow>, clickhouse::error::Error> {
        let mut by_day: BTreeMap<Date, Vec<StoredRow>> = BTreeMap::new();
        for row in rows {
            by_day.entry(day_of_ms(row.ts_ms)).or_default().push(row);
        }
        let mut missing = Vec::new();
        for (day, rows) in by_day {
            let visits: Vec<u64> = rows.iter().map(|r| r.visit).collect::<BTreeSet<_>>().into_iter().collect();
            let sites: Vec<u32> = rows.iter().map(|r| r.site).collect::<BTreeSet<_>>().into_iter().collect();
            let first = rows.iter().map(|r| r.ts_ms).min().unwrap_or(0);
            let last = rows.iter().map(|r| r.ts_ms).max().unwrap_or(0);
            let mut present: HashMap<Vec<u8>, usize> = HashMap::new();
            for chunk in visits.chunks(CHECK_CHUNK) {
                let found: Vec<StoredRow> = self.shards[shard]
                    .query(
                        "SELECT ?fields FROM events_local WHERE day = ? AND has(?, site) AND ts_ms >= ? AND ts_ms <= ? \
                         AND has(?, visit)",
                    )
                    .bind(format_day(day))
                    .bind(sites.clone())
                    .bind(first)
                    .bind(last)
                    .bind(chunk.to_vec())
                    .fetch_all()
                    .await?;
                for row in found {
                    *present.entry(row_key(&row)).or_default() += 1;
                }
            }
            for row in rows {
                match present.get_mut(&row_key(&row)) {
                    Some(n) if *n > 0 => *n -= 1,
                    _ => missing.push(row),
                }
            }
        }
        Ok(missing)
    }

    /// Removes waiting rows of `day` (of `sites` only, when given) from the spool: retention
    /// has destroyed them in the cluster.
    async fn discard(&self, day: Date, sites: Option<Vec<u32>>) -> Result<(), StoreError> {
        let Some(spool) = &self.spool else { return Ok(()) };
        let _one = self.draining.lock().await;
        let removed = on_spool(spool, move |spool| spool.discard(day, sites.as_deref())).await?;
        if removed > 0 {
            tracing::info!(%day, rows = removed, "retention removed rows that waited in the spool");
        }
        Ok(())
    }

    /// What answers leave out now, if anything.
    fn partial(&self) -> Option<String> {
        let down: Vec<String> = (0..self.shards.len())
            .filter(|&i| self.is_down(i))
            .map(|i| {
                let since = self.down_since[i].load(Ordering::Relaxed);
                let since = time::OffsetDateTime::from_unix_timestamp(since / 1000)
                    .map(|t| format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second()))
                    .unwrap_or_default();
                format!("ClickHouse shard {} does not answer (since {since}), so its rows are left out", self.urls[i])
            })
            .collect();
        // Acknowledging on the node, rows always wait a moment: only an outage makes that news.
        let waiting = if self.ahead && down.is_empty() { 0 } else { self.spool.as_ref().map_or(0, |s| s.held().rows) };
        let mut parts = down;
        if waiting > 0 {
            parts.push(format!("{waiting} events this node accepted are waiting to be stored"));
        }
        (!parts.is_empty()).then(|| format!("Results are partial: {}.", parts.join("; ")))
    }
}

/// A row's identity for the replay check: every column.
fn row_key(row: &StoredRow) -> Vec<u8> {
    serde_json::to_vec(row).unwrap_or_default()
}

/// Asks the shards whether they answer and drains the spool into those that do, until the
/// store is dropped.
async fn watch_shards(cluster: Arc<Cluster>) {
    let mut every = tokio::time::interval(CHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => cluster.check_shards().await,
            _ = cluster.wake.notified() => {}
        }
        if let Some(spool) = &cluster.spool
            && spool.held().rows > 0
        {
            cluster.drain(spool).await;
        }
    }
}

/// Takes what the appends submitted since the last insert and inserts it at once, then answers
/// each of them: many small appends make one insert (ClickHouse wants few, large inserts).
async fn group_commit(cluster: Arc<Cluster>, mut commits: mpsc::Receiver<Commit>) {
    while let Some(first) = commits.recv().await {
        let mut batch = vec![first];
        let mut rows = batch[0].rows.len();
        while rows < MAX_BATCH_ROWS {
            match commits.try_recv() {
                Ok(commit) => {
                    rows += commit.rows.len();
                    batch.push(commit);
                }
                Err(_) => break,
            }
        }
        let all: Vec<StoredRow> = batch.iter_mut().flat_map(|c| std::mem::take(&mut c.rows)).collect();
        let result = cluster.insert_or_hold(all).await;
        for commit in batch {
            let _ = commit.done.send(result.clone());
        }
    }
}

fn event_rows(events: &[Event]) -> Vec<StoredRow> {
    events.iter().map(StoredRow::from).collect()
}

/// Breakdown rows in the order every backend answers with.
fn sort_breakdown(rows: &mut [BreakdownRow]) {
    rows.sort_by(|a, b| {
        (b.visitors, b.visits, b.pageviews)
            .cmp(&(a.visitors, a.visits, a.pageviews))
            .then_with(|| a.value.cmp(&b.value))
    });
}

fn count(x: i64) -> u64 {
    x.max(0) as u64
}

#[async_trait]
impl crate::error_days::ErrorRows for ClickHouseStore {
    async fn summaries_by_day(&self, q: &Query) -> Result<Vec<(Date, IssueSummary)>, StoreError> {
        let rows: Vec<(String, String, i64, i64, i64, i64, String)> =
            self.fetch(&Dialect::ClickHouse.issues_by_day(q), ISSUES_BY_DAY_OUTER).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(day, fingerprint, events, visitors, first_ms, last_ms, props)| {
                let summary = IssueSummary {
                    fingerprint,
                    events: count(events),
                    visitors: count(visitors),
                    first_ms,
                    last_ms,
                    props: Some(props).filter(|p| !p.is_empty()),
                };
                Some((parse_day(&day)?, summary))
            })
            .collect())
    }

    async fn counts_by_day(&self, q: &Query, dim: &Dimension) -> Result<Vec<(Date, ErrorCountRow)>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> =
            self.fetch(&Dialect::ClickHouse.error_breakdown_by_day(q, dim), ERROR_COUNTS_BY_DAY_OUTER).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(day, value, events, visitors)| {
                Some((parse_day(&day)?, ErrorCountRow { value, events: count(events), visitors: count(visitors) }))
            })
            .collect())
    }

    async fn cells_by_day(
        &self,
        q: &Query,
        grouping: crate::error_cells::Grouping,
    ) -> Result<Vec<(Date, crate::error_cells::CellRow)>, StoreError> {
        let dims = grouping.dims();
        let rows: Vec<ErrorCellRow> =
            self.fetch(&Dialect::ClickHouse.error_cells_by_day(q, &dims), ERROR_CELLS_BY_DAY_OUTER).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let row = crate::error_cells::CellRow {
                    values: r.values.into_iter().take(dims.len()).collect(),
                    events: count(r.events),
                    visitors: count(r.visitors),
                    first_ms: r.first_ms,
                    last_ms: r.last_ms,
                };
                Some((parse_day(&r.day)?, row))
            })
            .collect())
    }

    async fn summaries(&self, q: &Query, limit: u32) -> Result<Vec<IssueSummary>, StoreError> {
        let rows: Vec<(String, i64, i64, i64, i64, String)> =
            self.fetch(&Dialect::ClickHouse.issues(q, limit), ISSUES_OUTER).await?;
        Ok(rows
            .into_iter()
            .map(|(fingerprint, events, visitors, first_ms, last_ms, props)| IssueSummary {
                fingerprint,
                events: count(events),
                visitors: count(visitors),
                first_ms,
                last_ms,
                props: Some(props).filter(|p| !p.is_empty()),
            })
            .collect())
    }

    async fn trend(
        &self,
        q: &Query,
        interval: Interval,
        fingerprints: &[String],
    ) -> Result<Vec<(String, i64, u64)>, StoreError> {
        let rows: Vec<(String, i64, i64)> =
            self.fetch(&Dialect::ClickHouse.issue_trend(q, interval, fingerprints), ISSUE_TREND_OUTER).await?;
        Ok(rows.into_iter().map(|(f, bucket, n)| (f, bucket, count(n))).collect())
    }

    async fn counts(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<ErrorCountRow>, StoreError> {
        let rows: Vec<(String, i64, i64)> =
            self.fetch(&Dialect::ClickHouse.error_breakdown(q, dim, limit), ERROR_COUNTS_OUTER).await?;
        Ok(rows
            .into_iter()
            .map(|(value, events, visitors)| ErrorCountRow { value, events: count(events), visitors: count(visitors) })
            .collect())
    }

    async fn latest(&self, q: &Query, limit: u32) -> Result<Vec<StoredRow>, StoreError> {
        let (cond, values) = placeholders(&Dialect::ClickHouse.error_rows(q));
        let sql = format!("SELECT ?fields FROM events WHERE {cond} ORDER BY ts_ms DESC LIMIT {limit}");
        bind(self.reader.query(&sql), &values).fetch_all().await.map_err(|e| failed("reading error reports", e))
    }
}

#[async_trait]
impl EventStore for ClickHouseStore {
    fn backend(&self) -> &'static str {
        "clickhouse"
    }

    async fn append(&self, events: Vec<Event>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        let commits = self.commits.lock().unwrap_or_else(|e| e.into_inner()).clone().ok_or(StoreError::Closed)?;
        commits.send(Commit { rows: event_rows(&events), done }).await.map_err(|_| StoreError::Closed)?;
        wait.await.map_err(|_| StoreError::Closed)?.map_err(|e| StoreError::Storage(anyhow::anyhow!(e)))
    }

    async fn import_unrolled(&self, events: Vec<Event>) -> Result<Vec<Date>, StoreError> {
        let days: BTreeSet<Date> = events.iter().map(|e| day_of_ms(e.ts_ms)).collect();
        for day in &days {
            self.error_days.forget(*day).await;
        }
        for chunk in events.chunks(IMPORT_CHUNK) {
            self.rows(event_rows(chunk)).await?;
        }
        Ok(days.into_iter().collect())
    }

    async fn roll_up_days(&self, days: &[Date]) -> Result<(), StoreError> {
        let today = self.options.clock.now().date();
        for day in days.iter().filter(|d| **d < today) {
            self.roll_up(*day).await?;
        }
        Ok(())
    }

    async fn aggregate(&self, q: &Query) -> Result<Aggregate, StoreError> {
        let rendered = Dialect::ClickHouse.aggregate(q, &self.rolled_days().await?);
        let rows: Vec<(i64, i64, i64, i64, i64)> = self.fetch(&rendered, AGGREGATE_OUTER).await?;
        let totals =
            rows.first().map_or(Totals::default(), |&(visitors, visits, pageviews, bounces, duration)| Totals {
                visitors: count(visitors),
                visits: count(visits),
                pageviews: count(pageviews),
                bounces: count(bounces),
                duration_ms: count(duration),
            });
        Ok(totals.into_aggregate())
    }

    async fn timeseries(&self, q: &Query, interval: Interval) -> Result<Vec<SeriesPoint>, StoreError> {
        let rendered = Dialect::ClickHouse.timeseries(q, interval, &self.rolled_days().await?);
        let rows: Vec<(i64, i64, i64, i64)> = self.fetch(&rendered, TIMESERIES_OUTER).await?;
        let points = rows
            .into_iter()
            .map(|(bucket_ms, visitors, visits, pageviews)| SeriesPoint {
                bucket_ms,
                visitors: count(visitors),
                visits: count(visits),
                pageviews: count(pageviews),
            })
            .collect();
        Ok(obscura_query::results::fill_gaps(points, q, interval))
    }

    async fn breakdown(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<BreakdownRow>, StoreError> {
        let rendered = Dialect::ClickHouse.breakdown(q, dim, limit, &self.rolled_days().await?);
        let rows: Vec<(String, i64, i64, i64, i64)> = self.fetch(&rendered, BREAKDOWN_OUTER).await?;
        let mut rows: Vec<BreakdownRow> = rows
            .into_iter()
            .map(|(value, visitors, visits, pageviews, events)| BreakdownRow {
                value,
                visitors: count(visitors),
                visits: count(visits),
                pageviews: count(pageviews),
                events: count(events),
            })
            .collect();
        sort_breakdown(&mut rows);
        Ok(rows)
    }

    async fn measures(&self, q: &Query, metrics: &[Metric], by: &[Dimension]) -> Result<Vec<MeasureCell>, StoreError> {
        let mut cells = MeasureCells::default();
        // Whole days of a grouping (and filters) the rollups keep come from their cells.
        let mut kept_days = Vec::new();
        if let Some(plan) = crate::measure_rollup::plan(q, by, metrics) {
            // Days rolled up (a day without speed cells had no measurements), then the cells.
            let rolled_days = self.dates("SELECT DISTINCT day FROM rollup_days").await?;
            let mut rolled = self.cells_in_range("measure_rollup_days", q.site, plan.dims(), q).await?;
            for day in rolled_days.into_iter().filter(|d| crate::sql::day_in_range(q, *d)) {
                if !rolled.iter().any(|(d, _)| *d == day) {
                    rolled.push((day, crate::measure_rollup::DayCells::default()));
                }
            }
            let kept = self.cells_in_range("kept_measures", q.site, plan.dims(), q).await?;
            kept_days = plan.merge_days(&mut cells, rolled, kept, q.site);
        }
        let kept: Vec<&Date> = kept_days.iter().collect();
        if crate::sql::covers(q, &kept) {
            return Ok(cells.into_cells());
        }
        let rendered = Dialect::ClickHouse.measure_histogram(q, metrics, by, &kept);
        let rows: Vec<(String, String, String, String, f64, i64, i64, f64)> =
            self.fetch(&rendered, MEASURES_OUTER).await?;
        for (k0, k1, k2, metric, bucket, rating, n, total) in rows {
            let keys = [k0, k1, k2].into_iter().take(by.len()).collect();
            cells.add(HistogramRow { keys, metric, bucket, rating: rating.clamp(0, 3) as u8, n: count(n), total });
        }
        Ok(cells.into_cells())
    }

    async fn issues(&self, q: &Query, limit: u32) -> Result<Vec<IssueRow>, StoreError> {
        let today = crate::error_days::finished_before(self.options.clock.as_ref());
        self.error_days.issues(self, q, limit, today).await
    }

    async fn error_breakdown(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<ErrorCountRow>, StoreError> {
        let today = crate::error_days::finished_before(self.options.clock.as_ref());
        self.error_days.breakdown(self, q, dim, limit, today).await
    }

    async fn automated_breakdown(
        &self,
        q: &Query,
        dim: &Dimension,
        limit: u32,
    ) -> Result<Vec<ErrorCountRow>, StoreError> {
        let rows: Vec<(String, i64, i64)> =
            self.fetch(&Dialect::ClickHouse.automated_breakdown(q, dim, limit), ERROR_COUNTS_OUTER).await?;
        Ok(rows
            .into_iter()
            .map(|(value, events, visitors)| ErrorCountRow { value, events: count(events), visitors: count(visitors) })
            .collect())
    }

    async fn funnel(&self, q: &Query, steps: &[crate::meta::GoalTarget]) -> Result<Vec<u64>, StoreError> {
        let rows: Vec<(i64, i64, i64, i64, i64, i64, i64, i64)> =
            self.fetch(&Dialect::ClickHouse.funnel(q, steps), FUNNEL_OUTER).await?;
        let Some((a, b, c, d, e, f, g, h)) = rows.into_iter().next() else { return Ok(vec![0; steps.len()]) };
        Ok([a, b, c, d, e, f, g, h].into_iter().take(steps.len()).map(count).collect())
    }

    async fn automated_series(&self, q: &Query, interval: Interval) -> Result<Vec<AutomatedPoint>, StoreError> {
        let rows: Vec<(i64, i64, i64)> =
            self.fetch(&Dialect::ClickHouse.automated_series(q, interval), AUTOMATED_POINTS_OUTER).await?;
        Ok(rows
            .into_iter()
            .map(|(bucket_ms, hits, visitors)| AutomatedPoint {
                bucket_ms,
                hits: count(hits),
                visitors: count(visitors),
            })
            .collect())
    }

    async fn error_reports(&self, q: &Query, limit: u32) -> Result<Vec<StoredRow>, StoreError> {
        crate::error_days::latest_reports(self, q, limit).await
    }

    async fn open_visits(&self, since_ms: i64) -> Result<Vec<OpenVisit>, StoreError> {
        let rows: Vec<(i64, u64, u64, i64, i64, String)> =
            self.fetch(&Dialect::ClickHouse.open_visits(since_ms), OPEN_VISITS_OUTER).await?;
        Ok(rows
            .into_iter()
            .map(|(site, visitor, visit, last_ms, pageviews, last_path)| OpenVisit {
                site: site as u32,
                visitor,
                visit,
                last_ms,
                pageviews: count(pageviews),
                last_path: Some(last_path),
            })
            .collect())
    }

    async fn rows_of_day(&self, day: Date, site: Option<u32>) -> Result<Vec<StoredRow>, StoreError> {
        let site_condition = if site.is_some() { " AND site = ?" } else { "" };
        let mut query = self
            .client
            .query(&format!(
                "SELECT ?fields FROM events WHERE day = ?{site_condition} ORDER BY ts_ms, visit, visit_seq"
            ))
            .bind(format_day(day));
        if let Some(site) = site {
            query = query.bind(site);
        }
        query.fetch_all().await.map_err(|e| failed("reading a day", e))
    }

    async fn count_events(&self) -> Result<u64, StoreError> {
        self.client.query("SELECT count() FROM events").fetch_one().await.map_err(|e| failed("counting events", e))
    }

    async fn destroy_day(&self, day: Date) -> Result<(), StoreError> {
        self.error_days.forget(day).await;
        self.cluster.discard(day, None).await?;
        self.forget_rolled_days();
        self.on_every_shard("ALTER TABLE events_local DROP PARTITION ?", day).await?;
        {
            let _one = self.rolling.lock().await;
            self.drop_rollup(day).await?;
        }
        let left = self.count_where("day = ?", day, None).await?;
        if left > 0 {
            return Err(StoreError::Storage(anyhow::anyhow!("ClickHouse still holds {left} rows of {day}")));
        }
        Ok(())
    }

    async fn purge_sites(&self, day: Date, sites: &[u32]) -> Result<u64, StoreError> {
        self.error_days.forget(day).await;
        self.cluster.discard(day, Some(sites.to_vec())).await?;
        let condition = "day = ? AND has(?, site)";
        let before = self.count_where(condition, day, Some(sites)).await?;
        if before == 0 {
            return Ok(0);
        }
        for (shard, url) in self.shards.iter().zip(&self.options.shards) {
            shard
                .query(&format!("ALTER TABLE events_local DELETE WHERE {condition}"))
                .bind(format_day(day))
                .bind(sites.to_vec())
                .execute()
                .await
                .map_err(|e| failed(&format!("removing rows at {url}"), e))?;
            self.await_mutations(shard, "events_local").await?;
        }
        let left = self.count_where(condition, day, Some(sites)).await?;
        if left > 0 {
            return Err(StoreError::Storage(anyhow::anyhow!(
                "ClickHouse still holds {left} rows of those sites on {day}"
            )));
        }
        if self.count_where("day = ?", day, None).await? == 0 {
            self.destroy_day(day).await?;
        } else if day < self.options.clock.now().date() {
            // The rollup was made with the removed rows; make it anew.
            self.roll_up(day).await?;
        }
        Ok(before)
    }

    async fn k_anonymous_rollup(&self, day: Date, sites: &[u32], k: u32) -> Result<Vec<RollupCell>, StoreError> {
        let (sql, day_values) = day_rollup(day);
        let query = format!(
            "SELECT toUInt32(site), toString(dim), if(dim = '', NULL, value), toInt64(visitors), toInt64(visits), \
             toInt64(pageviews), toInt64(events), toInt64(bounces), toInt64(duration_ms) FROM ({sql}) WHERE has(?, site)"
        );
        type Cell = (u32, String, Option<String>, i64, i64, i64, i64, i64, i64);
        let cells: Vec<Cell> = bind(self.client.query(&query), &day_values)
            .bind(sites.to_vec())
            .fetch_all()
            .await
            .map_err(|e| failed("rolling up a day", e))?;
        let cells: Vec<RollupCell> = cells
            .into_iter()
            .map(|(site, dim, value, visitors, visits, pageviews, events, bounces, duration_ms)| RollupCell {
                site,
                dim,
                value,
                visitors,
                visits,
                pageviews,
                events,
                bounces,
                duration_ms,
            })
            .collect();
        Ok(crate::aggregates::k_anonymize(&cells, k))
    }

    async fn keep_aggregates(&self, day: Date, cells: &[RollupCell]) -> Result<(), StoreError> {
        self.forget_rolled_days();
        let sites: Vec<u32> = cells.iter().map(|c| c.site).collect::<BTreeSet<_>>().into_iter().collect();
        if !sites.is_empty() {
            self.client
                .query("ALTER TABLE kept_aggregates DELETE WHERE day = ? AND has(?, site)")
                .bind(format_day(day))
                .bind(sites)
                .execute()
                .await
                .map_err(|e| failed("replacing kept aggregates", e))?;
            self.await_mutations(&self.client, "kept_aggregates").await?;
        }
        let mut insert =
            self.client.insert::<CellRow>("kept_aggregates").await.map_err(|e| failed("keeping aggregates", e))?;
        for c in cells {
            let row = CellRow::new(day_number(day), c);
            insert.write(&row).await.map_err(|e| failed("keeping aggregates", e))?;
        }
        let kept = insert.end().await.map_err(|e| failed("keeping aggregates", e));
        self.forget_rolled_days();
        kept
    }

    async fn k_anonymous_measures(&self, day: Date, sites: &[u32], k: u32) -> Result<Vec<DayCell>, StoreError> {
        let failure = |e| failed("keeping a day's speed figures", e);
        let mut cells = Vec::new();
        let mut visitors = std::collections::HashMap::new();
        for (set, metrics) in crate::measure_rollup::rolled_sets() {
            cells.extend(self.day_cells(day, &set, metrics).await?);
            let rendered = Dialect::ClickHouse.measure_day_visitors(&set, metrics);
            let (sql, values) = placeholders(&SqlQuery {
                sql: rendered.sql,
                params: std::iter::once(Param::Text(format_day(day))).chain(rendered.params).collect(),
            });
            let rows: Vec<(u32, String, String, String, String, i64)> =
                bind(self.client.query(&MEASURE_VISITORS_OUTER.replace("{}", &sql)), &values)
                    .fetch_all()
                    .await
                    .map_err(failure)?;
            let dims = crate::measure_rollup::set_name(&set);
            for (site, k0, k1, k2, metric, n) in rows {
                let keys = [k0, k1, k2].into_iter().take(set.len()).collect();
                visitors.insert((site, dims.clone(), keys, metric), count(n));
            }
        }
        Ok(crate::measure_rollup::k_anonymous(cells, &visitors, sites, k))
    }

    async fn keep_measures(&self, day: Date, cells: &[DayCell]) -> Result<(), StoreError> {
        let failure = |e| failed("keeping speed figures", e);
        let sites: Vec<u32> = cells.iter().map(|c| c.site).collect::<BTreeSet<_>>().into_iter().collect();
        if !sites.is_empty() {
            self.client
                .query("ALTER TABLE kept_measures DELETE WHERE day = ? AND has(?, site)")
                .bind(format_day(day))
                .bind(sites)
                .execute()
                .await
                .map_err(failure)?;
            self.await_mutations(&self.client, "kept_measures").await?;
        }
        if cells.is_empty() {
            return Ok(());
        }
        let mut insert = self.client.insert::<MeasureCellRow>("kept_measures").await.map_err(failure)?;
        for cell in cells {
            insert.write(&MeasureCellRow::new(day_number(day), cell.clone())).await.map_err(failure)?;
        }
        insert.end().await.map_err(failure)
    }

    async fn sites_of_day(&self, day: Date) -> Result<Vec<u32>, StoreError> {
        self.client
            .query("SELECT DISTINCT site FROM events WHERE day = ? ORDER BY site")
            .bind(format_day(day))
            .fetch_all()
            .await
            .map_err(|e| failed("listing sites", e))
    }

    async fn days(&self) -> Result<Vec<Date>, StoreError> {
        self.event_days().await
    }

    async fn rollup_days(&self) -> Result<Vec<Date>, StoreError> {
        self.rolled_days().await
    }

    async fn kept_of_site(&self, site: u32) -> Result<Vec<crate::KeptDay>, StoreError> {
        let failure = |e| failed("reading kept aggregates", e);
        let cells: Vec<CellRow> = self
            .reader
            .query("SELECT ?fields FROM kept_aggregates WHERE site = ? ORDER BY day")
            .bind(site)
            .fetch_all()
            .await
            .map_err(failure)?;
        let measures: Vec<MeasureCellRow> = self
            .reader
            .query("SELECT ?fields FROM kept_measures WHERE site = ? ORDER BY day")
            .bind(site)
            .fetch_all()
            .await
            .map_err(failure)?;
        Ok(crate::KeptDay::by_day(
            cells.into_iter().map(|c| (day_of_number(c.day), c.into_cell())).collect(),
            measures.into_iter().map(|m| (day_of_number(m.day), m.into_cell())).collect(),
        ))
    }

    /// Ready while the first shard (which answers queries and keeps rollups) answers and
    /// every other shard either answers or has the spool to wait in.
    async fn ready(&self) -> Result<(), StoreError> {
        if self.commits.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            return Err(StoreError::Closed);
        }
        for (i, (shard, url)) in self.shards.iter().zip(&self.options.shards).enumerate() {
            let answered: Result<u8, _> = shard.query("SELECT 1").fetch_one().await;
            match answered {
                Ok(_) => {}
                Err(e) => {
                    self.cluster.mark_down(i, &e.to_string());
                    if i == 0 || self.cluster.spool.is_none() {
                        return Err(failed(&format!("at {url}"), e));
                    }
                }
            }
        }
        Ok(())
    }

    fn partial(&self) -> Option<String> {
        self.cluster.partial()
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        let built = self.roll_up_finished_days().await?;
        if !built.is_empty() {
            tracing::info!(?built, "rolled up finished days");
        }
        Ok(())
    }

    fn close(&self) {
        self.commits.lock().unwrap_or_else(|e| e.into_inner()).take();
        // No more drains from this process: another may open the spool now.
        if let Some(watcher) = self.watcher.lock().unwrap_or_else(|e| e.into_inner()).take() {
            watcher.abort();
        }
        if let Some(spool) = &self.cluster.spool {
            spool.unlock();
        }
    }
}

impl Drop for ClickHouseStore {
    fn drop(&mut self) {
        self.close();
        for task in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clickhouse_placeholders_follow_the_rendered_order_and_repeat() {
        let q = SqlQuery {
            sql: "SELECT '$' AS cost, x FROM t WHERE a = $2 AND b = $1 AND c = $2 AND d = $10".into(),
            params: vec![Param::UInt(1), Param::Text("two".into())],
        };
        let (sql, values) = placeholders(&q);
        assert_eq!(sql, "SELECT '$' AS cost, x FROM t WHERE a = ? AND b = ? AND c = ? AND d = $10");
        assert_eq!(values, [Param::Text("two".into()), Param::UInt(1), Param::Text("two".into())]);
    }

    #[test]
    fn clickhouse_encrypted_disks_exist_from_21_10() {
        assert!(!has_encrypted_disks("18.16.1"));
        assert!(!has_encrypted_disks("21.9.4.35"));
        assert!(has_encrypted_disks("21.10.1"));
        assert!(has_encrypted_disks("26.9.2.1"));
        assert!(!has_encrypted_disks("unknown"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clickhouse_spool_replay_stores_only_what_the_shard_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("obscura_spool_{}_{:08x}", std::process::id(), rand::random::<u32>());
        let now = time::macros::datetime!(2026-03-02 18:00 UTC);
        let options = ClickHouseOptions {
            shards: current_release_tests::shards(),
            database: database.clone(),
            cluster: "obscura".into(),
            user: None,
            password: None,
            clock: Arc::new(obscura_model::ManualClock::new(now)),
            spool: Some(SpoolOptions {
                dir: dir.path().join("spool"),
                key: Key::random(),
                max_bytes: 1 << 20,
                acknowledge_on_node: false,
            }),
        };
        let store = ClickHouseStore::connect(options).await.unwrap();
        // Six rows of the first shard (even visits), two of them in one visit.
        let rows: Vec<StoredRow> = (0..6u64)
            .map(|i| {
                let mut row = crate::wal::tests::row(obscura_model::unix_ms(now) - 3_600_000 + i as i64 * 1_000);
                row.visit = 2 * (i / 2 + 1);
                row.visit_seq = (i % 2 + 1) as u16;
                row
            })
            .collect();
        // An insert of the first three landed, but its answer was lost: all six were held.
        insert_into(&store.shards[0], &rows[..3]).await.unwrap();
        // A custom event sent twice in one millisecond of one visit (custom events share place
        // 0 in the visit): one of them landed, both were held; two must be stored in the end.
        let mut custom = rows[0].clone();
        (custom.kind, custom.visit_seq, custom.name) = (1, 0, Some("signup".into()));
        insert_into(&store.shards[0], &[custom.clone()]).await.unwrap();
        let mut rows = rows;
        rows.extend([custom.clone(), custom]);
        let spool = store.cluster.spool.clone().unwrap();
        spool.hold(&[(0, rows.clone())]).unwrap();
        store.cluster.drain(&spool).await;
        assert_eq!(spool.held().rows, 0, "drained");
        let stored: Vec<(u64, u16)> = store
            .client
            .query("SELECT visit, visit_seq FROM events ORDER BY visit, visit_seq")
            .fetch_all()
            .await
            .unwrap();
        let mut expected: Vec<(u64, u16)> = rows.iter().map(|r| (r.visit, r.visit_seq)).collect();
        expected.sort();
        assert_eq!(stored, expected, "every row as often as it was sent");
        assert_eq!(store.partial(), None);
        store.close();
        for url in &store.options.shards {
            let _ = client(url, &store.options).query(&format!("DROP DATABASE IF EXISTS {database}")).execute().await;
        }
    }

    #[test]
    fn clickhouse_partitions_are_named_by_day() {
        assert_eq!(yyyymmdd(time::macros::date!(2026 - 03 - 01)), 20_260_301);
    }
}
