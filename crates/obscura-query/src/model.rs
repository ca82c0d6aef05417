//! What can be asked: dimensions, filters, ranges and granularity.

use time::{Date, Duration, OffsetDateTime};

/// Why a query parameter was rejected; the message names the bad input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QueryError {
    /// A dimension name that is not known.
    #[error("unknown dimension {0:?}; known: {known}", known = Dimension::names().collect::<Vec<_>>().join(", "))]
    UnknownDimension(String),
    /// A filter that does not parse, or has an empty value, a value over 500 bytes or over 50 values.
    #[error(
        "bad filter {0:?}: expected dimension==value, dimension!=value or dimension~=text (several values separated by |)"
    )]
    BadFilter(String),
    /// A range that is unknown, malformed, reversed, over ten years or outside 1980 to 2200.
    #[error("bad date range: {0}")]
    BadRange(String),
    /// An interval other than `hour`, `day` or `week`.
    #[error("unknown interval {0:?}; use hour, day or week")]
    BadInterval(String),
}

/// A breakdown or filter dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// Source category of the visit: direct, search, social, campaign or other.
    Source,
    /// Referrer host of the visit's entry pageview.
    Referrer,
    /// `utm_source` (or `ref`/`source`) of the visit's entry pageview.
    UtmSource,
    /// `utm_medium` of the visit's entry pageview.
    UtmMedium,
    /// `utm_campaign` of the visit's entry pageview.
    UtmCampaign,
    /// Path of each pageview.
    Page,
    /// Path of a visit's first pageview.
    EntryPage,
    /// Path of a visit's last pageview.
    ExitPage,
    /// The page viewed just before, in the same visit.
    PreviousPage,
    /// Behaviour flow: `previous page → page` pairs.
    Flow,
    /// Two-letter continent code.
    Continent,
    /// ISO 3166-1 alpha-2 country code.
    Country,
    /// First-level subdivision (state, region, province).
    Province,
    /// Network operator (the organisation owning the autonomous system).
    Network,
    /// Browser name.
    Browser,
    /// Browser with its major version.
    BrowserVersion,
    /// Operating system.
    Os,
    /// Operating system with its version.
    OsVersion,
    /// `desktop`, `mobile`, `tablet` or `unknown`.
    DeviceType,
    /// Device manufacturer.
    DeviceBrand,
    /// Device model.
    DeviceModel,
    /// Screen width class: mobile, tablet, laptop or desktop.
    Screen,
    /// `new` or `returning`, as the tracker reports (no report counts as new).
    VisitorType,
    /// Days since the previous visit, bucketed.
    DaysSinceLast,
    /// Visits so far, bucketed.
    VisitCount,
    /// Custom event name.
    Event,
    /// A custom-event property, by key.
    Prop(String),
}

impl Dimension {
    /// True when a visitor has one value a day: the dimension comes from the IP address or the
    /// User-Agent, which the visitor hash is made of. The visitors of different values are then
    /// different people and add up (k-anonymous "(other)" cells rely on it).
    pub fn one_value_per_visitor(&self) -> bool {
        matches!(
            self,
            Dimension::Continent
                | Dimension::Country
                | Dimension::Province
                | Dimension::Network
                | Dimension::Browser
                | Dimension::BrowserVersion
                | Dimension::Os
                | Dimension::OsVersion
                | Dimension::DeviceType
                | Dimension::DeviceBrand
                | Dimension::DeviceModel
        )
    }

    /// Every dimension but `prop:<key>`, with its name in URLs and the API: the one list.
    pub const FIXED: [(Dimension, &'static str); 26] = {
        use Dimension::*;
        [
            (Source, "source"),
            (Referrer, "referrer"),
            (UtmSource, "utm_source"),
            (UtmMedium, "utm_medium"),
            (UtmCampaign, "utm_campaign"),
            (Page, "page"),
            (EntryPage, "entry_page"),
            (ExitPage, "exit_page"),
            (PreviousPage, "previous_page"),
            (Flow, "flow"),
            (Continent, "continent"),
            (Country, "country"),
            (Province, "province"),
            (Network, "network"),
            (Browser, "browser"),
            (BrowserVersion, "browser_version"),
            (Os, "os"),
            (OsVersion, "os_version"),
            (DeviceType, "device_type"),
            (DeviceBrand, "device_brand"),
            (DeviceModel, "device_model"),
            (Screen, "screen"),
            (VisitorType, "visitor_type"),
            (DaysSinceLast, "days_since_last"),
            (VisitCount, "visit_count"),
            (Event, "event"),
        ]
    };

    /// The names of every dimension, `prop:<key>` last (for messages and documentation).
    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::FIXED.iter().map(|(_, name)| *name).chain(["prop:<key>"])
    }

