//! Per-day rollups: for each site, day, dimension and value, the day's visitors, visits,
//! pageviews, custom events, bounces and visit duration — so unfiltered dashboards over long
//! ranges read a few thousand rows instead of every event.
//!
//! Visitors add up across days exactly because visitor hashes change every day (P2): the union of
//! the days' distinct visitors is the sum of each day's. A rollup is computed when a finished day
//! reaches its Parquet files, from all of that day's files, and is encrypted under the day's key
//! like the events it summarises (and destroyed with them).

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::SqlQuery;

/// What to compute for a day: the query layer knows the dimensions, so it supplies the SQL.
pub trait RollupSpec: Send + Sync + 'static {
    /// SQL over table `cold` for the day bound to `$1` (`YYYY-MM-DD`), returning the columns of
    /// [`ROLLUP_FILE_SCHEMA`] (any integer types).
    fn day_sql(&self) -> String;
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
