//! Turning the Arrow batches DataFusion answers with into the typed results of the seam.

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use obscura_query::measures::HistogramRow;
use obscura_query::{AutomatedPoint, BreakdownRow, OpenVisit, SeriesPoint, Totals};

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

/// A text column with its missing values as `None`.
fn optional_strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch.column_by_name(name).expect("query selects this column");
    let col = cast(col, &DataType::Utf8).expect("value casts to Utf8");
    let arr = col.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
    (0..arr.len()).map(|i| (!arr.is_null(i)).then(|| arr.value(i).to_owned())).collect()
}

fn count(x: i64) -> u64 {
    x.max(0) as u64
}

/// Rows with their `on_day` column (`YYYY-MM-DD`), each batch read by `rows`.
pub(super) fn by_day<T>(batches: &[RecordBatch], rows: fn(&[RecordBatch]) -> Vec<T>) -> Vec<(time::Date, T)> {
    let mut out = Vec::new();
    for b in batches {
        let days = strings(b, "on_day");
        for (day, row) in days.iter().zip(rows(std::slice::from_ref(b))) {
            if let Some(day) = obscura_model::parse_day(day) {
                out.push((day, row));
            }
        }
    }
    out
}

/// The rows of an issues query.
pub(super) fn issue_summaries(batches: &[RecordBatch]) -> Vec<obscura_query::errors::IssueSummary> {
    let mut out = Vec::new();
    for b in batches {
        let (fingerprint, events, visitors) = (strings(b, "fingerprint"), ints(b, "events"), ints(b, "visitors"));
        let (first, last, props) = (ints(b, "first_ms"), ints(b, "last_ms"), optional_strings(b, "latest_props"));
        for i in 0..b.num_rows() {
            out.push(obscura_query::errors::IssueSummary {
                fingerprint: fingerprint[i].clone(),
                events: count(events[i]),
                visitors: count(visitors[i]),
                first_ms: first[i],
                last_ms: last[i],
                props: props[i].clone(),
            });
        }
    }
    out
}

/// The (fingerprint, bucket, reports) rows of an issue-trend query.
pub(super) fn issue_trend(batches: &[RecordBatch]) -> Vec<(String, i64, u64)> {
    let mut out = Vec::new();
    for b in batches {
        let (fingerprint, bucket, events) = (strings(b, "fingerprint"), ints(b, "bucket"), ints(b, "events"));
        out.extend((0..b.num_rows()).map(|i| (fingerprint[i].clone(), bucket[i], count(events[i]))));
    }
    out
}

/// The rows of an error breakdown, in the order returned.
pub(super) fn error_counts(batches: &[RecordBatch]) -> Vec<obscura_query::errors::ErrorCountRow> {
    let mut out = Vec::new();
    for b in batches {
        let (value, events, visitors) = (strings(b, "value"), ints(b, "events"), ints(b, "visitors"));
        out.extend((0..b.num_rows()).map(|i| obscura_query::errors::ErrorCountRow {
            value: value[i].clone(),
            events: count(events[i]),
            visitors: count(visitors[i]),
        }));
    }
    out
}

/// The (bucket, count) rows of a series of counts, as `bucket` and `events`.
/// The counts `s0` … `s7` of a funnel query's one row.
pub(super) fn funnel_counts(batches: &[RecordBatch]) -> Vec<u64> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else { return vec![0; crate::sql::MAX_FUNNEL_STEPS] };
    (0..crate::sql::MAX_FUNNEL_STEPS).map(|k| ints(b, &format!("s{k}")).first().map_or(0, |n| count(*n))).collect()
}

pub(super) fn automated_points(batches: &[RecordBatch]) -> Vec<AutomatedPoint> {
    let mut out = Vec::new();
    for b in batches {
        let (buckets, hits, visitors) = (ints(b, "bucket"), ints(b, "events"), ints(b, "visitors"));
        out.extend(buckets.into_iter().zip(hits).zip(visitors).map(|((bucket_ms, hits), visitors)| AutomatedPoint {
            bucket_ms,
            hits: count(hits),
            visitors: count(visitors),
        }));
    }
    out
}

