//! What queries answer: typed results every backend returns, and how raw sums become the
//! figures the dashboard shows.

use serde::Serialize;

use crate::model::{Interval, Query};

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

/// One time-series bucket of automated hits (P5: kept apart from people's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AutomatedPoint {
    /// Start of the bucket, milliseconds since the epoch (UTC).
    pub bucket_ms: i64,
    /// Automated hits in the bucket.
    pub hits: u64,
    /// Their clients' visitor hashes, counted (estimated).
    pub visitors: u64,
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

/// The sums a backend computes for [`Aggregate`]; [`Totals::into_aggregate`] turns them into
/// the headline figures, the same way for every backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Unique visitors (estimated; over several days the sum of each day's).
    pub visitors: u64,
    /// Visits, counted by their entry pageview.
    pub visits: u64,
    /// Pageviews.
    pub pageviews: u64,
    /// Visits with at most one pageview.
    pub bounces: u64,
    /// Total time between a visit's events, summed over visits, in milliseconds.
    pub duration_ms: u64,
}

impl Totals {
    /// The headline figures: ratios per visit, rounded as the dashboard shows them; zero without visits.
    pub fn into_aggregate(self) -> Aggregate {
        let Totals { visitors, visits, pageviews, bounces, duration_ms } = self;
        let per_visit = |x: f64| if visits == 0 { 0.0 } else { x / visits as f64 };
        Aggregate {
            visitors,
            visits,
            pageviews,
            views_per_visit: round2(per_visit(pageviews as f64)),
            bounce_rate: round1(per_visit(bounces as f64) * 100.0),
            visit_duration: round1(per_visit(duration_ms as f64) / 1000.0),
        }
    }
}

/// A visit that may still be going on: what a restart needs to resume it instead of starting
/// a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenVisit {
    /// The site's id.
    pub site: u32,
    /// The visitor's daily hash.
    pub visitor: u64,
    /// The visit's id.
    pub visit: u64,
    /// When its last event happened, milliseconds since the epoch.
    pub last_ms: i64,
    /// Its pageviews so far (the highest sequence number).
    pub pageviews: u64,
    /// The path of its last pageview, if it had one.
    pub last_path: Option<String>,
}

/// `part` of `whole` in percent, to one decimal as the dashboard shows shares; 0 of nothing.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { round1(100.0 * part as f64 / whole as f64) }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The buckets of `q`'s whole range in time order: `points` (in any order) plus zero points for
/// empty buckets, so charts show gaps as zero, not as a line across them.
pub fn fill_gaps(mut points: Vec<SeriesPoint>, q: &Query, interval: Interval) -> Vec<SeriesPoint> {
    points.sort_by_key(|p| p.bucket_ms);
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

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::model::TimeRange;

    const JAN_1_MS: i64 = 1_767_225_600_000;
    const DAY_MS: i64 = 86_400_000;
    const HOUR_MS: i64 = 3_600_000;

    fn point(bucket_ms: i64, visitors: u64, visits: u64, pageviews: u64) -> SeriesPoint {
        SeriesPoint { bucket_ms, visitors, visits, pageviews }
    }

    fn days(first: time::Date, last: time::Date) -> Query {
        Query { site: 4, range: TimeRange::days(first, last).unwrap(), filters: Vec::new() }
    }

    #[test]
    fn results_totals_become_rounded_headline_numbers() {
        let totals = Totals { visitors: 7, visits: 3, pageviews: 10, bounces: 1, duration_ms: 100_000 };
        assert_eq!(
            totals.into_aggregate(),
            Aggregate {
                visitors: 7,
                visits: 3,
                pageviews: 10,
                views_per_visit: 3.33,
                bounce_rate: 33.3,
                visit_duration: 33.3,
            }
        );
        let events_only = Totals { pageviews: 5, ..Totals::default() };
        assert_eq!(events_only.into_aggregate(), Aggregate { pageviews: 5, ..Aggregate::default() });
    }

    #[test]
    fn results_time_series_skips_a_point_off_the_grid_and_keeps_the_later_ones() {
        let q = days(time::macros::date!(2026 - 01 - 01), time::macros::date!(2026 - 01 - 03));
        let filled = fill_gaps(
            vec![point(0, 9, 1, 1), point(JAN_1_MS + DAY_MS, 2, 1, 1), point(JAN_1_MS + 2 * DAY_MS, 3, 1, 1)],
            &q,
            Interval::Day,
        );
        let visitors: Vec<(i64, u64)> = filled.iter().map(|p| (p.bucket_ms, p.visitors)).collect();
        assert_eq!(visitors, [(JAN_1_MS, 0), (JAN_1_MS + DAY_MS, 2), (JAN_1_MS + 2 * DAY_MS, 3)]);
    }

    #[test]
    fn results_timeseries_by_hour_fills_empty_hours() {
        let q = Query {
            site: 4,
            range: TimeRange { from: datetime!(2026-01-01 10:00 UTC), to: datetime!(2026-01-01 13:00 UTC) },
            filters: Vec::new(),
        };
        let got = fill_gaps(
            vec![point(JAN_1_MS + 10 * HOUR_MS, 1, 2, 3), point(JAN_1_MS + 12 * HOUR_MS, 4, 5, 6)],
            &q,
            Interval::Hour,
        );
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
        // 2026-01-01 is a Thursday: its week began on Monday 2025-12-29.
        let q = days(time::macros::date!(2026 - 01 - 01), time::macros::date!(2026 - 01 - 14));
        let got = fill_gaps(vec![point(JAN_1_MS + 4 * DAY_MS, 8, 9, 20)], &q, Interval::Week);
        assert_eq!(
            got,
            vec![
                point(JAN_1_MS - 3 * DAY_MS, 0, 0, 0),
                point(JAN_1_MS + 4 * DAY_MS, 8, 9, 20),
                point(JAN_1_MS + 11 * DAY_MS, 0, 0, 0),
            ]
        );
    }
}
