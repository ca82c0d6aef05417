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
        // A point off the grid (a bucket that did not parse reads as 0) is skipped, not left to
        // block every later bucket.
        while it.peek().is_some_and(|p| p.bucket_ms < t) {
            it.next();
        }
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use arrow::array::{
        ArrayRef, DictionaryArray, Int32Array, TimestampMicrosecondArray, TimestampSecondArray, UInt64Array,
    };
    use arrow::datatypes::Int32Type;
    use obscura_model::Event;
    use obscura_store::{Param, SqlQuery};
    use time::Date;
    use time::macros::{date, datetime};

    use super::*;
    use crate::model::TimeRange;

    /// Answers every query with the same batches and keeps the queries it was asked.
    struct FixedStore {
        batches: Vec<RecordBatch>,
        asked: Mutex<Vec<SqlQuery>>,
    }

    impl FixedStore {
        fn new(batches: Vec<RecordBatch>) -> Self {
            FixedStore { batches, asked: Mutex::new(Vec::new()) }
        }
    }

    fn unused<T>() -> Result<T, StoreError> {
        Err(StoreError::Query("not used here".into()))
    }

    #[async_trait::async_trait]
    impl EventStore for FixedStore {
        async fn append(&self, _events: Vec<Event>) -> Result<(), StoreError> {
            unused()
        }

        async fn import(&self, _events: Vec<Event>) -> Result<(), StoreError> {
            unused()
        }

        async fn query(&self, query: &SqlQuery) -> Result<Vec<RecordBatch>, StoreError> {
            self.asked.lock().unwrap().push(query.clone());
            Ok(self.batches.clone())
        }

        async fn destroy_day(&self, _day: Date) -> Result<(), StoreError> {
            unused()
        }

        async fn purge_sites(&self, _day: Date, _sites: &[u32]) -> Result<u64, StoreError> {
            unused()
        }

        async fn k_anonymous_rollup(&self, _day: Date, _sites: &[u32], _k: u32) -> Result<RecordBatch, StoreError> {
            unused()
        }

        fn keep_aggregates(&self, _day: Date, _rows: &RecordBatch) -> Result<(), StoreError> {
            unused()
        }

        async fn sites_of_day(&self, _day: Date) -> Result<Vec<u32>, StoreError> {
            unused()
        }

        fn days(&self) -> Vec<Date> {
            Vec::new()
        }

        fn rollup_days(&self) -> Vec<Date> {
            Vec::new()
        }
    }

    /// Polls `future` once: the fixed store answers at once, so nothing ever waits.
    fn run<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(future.as_mut(), &mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("the fixed store answers at once"),
        }
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn dictionary(values: Vec<&str>) -> ArrayRef {
        Arc::new(values.into_iter().collect::<DictionaryArray<Int32Type>>())
    }

    fn query(first: Date, last: Date) -> Query {
        Query { site: 4, range: TimeRange::days(first, last).unwrap(), filters: Vec::new() }
    }

    fn point(bucket_ms: i64, visitors: u64, visits: u64, pageviews: u64) -> SeriesPoint {
        SeriesPoint { bucket_ms, visitors, visits, pageviews }
    }

    const JAN_1_MS: i64 = 1_767_225_600_000;
    const DAY_MS: i64 = 86_400_000;
    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn results_time_series_skips_a_point_off_the_grid_and_keeps_the_later_ones() {
        let q = Query {
            site: 1,
            range: TimeRange::days(time::macros::date!(2026 - 01 - 01), time::macros::date!(2026 - 01 - 03)).unwrap(),
            filters: vec![],
        };
        let day = |d: i64| obscura_model::unix_ms(time::macros::datetime!(2026-01-01 00:00 UTC)) + d * 86_400_000;
        let point = |bucket_ms: i64, visitors: u64| SeriesPoint { bucket_ms, visitors, visits: 1, pageviews: 1 };
        let filled = fill_gaps(vec![point(0, 9), point(day(1), 2), point(day(2), 3)], &q, Interval::Day);
        let visitors: Vec<(i64, u64)> = filled.iter().map(|p| (p.bucket_ms, p.visitors)).collect();
        assert_eq!(visitors, [(day(0), 0), (day(1), 2), (day(2), 3)]);
    }

    #[test]
    fn results_ints_read_every_integer_type_and_missing_values_as_zero() {
        let b = batch(vec![
            ("small", Arc::new(Int32Array::from(vec![Some(7), None, Some(-3)])) as ArrayRef),
            ("unsigned", Arc::new(UInt64Array::from(vec![0u64, 42, 1 << 40])) as ArrayRef),
            ("wide", Arc::new(Int64Array::from(vec![None, Some(i64::MAX), Some(5)])) as ArrayRef),
        ]);
        assert_eq!(ints(&b, "small"), vec![7, 0, -3]);
        assert_eq!(ints(&b, "unsigned"), vec![0, 42, 1 << 40]);
        assert_eq!(ints(&b, "wide"), vec![0, i64::MAX, 5]);
    }

    #[test]
    fn results_floats_read_integers_and_missing_values_as_zero() {
        let b = batch(vec![
            ("duration_ms", Arc::new(Float64Array::from(vec![Some(1.5), None])) as ArrayRef),
            ("count", Arc::new(Int64Array::from(vec![3, -2])) as ArrayRef),
        ]);
        assert_eq!(floats(&b, "duration_ms"), vec![1.5, 0.0]);
        assert_eq!(floats(&b, "count"), vec![3.0, -2.0]);
    }

    #[test]
    fn results_strings_read_plain_and_dictionary_text() {
        let b = batch(vec![
            ("page", Arc::new(StringArray::from(vec!["/", "/pricing", ""])) as ArrayRef),
            ("country", dictionary(vec!["DE", "FR", "DE"])),
            ("number", Arc::new(Int64Array::from(vec![5, -1, 0])) as ArrayRef),
        ]);
        assert_eq!(strings(&b, "page"), vec!["/", "/pricing", ""]);
        assert_eq!(strings(&b, "country"), vec!["DE", "FR", "DE"]);
        assert_eq!(strings(&b, "number"), vec!["5", "-1", "0"]);
    }

    #[test]
    fn results_timestamps_read_days_and_any_time_unit_as_epoch_ms() {
        let b = batch(vec![
            ("day", Arc::new(StringArray::from(vec!["2026-01-01", "2026-01-02", "01.01.2026"])) as ArrayRef),
            ("dictionary_day", dictionary(vec!["2026-01-03", "2026-01-03", "2026-02-30"])),
            ("seconds", Arc::new(TimestampSecondArray::from(vec![1_767_225_600, 1_767_229_200, 0])) as ArrayRef),
            (
                "micros",
                Arc::new(TimestampMicrosecondArray::from(vec![1_767_261_600_123_456, 999, 0]).with_timezone("UTC"))
                    as ArrayRef,
            ),
        ]);
        assert_eq!(timestamps_ms(&b, "day"), vec![JAN_1_MS, JAN_1_MS + DAY_MS, 0]);
        assert_eq!(timestamps_ms(&b, "dictionary_day"), vec![JAN_1_MS + 2 * DAY_MS, JAN_1_MS + 2 * DAY_MS, 0]);
        assert_eq!(timestamps_ms(&b, "seconds"), vec![JAN_1_MS, JAN_1_MS + HOUR_MS, 0]);
        assert_eq!(timestamps_ms(&b, "micros"), vec![JAN_1_MS + 10 * HOUR_MS + 123, 0, 0]);
    }

    #[test]
    fn results_aggregate_turns_the_row_into_rounded_headline_numbers() {
        let row = batch(vec![
            ("visitors", Arc::new(Int64Array::from(vec![7])) as ArrayRef),
            ("visits", Arc::new(UInt64Array::from(vec![3u64])) as ArrayRef),
            ("pageviews", Arc::new(Int32Array::from(vec![10])) as ArrayRef),
            ("bounces", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("duration_ms", Arc::new(Float64Array::from(vec![100_000.0])) as ArrayRef),
        ]);
        let store = FixedStore::new(vec![row]);
        let got = run(aggregate(&store, Dialect::DataFusion, &query(date!(2026 - 01 - 01), date!(2026 - 01 - 07))));
        assert_eq!(
            got.unwrap(),
            Aggregate {
                visitors: 7,
                visits: 3,
                pageviews: 10,
                views_per_visit: 3.33,
                bounce_rate: 33.3,
                visit_duration: 33.3,
            }
        );
        let asked = store.asked.lock().unwrap();
        assert_eq!(asked.len(), 1);
        assert!(asked[0].params.contains(&Param::UInt(4)), "{:?}", asked[0].params);
    }

    #[test]
    fn results_aggregate_without_rows_or_visits_has_no_ratios() {
        let q = query(date!(2026 - 01 - 01), date!(2026 - 01 - 07));
        let nothing = FixedStore::new(Vec::new());
        assert_eq!(run(aggregate(&nothing, Dialect::DataFusion, &q)).unwrap(), Aggregate::default());

        let empty = batch(vec![("visitors", Arc::new(Int64Array::from(Vec::<i64>::new())) as ArrayRef)]);
        let events_only = batch(vec![
            ("visitors", Arc::new(Int64Array::from(vec![None::<i64>])) as ArrayRef),
            ("visits", Arc::new(Int64Array::from(vec![0])) as ArrayRef),
            ("pageviews", Arc::new(Int64Array::from(vec![5])) as ArrayRef),
            ("bounces", Arc::new(Int64Array::from(vec![None::<i64>])) as ArrayRef),
            ("duration_ms", Arc::new(Float64Array::from(vec![None::<f64>])) as ArrayRef),
        ]);
        let store = FixedStore::new(vec![empty, events_only]);
        assert_eq!(
            run(aggregate(&store, Dialect::DataFusion, &q)).unwrap(),
            Aggregate { pageviews: 5, ..Aggregate::default() }
        );
    }

    #[test]
    fn results_timeseries_by_day_sorts_buckets_and_fills_empty_days() {
        let rows = batch(vec![
            ("bucket", Arc::new(StringArray::from(vec!["2026-01-03", "2026-01-01"])) as ArrayRef),
            ("visitors", Arc::new(Int64Array::from(vec![5, 2])) as ArrayRef),
            ("visits", Arc::new(UInt64Array::from(vec![6u64, 2])) as ArrayRef),
            ("pageviews", Arc::new(Int32Array::from(vec![9, 3])) as ArrayRef),
        ]);
        let store = FixedStore::new(vec![rows]);
        let q = query(date!(2026 - 01 - 01), date!(2026 - 01 - 03));
        let got = run(timeseries(&store, Dialect::DataFusion, &q, Interval::Day)).unwrap();
        assert_eq!(
            got,
            vec![point(JAN_1_MS, 2, 2, 3), point(JAN_1_MS + DAY_MS, 0, 0, 0), point(JAN_1_MS + 2 * DAY_MS, 5, 6, 9)]
        );
    }

    #[test]
    fn results_timeseries_by_hour_merges_batches_of_timestamps() {
        let noon_us = (JAN_1_MS + 12 * HOUR_MS) * 1_000;
        let ten_us = (JAN_1_MS + 10 * HOUR_MS) * 1_000;
        let rows = |bucket_us: i64, n: i64| {
            batch(vec![
                ("bucket", Arc::new(TimestampMicrosecondArray::from(vec![bucket_us]).with_timezone("UTC")) as ArrayRef),
                ("visitors", Arc::new(Int64Array::from(vec![n])) as ArrayRef),
                ("visits", Arc::new(Int64Array::from(vec![n + 1])) as ArrayRef),
                ("pageviews", Arc::new(Int64Array::from(vec![n + 2])) as ArrayRef),
            ])
        };
        let store = FixedStore::new(vec![rows(noon_us, 4), rows(ten_us, 1)]);
        let q = Query {
            site: 4,
            range: TimeRange { from: datetime!(2026-01-01 10:00 UTC), to: datetime!(2026-01-01 13:00 UTC) },
            filters: Vec::new(),
        };
        let got = run(timeseries(&store, Dialect::DataFusion, &q, Interval::Hour)).unwrap();
        assert_eq!(
            got,
            vec![
                point(JAN_1_MS + 10 * HOUR_MS, 1, 2, 3),
                point(JAN_1_MS + 11 * HOUR_MS, 0, 0, 0),
                point(JAN_1_MS + 12 * HOUR_MS, 4, 5, 6),
            ]
        );
    }

    #[test]
    fn results_timeseries_by_week_starts_buckets_on_monday() {
        let rows = batch(vec![
            ("bucket", dictionary(vec!["2026-01-05"])),
            ("visitors", Arc::new(Int64Array::from(vec![8])) as ArrayRef),
            ("visits", Arc::new(Int64Array::from(vec![9])) as ArrayRef),
            ("pageviews", Arc::new(Int64Array::from(vec![20])) as ArrayRef),
        ]);
        let store = FixedStore::new(vec![rows]);
        // 2026-01-01 is a Thursday: its week began on Monday 2025-12-29.
        let q = query(date!(2026 - 01 - 01), date!(2026 - 01 - 14));
        let got = run(timeseries(&store, Dialect::DataFusion, &q, Interval::Week)).unwrap();
        assert_eq!(
            got,
            vec![
                point(JAN_1_MS - 3 * DAY_MS, 0, 0, 0),
                point(JAN_1_MS + 4 * DAY_MS, 8, 9, 20),
                point(JAN_1_MS + 11 * DAY_MS, 0, 0, 0),
            ]
        );
    }

    #[test]
    fn results_breakdown_keeps_the_store_order_across_batches() {
        let first = batch(vec![
            ("value", dictionary(vec!["DE", "(unknown)"])),
            ("visitors", Arc::new(Int64Array::from(vec![12, 3])) as ArrayRef),
            ("visits", Arc::new(UInt64Array::from(vec![15u64, 3])) as ArrayRef),
            ("pageviews", Arc::new(Int32Array::from(vec![40, 4])) as ArrayRef),
            ("events", Arc::new(Int64Array::from(vec![Some(2), None])) as ArrayRef),
        ]);
        let second = batch(vec![
            ("value", Arc::new(StringArray::from(vec!["FR"])) as ArrayRef),
            ("visitors", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("visits", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("pageviews", Arc::new(Int64Array::from(vec![2])) as ArrayRef),
            ("events", Arc::new(Int64Array::from(vec![0])) as ArrayRef),
        ]);
        let store = FixedStore::new(vec![first, second]);
        let q = query(date!(2026 - 01 - 01), date!(2026 - 01 - 07));
        let got = run(breakdown(&store, Dialect::DataFusion, &q, &Dimension::Country, 10)).unwrap();
        let row = |value: &str, visitors, visits, pageviews, events| BreakdownRow {
            value: value.to_owned(),
            visitors,
            visits,
            pageviews,
            events,
        };
        assert_eq!(got, vec![row("DE", 12, 15, 40, 2), row("(unknown)", 3, 3, 4, 0), row("FR", 1, 1, 2, 0)]);
        assert!(store.asked.lock().unwrap()[0].sql.contains("LIMIT 10"));
    }
}
