//! Rendering a [`Query`] to SQL with bound parameters, for each backend's dialect.
//!
//! Values only ever travel as parameters (`$1`, `$2`, …); the SQL text is built from fixed
//! fragments chosen by the typed model, so no input can change a query's shape.

use obscura_model::{Metric, unix_ms};
use obscura_query::{Dimension, Filter, FilterOp, Interval, Query};
use time::Date;

use crate::{Param, SqlQuery};

/// SQL dialects with their differing function names. The query's shape is the same for every
/// dialect; only these fragments differ, so the backends count the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Apache DataFusion, the engine of the embedded store: `ts` is a timestamp, `day` text.
    DataFusion,
    /// ClickHouse (18.16 and later): `ts` is milliseconds since the epoch, `day` a `Date`.
    ClickHouse,
}

impl Dialect {
    /// Approximate distinct count.
    fn distinct(self, expr: &str) -> String {
        match self {
            Dialect::DataFusion => format!("approx_distinct({expr})"),
            Dialect::ClickHouse => format!("uniq({expr})"),
        }
    }

    /// Whether `col` contains `value`, ignoring case.
    fn contains(self, col: &str, value: &str) -> String {
        match self {
            Dialect::DataFusion => format!("strpos(lower({col}), lower({value})) > 0"),
            Dialect::ClickHouse => format!("positionCaseInsensitiveUTF8({col}, {value}) > 0"),
        }
    }

    /// The value of the property whose `\x01key\x02` marker is bound as `marker`, or NULL.
    fn prop_value(self, marker: &str) -> String {
        match self {
            Dialect::DataFusion => format!("nullif(split_part(split_part(props, {marker}, 2), chr(1), 1), '')"),
            Dialect::ClickHouse => {
                format!("nullIf(splitByChar('\\x01', splitByString({marker}, ifNull(props, ''))[2])[1], '')")
            }
        }
    }

    /// The boolean false.
    fn false_value(self) -> &'static str {
        match self {
            Dialect::DataFusion => "false",
            Dialect::ClickHouse => "0",
        }
    }

    /// `expr`'s value on the row with the greatest `by` (of each group).
    fn last(self, expr: &str, by: &str) -> String {
        match self {
            Dialect::DataFusion => format!("last_value({expr} ORDER BY {by})"),
            Dialect::ClickHouse => format!("argMax({expr}, {by})"),
        }
    }

    /// The start of an event's time bucket. Day buckets line up with the `day` partition.
    fn bucket(self, interval: Interval) -> &'static str {
        match (self, interval) {
            (Dialect::DataFusion, Interval::Day) => "day",
            (Dialect::DataFusion, Interval::Hour) => {
                "date_bin(INTERVAL '1 hour', ts, TIMESTAMP '1970-01-01T00:00:00Z')"
            }
            // Weeks start on Monday (1970-01-05 was one).
            (Dialect::DataFusion, Interval::Week) => {
                "date_bin(INTERVAL '7 days', ts, TIMESTAMP '1970-01-05T00:00:00Z')"
            }
            (Dialect::ClickHouse, Interval::Day) => "intDiv(ts, 86400000) * 86400000",
            (Dialect::ClickHouse, Interval::Hour) => "intDiv(ts, 3600000) * 3600000",
            (Dialect::ClickHouse, Interval::Week) => "intDiv(ts - 345600000, 604800000) * 604800000 + 345600000",
        }
    }

    /// The start of an event's time bucket in milliseconds since the epoch, for either dialect.
    fn bucket_ms(self, interval: Interval) -> String {
        match self {
            Dialect::ClickHouse => self.bucket(interval).to_owned(),
            // Integer division: DataFusion divides integers as integers.
            Dialect::DataFusion => match interval {
                Interval::Hour => "(CAST(ts AS BIGINT) / 3600000) * 3600000".into(),
                Interval::Day => "(CAST(ts AS BIGINT) / 86400000) * 86400000".into(),
                Interval::Week => "((CAST(ts AS BIGINT) - 345600000) / 604800000) * 604800000 + 345600000".into(),
            },
        }
    }

    /// A rollup row's day as a time bucket, like [`Dialect::bucket`]'s day buckets.
    fn rollup_bucket(self) -> &'static str {
        match self {
            Dialect::DataFusion => "day",
            Dialect::ClickHouse => "toInt64(day) * 86400000",
        }
    }

    /// The table a day's rollup is computed from: the embedded store's day files, or all events.
    fn day_rows(self) -> &'static str {
        match self {
            Dialect::DataFusion => "cold",
            Dialect::ClickHouse => "events",
        }
    }
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
        Dimension::Flow => Some("kind = 0 AND prev_path IS NOT NULL"),
        Dimension::EntryPage
        | Dimension::Source
        | Dimension::Referrer
        | Dimension::UtmSource
        | Dimension::UtmMedium
        | Dimension::UtmCampaign => Some("kind = 0 AND visit_seq = 1"),
        Dimension::Event | Dimension::Prop(_) => Some("kind = 1"),
        _ => None,
    }
}

/// How a breakdown shows rows without a value, so that a breakdown adds up to its total:
/// `(none)` where nothing was sent (no referrer, no campaign tag), `(unknown)` where a lookup
/// found nothing (no country, no network operator, an unrecognised browser). `None` for
/// dimensions whose rows without a value are not part of the breakdown: a visit's first page has
/// no previous page, and a property breakdown is about the events that carry the property.
pub fn missing_label(dim: &Dimension) -> Option<&'static str> {
    use Dimension::*;
    match dim {
        PreviousPage | Flow | Prop(_) => None,
        Referrer | UtmSource | UtmMedium | UtmCampaign => Some("(none)"),
        _ => Some("(unknown)"),
    }
}

/// Dimensions that describe a whole visit: filtering on them keeps or drops whole visits.
fn is_visit_level(dim: &Dimension) -> bool {
    row_condition(dim) == Some("kind = 0 AND visit_seq = 1") || *dim == Dimension::ExitPage
}

