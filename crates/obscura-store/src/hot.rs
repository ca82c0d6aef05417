//! The hot tier: acknowledged events not yet in a Parquet file, in memory as Arrow batches and
//! queryable at once. Every row here is also in the write-ahead log, so losing memory loses nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use time::Date;

use crate::keyring::day_string;
use crate::row::{SCHEMA, StoredRow, rows_to_batch};

/// Small batches from many group commits are merged once this many pile up.
const COMPACT_AFTER: usize = 32;

#[derive(Default)]
pub struct DayBuffer {
    pending: Vec<StoredRow>,
    batches: Vec<RecordBatch>,
    /// Write-ahead-log segments whose rows are in this buffer.
    pub segments: BTreeSet<u64>,
    pub rows: usize,
}

impl DayBuffer {
    /// Converts pending rows into a batch and merges small batches; returns all batches.
    fn seal(&mut self, day: Date) -> Vec<RecordBatch> {
        if !self.pending.is_empty() {
            self.batches.push(rows_to_batch(&self.pending, &day_string(day)));
            self.pending.clear();
        }
        if self.batches.len() > COMPACT_AFTER {
            let merged = arrow::compute::concat_batches(&SCHEMA, &self.batches).expect("batches share SCHEMA");
            self.batches = vec![merged];
        }
        self.batches.clone()
    }
}

#[derive(Default)]
pub struct HotTier {
    days: Mutex<BTreeMap<Date, DayBuffer>>,
}

impl HotTier {
    pub fn push(&self, day: Date, segment: u64, rows: Vec<StoredRow>) {
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let buf = days.entry(day).or_default();
        buf.rows += rows.len();
        buf.segments.insert(segment);
        buf.pending.extend(rows);
    }

    /// All rows as batches, for a query.
    pub fn snapshot(&self) -> Vec<RecordBatch> {
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        days.iter_mut().flat_map(|(day, buf)| buf.seal(*day)).collect()
    }

    /// Days held, with their row counts.
    pub fn days(&self) -> Vec<(Date, usize)> {
        let days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        days.iter().map(|(d, b)| (*d, b.rows)).collect()
    }

    /// The batches and segments of `day`, to be written to a Parquet file.
    pub fn batches_of(&self, day: Date) -> (Vec<RecordBatch>, BTreeSet<u64>) {
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        match days.get_mut(&day) {
            Some(buf) => (buf.seal(day), buf.segments.clone()),
            None => (Vec::new(), BTreeSet::new()),
        }
    }

    /// Forgets `day` (after its rows reached a Parquet file, or when the day is destroyed).
    pub fn remove(&self, day: Date) {
        self.days.lock().unwrap_or_else(|e| e.into_inner()).remove(&day);
    }
}

/// The hot tier as a DataFusion table; each scan sees the rows acknowledged so far.
#[derive(Debug)]
pub struct HotTable(pub Arc<HotTier>);

impl std::fmt::Debug for HotTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HotTier")
    }
}

#[async_trait]
impl TableProvider for HotTable {
    fn schema(&self) -> SchemaRef {
        SCHEMA.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let batches = self.0.snapshot();
        // Spread the batches over two partitions so both cores work.
        let mut parts = vec![Vec::new(), Vec::new()];
        for (i, b) in batches.into_iter().enumerate() {
            parts[i % 2].push(b);
        }
        Ok(MemorySourceConfig::try_new_exec(&parts, SCHEMA.clone(), projection.cloned())?)
    }
}
