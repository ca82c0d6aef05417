//! Per-day rollups: for each site, day, dimension and value, the day's visitors, visits,
//! pageviews, custom events, bounces and visit duration — so unfiltered dashboards over long
//! ranges read a few thousand rows instead of every event.
//!
//! Visitors add up across days exactly because visitor hashes change every day (P2): the union of
//! the days' distinct visitors is the sum of each day's. A rollup is computed when a finished day
//! reaches its Parquet files, from all of that day's files, and is encrypted under the day's key
//! like the events it summarises (and destroyed with them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::SqlQuery;

/// What to compute for a day: the query layer knows the dimensions, so it supplies the SQL.
pub trait RollupSpec: Send + Sync + 'static {
    /// SQL over table `cold` for the day bound to `$1` (`YYYY-MM-DD`), returning the columns of
    /// [`ROLLUP_FILE_SCHEMA`] (any integer types).
    fn day_sql(&self) -> String;

    /// Whether small cells of dimension `dim` may be merged into one "(other)" cell whose
    /// visitors are the sum of theirs: only when no visitor has two values of it a day.
    fn mergeable(&self, dim: &str) -> bool;
}

pub static ROLLUP_FILE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("site", DataType::UInt32, false),
        Field::new("dim", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, true),
        Field::new("visitors", DataType::Int64, false),
        Field::new("visits", DataType::Int64, false),
        Field::new("pageviews", DataType::Int64, false),
        Field::new("events", DataType::Int64, false),
        Field::new("bounces", DataType::Int64, false),
        Field::new("duration_ms", DataType::Int64, false),
    ]))
});

/// Casts a query result to [`ROLLUP_FILE_SCHEMA`]; nulls (sums over no rows) become zero.
pub fn conform(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    let columns = ROLLUP_FILE_SCHEMA
        .fields()
        .iter()
        .map(|f| {
            let col = batch
                .column_by_name(f.name())
                .ok_or_else(|| anyhow::anyhow!("rollup query lacks column {}", f.name()))?;
            let col = cast(col, f.data_type())?;
            Ok(if f.is_nullable() { col } else { fill_zero(&col) })
        })
        .collect::<anyhow::Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(ROLLUP_FILE_SCHEMA.clone(), columns)?)
}

fn fill_zero(col: &ArrayRef) -> ArrayRef {
    use arrow::array::{Array, Int64Array, StringArray, UInt32Array};
    if col.null_count() == 0 {
        return col.clone();
    }
    if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
        return Arc::new(a.iter().map(|v| Some(v.unwrap_or(0))).collect::<Int64Array>());
    }
    if let Some(a) = col.as_any().downcast_ref::<UInt32Array>() {
        return Arc::new(a.iter().map(|v| Some(v.unwrap_or(0))).collect::<UInt32Array>());
    }
    if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
        return Arc::new(a.iter().map(|v| Some(v.unwrap_or(""))).collect::<StringArray>());
    }
    col.clone()
}

/// The SQL for one day, with its parameter.
pub fn day_query(spec: &dyn RollupSpec, day: &str) -> SqlQuery {
    SqlQuery { sql: spec.day_sql(), params: vec![crate::Param::Text(day.to_owned())] }
}

/// [`ROLLUP_FILE_SCHEMA`] plus the `day` column, as queries see table `rollups`.
pub static ROLLUP_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields: Vec<Field> = ROLLUP_FILE_SCHEMA.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("day", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
});

/// Adds the `day` column.
pub fn with_day(batch: &RecordBatch, day: &str) -> anyhow::Result<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(arrow::array::StringArray::from(vec![day; batch.num_rows()])));
    Ok(RecordBatch::try_new(ROLLUP_SCHEMA.clone(), columns)?)
}

/// The rollups, decrypted once and kept in memory: they are small (a few thousand rows a day per
/// site) and every unfiltered dashboard view reads them, so no query pays for opening and
/// decrypting a file per day. Files stay the durable copy; the cache is filled from them on first
/// use and kept in step when a rollup is written or destroyed.
pub struct RollupCache {
    dir: PathBuf,
    keyring: Arc<crate::keyring::Keyring>,
    /// The k-anonymous aggregates of days whose per-event data is gone, served alongside.
    aggregates: Arc<crate::aggregates::Aggregates>,
    /// `None` until loaded from the files.
    days: Mutex<Option<BTreeMap<time::Date, RecordBatch>>>,
}

