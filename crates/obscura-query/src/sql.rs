//! Rendering a [`Query`] to SQL with bound parameters.
//!
//! Values only ever travel as parameters (`$1`, `$2`, …); the SQL text is built from fixed
//! fragments chosen by the typed model, so no input can change a query's shape.

use obscura_store::{Param, SqlQuery};

use crate::model::{Dimension, Filter, FilterOp, Interval, Query};

/// SQL dialects with their differing function names. ClickHouse joins this list with its backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    DataFusion,
}

/// Accumulates bound parameters while SQL is assembled.
#[derive(Default)]
struct Binder {
    params: Vec<Param>,
}

impl Binder {
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }
}

/// Which rows a dimension's value comes from, beyond the query's own filters. Acquisition
/// dimensions (source, referrer, UTM) belong to the visit: they are read from its entry pageview.
fn row_condition(dim: &Dimension) -> Option<&'static str> {
    match dim {
        Dimension::Page | Dimension::PreviousPage => Some("kind = 0"),
        Dimension::EntryPage | Dimension::Source | Dimension::Referrer | Dimension::UtmSource | Dimension::UtmMedium | Dimension::UtmCampaign => {
            Some("kind = 0 AND visit_seq = 1")
        }
        Dimension::Event | Dimension::Prop(_) => Some("kind = 1"),
        _ => None,
    }
}

/// Dimensions that describe a whole visit: filtering on them keeps or drops whole visits.
fn is_visit_level(dim: &Dimension) -> bool {
    row_condition(dim) == Some("kind = 0 AND visit_seq = 1") || *dim == Dimension::ExitPage
}

/// The SQL expression of a dimension's value on an event row. Exit page is visit-level and
/// handled separately.
fn column(dim: &Dimension, b: &mut Binder) -> String {
    use Dimension::*;
    match dim {
        Source => "source".into(),
        Referrer => "referrer_host".into(),
        UtmSource => "utm_source".into(),
        UtmMedium => "utm_medium".into(),
        UtmCampaign => "utm_campaign".into(),
        Page | EntryPage | ExitPage => "path".into(),
        PreviousPage => "prev_path".into(),
        Continent => "continent".into(),
        Country => "country".into(),
        Province => "province".into(),
        Network => "network".into(),
        Browser => "browser".into(),
        BrowserVersion => "concat(browser, ' ', browser_version)".into(),
        Os => "os".into(),
        OsVersion => "concat(os, ' ', os_version)".into(),
        DeviceType => "device_type".into(),
        DeviceBrand => "device_brand".into(),
        DeviceModel => "device_model".into(),
        Screen => "screen".into(),
        VisitorType => "CASE WHEN returning THEN 'returning' ELSE 'new' END".into(),
        DaysSinceLast => "days_since_last".into(),
        VisitCount => "visit_count".into(),
        Event => "name".into(),
        Prop(key) => {
            // props is `\x01k\x02v\x01k\x02v\x01`: cut out the value after `\x01key\x02`.
            let marker = b.bind(Param::Text(format!("\u{1}{key}\u{2}")));
            format!("nullif(split_part(split_part(props, {marker}, 2), chr(1), 1), '')")
        }
    }
}

/// A filter as a boolean SQL condition.
fn filter_condition(q: &Query, f: &Filter, b: &mut Binder) -> String {
    let values: Vec<String> = f.values.iter().map(|v| b.bind(Param::Text(v.clone()))).collect();
    let matches = |col: &str| -> String {
        let parts: Vec<String> = match f.op {
            FilterOp::Is | FilterOp::IsNot => values.iter().map(|v| format!("{col} = {v}")).collect(),
            FilterOp::Contains => values.iter().map(|v| format!("strpos(lower({col}), lower({v})) > 0")).collect(),
        };
        format!("({})", parts.join(" OR "))
    };
    let negate = |cond: String| -> String {
        if f.op == FilterOp::IsNot { format!("NOT coalesce({cond}, false)") } else { format!("coalesce({cond}, false)") }
    };
    match &f.dimension {
        // Visit-level dimensions select whole visits.
        dim if is_visit_level(dim) => {
            let scope = scope(q, b);
            let inner = if *dim == Dimension::ExitPage {
                let cond = matches("p");
                format!(
                    "SELECT visit FROM (SELECT visit, last_value(path ORDER BY ts) AS p FROM events \
                     WHERE {scope} AND kind = 0 GROUP BY visit) WHERE {cond}"
                )
            } else {
                let cond = matches(&column(dim, b));
                format!("SELECT visit FROM events WHERE {scope} AND kind = 0 AND visit_seq = 1 AND coalesce({cond}, false)")
            };
            if f.op == FilterOp::IsNot { format!("visit NOT IN ({inner})") } else { format!("visit IN ({inner})") }
        }
        dim => {
            let col = column(dim, b);
            let base = matches(&col);
            match row_condition(dim) {
                // A previous-page filter looks at pageviews only.
                Some(rows) if *dim == Dimension::PreviousPage => negate(format!("({rows} AND {base})")),
                _ => negate(base),
            }
        }
    }
}

/// Site, time range and the day partitions (so whole days are pruned before any file is opened).
fn scope(q: &Query, b: &mut Binder) -> String {
    let site = b.bind(Param::UInt(q.site));
    let from = b.bind(Param::Timestamp(unix_ms(q.range.from)));
    let to = b.bind(Param::Timestamp(unix_ms(q.range.to)));
    let first_day = b.bind(Param::Text(day(q.range.from)));
    let last_day = b.bind(Param::Text(day(q.range.to - time::Duration::milliseconds(1))));
    format!("site = {site} AND ts >= {from} AND ts < {to} AND day >= {first_day} AND day <= {last_day}")
}

