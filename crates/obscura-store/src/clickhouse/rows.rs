//! The rows ClickHouse stores, in RowBinary: events are [`StoredRow`]s (the table adds the day
//! partition), rollup cells are [`CellRow`]s with their day.

use serde::{Deserialize, Serialize};
use time::Date;

#[cfg(doc)]
use crate::row::StoredRow;

/// Days since 1970-01-01, as ClickHouse's `Date` travels in RowBinary.
pub(super) fn day_number(day: Date) -> u16 {
    (day - Date::from_ordinal_date(1970, 1).expect("a date")).whole_days().clamp(0, i64::from(u16::MAX)) as u16
}

/// The day of `day_number`.
pub(super) fn day_of_number(n: u16) -> Date {
    Date::from_ordinal_date(1970, 1).expect("a date") + time::Duration::days(i64::from(n))
}

/// The columns of `events` (and `events_local`): [`StoredRow`]'s, its time also as `ts` (the name
/// the rendered SQL uses), and the day partition computed from the time.
pub(super) const EVENT_COLUMNS: &str = "day Date DEFAULT toDate(toUInt16(intDiv(ts_ms, 86400000))), ts_ms Int64, \
    ts Int64 ALIAS ts_ms, site UInt32, kind UInt8, visitor UInt64, visit UInt64, \
    visit_seq UInt16, visit_gap_ms UInt32, returning Nullable(UInt8), engaged_ms Nullable(UInt32), \
    path String, prev_path Nullable(String), referrer_host Nullable(String), source String, \
    utm_source Nullable(String), utm_medium Nullable(String), utm_campaign Nullable(String), \
    name Nullable(String), props Nullable(String), continent Nullable(String), country Nullable(String), \
    province Nullable(String), network Nullable(String), browser Nullable(String), \
    browser_version Nullable(String), os Nullable(String), os_version Nullable(String), device_type String, \
    device_brand Nullable(String), device_model Nullable(String), screen Nullable(String), \
    days_since_last Nullable(String), visit_count Nullable(String), metric Nullable(String), value Nullable(Float64)";

/// Columns added since the first release, with their types: tables made earlier gain them
/// when the store connects.
pub(super) const ADDED_EVENT_COLUMNS: [(&str, &str); 2] =
    [("metric", "Nullable(String)"), ("value", "Nullable(Float64)")];

/// The columns of a rollup cell, as tables `rollup_days` and `kept_aggregates` hold them.
pub(super) const ROLLUP_COLUMNS: &str = "day Date, site UInt32, dim String, value Nullable(String), visitors Int64, \
    visits Int64, pageviews Int64, events Int64, bounces Int64, duration_ms Int64";

/// One rollup cell with its day.
#[derive(clickhouse::Row, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(super) struct CellRow {
    pub day: u16,
    pub site: u32,
    pub dim: String,
    pub value: Option<String>,
    pub visitors: i64,
    pub visits: i64,
    pub pageviews: i64,
    pub events: i64,
    pub bounces: i64,
    pub duration_ms: i64,
}

impl CellRow {
    /// `cell` of `day` as a row.
    pub(super) fn new(day: u16, cell: &crate::RollupCell) -> Self {
        CellRow {
            day,
            site: cell.site,
            dim: cell.dim.clone(),
            value: cell.value.clone(),
            visitors: cell.visitors,
            visits: cell.visits,
            pageviews: cell.pageviews,
            events: cell.events,
            bounces: cell.bounces,
            duration_ms: cell.duration_ms,
        }
    }

    /// The row as a rollup cell, without its day.
    pub(super) fn into_cell(self) -> crate::RollupCell {
        crate::RollupCell {
            site: self.site,
            dim: self.dim,
            value: self.value,
            visitors: self.visitors,
            visits: self.visits,
            pageviews: self.pageviews,
            events: self.events,
            bounces: self.bounces,
            duration_ms: self.duration_ms,
        }
    }
}

/// The columns of `measure_rollup_days`: a day's speed cells ([`MeasureCellRow`]).
pub(super) const MEASURE_CELL_COLUMNS: &str = "day Date, site UInt32, dims String, keys Array(String), metric String, \
    samples UInt64, sum Float64, good UInt64, needs_improvement UInt64, poor UInt64, \
    value_buckets Array(Float64), value_counts Array(UInt64), sketch Array(UInt8)";

/// One speed cell of a day (a `DayCell` of `crate::measure_rollup`) with its day.
#[derive(clickhouse::Row, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(super) struct MeasureCellRow {
    pub day: u16,
    pub site: u32,
    pub dims: String,
    pub keys: Vec<String>,
    pub metric: String,
    pub samples: u64,
    pub sum: f64,
    pub good: u64,
    pub needs_improvement: u64,
    pub poor: u64,
    pub value_buckets: Vec<f64>,
    pub value_counts: Vec<u64>,
    pub sketch: Vec<u8>,
}

impl MeasureCellRow {
    pub(super) fn new(day: u16, c: crate::measure_rollup::DayCell) -> Self {
        let [good, needs_improvement, poor] = c.ratings;
        MeasureCellRow {
            day,
            site: c.site,
            dims: c.dims,
            keys: c.keys,
            metric: c.metric,
            samples: c.samples,
            sum: c.sum,
            good,
            needs_improvement,
            poor,
            value_buckets: c.values.iter().map(|v| v.0).collect(),
            value_counts: c.values.iter().map(|v| v.1).collect(),
            sketch: c.sketch,
        }
    }

    pub(super) fn into_cell(self) -> crate::measure_rollup::DayCell {
        crate::measure_rollup::DayCell {
            site: self.site,
            dims: self.dims,
            keys: self.keys,
            metric: self.metric,
            samples: self.samples,
            sum: self.sum,
            ratings: [self.good, self.needs_improvement, self.poor],
            values: self.value_buckets.into_iter().zip(self.value_counts).collect(),
            sketch: self.sketch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clickhouse_days_travel_as_days_since_1970() {
        assert_eq!(day_number(time::macros::date!(1970 - 01 - 01)), 0);
        assert_eq!(day_number(time::macros::date!(2026 - 03 - 01)), 20_513);
        assert_eq!(day_of_number(20_513), time::macros::date!(2026 - 03 - 01));
    }
}