impl RollupCache {
    pub fn new(
        dir: PathBuf,
        keyring: Arc<crate::keyring::Keyring>,
        aggregates: Arc<crate::aggregates::Aggregates>,
    ) -> Self {
        RollupCache { dir, keyring, aggregates, days: Mutex::new(None) }
    }

    /// Every day's rollup rows (with `day`), loading the files on first use, and the kept
    /// aggregates (a site's day is served from one or the other, never both).
    pub fn batches(&self) -> anyhow::Result<Vec<RecordBatch>> {
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        if days.is_none() {
            *days = Some(self.load()?);
        }
        let rolled = days.as_ref().expect("loaded above");
        let mut batches: Vec<RecordBatch> = rolled.values().cloned().collect();
        // Retention keeps a day's aggregates before its rows go: until then the rollup counts them.
        batches.extend(self.aggregates.batches_except(|day| rolled.get(&day).map(sites_of).unwrap_or_default())?);
        Ok(batches)
    }

    pub fn put(&self, day: time::Date, batch: RecordBatch) {
        if let Some(days) = self.days.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            days.insert(day, batch);
        }
    }

    pub fn remove(&self, day: time::Date) {
        if let Some(days) = self.days.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            days.remove(&day);
        }
    }

    fn load(&self) -> anyhow::Result<BTreeMap<time::Date, RecordBatch>> {
        let mut out = BTreeMap::new();
        for (day, files) in crate::cold::list_days(&self.dir) {
            let Some(file) = files.first() else { continue };
            let Some(key) = self.keyring.get(day) else { continue };
            // A rollup that cannot be read is skipped (its day is then read from its files),
            // so one bad file cannot break every dashboard.
            match read_encrypted(file, key.bytes()) {
                Ok(rows) => {
                    out.insert(day, with_day(&rows, &crate::keyring::day_string(day))?);
                }
                Err(e) => tracing::warn!(%day, "cannot read the rollup {}: {e:#}", file.display()),
            }
        }
        Ok(out)
    }
}

/// The sites with rows in a rollup.
fn sites_of(rollup: &RecordBatch) -> Vec<u32> {
    use arrow::array::Array as _;
    let site = rollup.column_by_name("site").and_then(|c| c.as_any().downcast_ref::<arrow::array::UInt32Array>());
    let mut sites: Vec<u32> = site.into_iter().flat_map(|c| c.iter().flatten()).collect();
    sites.sort_unstable();
    sites.dedup();
    sites
}

fn read_encrypted(path: &Path, key: &[u8; 32]) -> anyhow::Result<RecordBatch> {
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    let props = parquet::encryption::decrypt::FileDecryptionProperties::builder(key.to_vec()).build()?;
    let file = std::fs::File::open(path)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        ArrowReaderOptions::new().with_file_decryption_properties(props),
    )?
    .build()?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok(arrow::compute::concat_batches(&ROLLUP_FILE_SCHEMA, &batches)?)
}

/// Table `rollups`, served from the [`RollupCache`].
#[derive(Debug)]
pub struct RollupTable(pub Arc<RollupCache>);

impl std::fmt::Debug for RollupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RollupCache")
    }
}

#[async_trait::async_trait]
impl datafusion::datasource::TableProvider for RollupTable {
    fn schema(&self) -> SchemaRef {
        ROLLUP_SCHEMA.clone()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        datafusion::datasource::TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::logical_expr::Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        let batches = self.0.batches().map_err(|e| datafusion::error::DataFusionError::External(e.into()))?;
        let mut parts = vec![Vec::new(), Vec::new()];
        for (i, b) in batches.into_iter().enumerate() {
            parts[i % 2].push(b);
        }
        Ok(datafusion::datasource::memory::MemorySourceConfig::try_new_exec(
            &parts,
            ROLLUP_SCHEMA.clone(),
            projection.cloned(),
        )?)
    }
}
