//! Storage: the [`EventStore`] trait and its embedded backend.
//!
//! The embedded store keeps every byte encrypted at rest (P12): a write-ahead log sealed per
//! day ([`wal`]), an in-memory Arrow hot tier ([`hot`]), and per-day Parquet files with Parquet
//! Modular Encryption ([`cold`]), all queried together with DataFusion. Each day has its own key
//! ([`keyring`]); destroying the key destroys the day (P13).

#![warn(missing_docs)]

pub mod access_log;
pub mod aggregates;
pub mod audit;
pub(crate) mod cold;
pub mod crypto;
pub(crate) mod durable_fs;
pub mod embedded;
pub(crate) mod hot;
pub(crate) mod keyring;
pub mod meta;
pub mod retention;
pub(crate) mod rollup;
pub(crate) mod row;
pub mod sealed_json;
pub(crate) mod wal;

use arrow::array::RecordBatch;
use async_trait::async_trait;
use obscura_model::Event;
use time::Date;

pub use cold::read_day as read_day_files;
pub use embedded::{EmbeddedStore, StoreOptions};
pub use keyring::Keyring;
pub use rollup::RollupSpec;
pub use row::SCHEMA;

/// Arrow types that callers of [`EventStore::query`] need.
pub mod arrow_reexport {
    pub use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch};

    /// A column's values as text, one per line (for tests and diagnostics).
    pub fn format_column(col: &ArrayRef) -> String {
        let text = arrow::compute::cast(col, &arrow::datatypes::DataType::Utf8).expect("any column casts to text");
        let text = text.as_any().downcast_ref::<arrow::array::StringArray>().expect("Utf8");
        (0..text.len()).map(|i| if text.is_null(i) { "" } else { text.value(i) }).collect::<Vec<_>>().join("\n")
    }
}

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

/// A value bound to a query placeholder (`$1`, `$2`, …). Values are never spliced into SQL.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// A signed 64-bit integer.
    Int(i64),
    /// An unsigned 32-bit integer (e.g. a site id).
    UInt(u32),
    /// A text value.
    Text(String),
    /// Milliseconds since the epoch, UTC.
    Timestamp(i64),
}

/// A rendered query: SQL text with placeholders, and the values bound to them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SqlQuery {
    /// The SQL text (read-only: a query over table `events` or `rollups`), with placeholders `$1`, `$2`, ….
    pub sql: String,
    /// The values bound to the placeholders, `$1` first.
    pub params: Vec<Param>,
}

/// Where events are kept. Implemented by the embedded store (and by ClickHouse later).
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores desensitized events. Returns only when they are durable (survive `kill -9`).
    async fn append(&self, events: Vec<Event>) -> Result<(), StoreError>;

    /// Bulk-loads historical events (imports, demo data) straight into day files.
    async fn import(&self, events: Vec<Event>) -> Result<(), StoreError>;

    /// Runs a rendered query over all events (table `events`).
    async fn query(&self, query: &SqlQuery) -> Result<Vec<RecordBatch>, StoreError>;

    /// Destroys a day: its key and its files (crypto-shredding).
    async fn destroy_day(&self, day: Date) -> Result<(), StoreError>;

    /// Removes the rows of `sites` from a finished day so that no copy of them stays readable
    /// (crypto-shredding: the embedded store re-keys the day). Returns how many rows went.
    async fn purge_sites(&self, day: Date, sites: &[u32]) -> Result<u64, StoreError>;

    /// The k-anonymous rollup cells of `sites` on `day` (P3), computed from the day's rows
    /// before they are destroyed.
    async fn k_anonymous_rollup(&self, day: Date, sites: &[u32], k: u32) -> Result<RecordBatch, StoreError>;

    /// Keeps aggregates (from [`EventStore::k_anonymous_rollup`]) past retention, replacing
    /// earlier ones of the same sites and day.
    fn keep_aggregates(&self, day: Date, rows: &RecordBatch) -> Result<(), StoreError>;

    /// The sites with rows on `day`.
    async fn sites_of_day(&self, day: Date) -> Result<Vec<u32>, StoreError>;

    /// Days that hold data, oldest first.
    fn days(&self) -> Vec<Date>;

    /// Days whose per-day rollups are complete (table `rollups`), oldest first.
    fn rollup_days(&self) -> Vec<Date>;
}
