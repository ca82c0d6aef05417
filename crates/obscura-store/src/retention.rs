//! Retention (P13): per-event data older than its site's retention is destroyed.
//!
//! A day is destroyed whole (its key and files) once every site with rows on it has passed
//! its retention; before that, the rows of the sites that have are removed by re-keying the
//! day, so copies of the old files become unreadable too. A day of site data received on day
//! `D` goes at the start of day `D + retention_days`.

use time::Date;

use crate::meta::Site;
use crate::{EventStore, StoreError};

/// What one run destroyed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PurgeReport {
    /// Days destroyed whole.
    pub destroyed_days: Vec<Date>,
    /// Days from which some sites' rows were removed: (day, sites, rows removed).
    pub purged: Vec<(Date, Vec<u32>, u64)>,
}

impl PurgeReport {
    pub fn is_empty(&self) -> bool {
        self.destroyed_days.is_empty() && self.purged.is_empty()
    }
}

/// Destroys what is past retention on `today`, keeping the k-anonymous aggregates of what goes
/// (P3). Sites no longer configured keep `default_days`.
pub async fn purge_expired(
    store: &dyn EventStore,
    sites: &[Site],
    default_days: u32,
    k: u32,
    today: Date,
) -> Result<PurgeReport, StoreError> {
    let retention = |id: u32| sites.iter().find(|s| s.id == id).map_or(default_days, |s| s.retention_days);
    let shortest = sites.iter().map(|s| s.retention_days).chain([default_days]).min().unwrap_or(default_days);
    let mut report = PurgeReport::default();
    for day in store.days() {
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
        // Computed while the rows exist, kept once they are gone: a failed purge must not
        // leave a day counted both in its rollup and in the aggregates.
        let aggregates = store.k_anonymous_rollup(day, &expired, k).await?;
        if expired.len() == present.len() {
            store.destroy_day(day).await?;
            report.destroyed_days.push(day);
        } else {
            let removed = store.purge_sites(day, &expired).await?;
            report.purged.push((day, expired, removed));
        }
        store.keep_aggregates(day, &aggregates)?;
    }
    Ok(report)
}