    /// The dimension named `name` (see [`Dimension::names`]); `prop:<key>` takes a key of 1 to 100 bytes.
    pub fn parse(name: &str) -> Result<Self, QueryError> {
        if let Some((dimension, _)) = Self::FIXED.iter().find(|(_, n)| *n == name) {
            return Ok(dimension.clone());
        }
        match name.strip_prefix("prop:") {
            Some(key) if !key.is_empty() && key.len() <= 100 => Ok(Dimension::Prop(key.to_owned())),
            _ => Err(QueryError::UnknownDimension(name.to_owned())),
        }
    }

    /// The dimension's name in URLs and the API; the inverse of [`Dimension::parse`].
    pub fn name(&self) -> String {
        match self {
            Dimension::Prop(key) => format!("prop:{key}"),
            other => {
                let (_, name) = Self::FIXED.iter().find(|(d, _)| d == other).expect("every fixed dimension is listed");
                (*name).to_owned()
            }
        }
    }
}

/// How a filter compares a dimension's value with the filter's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterOp {
    /// `==`: equals one of the values.
    Is,
    /// `!=`: equals none of the values.
    IsNot,
    /// `~=`: contains one of the values, ignoring case.
    Contains,
}

/// A condition on one dimension; filters on source, referrer, UTM, entry or exit page keep whole visits.
/// The value `(unknown)` or `(none)` selects rows without a value, as breakdowns label them.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// The dimension compared.
    pub dimension: Dimension,
    /// How it is compared.
    pub op: FilterOp,
    /// Any of these values (OR).
    pub values: Vec<String>,
}

impl Filter {
    /// Parses `country==DE|FR`, `page!=/login`, `page~=blog`.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let bad = || QueryError::BadFilter(text.to_owned());
        let (dim, op, rest) = if let Some((d, v)) = text.split_once("!=") {
            (d, FilterOp::IsNot, v)
        } else if let Some((d, v)) = text.split_once("~=") {
            (d, FilterOp::Contains, v)
        } else if let Some((d, v)) = text.split_once("==") {
            (d, FilterOp::Is, v)
        } else {
            return Err(bad());
        };
        let dimension = Dimension::parse(dim.trim())?;
        let values: Vec<String> = rest.split('|').map(str::to_owned).collect();
        if values.iter().any(|v| v.is_empty() || v.len() > 500) || values.len() > 50 {
            return Err(bad());
        }
        Ok(Filter { dimension, op, values })
    }
}

/// A half-open time range [from, to).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeRange {
    /// Start, inclusive.
    pub from: OffsetDateTime,
    /// End, exclusive.
    pub to: OffsetDateTime,
}

impl TimeRange {
    /// Whether `day` begins inside the range.
    pub fn contains_day(&self, day: time::Date) -> bool {
        let start = day.midnight().assume_utc();
        start >= self.from && start < self.to
    }

    /// Whether the range starts and ends at midnight (UTC): it holds only whole days.
    pub fn is_whole_days(&self) -> bool {
        self.from.time() == time::Time::MIDNIGHT && self.to.time() == time::Time::MIDNIGHT
    }

    /// Whole UTC days from `first` to `last` inclusive.
    pub fn days(first: Date, last: Date) -> Result<Self, QueryError> {
        if last < first {
            return Err(QueryError::BadRange(format!("{last} is before {first}")));
        }
        if last - first > Duration::days(3660) {
            return Err(QueryError::BadRange("ranges are limited to ten years".into()));
        }
        // Far enough from the calendar's ends that the range before it (for comparisons) exists.
        if first.year() < 1980 || last.year() > 2200 {
            return Err(QueryError::BadRange("dates must lie between 1980 and 2200".into()));
        }
        let end = last.next_day().ok_or_else(|| QueryError::BadRange(format!("{last} is too late")))?;
        Ok(TimeRange { from: first.midnight().assume_utc(), to: end.midnight().assume_utc() })
    }