/// The SQL expression of a dimension's value on an event row. Exit page is visit-level and
/// handled separately.
fn column(d: Dialect, dim: &Dimension, b: &mut Binder) -> String {
    use Dimension::*;
    match dim {
        Source => "source".into(),
        Referrer => "referrer_host".into(),
        UtmSource => "utm_source".into(),
        UtmMedium => "utm_medium".into(),
        UtmCampaign => "utm_campaign".into(),
        Page | EntryPage | ExitPage => "path".into(),
        PreviousPage => "prev_path".into(),
        Flow => "concat(prev_path, ' → ', path)".into(),
        Continent => "continent".into(),
        Country => "country".into(),
        Province => "province".into(),
        Network => "network".into(),
        Browser => "browser".into(),
        // Without a version, the name alone (every dialect's concat treats NULL its own way).
        BrowserVersion => "CASE WHEN browser IS NULL THEN NULL WHEN browser_version IS NULL THEN browser \
                           ELSE concat(browser, ' ', browser_version) END"
            .into(),
        Os => "os".into(),
        OsVersion => "CASE WHEN os IS NULL THEN NULL WHEN os_version IS NULL THEN os \
                      ELSE concat(os, ' ', os_version) END"
            .into(),
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
            d.prop_value(&marker)
        }
    }
}

