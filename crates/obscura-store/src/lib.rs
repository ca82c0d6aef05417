//! Storage: the [`EventStore`] trait and its backends.
//!
//! The embedded store keeps every byte encrypted at rest (P12): a write-ahead log sealed per
//! day ([`wal`]), an in-memory Arrow hot tier ([`hot`]), and per-day Parquet files with Parquet
//! Modular Encryption ([`cold`]), all queried together with DataFusion. Each day has its own key
//! ([`keyring`]); destroying the key destroys the day (P13).

#![warn(missing_docs)]

pub mod access_log;
pub mod aggregates;
pub mod audit;
pub mod clickhouse;
pub(crate) mod cold;
pub mod crypto;
pub(crate) mod durable_fs;
pub mod embedded;
pub(crate) mod error_cells;
pub(crate) mod error_days;
pub(crate) mod hot;
pub mod key_log;
pub(crate) mod keyring;
pub(crate) mod measure_rollup;
pub mod meta;
pub mod postgres;
pub mod retention;
pub(crate) mod rollup;
pub(crate) mod row;
pub mod salts;
pub mod sealed_json;
pub(crate) mod sql;
pub mod visit_book;
pub(crate) mod wal;

use async_trait::async_trait;
use obscura_model::{Event, Metric};
use obscura_query::errors::{ErrorCountRow, IssueRow};
use obscura_query::measures::MeasureCell;
use obscura_query::{Aggregate, AutomatedPoint, BreakdownRow, Dimension, Interval, OpenVisit, Query, SeriesPoint};
use time::Date;

pub use aggregates::RollupCell;
pub use clickhouse::{ClickHouseOptions, ClickHouseStore, SpoolOptions};
pub use cold::read_day as read_day_files;
pub use embedded::{EmbeddedStore, StoreOptions};
pub use keyring::Keyring;
pub use measure_rollup::DayCell;
pub use row::StoredRow;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is closing; nothing more is accepted.
    #[error("the store is shutting down")]
    Closed,
    /// Reading or writing the store's files failed (a full disk, permissions, damage); the
    /// cause is kept, so callers can tell an `std::io::Error` apart.
    #[error("storage failure: {0:#}")]
    Storage(#[from] anyhow::Error),
    /// The day's rows are still being written to a day file; try again once it is flushed.
    #[error("{0} is still being written; purge it once it is flushed")]
    DayBeingWritten(time::Date),
    /// The query could not be planned or run.
    #[error("query failed: {0}")]
    Query(String),
}

/// What is kept of one site's day past retention: k-anonymous cells only (P3).
#[derive(Clone, Debug, PartialEq)]
pub struct KeptDay {
    /// The day.
    pub day: Date,
    /// Its traffic cells ([`EventStore::keep_aggregates`]).
    pub aggregates: Vec<RollupCell>,
    /// Its speed cells ([`EventStore::keep_measures`]).
    pub measures: Vec<DayCell>,
}

impl KeptDay {
    /// Groups cells by day, oldest first.
    pub fn by_day(aggregates: Vec<(Date, RollupCell)>, measures: Vec<(Date, DayCell)>) -> Vec<KeptDay> {
        let mut days: std::collections::BTreeMap<Date, KeptDay> = std::collections::BTreeMap::new();
        let new = |day| KeptDay { day, aggregates: Vec::new(), measures: Vec::new() };
        for (day, cell) in aggregates {
            days.entry(day).or_insert_with(|| new(day)).aggregates.push(cell);
        }
        for (day, cell) in measures {
            days.entry(day).or_insert_with(|| new(day)).measures.push(cell);
        }
        days.into_values().collect()
    }
}

/// A value bound to a query placeholder (`$1`, `$2`, …). Values are never spliced into SQL.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    /// An unsigned 32-bit integer (e.g. a site id).
    UInt(u32),
    /// A text value.
    Text(String),
    /// Milliseconds since the epoch, UTC.
    Timestamp(i64),
}

/// A rendered query: SQL text with placeholders, and the values bound to them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SqlQuery {
    /// The SQL text, with placeholders `$1`, `$2`, ….
    pub sql: String,
    /// The values bound to the placeholders, `$1` first.
    pub params: Vec<Param>,
}

