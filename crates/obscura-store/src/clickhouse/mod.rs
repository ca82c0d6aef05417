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

#[cfg(test)]
mod current_release_tests;
mod rows;
mod schema;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use obscura_model::{Clock, Event, day_of_ms, format_day};
use obscura_query::{Aggregate, BreakdownRow, Dimension, Interval, OpenVisit, Query, SeriesPoint, Totals};
use time::Date;
use tokio::sync::{mpsc, oneshot};

use crate::row::StoredRow;
use crate::sql::Dialect;
use crate::{EventStore, Param, RollupCell, SqlQuery, StoreError};
use rows::{CellRow, day_number, day_of_number};

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
    /// Each shard, for statements that must run on every one (partitions, mutations).
    shards: Vec<clickhouse::Client>,
    commits: Mutex<Option<mpsc::Sender<Commit>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    version: String,
    /// One rollup build at a time: a day's partition is dropped and filled again.
    rolling: tokio::sync::Mutex<()>,
    /// The days answered from rollups, as last read; emptied by whatever changes them (rollups,
    /// destroyed days, kept aggregates), so most queries need no extra round trip.
    rolled: Mutex<Option<Vec<Date>>>,
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
        for (i, url) in options.shards.iter().enumerate() {
            let plain = client(url, &options);
            let v: String = plain
                .query("SELECT version()")
                .fetch_one()
                .await
                .map_err(|e| anyhow::anyhow!("cannot reach ClickHouse at {url}: {e}"))?;
            let mut statements = schema::shard_tables(&options.database, &options.cluster);
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
        let (commits, rx) = mpsc::channel(1024);
        let committer = tokio::spawn(group_commit(shards.clone(), rx));
        let store = ClickHouseStore {
            options,
            client,
            shards,
            commits: Mutex::new(Some(commits)),
            tasks: Mutex::new(vec![committer]),
            version,
            rolling: tokio::sync::Mutex::new(()),
            rolled: Mutex::new(None),
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
    pub async fn roll_up_finished_days(&self) -> Result<Vec<Date>, StoreError> {
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
        bind(self.client.query(&outer.replace("{}", &sql)), &values)
    }

    /// Runs a rendered query wrapped in `outer` and fetches rows of `T`.
    async fn fetch<T>(&self, rendered: &SqlQuery, outer: &str) -> Result<Vec<T>, StoreError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.statement(rendered, outer).fetch_all().await.map_err(|e| StoreError::Query(format!("ClickHouse: {e}")))
    }

    /// The statement that fills `rollup_days` with `day`'s rollup.
    fn rollup_statement(&self, day: Date) -> clickhouse::query::Query {
        let (sql, values) = day_rollup(day);
        // The day column's `?` comes first, then the rendered query's.
        let insert = format!("{ROLLUP_INSERT} ({sql})");
        bind(self.client.query(&insert).bind(format_day(day).as_str()), &values)
    }

    async fn rolled_days(&self) -> Result<Vec<Date>, StoreError> {
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
        let dropped = self.client.query("ALTER TABLE rollup_days DROP PARTITION ?").bind(yyyymmdd(day)).execute().await;
        self.forget_rolled_days();
        dropped.map_err(|e| failed("removing a day's rollup", e))
    }

    /// Forgets the rolled-up days read last: they are about to change.
    fn forget_rolled_days(&self) {
        self.rolled.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Inserts rows into each shard's `events_local` directly, all shards at once: the row of visit
/// `v` goes to shard `v % shards`, where the Distributed table (sharded by visit, equal weights)
/// would put it, without the extra hop through the first shard. Succeeds once every shard that
/// got rows has acknowledged them.
async fn insert_rows(shards: &[clickhouse::Client], rows: Vec<StoredRow>) -> Result<(), String> {
    let mut per_shard: Vec<Vec<StoredRow>> = shards.iter().map(|_| Vec::new()).collect();
    for row in rows {
        per_shard[(row.visit % shards.len() as u64) as usize].push(row);
    }
    let inserts = shards.iter().zip(per_shard).filter(|(_, rows)| !rows.is_empty()).map(|(shard, rows)| async move {
        let mut insert = shard.insert::<StoredRow>("events_local").await.map_err(|e| e.to_string())?;
        for row in &rows {
            insert.write(row).await.map_err(|e| e.to_string())?;
        }
        insert.end().await.map_err(|e| format!("ClickHouse did not take the rows: {e}"))
    });
    futures::future::try_join_all(inserts).await.map(drop)
}

/// Takes what the appends submitted since the last insert and inserts it at once, then answers
/// each of them: many small appends make one insert (ClickHouse wants few, large inserts).
async fn group_commit(shards: Vec<clickhouse::Client>, mut commits: mpsc::Receiver<Commit>) {
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
        let result = insert_rows(&shards, all).await;
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

    async fn import(&self, events: Vec<Event>) -> Result<(), StoreError> {
        let days: BTreeSet<Date> = events.iter().map(|e| day_of_ms(e.ts_ms)).collect();
        for chunk in events.chunks(IMPORT_CHUNK) {
            self.rows(event_rows(chunk)).await?;
        }
        let today = self.options.clock.now().date();
        for day in days.into_iter().filter(|d| *d < today) {
            self.roll_up(day).await?;
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
            let row = CellRow {
                day: day_number(day),
                site: c.site,
                dim: c.dim.clone(),
                value: c.value.clone(),
                visitors: c.visitors,
                visits: c.visits,
                pageviews: c.pageviews,
                events: c.events,
                bounces: c.bounces,
                duration_ms: c.duration_ms,
            };
            insert.write(&row).await.map_err(|e| failed("keeping aggregates", e))?;
        }
        let kept = insert.end().await.map_err(|e| failed("keeping aggregates", e));
        self.forget_rolled_days();
        kept
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

    async fn ready(&self) -> Result<(), StoreError> {
        if self.commits.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            return Err(StoreError::Closed);
        }
        for (shard, url) in self.shards.iter().zip(&self.options.shards) {
            let _: u8 = shard.query("SELECT 1").fetch_one().await.map_err(|e| failed(&format!("at {url}"), e))?;
        }
        Ok(())
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

    #[test]
    fn clickhouse_partitions_are_named_by_day() {
        assert_eq!(yyyymmdd(time::macros::date!(2026 - 03 - 01)), 20_260_301);
    }
}
