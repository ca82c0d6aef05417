//! Running rendered queries and turning Arrow results into plain values.

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use obscura_store::{EventStore, StoreError};
use serde::Serialize;

use crate::model::{Dimension, Interval, Query};
use crate::sql::Dialect;

/// Headline numbers for a query.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Aggregate {
    /// Unique visitors, estimated (HyperLogLog); over several days the sum of each day's visitors.
    pub visitors: u64,
    /// Visits, counted by their entry pageview.
    pub visits: u64,
    /// Pageviews.
    pub pageviews: u64,
    /// Pageviews per visit, rounded to two decimals; 0 without visits.
    pub views_per_visit: f64,
    /// Percent of visits with at most one pageview.
    pub bounce_rate: f64,
    /// Mean visit duration in seconds.
    pub visit_duration: f64,
}

/// One time-series bucket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// Start of the bucket, milliseconds since the epoch (UTC).
    pub bucket_ms: i64,
    /// Unique visitors in the bucket (estimated).
    pub visitors: u64,
    /// Visits that began in the bucket.
    pub visits: u64,
    /// Pageviews in the bucket.
    pub pageviews: u64,
}

/// One value of a breakdown and its metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakdownRow {
    /// The dimension's value, or `(none)` / `(unknown)` for rows without one.
    pub value: String,
    /// Unique visitors with this value (estimated).
    pub visitors: u64,
    /// Visits that began on rows with this value (for pages: entrances; for exit pages: exits).
    pub visits: u64,
    /// Pageviews with this value.
    pub pageviews: u64,
    /// Custom events with this value.
    pub events: u64,
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<i64> {
    let col = batch.column_by_name(name).expect("query selects this column");
    let col = cast(col, &DataType::Int64).expect("numeric column casts to Int64");
    let arr = col.as_any().downcast_ref::<Int64Array>().expect("cast to Int64");
    (0..arr.len()).map(|i| if arr.is_null(i) { 0 } else { arr.value(i) }).collect()
}

/// A timestamp column (any unit) or a day column (`YYYY-MM-DD`) as milliseconds since the epoch.
fn timestamps_ms(batch: &RecordBatch, name: &str) -> Vec<i64> {
    let col = batch.column_by_name(name).expect("query selects this column");
    if matches!(col.data_type(), DataType::Utf8 | DataType::Dictionary(_, _)) {
        return strings(batch, name)
            .iter()
            .map(|d| obscura_model::parse_day(d).map_or(0, |d| obscura_model::unix_ms(d.midnight().assume_utc())))
            .collect();
    }
    let ms = cast(col, &DataType::Timestamp(TimeUnit::Millisecond, None)).expect("timestamp casts to milliseconds");
    let col = cast(&ms, &DataType::Int64).expect("timestamp casts to Int64");
    let arr = col.as_any().downcast_ref::<Int64Array>().expect("cast to Int64");
    (0..arr.len()).map(|i| arr.value(i)).collect()
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let col = batch.column_by_name(name).expect("query selects this column");
    let col = cast(col, &DataType::Float64).expect("numeric column casts to Float64");
    let arr = col.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
    (0..arr.len()).map(|i| if arr.is_null(i) { 0.0 } else { arr.value(i) }).collect()
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<String> {
    let col = batch.column_by_name(name).expect("query selects this column");
    let col = cast(col, &DataType::Utf8).expect("value casts to Utf8");
    let arr = col.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
    (0..arr.len()).map(|i| arr.value(i).to_owned()).collect()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Computes the headline numbers of `q`, reading the store's daily rollups where they apply;
/// all zeros when nothing matches.
pub async fn aggregate(store: &dyn EventStore, dialect: Dialect, q: &Query) -> Result<Aggregate, StoreError> {
    let batches = store.query(&dialect.aggregate(q, &store.rollup_days())).await?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else { return Ok(Aggregate::default()) };
    let visits = ints(b, "visits")[0].max(0) as u64;
    let pageviews = ints(b, "pageviews")[0].max(0) as u64;
    let bounces = ints(b, "bounces")[0].max(0) as u64;
    let duration_ms = floats(b, "duration_ms")[0];
    let per_visit = |x: f64| if visits == 0 { 0.0 } else { x / visits as f64 };
    Ok(Aggregate {
        visitors: ints(b, "visitors")[0].max(0) as u64,
        visits,
        pageviews,
        views_per_visit: round2(per_visit(pageviews as f64)),
        bounce_rate: round1(per_visit(bounces as f64) * 100.0),
        visit_duration: round1(per_visit(duration_ms) / 1000.0),
    })
}

/// Visitors, visits and pageviews of `q` per `interval` bucket, in time order, covering the whole range:
/// empty buckets are included with zeros.
pub async fn timeseries(
    store: &dyn EventStore,
    dialect: Dialect,
    q: &Query,
    interval: Interval,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let batches = store.query(&dialect.timeseries(q, interval, &store.rollup_days())).await?;
    let mut out = Vec::new();
    for b in &batches {
        let (bucket, visitors, visits, pageviews) =
            (timestamps_ms(b, "bucket"), ints(b, "visitors"), ints(b, "visits"), ints(b, "pageviews"));
        for i in 0..b.num_rows() {
            out.push(SeriesPoint {
                bucket_ms: bucket[i],
                visitors: visitors[i] as u64,
                visits: visits[i] as u64,
                pageviews: pageviews[i] as u64,
            });
        }
    }
    out.sort_by_key(|p| p.bucket_ms);
    Ok(fill_gaps(out, q, interval))
}

/// Adds zero points for empty buckets so charts show gaps as zero, not as a line across them.
fn fill_gaps(points: Vec<SeriesPoint>, q: &Query, interval: Interval) -> Vec<SeriesPoint> {
    let step: i64 = match interval {
        Interval::Hour => 3_600_000,
        Interval::Day => 86_400_000,
        Interval::Week => 7 * 86_400_000,
    };
    let from = obscura_model::unix_ms(q.range.from);
    let to = obscura_model::unix_ms(q.range.to);
    let mut out = Vec::new();
    let mut it = points.into_iter().peekable();
    // Buckets are aligned like the SQL's `date_bin`: weeks from Monday 1970-01-05.
    let origin: i64 = if interval == Interval::Week { 4 * 86_400_000 } else { 0 };
    let mut t = from - (from - origin).rem_euclid(step);
    while t < to {
        match it.peek() {
            Some(p) if p.bucket_ms == t => out.push(it.next().expect("peeked")),
            _ => out.push(SeriesPoint { bucket_ms: t, visitors: 0, visits: 0, pageviews: 0 }),
        }
        t += step;
    }
    out
}

/// The top `limit` values of `dim` for `q`, ordered by visitors, then visits, then pageviews.
pub async fn breakdown(
    store: &dyn EventStore,
    dialect: Dialect,
    q: &Query,
    dim: &Dimension,
    limit: u32,
) -> Result<Vec<BreakdownRow>, StoreError> {
    let batches = store.query(&dialect.breakdown(q, dim, limit, &store.rollup_days())).await?;
    let mut out = Vec::new();
    for b in &batches {
        let (value, visitors, visits, pageviews, events) =
            (strings(b, "value"), ints(b, "visitors"), ints(b, "visits"), ints(b, "pageviews"), ints(b, "events"));
        for i in 0..b.num_rows() {
            out.push(BreakdownRow {
                value: value[i].clone(),
                visitors: visitors[i] as u64,
                visits: visits[i] as u64,
                pageviews: pageviews[i] as u64,
                events: events[i] as u64,
            });
        }
    }
    Ok(out)
}