/// The rows of an error-cells query, each with as many values as the grouping has dimensions.
pub(super) fn error_cells(batches: &[RecordBatch], dims: usize) -> Vec<(time::Date, crate::error_cells::CellRow)> {
    let mut out = Vec::new();
    for b in batches {
        let values: Vec<Vec<String>> = (0..dims).map(|i| strings(b, &format!("v{i}"))).collect();
        let (days, events, visitors) = (strings(b, "on_day"), ints(b, "events"), ints(b, "visitors"));
        let (first, last) = (ints(b, "first_ms"), ints(b, "last_ms"));
        for i in 0..b.num_rows() {
            let Some(day) = obscura_model::parse_day(&days[i]) else { continue };
            out.push((
                day,
                crate::error_cells::CellRow {
                    values: values.iter().map(|v| v[i].clone()).collect(),
                    events: count(events[i]),
                    visitors: count(visitors[i]),
                    first_ms: first[i],
                    last_ms: last[i],
                },
            ));
        }
    }
    out
}

/// The sums of an aggregate query; zeros when it returned no row.
pub(super) fn totals(batches: &[RecordBatch]) -> Totals {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else { return Totals::default() };
    Totals {
        visitors: count(ints(b, "visitors")[0]),
        visits: count(ints(b, "visits")[0]),
        pageviews: count(ints(b, "pageviews")[0]),
        bounces: count(ints(b, "bounces")[0]),
        duration_ms: floats(b, "duration_ms")[0].max(0.0) as u64,
    }
}

/// The buckets of a time-series query, in the order returned.
pub(super) fn series(batches: &[RecordBatch]) -> Vec<SeriesPoint> {
    let mut out = Vec::new();
    for b in batches {
        let (bucket, visitors, visits, pageviews) =
            (timestamps_ms(b, "bucket"), ints(b, "visitors"), ints(b, "visits"), ints(b, "pageviews"));
        for i in 0..b.num_rows() {
            out.push(SeriesPoint {
                bucket_ms: bucket[i],
                visitors: count(visitors[i]),
                visits: count(visits[i]),
                pageviews: count(pageviews[i]),
            });
        }
    }
    out
}

/// The rows of a breakdown query, in the order returned.
pub(super) fn breakdown(batches: &[RecordBatch]) -> Vec<BreakdownRow> {
    let mut out = Vec::new();
    for b in batches {
        let (value, visitors, visits, pageviews, events) =
            (strings(b, "value"), ints(b, "visitors"), ints(b, "visits"), ints(b, "pageviews"), ints(b, "events"));
        for i in 0..b.num_rows() {
            out.push(BreakdownRow {
                value: value[i].clone(),
                visitors: count(visitors[i]),
                visits: count(visits[i]),
                pageviews: count(pageviews[i]),
                events: count(events[i]),
            });
        }
    }
    out
}

/// The rows of a measure histogram query (see `Dialect::measure_histogram`) grouped by
/// `dimensions` dimensions, each with its site (0 unless the query has a `site` column).
pub(super) fn histogram_rows(batches: &[RecordBatch], dimensions: usize, by_site: bool) -> Vec<(u32, HistogramRow)> {
    let mut out = Vec::new();
    for b in batches {
        let (k0, k1, k2, metric) = (strings(b, "k0"), strings(b, "k1"), strings(b, "k2"), strings(b, "metric"));
        let (bucket, rating, n, total) = (floats(b, "bucket"), ints(b, "rating"), ints(b, "n"), floats(b, "total"));
        let site = if by_site { ints(b, "site") } else { vec![0; b.num_rows()] };
        for i in 0..b.num_rows() {
            let keys = [&k0[i], &k1[i], &k2[i]].into_iter().take(dimensions).cloned().collect();
            let row = HistogramRow {
                keys,
                metric: metric[i].clone(),
                bucket: bucket[i],
                rating: rating[i].clamp(0, 3) as u8,
                n: count(n[i]),
                total: total[i],
            };
            out.push((site[i] as u32, row));
        }
    }
    out
}

