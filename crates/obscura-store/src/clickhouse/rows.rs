//! The rows ClickHouse stores and answers with, in RowBinary: an event row mirrors
//! [`StoredRow`] plus its `day`; answers are read with explicit casts so their types are fixed.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::row::StoredRow;

/// Days since 1970-01-01, as ClickHouse's `Date` travels in RowBinary.
pub(super) fn day_number(day: Date) -> u16 {
    (day - Date::from_ordinal_date(1970, 1).expect("a date")).whole_days().clamp(0, i64::from(u16::MAX)) as u16
}

/// The day of `day_number`.
pub(super) fn day_of_number(n: u16) -> Date {
    Date::from_ordinal_date(1970, 1).expect("a date") + time::Duration::days(i64::from(n))
}

/// One row of table `events`, column for column.
#[derive(clickhouse::Row, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(super) struct EventRow {
    pub day: u16,
    pub ts: i64,
    pub site: u32,
    pub kind: u8,
    pub visitor: u64,
    pub visit: u64,
    pub visit_seq: u16,
    pub visit_gap_ms: u32,
    pub returning: Option<u8>,
    pub engaged_ms: Option<u32>,
    pub path: String,
    pub prev_path: Option<String>,
    pub referrer_host: Option<String>,
    pub source: String,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub name: Option<String>,
    pub props: Option<String>,
    pub continent: Option<String>,
    pub country: Option<String>,
    pub province: Option<String>,
    pub network: Option<String>,
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub device_type: String,
    pub device_brand: Option<String>,
    pub device_model: Option<String>,
    pub screen: Option<String>,
    pub days_since_last: Option<String>,
    pub visit_count: Option<String>,
}

/// The columns of `events` (and `events_local`), in the order of [`EventRow`].
pub(super) const EVENT_COLUMNS: &str = "day Date, ts Int64, site UInt32, kind UInt8, visitor UInt64, visit UInt64, \
    visit_seq UInt16, visit_gap_ms UInt32, returning Nullable(UInt8), engaged_ms Nullable(UInt32), \
    path String, prev_path Nullable(String), referrer_host Nullable(String), source String, \
    utm_source Nullable(String), utm_medium Nullable(String), utm_campaign Nullable(String), \
    name Nullable(String), props Nullable(String), continent Nullable(String), country Nullable(String), \
    province Nullable(String), network Nullable(String), browser Nullable(String), \
    browser_version Nullable(String), os Nullable(String), os_version Nullable(String), device_type String, \
    device_brand Nullable(String), device_model Nullable(String), screen Nullable(String), \
    days_since_last Nullable(String), visit_count Nullable(String)";

impl EventRow {
    pub(super) fn new(row: StoredRow, day: Date) -> Self {
        let StoredRow {
            ts_ms,
            site,
            kind,
            visitor,
            visit,
            visit_seq,
            visit_gap_ms,
            path,
            prev_path,
            referrer_host,
            source,
            utm_source,
            utm_medium,
            utm_campaign,
            name,
            props,
            continent,
            country,
            province,
            network,
            browser,
            browser_version,
            os,
            os_version,
            device_type,
            device_brand,
            device_model,
            screen,
            returning,
            days_since_last,
            visit_count,
            engaged_ms,
        } = row;
        EventRow {
            day: day_number(day),
            ts: ts_ms,
            site,
            kind,
            visitor,
            visit,
            visit_seq,
            visit_gap_ms,
            returning: returning.map(u8::from),
            engaged_ms,
            path,
            prev_path,
            referrer_host,
            source,
            utm_source,
            utm_medium,
            utm_campaign,
            name,
            props,
            continent,
            country,
            province,
            network,
            browser,
            browser_version,
            os,
            os_version,
            device_type,
            device_brand,
            device_model,
            screen,
            days_since_last,
            visit_count,
        }
    }

    pub(super) fn into_stored(self) -> StoredRow {
        let EventRow {
            day: _,
            ts,
            site,
            kind,
            visitor,
            visit,
            visit_seq,
            visit_gap_ms,
            returning,
            engaged_ms,
            path,
            prev_path,
            referrer_host,
            source,
            utm_source,
            utm_medium,
            utm_campaign,
            name,
            props,
            continent,
            country,
            province,
            network,
            browser,
            browser_version,
            os,
            os_version,
            device_type,
            device_brand,
            device_model,
            screen,
            days_since_last,
            visit_count,
        } = self;
        StoredRow {
            ts_ms: ts,
            site,
            kind,
            visitor,
            visit,
            visit_seq,
            visit_gap_ms,
            path,
            prev_path,
            referrer_host,
            source,
            utm_source,
            utm_medium,
            utm_campaign,
            name,
            props,
            continent,
            country,
            province,
            network,
            browser,
            browser_version,
            os,
            os_version,
            device_type,
            device_brand,
            device_model,
            screen,
            returning: returning.map(|r| r != 0),
            days_since_last,
            visit_count,
            engaged_ms,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clickhouse_days_travel_as_days_since_1970() {
        assert_eq!(day_number(time::macros::date!(1970 - 01 - 01)), 0);
        assert_eq!(day_number(time::macros::date!(2026 - 03 - 01)), 20_513);
        assert_eq!(day_of_number(20_513), time::macros::date!(2026 - 03 - 01));
    }

    #[test]
    fn clickhouse_event_rows_keep_every_stored_value() {
        let mut row = crate::wal::tests::row(1_767_225_600_000);
        row.returning = Some(true);
        row.engaged_ms = Some(900);
        let day = time::macros::date!(2026 - 01 - 01);
        assert_eq!(EventRow::new(row.clone(), day).into_stored(), row);
    }
}
