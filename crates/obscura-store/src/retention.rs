//! Retention (P13): per-event data older than its site's retention is destroyed.
//!
//! A day is destroyed whole (its key and files) once every site with rows on it has passed
//! its retention; before that, the rows of the sites that have are removed by re-keying the
//! day, so copies of the old files become unreadable too. A day of site data received on day
//! `D` goes at the start of day `D + retention_days`.

use time::Date;

use crate::meta::Site;
use crate::{EventStore, StoreError};

/// One destruction, reported (to the audit log) as soon as it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Destruction {
    /// A day destroyed whole.
    Day(Date),
    /// Some sites' rows removed from a day: (day, sites, rows removed).
    Sites(Date, Vec<u32>, u64),
}

/// Records a destruction; called right after each one, so a run that fails later leaves every
/// earlier destruction recorded.
pub type DestructionSink<'a> = dyn Fn(&Destruction) -> anyhow::Result<()> + Send + Sync + 'a;

/// What one run destroyed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PurgeReport {
    /// Days destroyed whole.
    pub destroyed_days: Vec<Date>,
    /// Days from which some sites' rows were removed: (day, sites, rows removed).
    pub purged: Vec<(Date, Vec<u32>, u64)>,
}

impl PurgeReport {
    /// Whether the run destroyed nothing.
    pub fn is_empty(&self) -> bool {
        self.destroyed_days.is_empty() && self.purged.is_empty()
    }
}