/// The rows of a measure visitors query: site, group, metric, distinct visitors.
pub(super) fn cell_visitors(batches: &[RecordBatch], dimensions: usize) -> Vec<(u32, Vec<String>, String, u64)> {
    let mut out = Vec::new();
    for b in batches {
        let (k0, k1, k2, metric) = (strings(b, "k0"), strings(b, "k1"), strings(b, "k2"), strings(b, "metric"));
        let (site, visitors) = (ints(b, "site"), ints(b, "visitors"));
        for i in 0..b.num_rows() {
            let keys = [&k0[i], &k1[i], &k2[i]].into_iter().take(dimensions).cloned().collect();
            out.push((site[i] as u32, keys, metric[i].clone(), count(visitors[i])));
        }
    }
    out
}

/// The visits of an open-visits query.
pub(super) fn open_visits(batches: &[RecordBatch]) -> Vec<OpenVisit> {
    let mut out = Vec::new();
    for b in batches {
        let (site, visitor, visit) = (ints(b, "site"), unsigned(b, "visitor"), unsigned(b, "visit"));
        let (last_ms, pageviews, last_path) =
            (ints(b, "last_ms"), ints(b, "pageviews"), optional_strings(b, "last_path"));
        for i in 0..b.num_rows() {
            out.push(OpenVisit {
                site: site[i] as u32,
                visitor: visitor[i],
                visit: visit[i],
                last_ms: last_ms[i],
                pageviews: count(pageviews[i]),
                last_path: last_path[i].clone(),
            });
        }
    }
    out
}

/// Visitor hashes and visit ids use all 64 bits.
fn unsigned(batch: &RecordBatch, name: &str) -> Vec<u64> {
    let col = batch.column_by_name(name).expect("query selects this column");
    let col = cast(col, &DataType::UInt64).expect("id casts to UInt64");
    let arr = col.as_any().downcast_ref::<arrow::array::UInt64Array>().expect("cast to UInt64");
    (0..arr.len()).map(|i| arr.value(i)).collect()
}

/// The single number of a `count(*)` or similar query.
pub(super) fn single_count(batches: &[RecordBatch], name: &str) -> u64 {
    batches.iter().find(|b| b.num_rows() > 0).map_or(0, |b| count(ints(b, name)[0]))
}

/// The values of a one-column list of site ids.
pub(super) fn sites(batches: &[RecordBatch]) -> Vec<u32> {
    batches.iter().flat_map(|b| ints(b, "site")).map(|s| s as u32).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, DictionaryArray, Int32Array, TimestampMicrosecondArray, TimestampSecondArray, UInt64Array,
    };
    use arrow::datatypes::Int32Type;

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn dictionary(values: Vec<&str>) -> ArrayRef {
        Arc::new(values.into_iter().collect::<DictionaryArray<Int32Type>>())
    }

    const JAN_1_MS: i64 = 1_767_225_600_000;
    const DAY_MS: i64 = 86_400_000;
    const HOUR_MS: i64 = 3_600_000;

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
    fn results_totals_read_the_first_row_and_clamp_negative_sums() {
        let row = batch(vec![
            ("visitors", Arc::new(Int64Array::from(vec![7])) as ArrayRef),
            ("visits", Arc::new(UInt64Array::from(vec![3u64])) as ArrayRef),
            ("pageviews", Arc::new(Int32Array::from(vec![10])) as ArrayRef),
            ("bounces", Arc::new(Int64Array::from(vec![-1])) as ArrayRef),
            ("duration_ms", Arc::new(Float64Array::from(vec![None::<f64>])) as ArrayRef),
        ]);
        let empty = batch(vec![("visitors", Arc::new(Int64Array::from(Vec::<i64>::new())) as ArrayRef)]);
        assert_eq!(totals(&[empty, row]), Totals { visitors: 7, visits: 3, pageviews: 10, bounces: 0, duration_ms: 0 });
        assert_eq!(totals(&[]), Totals::default());
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
        let values: Vec<(String, u64)> = breakdown(&[first, second]).into_iter().map(|r| (r.value, r.events)).collect();
        assert_eq!(values, [("DE".into(), 2), ("(unknown)".into(), 0), ("FR".into(), 0)]);
    }
}