    /// Named ranges relative to `now`: `today`, `24h`, `7d`, `30d`, `month`, `last_month`, `12mo`,
    /// or `custom` with `from`/`to` dates.
    pub fn named(name: &str, now: OffsetDateTime, from: Option<&str>, to: Option<&str>) -> Result<Self, QueryError> {
        let today = now.date();
        match name {
            "today" => Self::days(today, today),
            "24h" => Ok(TimeRange { from: now - Duration::hours(24), to: now }),
            "7d" => Self::days(today - Duration::days(6), today),
            "30d" => Self::days(today - Duration::days(29), today),
            "month" => Self::days(today.replace_day(1).expect("day 1 exists"), today),
            "last_month" => {
                let first_this = today.replace_day(1).expect("day 1 exists");
                let last_prev = first_this - Duration::days(1);
                Self::days(last_prev.replace_day(1).expect("day 1 exists"), last_prev)
            }
            "12mo" => Self::days(today - Duration::days(364), today),
            "custom" => {
                let parse = |s: Option<&str>, what: &str| -> Result<Date, QueryError> {
                    let s = s.ok_or_else(|| QueryError::BadRange(format!("custom range needs {what}=YYYY-MM-DD")))?;
                    obscura_model::parse_day(s)
                        .ok_or_else(|| QueryError::BadRange(format!("{what}={s:?} is not a date (YYYY-MM-DD)")))
                };
                Self::days(parse(from, "from")?, parse(to, "to")?)
            }
            other => Err(QueryError::BadRange(format!(
                "unknown range {other:?}; use today, 24h, 7d, 30d, month, last_month, 12mo or custom"
            ))),
        }
    }

    /// The range of equal length just before this one (for "change against the previous period").
    pub fn previous(&self) -> Self {
        let len = self.to - self.from;
        TimeRange { from: self.from - len, to: self.from }
    }
}

/// Time-series bucket size, in UTC; weeks start on Monday.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
    /// Seven days, from Monday.
    Week,
}

impl Interval {
    /// Parses `hour`, `day` or `week`.
    pub fn parse(s: &str) -> Result<Self, QueryError> {
        match s {
            "hour" => Ok(Interval::Hour),
            "day" => Ok(Interval::Day),
            "week" => Ok(Interval::Week),
            other => Err(QueryError::BadInterval(other.to_owned())),
        }
    }
}

/// One question about one site.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The site's id.
    pub site: u32,
    /// The time range asked about.
    pub range: TimeRange,
    /// Conditions that must all hold (AND).
    pub filters: Vec<Filter>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_filters_parse() {
        let f = Filter::parse("country==DE|FR").unwrap();
        assert_eq!(f.dimension, Dimension::Country);
        assert_eq!(f.op, FilterOp::Is);
        assert_eq!(f.values, vec!["DE", "FR"]);
        assert_eq!(Filter::parse("page!=/login").unwrap().op, FilterOp::IsNot);
        assert_eq!(Filter::parse("prop:plan==pro").unwrap().dimension, Dimension::Prop("plan".into()));
        assert!(matches!(Filter::parse("nonsense"), Err(QueryError::BadFilter(_))));
        assert!(matches!(Filter::parse("colour==red"), Err(QueryError::UnknownDimension(_))));
    }

    #[test]
    fn query_dimension_names_round_trip() {
        for (_, name) in Dimension::FIXED.iter() {
            assert_eq!(Dimension::parse(name).unwrap().name(), *name);
        }
        let names: std::collections::HashSet<_> = Dimension::FIXED.iter().map(|(_, n)| n).collect();
        assert_eq!(names.len(), Dimension::FIXED.len(), "names are unique");
    }

    #[test]
    fn query_named_ranges() {
        let now = time::macros::datetime!(2026-03-15 10:00 UTC);
        let r = TimeRange::named("7d", now, None, None).unwrap();
        assert_eq!(r.from, time::macros::datetime!(2026-03-09 00:00 UTC));
        assert_eq!(r.to, time::macros::datetime!(2026-03-16 00:00 UTC));
        let lm = TimeRange::named("last_month", now, None, None).unwrap();
        assert_eq!(lm.from, time::macros::datetime!(2026-02-01 00:00 UTC));
        assert_eq!(lm.to, time::macros::datetime!(2026-03-01 00:00 UTC));
        assert!(TimeRange::named("custom", now, Some("2026-03-02"), Some("2026-03-01")).is_err());
        assert!(TimeRange::named("forever", now, None, None).is_err());
        assert!(TimeRange::named("custom", now, Some("9999-12-31"), Some("9999-12-31")).is_err());
        assert!(TimeRange::named("custom", now, Some("0001-01-01"), Some("0001-01-02")).is_err());
    }
}