/// Where events are kept: the seam between Obscura and its storage backends (the embedded store
/// and ClickHouse). Questions come as the typed query model and answers as typed results; each
/// backend renders its own SQL and keeps its own rollups, so no SQL text crosses this seam.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// The backend's name, for logs and status: `embedded` or `clickhouse`.
    fn backend(&self) -> &'static str;

    /// Stores desensitized events. Returns only when they are durable (survive `kill -9`).
    async fn append(&self, events: Vec<Event>) -> Result<(), StoreError>;

    /// [`EventStore::append`] for the batch API: `keys` holds the hash of each event's
    /// idempotency key (or `None`), stored durably with the events themselves, so that a
    /// restarted server still knows which were stored ([`EventStore::stored_keys`]). Where the
    /// backend keeps no hashes, only the running server remembers them.
    async fn append_keyed(&self, events: Vec<Event>, keys: Vec<Option<key_log::KeyHash>>) -> Result<(), StoreError> {
        let _ = keys;
        self.append(events).await
    }

    /// The idempotency key hashes [`EventStore::append_keyed`] stored at or after `since_ms`,
    /// each with when (for a server starting).
    async fn stored_keys(&self, since_ms: i64) -> Result<Vec<key_log::StoredKey>, StoreError> {
        let _ = since_ms;
        Ok(Vec::new())
    }

    /// Bulk-loads historical events (imports, demo data); finished days are rolled up again.
    async fn import(&self, events: Vec<Event>) -> Result<(), StoreError> {
        let days = self.import_unrolled(events).await?;
        self.roll_up_days(&days).await
    }

    /// [`EventStore::import`] without rolling up: for an import in parts, each day rolled up
    /// once, when complete, with [`EventStore::roll_up_days`]. Returns the days it touched.
    async fn import_unrolled(&self, events: Vec<Event>) -> Result<Vec<Date>, StoreError>;

    /// Rolls up these days again; today's is left to be rolled up when it ends.
    async fn roll_up_days(&self, days: &[Date]) -> Result<(), StoreError>;

    /// The headline figures of `q`; all zeros when nothing matches.
    async fn aggregate(&self, q: &Query) -> Result<Aggregate, StoreError>;

    /// Visitors, visits and pageviews of `q` per `interval` bucket, covering the whole range in
    /// time order (empty buckets as zeros).
    async fn timeseries(&self, q: &Query, interval: Interval) -> Result<Vec<SeriesPoint>, StoreError>;

    /// The top `limit` values of `dim` for `q`, ordered by visitors, then visits, then
    /// pageviews, then value.
    async fn breakdown(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<BreakdownRow>, StoreError>;

    /// Speed figures of `metrics` for `q`, one cell per metric and group of `by`'s values (at
    /// most three dimensions; none for the totals), from the measurements of the days that still
    /// hold rows.
    async fn measures(&self, q: &Query, metrics: &[Metric], by: &[Dimension]) -> Result<Vec<MeasureCell>, StoreError>;

    /// The issues of `q`'s error reports (its filters apply; `event==<fingerprint>` picks one):
    /// the `limit` with the most reports, each with its trend over the whole range.
    async fn issues(&self, q: &Query, limit: u32) -> Result<Vec<IssueRow>, StoreError>;

    /// Reports and visitors per value of `dim` among `q`'s error reports, the `limit` values
    /// with the most reports.
    async fn error_breakdown(&self, q: &Query, dim: &Dimension, limit: u32) -> Result<Vec<ErrorCountRow>, StoreError>;

    /// The latest `limit` error reports of `q`, newest first.
    async fn error_reports(&self, q: &Query, limit: u32) -> Result<Vec<StoredRow>, StoreError>;

    /// Hits and visitors per value of `dim` among `q`'s automated hits (P5: kept apart from
    /// people's figures), the `limit` values with the most hits.
    async fn automated_breakdown(
        &self,
        q: &Query,
        dim: &Dimension,
        limit: u32,
    ) -> Result<Vec<ErrorCountRow>, StoreError>;

    /// `q`'s automated hits and their visitors per bucket of `interval`, buckets without any left
    /// out.
    async fn automated_series(&self, q: &Query, interval: Interval) -> Result<Vec<AutomatedPoint>, StoreError>;

    /// How many of `q`'s visits took each of `steps` (2 to 8, pages reached or events sent)
    /// in order: one count per step, each at most the one before.
    async fn funnel(&self, q: &Query, steps: &[meta::GoalTarget]) -> Result<Vec<u64>, StoreError>;

    /// The visits with an event at or after `since_ms` (milliseconds since the epoch), so a
    /// restart can resume them.
    async fn open_visits(&self, since_ms: i64) -> Result<Vec<OpenVisit>, StoreError>;

    /// Every stored row of `day`, of one site or of all (for exports and inspection; the whole
    /// day is read into memory).
    async fn rows_of_day(&self, day: Date, site: Option<u32>) -> Result<Vec<StoredRow>, StoreError>;

    /// How many events are stored, over all sites and days.
    async fn count_events(&self) -> Result<u64, StoreError>;

    /// Destroys a day: every row of it, and its rollups.
    async fn destroy_day(&self, day: Date) -> Result<(), StoreError>;

    /// Removes the rows of `sites` from a finished day so that no copy of them stays readable.
    /// Returns how many rows went.
    async fn purge_sites(&self, day: Date, sites: &[u32]) -> Result<u64, StoreError>;

    /// The k-anonymous rollup cells of `sites` on `day` (P3), computed from the day's rows
    /// before they are destroyed.
    async fn k_anonymous_rollup(&self, day: Date, sites: &[u32], k: u32) -> Result<Vec<RollupCell>, StoreError>;

    /// Keeps aggregates (from [`EventStore::k_anonymous_rollup`]) past retention, replacing
    /// earlier ones of the same sites and day. Durable when it returns.
    async fn keep_aggregates(&self, day: Date, cells: &[RollupCell]) -> Result<(), StoreError>;

    /// The speed cells of `sites` on `day` that count at least `k` distinct visitors (P3), for
    /// every rolled grouping, computed from the day's rows before they are destroyed.
    async fn k_anonymous_measures(&self, day: Date, sites: &[u32], k: u32) -> Result<Vec<DayCell>, StoreError>;

    /// Keeps speed cells (from [`EventStore::k_anonymous_measures`]) past retention, replacing
    /// earlier ones of the same sites and day; unfiltered speed figures of the day come from
    /// them once its rows are gone. Durable when it returns.
    async fn keep_measures(&self, day: Date, cells: &[DayCell]) -> Result<(), StoreError>;

    /// The sites with rows on `day`, in order.
    async fn sites_of_day(&self, day: Date) -> Result<Vec<u32>, StoreError>;

    /// Everything kept of `site` past retention, oldest day first: its k-anonymous traffic
    /// aggregates and speed cells, as [`EventStore::keep_aggregates`] and
    /// [`EventStore::keep_measures`] stored them (for a full-site export).
    async fn kept_of_site(&self, site: u32) -> Result<Vec<KeptDay>, StoreError>;

    /// Days that hold rows, oldest first.
    async fn days(&self) -> Result<Vec<Date>, StoreError>;

    /// Days answered from rollups or kept aggregates rather than rows, oldest first.
    async fn rollup_days(&self) -> Result<Vec<Date>, StoreError>;

    /// Whether the store can take and answer requests now (for `/ready`): the error says what
    /// cannot be reached.
    async fn ready(&self) -> Result<(), StoreError>;

    /// What answers leave out right now, in words for the reader (a shard that does not
    /// answer, events still waiting to be stored); `None` while answers are complete.
    fn partial(&self) -> Option<String> {
        None
    }

    /// Background work the backend needs from time to time (run once a minute while serving):
    /// the ClickHouse backend rolls up finished days; the embedded store does its own.
    async fn maintain(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stops background work after what was acknowledged is safe; later appends fail with
    /// [`StoreError::Closed`].
    fn close(&self);
}
