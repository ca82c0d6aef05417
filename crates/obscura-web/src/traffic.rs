//! Which traffic people's figures count (P5): people's alone by default, or with the automated
//! traffic the classifier kept apart added back (`automated=include` on the stats API and the
//! dashboard's switch). Automated hits form no visits, so when included their page views add
//! to page views and visitors and their custom events to events, while visits, bounce rate and
//! visit duration stay people's.

use obscura_query::errors::ErrorCountRow;
use obscura_query::{Aggregate, BreakdownRow, Dimension, Filter, FilterOp, Interval, Query, SeriesPoint};
use obscura_store::{EventStore, StoreError};

use crate::api_error::ApiError;
use crate::stats_query::Params;

/// The traffic a figure counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Traffic {
    /// People's only: what the classifier judged human.
    #[default]
    People,
    /// People's and the automated traffic kept apart.
    WithAutomated,
}

impl Traffic {
    /// From the URL's `automated` parameter: `include`, or `exclude` (the default).
    pub fn from_params(params: &Params) -> Result<Self, ApiError> {
        match params.get("automated").map(String::as_str) {
            None | Some("" | "exclude") => Ok(Traffic::People),
            Some("include") => Ok(Traffic::WithAutomated),
            Some(other) => {
                Err(ApiError::bad_request(format!("`automated` must be `include` or `exclude`, not {other:?}")))
            }
        }
    }

    /// Headline numbers of `q`.
    pub async fn aggregate(self, store: &dyn EventStore, q: &Query) -> Result<Aggregate, StoreError> {
        let mut people = store.aggregate(q).await?;
        if self == Traffic::WithAutomated {
            // Visitor hashes are daily: visitors per day, summed, as people's are.
            for day in store.automated_series(&was(q, "pageview"), Interval::Day).await? {
                people.pageviews += day.hits;
                people.visitors += day.visitors;
            }
        }
        Ok(people)
    }

    /// People's series of `q` per `interval`, with the automated page views and their visitors
    /// in each bucket when included.
    pub async fn timeseries(
        self,
        store: &dyn EventStore,
        q: &Query,
        interval: Interval,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        let people = store.timeseries(q, interval).await?;
        self.series_from(store, q, interval, people).await
    }

    /// `people`, the series of `q` per `interval`, as this traffic counts it.
    pub async fn series_from(
        self,
        store: &dyn EventStore,
        q: &Query,
        interval: Interval,
        mut people: Vec<SeriesPoint>,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        if self == Traffic::WithAutomated {
            for a in store.automated_series(&was(q, "pageview"), interval).await? {
                if let Some(p) = people.iter_mut().find(|p| p.bucket_ms == a.bucket_ms) {
                    p.visitors += a.visitors;
                    p.pageviews += a.hits;
                }
            }
        }
        Ok(people)
    }

    /// The top `limit` values of `dim` in `q`. Included automated hits are counted under their
    /// page, source, location, browser…; dimensions that need a visit's sequence of pages (exit
    /// page, previous page, flow) or an event's own properties (kept apart with their reasons
    /// instead) are people's alone.
    pub async fn breakdown(
        self,
        store: &dyn EventStore,
        q: &Query,
        dim: &Dimension,
        limit: u32,
    ) -> Result<Vec<BreakdownRow>, StoreError> {
        let people = store.breakdown(q, dim, limit).await?;
        let was_what = match dim {
            Dimension::ExitPage | Dimension::PreviousPage | Dimension::Flow | Dimension::Prop(_) => None,
            Dimension::Event => Some("event"),
            _ => Some("pageview"),
        };
        let Some(was_what) = was_what.filter(|_| self == Traffic::WithAutomated) else { return Ok(people) };
        let automated = store.automated_breakdown(&was(q, was_what), dim, limit).await?;
        Ok(merge(people, &automated, was_what == "event", limit))
    }
}

/// `q` narrowed to the automated hits that were `what` (`pageview`, `event`) when they came.
fn was(q: &Query, what: &str) -> Query {
    let mut q = q.clone();
    q.filters.push(Filter { dimension: Dimension::Prop("was".into()), op: FilterOp::Is, values: vec![what.into()] });
    q
}

/// People's rows with the automated hits added under the same values, ordered as breakdowns are
/// (visitors, visits, page views, value) and cut to `limit`.
fn merge(mut rows: Vec<BreakdownRow>, automated: &[ErrorCountRow], as_events: bool, limit: u32) -> Vec<BreakdownRow> {
    for a in automated {
        let row = match rows.iter().position(|r| r.value == a.value) {
            Some(i) => &mut rows[i],
            None => {
                rows.push(BreakdownRow { value: a.value.clone(), visitors: 0, visits: 0, pageviews: 0, events: 0 });
                rows.last_mut().expect("just pushed")
            }
        };
        row.visitors += a.visitors;
        if as_events {
            row.events += a.events;
        } else {
            row.pageviews += a.events;
        }
    }
    rows.sort_by(|a, b| {
        (b.visitors, b.visits, b.pageviews)
            .cmp(&(a.visitors, a.visits, a.pageviews))
            .then_with(|| a.value.cmp(&b.value))
    });
    rows.truncate(limit as usize);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: &str, visitors: u64, pageviews: u64) -> BreakdownRow {
        BreakdownRow { value: value.into(), visitors, visits: visitors, pageviews, events: 0 }
    }

    #[test]
    fn traffic_switch_reads_include_and_exclude_and_refuses_anything_else() {
        let params = |v: &str| Params::from([("automated".to_owned(), v.to_owned())]);
        assert_eq!(Traffic::from_params(&Params::new()).unwrap(), Traffic::People);
        assert_eq!(Traffic::from_params(&params("exclude")).unwrap(), Traffic::People);
        assert_eq!(Traffic::from_params(&params("include")).unwrap(), Traffic::WithAutomated);
        let refused = Traffic::from_params(&params("yes")).unwrap_err();
        assert_eq!(refused.status.as_u16(), 400);
        assert!(refused.message.contains("include"), "{}", refused.message);
    }

    #[test]
    fn traffic_merge_adds_automated_hits_under_their_values_and_keeps_the_order_and_limit() {
        let people = vec![row("/", 10, 20), row("/pricing", 5, 6)];
        let automated = [
            ErrorCountRow { value: "/pricing".into(), events: 40, visitors: 8 },
            ErrorCountRow { value: "/wp-login.php".into(), events: 9, visitors: 3 },
        ];
        let merged = merge(people.clone(), &automated, false, 10);
        let seen: Vec<_> = merged.iter().map(|r| (r.value.as_str(), r.visitors, r.visits, r.pageviews)).collect();
        assert_eq!(seen, [("/pricing", 13, 5, 46), ("/", 10, 10, 20), ("/wp-login.php", 3, 0, 9)]);
        assert_eq!(merge(people.clone(), &automated, false, 2).len(), 2);
        let events = merge(people, &automated[..1], true, 10);
        assert_eq!((events[0].value.as_str(), events[0].events, events[0].pageviews), ("/pricing", 40, 6));
    }
}
