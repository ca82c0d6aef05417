//! The answers about error reports: issues (reports grouped by fingerprint) with their trend,
//! and counts per value of a dimension. Both backends return raw rows; the assembly here is
//! shared, so they answer alike.

use std::collections::HashMap;

use crate::model::{Interval, Query};
use crate::results::{SeriesPoint, fill_gaps};

/// One issue: the error reports of `q` that share a fingerprint.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueRow {
    /// The fingerprint (16 hexadecimal digits): the issue's id.
    pub fingerprint: String,
    /// The exception type of its latest report.
    pub kind: Option<String>,
    /// The message of its latest report (scrubbed).
    pub message: Option<String>,
    /// Where its latest report happened.
    pub culprit: Option<String>,
    /// The level of its latest report: fatal, error, warning, info or debug.
    pub level: Option<String>,
    /// The frames of its latest report, one per line, the innermost first.
    pub frames: Option<String>,
    /// Reports.
    pub events: u64,
    /// Visitors who met it (approximate; a visitor is counted once a day, P2).
    pub visitors: u64,
    /// Its first report in the range, milliseconds since the epoch.
    pub first_ms: i64,
    /// Its latest report in the range, milliseconds since the epoch.
    pub last_ms: i64,
    /// Reports per bucket of [`trend_interval`] over the whole range, in time order.
    pub trend: Vec<u64>,
}

impl IssueRow {
    /// The issue's title: `type: message`, or whichever of them it has.
    pub fn title(&self) -> String {
        match (self.kind.as_deref(), self.message.as_deref()) {
            (Some(k), Some(m)) => format!("{k}: {m}"),
            (Some(k), None) => k.to_owned(),
            (None, Some(m)) => m.to_owned(),
            (None, None) => "(no message)".to_owned(),
        }
    }
}

/// One issue as a backend's summary query returns it, before its trend is added.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct IssueSummary {
    /// The fingerprint.
    pub fingerprint: String,
    /// Reports.
    pub events: u64,
    /// Approximate distinct visitors.
    pub visitors: u64,
    /// First report, milliseconds since the epoch.
    pub first_ms: i64,
    /// Latest report, milliseconds since the epoch.
    pub last_ms: i64,
    /// The latest report's properties, as stored (`\u{1}key\u{2}value\u{1}…`).
    pub props: Option<String>,
}

/// One value of a dimension among error reports.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorCountRow {
    /// The value (`(unknown)` where there is none).
    pub value: String,
    /// Reports with it.
    pub events: u64,
    /// Approximate distinct visitors with it.
    pub visitors: u64,
}

/// The trend's bucket for `q`'s range: hours up to two days, days up to 92, weeks beyond.
pub fn trend_interval(q: &Query) -> Interval {
    match (q.range.to - q.range.from).whole_days() {
        ..=2 => Interval::Hour,
        3..=92 => Interval::Day,
        _ => Interval::Week,
    }
}

/// The value of `key` in stored properties (`\u{1}key\u{2}value\u{1}…`).
pub fn prop<'a>(props: &'a str, key: &str) -> Option<&'a str> {
    props.split('\u{1}').find_map(|pair| pair.split_once('\u{2}').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Issues from their summaries and `(fingerprint, bucket_ms, events)` rows of the trend,
/// in the summaries' order.
pub fn assemble(summaries: Vec<IssueSummary>, series: Vec<(String, i64, u64)>, q: &Query) -> Vec<IssueRow> {
    let mut by_issue: HashMap<String, Vec<SeriesPoint>> = HashMap::new();
    for (fingerprint, bucket_ms, events) in series {
        by_issue.entry(fingerprint).or_default().push(SeriesPoint {
            bucket_ms,
            visitors: 0,
            visits: 0,
            pageviews: events,
        });
    }
    let interval = trend_interval(q);
    summaries
        .into_iter()
        .map(|s| {
            let points = by_issue.remove(&s.fingerprint).unwrap_or_default();
            let trend = fill_gaps(points, q, interval).into_iter().map(|p| p.pageviews).collect();
            let text = s.props.unwrap_or_default();
            let get = |key: &str| prop(&text, key).filter(|v| !v.is_empty()).map(str::to_owned);
            IssueRow {
                kind: get("type"),
                message: get("message"),
                culprit: get("culprit"),
                level: get("level"),
                frames: get("frames"),
                fingerprint: s.fingerprint,
                events: s.events,
                visitors: s.visitors,
                first_ms: s.first_ms,
                last_ms: s.last_ms,
                trend,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::model::TimeRange;

    #[test]
    fn errors_issues_take_their_parts_from_the_latest_report_and_fill_the_trend() {
        let q = Query {
            site: 1,
            range: TimeRange::days(date!(2026 - 03 - 01), date!(2026 - 03 - 07)).unwrap(),
            filters: vec![],
        };
        let day = |d: i64| 1_772_323_200_000 + d * 86_400_000;
        let summary = IssueSummary {
            fingerprint: "a1".into(),
            events: 5,
            visitors: 2,
            first_ms: day(1),
            last_ms: day(3),
            props: Some("\u{1}type\u{2}TypeError\u{1}message\u{2}x is undefined\u{1}level\u{2}error\u{1}".into()),
        };
        let issues = assemble(vec![summary], vec![("a1".into(), day(3), 2), ("a1".into(), day(1), 3)], &q);
        assert_eq!(trend_interval(&q), Interval::Day);
        assert_eq!(issues[0].trend, [0, 3, 0, 2, 0, 0, 0]);
        assert_eq!(issues[0].title(), "TypeError: x is undefined");
        assert_eq!((issues[0].culprit.as_deref(), issues[0].level.as_deref()), (None, Some("error")));
        assert_eq!(prop("\u{1}a\u{2}1\u{1}b\u{2}2\u{1}", "b"), Some("2"));
        assert_eq!(prop("", "b"), None);
    }
}