/// Destroys what is past retention on `today`, keeping the k-anonymous aggregates of what goes
/// (P3). Sites no longer configured keep `default_days`. Each destruction is passed to `record`
/// as it happens.
///
/// Per day: the aggregates are made durable first, then the rows are destroyed, then the
/// destruction is recorded. A crash in between leaves aggregates beside rows that still exist
/// (served from the rollup until the rows go, and replaced by the next run), never rows gone
/// without their aggregates.
pub async fn purge_expired(
    store: &dyn EventStore,
    sites: &[Site],
    default_days: u32,
    k: u32,
    today: Date,
    record: &DestructionSink<'_>,
) -> Result<PurgeReport, StoreError> {
    let retention = |id: u32| sites.iter().find(|s| s.id == id).map_or(default_days, |s| s.retention_days);
    let shortest = sites.iter().map(|s| s.retention_days).chain([default_days]).min().unwrap_or(default_days);
    let mut report = PurgeReport::default();
    for day in store.days().await? {
        let age = (today - day).whole_days();
        // No site's data on a day younger than the shortest retention has expired.
        if age < i64::from(shortest) {
            continue;
        }
        let present = store.sites_of_day(day).await?;
        let expired: Vec<u32> = present.iter().copied().filter(|s| age >= i64::from(retention(*s))).collect();
        if expired.is_empty() {
            continue;
        }
        // Computed while the rows exist, and durable before they go.
        let aggregates = store.k_anonymous_rollup(day, &expired, k).await?;
        store.keep_aggregates(day, &aggregates).await?;
        let measures = store.k_anonymous_measures(day, &expired, k).await?;
        store.keep_measures(day, &measures).await?;
        let destruction = if expired.len() == present.len() {
            store.destroy_day(day).await?;
            report.destroyed_days.push(day);
            Destruction::Day(day)
        } else {
            let removed = store.purge_sites(day, &expired).await?;
            report.purged.push((day, expired.clone(), removed));
            Destruction::Sites(day, expired, removed)
        };
        record(&destruction)
            .map_err(|e| StoreError::Storage(e.context(format!("{destruction:?} happened but cannot be recorded"))))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use arrow::array::{Array, Int64Array};
    use async_trait::async_trait;
    use obscura_model::Event;
    use obscura_query::{Aggregate, BreakdownRow, Dimension, Interval, OpenVisit, Query, SeriesPoint};
    use time::macros::date;

    use super::*;
    use crate::crypto::Key;
    use crate::embedded::kept_aggregates::Aggregates;
    use crate::{RollupCell, StoredRow};

    const FIRST: Date = date!(2026 - 01 - 01);
    const SECOND: Date = date!(2026 - 01 - 02);
    const TODAY: Date = date!(2026 - 03 - 01);

    /// Days of site 1 whose aggregates are kept in real sealed files, and whose destruction
    /// fails as a test says.
    struct Store {
        days: Mutex<Vec<Date>>,
        aggregates: Aggregates,
        /// Fails before destroying this day.
        fail_before: Option<Date>,
        /// Destroys this day, then stops as a crash would (nothing after it runs).
        crash_after: Option<Date>,
    }

    impl Store {
        fn new(dir: &std::path::Path, key: &Key) -> Self {
            Store {
                days: Mutex::new(vec![FIRST, SECOND]),
                aggregates: Aggregates::open(dir.join("aggregates"), key.clone()).unwrap(),
                fail_before: None,
                crash_after: None,
            }
        }

        fn day_list(&self) -> Vec<Date> {
            self.days.lock().unwrap().clone()
        }
    }

    fn io(what: &str) -> StoreError {
        StoreError::Storage(anyhow::anyhow!(what.to_owned()))
    }

    #[async_trait]
    impl EventStore for Store {
        async fn append(&self, _: Vec<Event>) -> Result<(), StoreError> {
            Err(io("unused"))
        }
        async fn import_unrolled(&self, _: Vec<Event>) -> Result<Vec<Date>, StoreError> {
            Err(io("unused"))
        }
        async fn roll_up_days(&self, _: &[Date]) -> Result<(), StoreError> {
            Err(io("unused"))
        }
        fn backend(&self) -> &'static str {
            "retention test"
        }
        async fn aggregate(&self, _: &Query) -> Result<Aggregate, StoreError> {
            Err(io("unused"))
        }
        async fn timeseries(&self, _: &Query, _: Interval) -> Result<Vec<SeriesPoint>, StoreError> {
            Err(io("unused"))
        }
        async fn breakdown(&self, _: &Query, _: &Dimension, _: u32) -> Result<Vec<BreakdownRow>, StoreError> {
            Err(io("unused"))
        }
        async fn measures(
            &self,
            _: &Query,
            _: &[obscura_model::Metric],
            _: &[Dimension],
        ) -> Result<Vec<obscura_query::measures::MeasureCell>, StoreError> {
            Err(io("unused"))
        }
        async fn open_visits(&self, _: i64) -> Result<Vec<OpenVisit>, StoreError> {
            Err(io("unused"))
        }
        async fn k_anonymous_measures(&self, _: Date, _: &[u32], _: u32) -> Result<Vec<crate::DayCell>, StoreError> {
            Ok(Vec::new())
        }
        async fn keep_measures(&self, _: Date, _: &[crate::DayCell]) -> Result<(), StoreError> {
            Ok(())
        }
        async fn rows_of_day(&self, _: Date, _: Option<u32>) -> Result<Vec<StoredRow>, StoreError> {
            Err(io("unused"))
        }
        async fn kept_of_site(&self, _: u32) -> Result<Vec<crate::KeptDay>, StoreError> {
            Err(io("unused"))
        }
        async fn issues(&self, _: &Query, _: u32) -> Result<Vec<obscura_query::errors::IssueRow>, StoreError> {
            Err(io("unused"))
        }
        async fn error_breakdown(
            &self,
            _: &Query,
            _: &Dimension,
            _: u32,
        ) -> Result<Vec<obscura_query::errors::ErrorCountRow>, StoreError> {
            Err(io("unused"))
        }
        async fn error_reports(&self, _: &Query, _: u32) -> Result<Vec<StoredRow>, StoreError> {
            Err(io("unused"))
        }
        async fn automated_breakdown(
            &self,
            _: &Query,
            _: &Dimension,
            _: u32,
        ) -> Result<Vec<obscura_query::errors::ErrorCountRow>, StoreError> {
            Err(io("unused"))
        }
        async fn automated_series(
            &self,
            _: &Query,
            _: Interval,
        ) -> Result<Vec<obscura_query::AutomatedPoint>, StoreError> {
            Err(io("unused"))
        }
        async fn funnel(&self, _: &Query, _: &[crate::meta::GoalTarget]) -> Result<Vec<u64>, StoreError> {
            Err(io("unused"))
        }
        async fn count_events(&self) -> Result<u64, StoreError> {
            Err(io("unused"))
        }
        async fn ready(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn close(&self) {}
        async fn destroy_day(&self, day: Date) -> Result<(), StoreError> {
            if self.fail_before == Some(day) {
                return Err(io("disk failure"));
            }
            self.days.lock().unwrap().retain(|d| *d != day);
            if self.crash_after == Some(day) {
                return Err(io("crash"));
            }
            Ok(())
        }
        async fn purge_sites(&self, _: Date, _: &[u32]) -> Result<u64, StoreError> {
            Err(io("unused"))
        }
        async fn k_anonymous_rollup(&self, day: Date, sites: &[u32], _: u32) -> Result<Vec<RollupCell>, StoreError> {
            // One totals cell per site whose visitors are the day's number, to tell days apart.
            let n = i64::from(day.day());
            Ok(sites
                .iter()
                .map(|&site| RollupCell {
                    site,
                    dim: String::new(),
                    value: None,
                    visitors: n,
                    visits: n,
                    pageviews: n,
                    events: n,
                    bounces: n,
                    duration_ms: n,
                })
                .collect())
        }
        async fn keep_aggregates(&self, day: Date, cells: &[RollupCell]) -> Result<(), StoreError> {
            self.aggregates.add(day, cells).map_err(|e| io(&e.to_string()))
        }
        async fn sites_of_day(&self, _: Date) -> Result<Vec<u32>, StoreError> {
            Ok(vec![1])
        }
        async fn days(&self) -> Result<Vec<Date>, StoreError> {
            Ok(self.day_list())
        }
        async fn rollup_days(&self) -> Result<Vec<Date>, StoreError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn hardening_retention_failing_part_way_has_recorded_what_it_destroyed() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::random();
        let store = Store { fail_before: Some(SECOND), ..Store::new(dir.path(), &key) };
        let recorded = Mutex::new(Vec::new());
        let record = |d: &Destruction| -> anyhow::Result<()> {
            recorded.lock().unwrap().push(d.clone());
            Ok(())
        };
        let result = purge_expired(&store, &[], 30, 5, TODAY, &record).await;
        assert!(result.is_err(), "the second day failed");
        assert_eq!(*recorded.lock().unwrap(), vec![Destruction::Day(FIRST)]);
        assert_eq!(store.day_list(), vec![SECOND]);
    }

    #[tokio::test]
    async fn hardening_retention_aggregates_are_durable_before_the_day_goes() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::random();
        let store = Store { crash_after: Some(FIRST), ..Store::new(dir.path(), &key) };
        let result =
            purge_expired(&store, &[], 30, 5, TODAY, &|_: &Destruction| -> anyhow::Result<()> { Ok(()) }).await;
        assert!(result.is_err());
        assert_eq!(store.day_list(), vec![SECOND], "the first day was destroyed");
        // After the crash, what is on disk.
        let reopened = Aggregates::open(dir.path().join("aggregates"), key).unwrap();
        assert_eq!(reopened.days(), vec![FIRST], "the destroyed day's aggregates were kept before it went");
        let batch = &reopened.batches().unwrap()[0];
        let visitors = batch.column_by_name("visitors").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(visitors.values().to_vec(), vec![1]);
    }

    #[tokio::test]
    async fn hardening_retention_records_each_destruction_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), &Key::random());
        let recorded = Mutex::new(Vec::new());
        let record = |d: &Destruction| -> anyhow::Result<()> {
            // Recorded after the day is gone.
            assert!(!store.day_list().contains(&match d {
                Destruction::Day(day) | Destruction::Sites(day, _, _) => *day,
            }));
            recorded.lock().unwrap().push(d.clone());
            Ok(())
        };
        let report = purge_expired(&store, &[], 30, 5, TODAY, &record).await.unwrap();
        assert_eq!(report.destroyed_days, vec![FIRST, SECOND]);
        assert_eq!(*recorded.lock().unwrap(), vec![Destruction::Day(FIRST), Destruction::Day(SECOND)]);
    }
}