/// A filter as a boolean SQL condition.
fn filter_condition(d: Dialect, q: &Query, f: &Filter, b: &mut Binder) -> String {
    let missing = missing_label(&f.dimension);
    // `country==(unknown)` selects the rows the breakdown shows under that label.
    let values: Vec<Option<String>> = f
        .values
        .iter()
        .map(|v| (f.op == FilterOp::Contains || Some(v.as_str()) != missing).then(|| b.bind(Param::Text(v.clone()))))
        .collect();
    let matches = |col: &str| -> String {
        let parts: Vec<String> = match f.op {
            FilterOp::Is | FilterOp::IsNot => values
                .iter()
                .map(|v| match v {
                    Some(v) => format!("{col} = {v}"),
                    None => format!("{col} IS NULL"),
                })
                .collect(),
            FilterOp::Contains => values.iter().flatten().map(|v| d.contains(col, v)).collect(),
        };
        format!("({})", parts.join(" OR "))
    };
    let negate = |cond: String| -> String {
        if f.op == FilterOp::IsNot {
            format!("NOT coalesce({cond}, {})", d.false_value())
        } else {
            format!("coalesce({cond}, {})", d.false_value())
        }
    };
    match &f.dimension {
        // Visit-level dimensions select whole visits.
        dim if is_visit_level(dim) => {
            let scope = scope(q, b);
            let inner = if *dim == Dimension::ExitPage {
                let cond = matches("p");
                let last = d.last("path", "ts");
                format!(
                    "SELECT visit FROM (SELECT visit, {last} AS p FROM events \
                     WHERE {scope} AND kind = 0 GROUP BY visit) WHERE {cond}"
                )
            } else {
                let cond = matches(&column(d, dim, b));
                let no = d.false_value();
                format!(
                    "SELECT visit FROM events WHERE {scope} AND kind = 0 AND visit_seq = 1 AND coalesce({cond}, {no})"
                )
            };
            if f.op == FilterOp::IsNot { format!("visit NOT IN ({inner})") } else { format!("visit IN ({inner})") }
        }
        dim => {
            let col = column(d, dim, b);
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

fn day(t: time::OffsetDateTime) -> String {
    obscura_model::format_day(t.date())
}

/// Steps a funnel may have.
pub const MAX_FUNNEL_STEPS: usize = 8;

/// The rows that take a funnel's step: page views of the page, or custom events of the name
/// (and the property's value).
fn step_condition(d: Dialect, q: &Query, step: &crate::meta::GoalTarget, b: &mut Binder) -> String {
    let kind = match step {
        crate::meta::GoalTarget::Page { .. } => "kind = 0",
        crate::meta::GoalTarget::Event { .. } => "kind = 1",
    };
    std::iter::once(kind.to_owned())
        .chain(step.filters().iter().map(|f| filter_condition(d, q, f, b)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// People's rows: every kind below error reports, which are neither visits nor pageviews and
/// come from clients (servers, apps) that are not visitors, and automated hits (5), kept apart.
const PEOPLE: &str = "kind < 4";

/// The analytics rows of `q`: people's.
fn where_clause(d: Dialect, q: &Query, b: &mut Binder) -> String {
    rows_where(d, q, b, PEOPLE)
}

/// The error reports of `q`.
fn error_where(d: Dialect, q: &Query, b: &mut Binder) -> String {
    rows_where(d, q, b, "kind = 4")
}

fn rows_where(d: Dialect, q: &Query, b: &mut Binder, kinds: &str) -> String {
    let mut parts = vec![scope(q, b), kinds.to_owned()];
    for f in &q.filters {
        parts.push(filter_condition(d, q, f, b));
    }
    parts.join(" AND ")
}

/// Visit metrics without grouping by visit: a visit is counted by its entry pageview
/// (`visit_seq = 1`), a visit with a second pageview is not a bounce (`visit_seq = 2`), and
/// durations are sums of the gaps between a visit's events.
const VISIT_METRICS: &str = "CAST(sum(CASE WHEN kind = 0 AND visit_seq = 1 THEN 1 ELSE 0 END) AS BIGINT) AS visits, \
     CAST(sum(CASE WHEN kind = 0 THEN 1 ELSE 0 END) AS BIGINT) AS pageviews, \
     CAST(sum(CASE WHEN kind = 0 AND visit_seq = 1 THEN 1 ELSE 0 END) AS BIGINT) - CAST(sum(CASE WHEN kind = 0 AND visit_seq = 2 THEN 1 ELSE 0 END) AS BIGINT) AS bounces, \
     sum(CAST(visit_gap_ms AS BIGINT)) AS duration_ms, \
     CAST(sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END) AS BIGINT) AS events";

/// The breakdown of one dimension over rows of `table` matching `cond`, grouped by value (and by
/// site when `by_site`, for rollups); no order, no limit. Columns: [site,] value, visitors,
/// visits, pageviews, events, bounces, duration_ms.
fn breakdown_rows(d: Dialect, dim: &Dimension, cond: &str, b: &mut Binder, table: &str, by_site: bool) -> String {
    let site = if by_site { "site, " } else { "" };
    let visitors = d.distinct("visitor");
    if *dim == Dimension::ExitPage {
        // A pageview that is not an exit is followed by exactly one pageview whose previous
        // page it is, so exits(p) = views(p) − views with prev_path = p: no grouping by visit.
        return format!(
            "SELECT {site}value, {visitors} AS visitors, CAST(sum(n) AS BIGINT) AS visits, \
             CAST(sum(CASE WHEN n > 0 THEN 1 ELSE 0 END) AS BIGINT) AS pageviews, CAST(0 AS BIGINT) AS events, \
             CAST(0 AS BIGINT) AS bounces, CAST(0 AS BIGINT) AS duration_ms FROM ( \
             SELECT {site}path AS value, visitor, 1 AS n FROM {table} WHERE {cond} AND kind = 0 \
             UNION ALL SELECT {site}prev_path AS value, NULL AS visitor, -1 AS n FROM {table} WHERE {cond} AND kind = 0 AND prev_path IS NOT NULL) \
             GROUP BY {site}value"
        );
    }
    let col = column(d, dim, b);
    let rows = row_condition(dim).map(|r| format!(" AND {r}")).unwrap_or_default();
    // Labels are fixed strings of the model, never input.
    let (value, present) = match missing_label(dim) {
        Some(label) => (format!("coalesce({col}, '{label}')"), ""),
        None => (col, " WHERE value IS NOT NULL"),
    };
    format!(
        "SELECT {site}value, {visitors} AS visitors, {VISIT_METRICS} \
         FROM (SELECT {site}{value} AS value, visitor, visit_seq, visit_gap_ms, kind FROM {table} WHERE {cond}{rows}){present} \
         GROUP BY {site}value"
    )
}

/// Dimensions kept in the per-day rollups (all but property values and page pairs).
pub fn rolled_up(dim: &Dimension) -> bool {
    !matches!(dim, Dimension::Prop(_) | Dimension::PreviousPage | Dimension::Flow)
}

/// Whether rollups may answer for some of `q`'s days: whole days, no filters.
fn rollup_days_wanted(q: &Query) -> bool {
    q.filters.is_empty() && q.range.is_whole_days()
}

/// Whether `day` is one of `q`'s days.
pub(crate) fn day_in_range(q: &Query, day: Date) -> bool {
    day.midnight().assume_utc() >= q.range.from && day.midnight().assume_utc() < q.range.to
}

/// The days of `q`'s range that can be read from rollups: whole days, no filters.
fn rollup_days_in<'a>(q: &Query, rolled: &'a [Date]) -> Vec<&'a Date> {
    if !rollup_days_wanted(q) {
        return Vec::new();
    }
    rolled.iter().filter(|d| day_in_range(q, **d)).collect()
}

/// Whether the rolled-up `days` are every day of `q`'s range: then no row needs reading.
pub(crate) fn covers(q: &Query, days: &[&Date]) -> bool {
    days.len() as i64 == (q.range.to - q.range.from).whole_days()
}

/// `day IN (…)` / `day NOT IN (…)` over the rolled-up days, bound.
fn day_list(days: &[&Date], b: &mut Binder) -> String {
    days.iter().map(|d| b.bind(Param::Text(obscura_model::format_day(**d)))).collect::<Vec<_>>().join(", ")
}

impl Dialect {
    /// Headline numbers: visitors, visits, pageviews, bounces, total visit duration.
    /// `rolled` lists the days that have rollups.
    pub fn aggregate(self, q: &Query, rolled: &[Date]) -> SqlQuery {
        let mut b = Binder::default();
        let cond = where_clause(self, q, &mut b);
        let visitors = self.distinct("visitor");
        let raw = format!("SELECT {visitors} AS visitors, {VISIT_METRICS} FROM events WHERE {cond}");
        let days = rollup_days_in(q, rolled);
        if days.is_empty() {
            return SqlQuery { sql: raw, params: b.params };
        }
        if covers(q, &days) {
            let mut b = Binder::default();
            let (site, list) = (b.bind(Param::UInt(q.site)), day_list(&days, &mut b));
            let sql = format!(
                "SELECT sum(visitors) AS visitors, sum(visits) AS visits, sum(pageviews) AS pageviews, \
                 sum(bounces) AS bounces, sum(duration_ms) AS duration_ms FROM rollups \
                 WHERE site = {site} AND dim = '' AND day IN ({list})"
            );
            return SqlQuery { sql, params: b.params };
        }
        let list = day_list(&days, &mut b);
        let site = b.bind(Param::UInt(q.site));
        let sql = format!(
            "SELECT sum(visitors) AS visitors, sum(visits) AS visits, sum(pageviews) AS pageviews, sum(bounces) AS bounces, \
             sum(duration_ms) AS duration_ms FROM ( \
             SELECT CAST(visitors AS BIGINT) AS visitors, visits, pageviews, bounces, duration_ms, events FROM rollups \
             WHERE site = {site} AND dim = '' AND day IN ({list}) \
             UNION ALL SELECT CAST({visitors} AS BIGINT) AS visitors, {VISIT_METRICS} FROM events WHERE {cond} AND day NOT IN ({list}))"
        );
        SqlQuery { sql, params: b.params }
    }

    /// Visitors, visits (by their start) and pageviews per hour or day.
    pub fn timeseries(self, q: &Query, interval: Interval, rolled: &[Date]) -> SqlQuery {
        let mut b = Binder::default();
        let cond = where_clause(self, q, &mut b);
        let raw_bucket = self.bucket(interval);
        let visitors = self.distinct("visitor");
        let raw = format!(
            "SELECT {raw_bucket} AS bucket, CAST({visitors} AS BIGINT) AS visitors, {VISIT_METRICS} \
             FROM events WHERE {cond}"
        );
        let days = if interval == Interval::Day { rollup_days_in(q, rolled) } else { Vec::new() };
        let sql = if days.is_empty() {
            format!("{raw} GROUP BY {raw_bucket} ORDER BY bucket")
        } else if covers(q, &days) {
            let mut b = Binder::default();
            let (site, list) = (b.bind(Param::UInt(q.site)), day_list(&days, &mut b));
            let rollup_bucket = self.rollup_bucket();
            let sql = format!(
                "SELECT {rollup_bucket} AS bucket, CAST(visitors AS BIGINT) AS visitors, visits, pageviews FROM rollups \
                 WHERE site = {site} AND dim = '' AND day IN ({list})"
            );
            return SqlQuery { sql, params: b.params };
        } else {
            let list = day_list(&days, &mut b);
            let site = b.bind(Param::UInt(q.site));
            let rollup_bucket = self.rollup_bucket();
            format!(
                "SELECT {rollup_bucket} AS bucket, CAST(visitors AS BIGINT) AS visitors, visits, pageviews FROM rollups \
                 WHERE site = {site} AND dim = '' AND day IN ({list}) \
                 UNION ALL SELECT bucket, visitors, visits, pageviews FROM ({raw} AND day NOT IN ({list}) GROUP BY {raw_bucket})"
            )
        };
        SqlQuery { sql, params: b.params }
    }

    /// Top values of a dimension with visitors, visits, pageviews and custom events.
    ///
    /// `visits` counts the visits that began on rows with the value (for pages: entrances; for
    /// exit pages: exits).
    pub fn breakdown(self, q: &Query, dim: &Dimension, limit: u32, rolled: &[Date]) -> SqlQuery {
        let mut b = Binder::default();
        let cond = where_clause(self, q, &mut b);
        let days = if rolled_up(dim) { rollup_days_in(q, rolled) } else { Vec::new() };
        let order = format!("ORDER BY visitors DESC, visits DESC, pageviews DESC, value LIMIT {limit}");
        let sql = if days.is_empty() {
            let rows = breakdown_rows(self, dim, &cond, &mut b, "events", false);
            let exits_only = if *dim == Dimension::ExitPage { " WHERE visits > 0" } else { "" };
            format!("SELECT value, visitors, visits, pageviews, events FROM ({rows}){exits_only} {order}")
        } else if covers(q, &days) {
            let mut b = Binder::default();
            let (site, list) = (b.bind(Param::UInt(q.site)), day_list(&days, &mut b));
            let dim_name = b.bind(Param::Text(dim.name()));
            let exits_only = if *dim == Dimension::ExitPage { " WHERE visits > 0" } else { "" };
            let sql = format!(
                "SELECT value, visitors, visits, pageviews, events FROM ( \
                 SELECT value, sum(visitors) AS visitors, sum(visits) AS visits, sum(pageviews) AS pageviews, sum(events) AS events \
                 FROM rollups WHERE site = {site} AND dim = {dim_name} AND day IN ({list}) GROUP BY value){exits_only} {order}"
            );
            return SqlQuery { sql, params: b.params };
        } else {
            let list = day_list(&days, &mut b);
            let rows = breakdown_rows(self, dim, &format!("{cond} AND day NOT IN ({list})"), &mut b, "events", false);
            let site = b.bind(Param::UInt(q.site));
            let dim_name = b.bind(Param::Text(dim.name()));
            let exits_only = if *dim == Dimension::ExitPage { " WHERE visits > 0" } else { "" };
            format!(
                "SELECT value, visitors, visits, pageviews, events FROM ( \
                 SELECT value, sum(visitors) AS visitors, sum(visits) AS visits, sum(pageviews) AS pageviews, sum(events) AS events FROM ( \
                 SELECT value, visitors, visits, pageviews, events FROM rollups WHERE site = {site} AND dim = {dim_name} AND day IN ({list}) \
                 UNION ALL SELECT value, CAST(visitors AS BIGINT) AS visitors, visits, pageviews, events FROM ({rows})) \
                 GROUP BY value){exits_only} {order}"
            )
        };
        SqlQuery { sql, params: b.params }
    }

    /// The visits with an event at or after `since_ms`: site, visitor, visit, last_ms,
    /// pageviews (the highest sequence number) and last_path.
    pub fn open_visits(self, since_ms: i64) -> SqlQuery {
        let since = obscura_model::format_day(obscura_model::day_of_ms(since_ms));
        SqlQuery {
            sql: format!(
                "SELECT CAST(site AS BIGINT) AS site, visitor, visit, \
                  max(CAST(ts AS BIGINT)) AS last_ms, CAST(max(visit_seq) AS BIGINT) AS pageviews, \
                  {} AS last_path \
                  FROM events WHERE ts >= $1 AND day >= $2 AND kind < 4 GROUP BY site, visitor, visit",
                self.last("path", "visit_seq")
            ),
            params: vec![Param::Timestamp(since_ms), Param::Text(since)],
        }
    }

    /// Every row of a day, of one site or all, in time order.
    pub fn rows_of_day(self, day: Date, site: Option<u32>) -> SqlQuery {
        let mut b = Binder::default();
        let mut sql =
            format!("SELECT * FROM events WHERE day = {}", b.bind(Param::Text(obscura_model::format_day(day))));
        if let Some(site) = site {
            sql.push_str(&format!(" AND site = {}", b.bind(Param::UInt(site))));
        }
        sql.push_str(" ORDER BY ts, visit, visit_seq");
        SqlQuery { sql, params: b.params }
    }

    /// Issues: per fingerprint of `q`'s error reports, the reports, visitors, first and last
    /// time and the latest report's properties; the `limit` with the most reports. (No alias
    /// may be a column's name: ClickHouse would read the alias in the filters.)
    pub fn issues(self, q: &Query, limit: u32) -> SqlQuery {
        let mut b = Binder::default();
        let cond = error_where(self, q, &mut b);
        let (visitors, props) = (self.distinct("visitor"), self.last("props", "ts"));
        let sql = format!(
            "SELECT name AS fingerprint, CAST(count(*) AS BIGINT) AS events, CAST({visitors} AS BIGINT) AS visitors, \
             min(CAST(ts AS BIGINT)) AS first_ms, max(CAST(ts AS BIGINT)) AS last_ms, {props} AS latest_props \
             FROM events WHERE {cond} AND name IS NOT NULL GROUP BY name \
             ORDER BY events DESC, last_ms DESC, fingerprint LIMIT {limit}"
        );
        SqlQuery { sql, params: b.params }
    }

    /// Reports of `q` per issue and bucket of `interval` (milliseconds since the epoch), for
    /// the issues `fingerprints`.
    pub fn issue_trend(self, q: &Query, interval: Interval, fingerprints: &[String]) -> SqlQuery {
        let mut b = Binder::default();
        let cond = error_where(self, q, &mut b);
        let list: Vec<String> = fingerprints.iter().map(|f| b.bind(Param::Text(f.clone()))).collect();
        let list = if list.is_empty() { "NULL".to_owned() } else { list.join(", ") };
        let bucket = self.bucket_ms(interval);
        let sql = format!(
            "SELECT fingerprint, bucket, CAST(count(*) AS BIGINT) AS events FROM ( \
             SELECT name AS fingerprint, {bucket} AS bucket FROM events WHERE {cond} AND name IN ({list})) \
             GROUP BY fingerprint, bucket"
        );
        SqlQuery { sql, params: b.params }
    }

    /// Reports and visitors per value of `dim` among `q`'s error reports, the `limit` values
    /// with the most reports.
    pub fn error_breakdown(self, q: &Query, dim: &Dimension, limit: u32) -> SqlQuery {
        self.kind_breakdown(q, "kind = 4", dim, limit)
    }

    /// Hits and visitors per value of `dim` among `q`'s automated hits (as `events`), the
    /// `limit` values with the most hits.
    pub fn automated_breakdown(self, q: &Query, dim: &Dimension, limit: u32) -> SqlQuery {
        self.kind_breakdown(q, "kind = 5", dim, limit)
    }

    /// Automated hits of `q` per bucket of `interval` (milliseconds since the epoch), as
    /// `bucket`, `events` and `visitors`.
    pub fn automated_series(self, q: &Query, interval: Interval) -> SqlQuery {
        let mut b = Binder::default();
        let cond = rows_where(self, q, &mut b, "kind = 5");
        let (bucket, visitors) = (self.bucket_ms(interval), self.distinct("visitor"));
        let sql = format!(
            "SELECT bucket, CAST(count(*) AS BIGINT) AS events, CAST({visitors} AS BIGINT) AS visitors FROM ( \
             SELECT {bucket} AS bucket, visitor FROM events WHERE {cond}) GROUP BY bucket ORDER BY bucket"
        );
        SqlQuery { sql, params: b.params }
    }

    /// Visits of `q` that took each of `steps` (at most [`MAX_FUNNEL_STEPS`]) in order, as `s0`
    /// … `s7` (0 past the last step). A visit takes step k when it took the steps before and
    /// first did step k no earlier than it first did step k − 1: steps are first occurrences,
    /// read in one pass over the range's rows grouped by visit, which every backend (a
    /// distributed one too) answers alike.
    pub fn funnel(self, q: &Query, steps: &[crate::meta::GoalTarget]) -> SqlQuery {
        let mut b = Binder::default();
        let cond = where_clause(self, q, &mut b);
        let firsts: Vec<String> = steps
            .iter()
            .take(MAX_FUNNEL_STEPS)
            .enumerate()
            .map(|(i, step)| format!("min(CASE WHEN {} THEN ts END) AS f{i}", step_condition(self, q, step, &mut b)))
            .collect();
        let sums: Vec<String> = (0..MAX_FUNNEL_STEPS)
            .map(|k| {
                if k >= firsts.len() {
                    return format!("CAST(0 AS BIGINT) AS s{k}");
                }
                let taken: Vec<String> = std::iter::once("f0 IS NOT NULL".to_owned())
                    .chain((1..=k).map(|j| format!("f{j} >= f{}", j - 1)))
                    .collect();
                format!("CAST(sum(CASE WHEN {} THEN 1 ELSE 0 END) AS BIGINT) AS s{k}", taken.join(" AND "))
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM (SELECT visit, {} FROM events WHERE {cond} GROUP BY visit)",
            sums.join(", "),
            firsts.join(", ")
        );
        SqlQuery { sql, params: b.params }
    }

    /// Rows and visitors per value of `dim` among `q`'s rows of `kinds`.
    fn kind_breakdown(self, q: &Query, kinds: &str, dim: &Dimension, limit: u32) -> SqlQuery {
        let mut b = Binder::default();
        let cond = rows_where(self, q, &mut b, kinds);
        let col = column(self, dim, &mut b);
        let visitors = self.distinct("visitor");
        let sql = format!(
            "SELECT value, CAST(count(*) AS BIGINT) AS events, CAST({visitors} AS BIGINT) AS visitors FROM ( \
             SELECT coalesce({col}, '(unknown)') AS value, visitor FROM events WHERE {cond}) \
             GROUP BY value ORDER BY events DESC, value LIMIT {limit}"
        );
        SqlQuery { sql, params: b.params }
    }

    /// [`Dialect::issues`] per day (`on_day`, `YYYY-MM-DD`) and fingerprint, unlimited: to fill
    /// the answers of several finished days with one read.
    pub fn issues_by_day(self, q: &Query) -> SqlQuery {
        let mut b = Binder::default();
        let cond = error_where(self, q, &mut b);
        let (visitors, props, day) = (self.distinct("visitor"), self.last("props", "ts"), self.day_text());
        let sql = format!(
            "SELECT {day} AS on_day, name AS fingerprint, CAST(count(*) AS BIGINT) AS events, \
             CAST({visitors} AS BIGINT) AS visitors, min(CAST(ts AS BIGINT)) AS first_ms, \
             max(CAST(ts AS BIGINT)) AS last_ms, {props} AS latest_props \
             FROM events WHERE {cond} AND name IS NOT NULL GROUP BY day, name"
        );
        SqlQuery { sql, params: b.params }
    }

    /// [`Dialect::error_breakdown`] per day (`on_day`) and value, unlimited.
    pub fn error_breakdown_by_day(self, q: &Query, dim: &Dimension) -> SqlQuery {
        let mut b = Binder::default();
        let cond = error_where(self, q, &mut b);
        let col = column(self, dim, &mut b);
        let (visitors, day) = (self.distinct("visitor"), self.day_text());
        let sql = format!(
            "SELECT {day} AS on_day, value, CAST(count(*) AS BIGINT) AS events, CAST({visitors} AS BIGINT) AS visitors \
             FROM (SELECT day, coalesce({col}, '(unknown)') AS value, visitor FROM events WHERE {cond}) \
             GROUP BY day, value"
        );
        SqlQuery { sql, params: b.params }
    }

    /// Error reports of `q` per day (`on_day`) and cell of `dims` (at most five): the values as
    /// `v0`…`v4` (a missing value as `\u{1}`, an unused slot `''`), reports, visitors, first and
    /// latest report. Unlimited: to fill several finished days' cells with one read.
    pub fn error_cells_by_day(self, q: &Query, dims: &[Dimension]) -> SqlQuery {
        let mut b = Binder::default();
        let cond = error_where(self, q, &mut b);
        let missing = match self {
            Dialect::DataFusion => "chr(1)",
            Dialect::ClickHouse => "'\\x01'",
        };
        let values: Vec<String> = (0..crate::error_cells::MAX_DIMS)
            .map(|i| match dims.get(i) {
                Some(dim) => format!("coalesce({}, {missing}) AS v{i}", column(self, dim, &mut b)),
                None => format!("'' AS v{i}"),
            })
            .collect();
        let (visitors, day) = (self.distinct("visitor"), self.day_text());
        let sql = format!(
            "SELECT {day} AS on_day, v0, v1, v2, v3, v4, CAST(count(*) AS BIGINT) AS events, \
             CAST({visitors} AS BIGINT) AS visitors, min(CAST(ts AS BIGINT)) AS first_ms, \
             max(CAST(ts AS BIGINT)) AS last_ms \
             FROM (SELECT day, {}, visitor, ts FROM events WHERE {cond}) GROUP BY day, v0, v1, v2, v3, v4",
            values.join(", ")
        );
        SqlQuery { sql, params: b.params }
    }

    /// The `day` column as `YYYY-MM-DD` text.
    fn day_text(self) -> &'static str {
        match self {
            Dialect::DataFusion => "day",
            Dialect::ClickHouse => "toString(day)",
        }
    }

    /// The condition of `q`'s error reports, for a backend that selects their rows itself.
    pub fn error_rows(self, q: &Query) -> SqlQuery {
        let mut b = Binder::default();
        let sql = error_where(self, q, &mut b);
        SqlQuery { sql, params: b.params }
    }

    /// The number of stored events, as `n`.
    pub fn count_events(self) -> SqlQuery {
        SqlQuery { sql: "SELECT count(*) AS n FROM events".into(), params: Vec::new() }
    }

    /// The sites with rows on a day, as `site`, in order.
    pub fn sites_of_day(self, day: Date) -> SqlQuery {
        SqlQuery {
            sql: "SELECT DISTINCT site FROM events WHERE day = $1 ORDER BY site".into(),
            params: vec![Param::Text(obscura_model::format_day(day))],
        }
    }

    /// The SQL that rolls up one day (table `cold`, day bound to `$1`): totals under dimension
    /// `''` and every rolled-up dimension's values.
    pub fn rollup_day_sql(self) -> String {
        // UNION ALL matches columns by position: every part lists them in this order.
        // Every part's columns have one type, which ClickHouse's UNION ALL requires.
        const COLUMNS: &str = "CAST(visitors AS BIGINT) AS visitors, CAST(visits AS BIGINT) AS visits, \
            CAST(pageviews AS BIGINT) AS pageviews, CAST(events AS BIGINT) AS events, \
            CAST(bounces AS BIGINT) AS bounces, CAST(duration_ms AS BIGINT) AS duration_ms";
        let (visitors, table) = (self.distinct("visitor"), self.day_rows());
        let mut parts = vec![format!(
            "SELECT site, '' AS dim, '' AS value, {COLUMNS} FROM (SELECT site, {visitors} AS visitors, \
             {VISIT_METRICS} FROM {table} WHERE day = $1 AND {PEOPLE} GROUP BY site)"
        )];
        for (_, name) in Dimension::FIXED.iter() {
            let dim = Dimension::parse(name).expect("listed names parse");
            if !rolled_up(&dim) {
                continue;
            }
            // The day is `$1`; rolled-up dimensions bind no parameters of their own.
            let mut b = Binder { params: vec![Param::Text(String::new())] };
            let rows = breakdown_rows(self, &dim, &format!("day = $1 AND {PEOPLE}"), &mut b, table, true);
            debug_assert_eq!(b.params.len(), 1);
            parts.push(format!("SELECT site, '{name}' AS dim, value, {COLUMNS} FROM ({rows})"));
        }
        parts.join(" UNION ALL ")
    }
}

/// The 3-significant-digit bucket of measurement `v` (0 for 0): values within 0.05% of each
/// other share a bucket, so a histogram query returns a bounded number of rows whatever the
/// number of measurements, and the quantile sketch built from it stays within its error.
const MEASURE_BUCKET: &str =
    "CASE WHEN v <= 0 THEN 0.0 ELSE round(v / pow(10.0, floor(log10(v)) - 2.0)) * pow(10.0, floor(log10(v)) - 2.0) END";

/// The web-vitals rating of a row: 0 good, 1 needs improvement, 2 poor, 3 for metrics without
/// thresholds. The thresholds are the model's constants, not input.
fn measure_rating(metrics: &[Metric]) -> String {
    let cases: String = metrics
        .iter()
        .filter_map(|m| m.thresholds().map(|t| (m, t)))
        .map(|(m, (good, poor))| {
            format!(
                " WHEN m = '{}' THEN (CASE WHEN v <= {good:?} THEN 0 WHEN v <= {poor:?} THEN 1 ELSE 2 END)",
                m.name()
            )
        })
        .collect();
    if cases.is_empty() { "3".into() } else { format!("CASE{cases} ELSE 3 END") }
}

impl Dialect {
    /// `expr`, or `fallback` where it is NULL, as a non-nullable text.
    fn or_text(self, expr: &str, fallback: &str) -> String {
        match self {
            Dialect::DataFusion => format!("coalesce({expr}, '{fallback}')"),
            Dialect::ClickHouse => format!("ifNull({expr}, '{fallback}')"),
        }
    }

    /// `expr` of a column that may hold NULL, where the rows read hold none.
    fn not_null(self, expr: &str) -> String {
        match self {
            Dialect::DataFusion => expr.to_owned(),
            Dialect::ClickHouse => format!("assumeNotNull({expr})"),
        }
    }

    /// The measurements of `metrics` matching `q`, as a histogram per group: columns `k0`,
    /// `k1` and `k2` (the values of `by`'s dimensions, or `''`; missing values under the
    /// dimension's missing label), `metric`, `bucket` (see [`MEASURE_BUCKET`]), `rating` (see
    /// [`measure_rating`]), `n` (how many) and `total` (their exact sum). Days in `skip` are left
    /// out (their rollups answer for them).
    pub fn measure_histogram(self, q: &Query, metrics: &[Metric], by: &[Dimension], skip: &[&Date]) -> SqlQuery {
        let mut b = Binder::default();
        let mut cond = where_clause(self, q, &mut b);
        if !skip.is_empty() {
            cond.push_str(&format!(" AND day NOT IN ({})", day_list(skip, &mut b)));
        }
        let names = metrics.iter().map(|m| b.bind(Param::Text(m.name().to_owned()))).collect::<Vec<_>>().join(", ");
        cond.push_str(&format!(" AND metric IN ({names})"));
        let sql = self.measure_rows(by, &cond, &measure_rating(metrics), &mut b, "events", false);
        SqlQuery { sql, params: b.params }
    }

    /// One finished day's measurements of `metrics` (the day bound to `$1`) as the histogram of
    /// [`Dialect::measure_histogram`] per site (column `site`) and group of `by`.
    pub fn measure_day_histogram(self, by: &[Dimension], metrics: &[Metric]) -> SqlQuery {
        let mut b = Binder { params: vec![Param::Text(String::new())] };
        let names = metrics.iter().map(|m| b.bind(Param::Text(m.name().to_owned()))).collect::<Vec<_>>().join(", ");
        let cond = format!("day = $1 AND metric IN ({names})");
        let sql = self.measure_rows(by, &cond, &measure_rating(metrics), &mut b, self.day_rows(), true);
        // The day is the caller's; the rest (property keys) are this query's.
        b.params.remove(0);
        SqlQuery { sql, params: b.params }
    }

    /// Distinct visitors per site, group of `by` and metric among one finished day's
    /// measurements of `metrics` (the day bound to `$1`): columns `site`, `k0`, `k1`, `k2`,
    /// `metric`, `visitors` — for k-anonymity before the day's rows go.
    pub fn measure_day_visitors(self, by: &[Dimension], metrics: &[Metric]) -> SqlQuery {
        let mut b = Binder { params: vec![Param::Text(String::new())] };
        let names = metrics.iter().map(|m| b.bind(Param::Text(m.name().to_owned()))).collect::<Vec<_>>().join(", ");
        let keys = self.measure_keys(by, &mut b);
        let sql = format!(
            "SELECT site, k0, k1, k2, m AS metric, CAST({visitors} AS BIGINT) AS visitors FROM ( \
             SELECT site, {keys}, {m} AS m, visitor FROM {table} \
             WHERE day = $1 AND metric IN ({names}) AND kind = 3 AND value IS NOT NULL) \
             GROUP BY site, k0, k1, k2, m",
            visitors = self.distinct("visitor"),
            m = self.or_text("metric", ""),
            table = self.day_rows(),
        );
        b.params.remove(0);
        SqlQuery { sql, params: b.params }
    }

    /// The columns `k0`, `k1`, `k2` of a measure query: `by`'s values (missing ones under the
    /// dimension's missing label), or `''` for the dimensions `by` lacks.
    fn measure_keys(self, by: &[Dimension], b: &mut Binder) -> String {
        (0..3)
            .map(|i| match by.get(i) {
                Some(dim) => {
                    let col = column(self, dim, b);
                    format!("{} AS k{i}", self.or_text(&col, missing_label(dim).unwrap_or("(none)")))
                }
                None => format!("'' AS k{i}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The histogram query over rows of `table` matching `cond` (measurements only).
    fn measure_rows(
        self,
        by: &[Dimension],
        cond: &str,
        rating: &str,
        b: &mut Binder,
        table: &str,
        by_site: bool,
    ) -> String {
        let keys = self.measure_keys(by, b);
        let site = if by_site { "site, " } else { "" };
        // Innermost the matching rows, then each row's bucket and rating, then the histogram.
        format!(
            "SELECT {site}k0, k1, k2, m AS metric, bucket, rating, CAST(count(*) AS BIGINT) AS n, sum(v) AS total FROM ( \
             SELECT {site}k0, k1, k2, m, v, {MEASURE_BUCKET} AS bucket, {rating} AS rating FROM ( \
             SELECT {site}{keys}, {m} AS m, {v} AS v \
             FROM {table} WHERE {cond} AND kind = 3 AND value IS NOT NULL)) \
             GROUP BY {site}k0, k1, k2, m, bucket, rating",
            m = self.or_text("metric", ""),
            v = self.not_null("value"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use obscura_query::TimeRange;

    fn q(filters: &[&str]) -> Query {
        Query {
            site: 3,
            range: TimeRange::days(time::macros::date!(2026 - 01 - 01), time::macros::date!(2026 - 01 - 07)).unwrap(),
            filters: filters.iter().map(|f| Filter::parse(f).unwrap()).collect(),
        }
    }

    /// Every query the dashboard sends, as SQL with its parameters, in each dialect: one
    /// reviewed file per dialect (`snapshots/`) shows what a change to the rendering does.
    #[test]
    fn query_sql_snapshot_of_every_dashboard_query() {
        for (dialect, name) in [(Dialect::DataFusion, "datafusion"), (Dialect::ClickHouse, "clickhouse")] {
            let rolled = [time::macros::date!(2026 - 01 - 02), time::macros::date!(2026 - 01 - 03)];
            let mut out = String::new();
            let mut add = |title: &str, rendered: SqlQuery| {
                out.push_str(&format!("-- {title}\n{}\n-- params: {:?}\n\n", rendered.sql.trim(), rendered.params));
            };
            let plain = q(&[]);
            let filtered = q(&["country==DE|FR", "page!=/login", "source~=news", "exit_page==/bye"]);
            add("aggregate", dialect.aggregate(&plain, &rolled));
            let day = |d| TimeRange::days(d, d).unwrap();
            let rolled_day = Query { range: day(rolled[0]), ..plain.clone() };
            add("aggregate, a rolled-up day", dialect.aggregate(&rolled_day, &rolled));
            add("timeseries, a rolled-up day", dialect.timeseries(&rolled_day, Interval::Day, &rolled));
            add("breakdown page, a rolled-up day", dialect.breakdown(&rolled_day, &Dimension::Page, 10, &rolled));
            add("aggregate, filtered", dialect.aggregate(&filtered, &rolled));
            add("timeseries by day", dialect.timeseries(&plain, Interval::Day, &rolled));
            add("timeseries by hour, filtered", dialect.timeseries(&filtered, Interval::Hour, &[]));
            add("timeseries by week", dialect.timeseries(&plain, Interval::Week, &[]));
            for (dimension, name) in Dimension::FIXED.iter() {
                add(&format!("breakdown {name}"), dialect.breakdown(&plain, dimension, 10, &rolled));
            }
            add(
                "breakdown prop:plan, filtered",
                dialect.breakdown(&filtered, &Dimension::Prop("plan".into()), 10, &rolled),
            );
            add("open visits", dialect.open_visits(1_767_225_600_000));
            add("rollup of a day", SqlQuery { sql: dialect.rollup_day_sql(), params: vec![] });
            add("measures, by page", dialect.measure_histogram(&plain, &Metric::VITALS, &[Dimension::Page], &[]));
            let kept: Vec<&Date> = rolled.iter().collect();
            add(
                "measures, totals, two days from rollups",
                dialect.measure_histogram(&plain, &[Metric::Lcp], &[], &kept),
            );
            add("measures of a day, by country", dialect.measure_day_histogram(&[Dimension::Country], &[Metric::Lcp]));
            add(
                "measures, CDN by provider and protocol, filtered",
                dialect.measure_histogram(
                    &filtered,
                    &Metric::CDN,
                    &[Dimension::Prop("provider".into()), Dimension::Prop("protocol".into())],
                    &[],
                ),
            );
            add("issues, filtered", dialect.issues(&filtered, 100));
            add("issue trend by day", dialect.issue_trend(&plain, Interval::Day, &["aaaaaaaaaaaaaaaa".into()]));
            add("error reports by release", dialect.error_breakdown(&plain, &Dimension::Prop("release".into()), 20));
            add("issues per day", dialect.issues_by_day(&plain));
            add("error reports per day by browser", dialect.error_breakdown_by_day(&plain, &Dimension::Browser));
            let context = crate::error_cells::Grouping::Context.dims();
            add(
                "error cells per day, issue by release, environment, browser, system",
                dialect.error_cells_by_day(&plain, &context),
            );
            add(
                "automated hits by reason, filtered",
                dialect.automated_breakdown(&filtered, &Dimension::Prop("reason".into()), 10),
            );
            add("automated hits by day", dialect.automated_series(&plain, Interval::Day));
            insta::assert_snapshot!(name, out);
        }
    }

    #[test]
    fn query_values_are_bound_never_spliced() {
        let evil = "x' OR '1'='1";
        let rendered = Dialect::DataFusion.breakdown(&q(&[&format!("country=={evil}")]), &Dimension::Page, 10, &[]);
        assert!(!rendered.sql.contains(evil));
        assert!(rendered.params.contains(&Param::Text(evil.into())));
        assert!(rendered.params.contains(&Param::UInt(3)));
        assert!(rendered.params.contains(&Param::Text("2026-01-07".into())));
    }

    #[test]
    fn query_prop_key_is_bound() {
        let rendered = Dialect::DataFusion.breakdown(&q(&[]), &Dimension::Prop("pl'an".into()), 10, &[]);
        assert!(!rendered.sql.contains("pl'an"));
        assert!(rendered.params.contains(&Param::Text("\u{1}pl'an\u{2}".into())));
    }
}
