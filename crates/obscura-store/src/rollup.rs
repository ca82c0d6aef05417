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

use obscura_model::format_day;

use crate::SqlQuery;

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

/// The SQL for one day (over table `cold`), with the day as its parameter.
pub fn day_query(day: &str) -> SqlQuery {
    SqlQuery { sql: crate::sql::Dialect::DataFusion.rollup_day_sql(), params: vec![crate::Param::Text(day.to_owned())] }
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
    aggregates: Arc<crate::embedded::kept_aggregates::Aggregates>,
    /// `None` until loaded from the files.
    days: Mutex<Option<BTreeMap<time::Date, RecordBatch>>>,
}

impl RollupCache {
    pub fn new(
        dir: PathBuf,
        keyring: Arc<crate::keyring::Keyring>,
        aggregates: Arc<crate::embedded::kept_aggregates::Aggregates>,
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
                    out.insert(day, with_day(&rows, &format_day(day))?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int32Array, Int64Array, StringArray, UInt32Array, UInt64Array};
    use datafusion::prelude::SessionContext;
    use time::macros::date;

    use crate::embedded::kept_aggregates::{Aggregates, batch_to_cells as cells_of_result};

    fn cells_of(batch: &RecordBatch) -> Vec<crate::RollupCell> {
        cells_of_result(batch).unwrap()
    }
    use crate::crypto::Key;
    use crate::keyring::Keyring;

    const DAY: time::Date = date!(2026 - 01 - 10);
    const NEXT_DAY: time::Date = date!(2026 - 01 - 11);

    /// Rollup rows `(site, dim, value, visitors)`; the other metrics follow from the visitors.
    fn rows(cells: &[(u32, &str, Option<&str>, i64)]) -> RecordBatch {
        let metric = |f: fn(i64) -> i64| -> ArrayRef { Arc::new(cells.iter().map(|c| f(c.3)).collect::<Int64Array>()) };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(cells.iter().map(|c| c.0).collect::<UInt32Array>()),
            Arc::new(cells.iter().map(|c| Some(c.1)).collect::<StringArray>()),
            Arc::new(cells.iter().map(|c| c.2).collect::<StringArray>()),
            metric(|v| v),
            metric(|v| v + 1),
            metric(|v| 2 * v),
            metric(|_| 0),
            metric(|_| 1),
            metric(|v| 1_000 * v),
        ];
        RecordBatch::try_new(ROLLUP_FILE_SCHEMA.clone(), columns).unwrap()
    }

    fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Vec<Option<&'a str>> {
        batch.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap().iter().collect()
    }

    fn uint32(batch: &RecordBatch, name: &str) -> Vec<u32> {
        let col = batch.column_by_name(name).unwrap().as_any().downcast_ref::<UInt32Array>().unwrap();
        assert_eq!(col.null_count(), 0, "{name} has nulls");
        col.values().to_vec()
    }

    fn int64(batch: &RecordBatch, name: &str) -> Vec<i64> {
        let col = batch.column_by_name(name).unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(col.null_count(), 0, "{name} has nulls");
        col.values().to_vec()
    }

    /// `(day, site, visitors)` of rollup rows with their day, sorted.
    fn cells(batches: &[RecordBatch]) -> Vec<(String, u32, i64)> {
        let mut out: Vec<(String, u32, i64)> = batches
            .iter()
            .flat_map(|b| {
                let day = strings(b, "day");
                let site = uint32(b, "site");
                let visitors = int64(b, "visitors");
                (0..b.num_rows()).map(|i| (day[i].unwrap().to_owned(), site[i], visitors[i])).collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    fn cell(day: &str, site: u32, visitors: i64) -> (String, u32, i64) {
        (day.to_owned(), site, visitors)
    }

    /// A keyring, aggregates and rollup folder in `dir`.
    fn open(dir: &Path) -> (Arc<Keyring>, Arc<Aggregates>, PathBuf) {
        let master = Key::random();
        let keyring = Arc::new(Keyring::open(master.clone(), dir.join("keyring")).unwrap());
        let aggregates = Arc::new(Aggregates::open(dir.join("aggregates"), master).unwrap());
        (keyring, aggregates, dir.join("rollups"))
    }

    #[test]
    fn rollup_conform_casts_to_the_file_schema_and_turns_null_sums_into_zero() {
        let result = RecordBatch::try_from_iter(vec![
            ("duration_ms", Arc::new(Int64Array::from(vec![Some(1_500), None])) as ArrayRef),
            ("bounces", Arc::new(Int64Array::from(vec![None, Some(1)])) as ArrayRef),
            ("events", Arc::new(UInt64Array::from(vec![4, 0])) as ArrayRef),
            ("pageviews", Arc::new(Int32Array::from(vec![Some(7), None])) as ArrayRef),
            ("visits", Arc::new(UInt64Array::from(vec![3, 1])) as ArrayRef),
            ("visitors", Arc::new(Int64Array::from(vec![2, 1])) as ArrayRef),
            ("value", Arc::new(StringArray::from(vec![Some("/"), None])) as ArrayRef),
            ("dim", Arc::new(StringArray::from(vec![Some("page"), None])) as ArrayRef),
            ("site", Arc::new(Int64Array::from(vec![5, 6])) as ArrayRef),
            ("extra", Arc::new(Int64Array::from(vec![9, 9])) as ArrayRef),
        ])
        .unwrap();
        let rollup = conform(&result).unwrap();
        assert_eq!(rollup.schema(), *ROLLUP_FILE_SCHEMA, "file columns only, in file order");
        assert_eq!(rollup.num_rows(), 2);
        assert_eq!(uint32(&rollup, "site"), vec![5, 6]);
        assert_eq!(strings(&rollup, "dim"), vec![Some("page"), Some("")]);
        assert_eq!(strings(&rollup, "value"), vec![Some("/"), None], "value stays nullable");
        assert_eq!(int64(&rollup, "visitors"), vec![2, 1]);
        assert_eq!(int64(&rollup, "visits"), vec![3, 1]);
        assert_eq!(int64(&rollup, "pageviews"), vec![7, 0]);
        assert_eq!(int64(&rollup, "events"), vec![4, 0]);
        assert_eq!(int64(&rollup, "bounces"), vec![0, 1]);
        assert_eq!(int64(&rollup, "duration_ms"), vec![1_500, 0]);
    }

    #[test]
    fn rollup_conform_keeps_conforming_rows_and_names_a_missing_column() {
        let full = rows(&[(1, "page", Some("/"), 2), (2, "", None, 5)]);
        assert_eq!(conform(&full).unwrap(), full);

        let schema = full.schema();
        let without_bounces = schema
            .fields()
            .iter()
            .zip(full.columns())
            .filter(|(f, _)| f.name() != "bounces")
            .map(|(f, c)| (f.name().clone(), c.clone()));
        let partial = RecordBatch::try_from_iter(without_bounces).unwrap();
        assert_eq!(conform(&partial).unwrap_err().to_string(), "rollup query lacks column bounces");
    }

    #[test]
    fn rollup_with_day_adds_the_day_column() {
        let rollup = rows(&[(1, "page", Some("/"), 2), (2, "", None, 5)]);
        let with = with_day(&rollup, "2026-01-10").unwrap();
        assert_eq!(with.schema(), *ROLLUP_SCHEMA);
        let names: Vec<&str> = ROLLUP_SCHEMA.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names.join(","), "site,dim,value,visitors,visits,pageviews,events,bounces,duration_ms,day");
        assert_eq!(strings(&with, "day"), vec![Some("2026-01-10"), Some("2026-01-10")]);
        assert_eq!(uint32(&with, "site"), vec![1, 2]);
        assert_eq!(int64(&with, "pageviews"), vec![4, 10]);
        assert!(with_day(&with, "2026-01-10").is_err(), "a batch that has its day already does not fit");
    }

    #[test]
    fn rollup_day_query_binds_the_day_as_its_only_parameter() {
        let query = day_query("2026-01-10");
        assert!(query.sql.contains("FROM cold WHERE day = $1"), "{}", query.sql);
        assert_eq!(query.params, vec![crate::Param::Text("2026-01-10".to_owned())]);
    }

    #[test]
    fn rollup_sites_of_lists_each_site_once_in_order() {
        let rollup = rows(&[(3, "", None, 1), (1, "", None, 1), (3, "page", Some("/"), 1), (2, "", None, 1)]);
        assert_eq!(sites_of(&rollup), vec![1, 2, 3]);
        assert_eq!(sites_of(&with_day(&rollup, "2026-01-10").unwrap()), vec![1, 2, 3]);
        assert!(sites_of(&RecordBatch::new_empty(ROLLUP_FILE_SCHEMA.clone())).is_empty());
        let no_site =
            RecordBatch::try_from_iter(vec![("dim", Arc::new(StringArray::from(vec!["page"])) as ArrayRef)]).unwrap();
        assert!(sites_of(&no_site).is_empty());
    }

    #[test]
    fn rollup_cache_loads_readable_rollups_and_aggregates_of_sites_not_rolled_up() {
        let dir = tempfile::tempdir().unwrap();
        let (keyring, aggregates, rollups) = open(dir.path());
        let old = date!(2026 - 01 - 08);
        let destroyed = NEXT_DAY;
        let damaged = date!(2026 - 01 - 12);
        let rollup = rows(&[(1, "", None, 10), (2, "", None, 20)]);
        crate::cold::write_encrypted_file(&rollups, &keyring, DAY, "rollup.parquet", &rollup).unwrap();
        let gone = rows(&[(1, "", None, 30)]);
        crate::cold::write_encrypted_file(&rollups, &keyring, destroyed, "rollup.parquet", &gone).unwrap();
        assert!(keyring.destroy(destroyed).unwrap());
        keyring.get_or_create(damaged).unwrap();
        let damaged_dir = crate::cold::day_dir(&rollups, damaged);
        std::fs::create_dir_all(&damaged_dir).unwrap();
        std::fs::write(damaged_dir.join("rollup.parquet"), b"not a parquet file").unwrap();
        aggregates.add(old, &cells_of(&rows(&[(1, "", None, 4)]))).unwrap();
        aggregates.add(DAY, &cells_of(&rows(&[(1, "", None, 99), (3, "", None, 5)]))).unwrap();

        let cache = RollupCache::new(rollups, keyring, aggregates);
        let expected = vec![
            cell("2026-01-08", 1, 4),
            cell("2026-01-10", 1, 10),
            cell("2026-01-10", 2, 20),
            cell("2026-01-10", 3, 5),
        ];
        assert_eq!(cells(&cache.batches().unwrap()), expected);
    }

    #[test]
    fn rollup_cache_follows_puts_and_removes_once_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let (keyring, aggregates, rollups) = open(dir.path());
        let cache = RollupCache::new(rollups, keyring, aggregates);
        let day_rows =
            |site: u32, visitors: i64, day: &str| with_day(&rows(&[(site, "", None, visitors)]), day).unwrap();

        cache.put(DAY, day_rows(1, 7, "2026-01-10"));
        assert!(cache.batches().unwrap().is_empty(), "until first use the files are the only source");

        cache.put(DAY, day_rows(1, 7, "2026-01-10"));
        cache.put(NEXT_DAY, day_rows(2, 8, "2026-01-11"));
        assert_eq!(cells(&cache.batches().unwrap()), vec![cell("2026-01-10", 1, 7), cell("2026-01-11", 2, 8)]);

        cache.put(DAY, day_rows(1, 9, "2026-01-10"));
        cache.remove(NEXT_DAY);
        assert_eq!(cells(&cache.batches().unwrap()), vec![cell("2026-01-10", 1, 9)]);
    }

    #[tokio::test]
    async fn rollup_table_serves_the_cached_rows_to_sql() {
        let dir = tempfile::tempdir().unwrap();
        let (keyring, aggregates, rollups) = open(dir.path());
        let cache = Arc::new(RollupCache::new(rollups, keyring, aggregates));
        assert!(cache.batches().unwrap().is_empty());
        cache.put(DAY, with_day(&rows(&[(1, "", None, 3), (1, "page", Some("/"), 2)]), "2026-01-10").unwrap());
        cache.put(NEXT_DAY, with_day(&rows(&[(1, "", None, 4)]), "2026-01-11").unwrap());

        let ctx = SessionContext::new();
        ctx.register_table("rollups", Arc::new(RollupTable(cache))).unwrap();
        let sql = "SELECT day, sum(visitors) AS visitors FROM rollups WHERE dim = '' GROUP BY day ORDER BY day";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut got = Vec::new();
        for b in &batches {
            let day = cast(b.column(0), &DataType::Utf8).unwrap();
            let day = day.as_any().downcast_ref::<StringArray>().unwrap();
            let visitors = cast(b.column(1), &DataType::Int64).unwrap();
            let visitors = visitors.as_any().downcast_ref::<Int64Array>().unwrap();
            got.extend((0..b.num_rows()).map(|i| (day.value(i).to_owned(), visitors.value(i))));
        }
        assert_eq!(got, vec![("2026-01-10".to_owned(), 3), ("2026-01-11".to_owned(), 4)]);
    }
}