fn unix_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn day(t: time::OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

fn where_clause(q: &Query, b: &mut Binder) -> String {
    let mut parts = vec![scope(q, b)];
    for f in &q.filters {
        parts.push(filter_condition(q, f, b));
    }
    parts.join(" AND ")
}

/// Visit metrics without grouping by visit: a visit is counted by its entry pageview
/// (`visit_seq = 1`), a visit with a second pageview is not a bounce (`visit_seq = 2`), and
/// durations are sums of the gaps between a visit's events.
const VISIT_METRICS: &str = "sum(CASE WHEN kind = 0 AND visit_seq = 1 THEN 1 ELSE 0 END) AS visits, \
     sum(CASE WHEN kind = 0 THEN 1 ELSE 0 END) AS pageviews, \
     sum(CASE WHEN kind = 0 AND visit_seq = 1 THEN 1 ELSE 0 END) - sum(CASE WHEN kind = 0 AND visit_seq = 2 THEN 1 ELSE 0 END) AS bounces, \
     sum(CAST(visit_gap_ms AS BIGINT)) AS duration_ms";

impl Dialect {
    /// Headline numbers: visitors, visits, pageviews, bounces, total visit duration.
    pub fn aggregate(self, q: &Query) -> SqlQuery {
        let mut b = Binder::default();
        let cond = where_clause(q, &mut b);
        let sql = format!("SELECT approx_distinct(visitor) AS visitors, {VISIT_METRICS} FROM events WHERE {cond}");
        SqlQuery { sql, params: b.params }
    }

    /// Visitors, visits (by their start) and pageviews per hour or day.
    pub fn timeseries(self, q: &Query, interval: Interval) -> SqlQuery {
        let mut b = Binder::default();
        let cond = where_clause(q, &mut b);
        let width = match interval {
            Interval::Hour => "INTERVAL '1 hour'",
            Interval::Day => "INTERVAL '1 day'",
        };
        let sql = format!(
            "SELECT date_bin({width}, ts, TIMESTAMP '1970-01-01T00:00:00Z') AS bucket, \
             approx_distinct(visitor) AS visitors, {VISIT_METRICS} FROM events WHERE {cond} GROUP BY 1 ORDER BY 1"
        );
        SqlQuery { sql, params: b.params }
    }

    /// Top values of a dimension with visitors, visits, pageviews and custom events.
    ///
    /// `visits` counts the visits that began on rows with the value (for pages: entrances; for
    /// exit pages: exits).
    pub fn breakdown(self, q: &Query, dim: &Dimension, limit: u32) -> SqlQuery {
        let mut b = Binder::default();
        let cond = where_clause(q, &mut b);
        let sql = if *dim == Dimension::ExitPage {
            // A pageview that is not an exit is followed by exactly one pageview whose previous
            // page it is, so exits(p) = views(p) − views with prev_path = p: no grouping by visit.
            format!(
                "SELECT value, approx_distinct(visitor) AS visitors, sum(n) AS visits, \
                 sum(CASE WHEN n > 0 THEN 1 ELSE 0 END) AS pageviews, CAST(0 AS BIGINT) AS events FROM ( \
                 SELECT path AS value, visitor, 1 AS n FROM events WHERE {cond} AND kind = 0 \
                 UNION ALL SELECT prev_path AS value, NULL AS visitor, -1 AS n FROM events WHERE {cond} AND kind = 0 AND prev_path IS NOT NULL) \
                 GROUP BY value HAVING sum(n) > 0 ORDER BY visits DESC, value LIMIT {limit}"
            )
        } else {
            let col = column(dim, &mut b);
            let rows = row_condition(dim).map(|r| format!(" AND {r}")).unwrap_or_default();
            format!(
                "SELECT value, approx_distinct(visitor) AS visitors, \
                 sum(CASE WHEN kind = 0 AND visit_seq = 1 THEN 1 ELSE 0 END) AS visits, \
                 sum(CASE WHEN kind = 0 THEN 1 ELSE 0 END) AS pageviews, sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END) AS events \
                 FROM (SELECT {col} AS value, visitor, visit_seq, kind FROM events WHERE {cond}{rows}) \
                 WHERE value IS NOT NULL GROUP BY value ORDER BY visitors DESC, pageviews DESC, value LIMIT {limit}"
            )
        };
        SqlQuery { sql, params: b.params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimeRange;

    fn q(filters: &[&str]) -> Query {
        Query {
            site: 3,
            range: TimeRange::days(time::macros::date!(2026 - 01 - 01), time::macros::date!(2026 - 01 - 07)).unwrap(),
            filters: filters.iter().map(|f| Filter::parse(f).unwrap()).collect(),
        }
    }

    #[test]
    fn query_values_are_bound_never_spliced() {
        let evil = "x' OR '1'='1";
        let rendered = Dialect::DataFusion.breakdown(&q(&[&format!("country=={evil}")]), &Dimension::Page, 10);
        assert!(!rendered.sql.contains(evil));
        assert!(rendered.params.contains(&Param::Text(evil.into())));
        assert!(rendered.params.contains(&Param::UInt(3)));
        assert!(rendered.params.contains(&Param::Text("2026-01-07".into())));
    }

    #[test]
    fn query_prop_key_is_bound() {
        let rendered = Dialect::DataFusion.breakdown(&q(&[]), &Dimension::Prop("pl'an".into()), 10);
        assert!(!rendered.sql.contains("pl'an"));
        assert!(rendered.params.contains(&Param::Text("\u{1}pl'an\u{2}".into())));
    }
}
