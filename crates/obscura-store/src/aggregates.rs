//! k-anonymous aggregates (P3): what is kept of a site's day once its per-event data is
//! destroyed.
//!
//! Per-event rows, and rollups that can single out a few visitors, are personal data and go
//! with the day (P13). Before they go, the day's rollup cells of the expiring sites are made
//! k-anonymous — every cell that counts fewer than `k` distinct visitors is dropped or, where
//! that is sound, merged into one `(other)` cell per dimension, which is dropped in turn if it
//! still counts fewer than `k` — and kept by the backend, so that long-range dashboards still work.

use std::collections::BTreeMap;

use obscura_query::Dimension;

/// The default number of distinct visitors every published cell must count.
pub const DEFAULT_K: u32 = 5;
/// The name of the merged cell.
pub const OTHER: &str = "(other)";

/// One rollup cell: a site's day under one dimension's value (dimension `""` holds the site's
/// totals for the day, with value `None`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RollupCell {
    /// The site's id.
    pub site: u32,
    /// The dimension's name (see [`Dimension::name`]), or `""` for the totals.
    pub dim: String,
    /// The dimension's value; `None` for the totals.
    pub value: Option<String>,
    /// Distinct visitors of the day with this value.
    pub visitors: i64,
    /// Visits that began on rows with this value.
    pub visits: i64,
    /// Pageviews with this value.
    pub pageviews: i64,
    /// Custom events with this value.
    pub events: i64,
    /// Visits with at most one pageview.
    pub bounces: i64,
    /// Summed visit duration, milliseconds.
    pub duration_ms: i64,
}

impl RollupCell {
    fn metrics(&self) -> [i64; 6] {
        [self.visitors, self.visits, self.pageviews, self.events, self.bounces, self.duration_ms]
    }
}

/// Whether small cells of dimension `dim` may be merged into one "(other)" cell whose visitors
/// are the sum of theirs: only when no visitor has two values of it a day.
pub fn mergeable(dim: &str) -> bool {
    Dimension::parse(dim).is_ok_and(|d| d.one_value_per_visitor())
}

/// Makes rollup cells k-anonymous; see the module documentation. Small cells of [`mergeable`]
/// dimensions are summed into "(other)"; small cells of the others are dropped.
pub fn k_anonymize(cells: &[RollupCell], k: u32) -> Vec<RollupCell> {
    let k = i64::from(k);
    let mut kept: Vec<RollupCell> = Vec::new();
    let mut other: BTreeMap<(u32, String), [i64; 6]> = BTreeMap::new();
    for cell in cells {
        // The site's totals (dimension '') are one cell: kept or dropped, never merged.
        if cell.visitors >= k {
            kept.push(cell.clone());
        } else if mergeable(&cell.dim) {
            let sum = other.entry((cell.site, cell.dim.clone())).or_insert([0; 6]);
            for (total, m) in sum.iter_mut().zip(cell.metrics()) {
                *total += m;
            }
        }
    }
    for ((site, dim), [visitors, visits, pageviews, events, bounces, duration_ms]) in other {
        if visitors >= k {
            let value = Some(OTHER.to_owned());
            kept.push(RollupCell { site, dim, value, visitors, visits, pageviews, events, bounces, duration_ms });
        }
    }
    kept
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cell(site: u32, dim: &str, value: &str, visitors: i64) -> RollupCell {
        RollupCell {
            site,
            dim: dim.into(),
            value: (!dim.is_empty()).then(|| value.into()),
            visitors,
            visits: visitors,
            pageviews: visitors,
            events: visitors,
            bounces: visitors,
            duration_ms: visitors,
        }
    }

    #[test]
    fn p03_small_cells_merge_into_other_and_what_stays_small_is_dropped() {
        // Rare pages are dropped even though their visitors add up to 5: one visitor may have
        // seen both. Rare browsers (disjoint visitors) merge into "(other)"; a lone OS is dropped.
        let input = [
            cell(1, "", "", 40),
            cell(1, "page", "/", 30),
            cell(1, "page", "/rare-a", 3),
            cell(1, "page", "/rare-b", 2),
            cell(1, "browser", "Firefox", 33),
            cell(1, "browser", "Lynx", 2),
            cell(1, "browser", "w3m", 3),
            cell(1, "os", "Plan 9", 1),
            cell(2, "", "", 4),
            cell(2, "page", "/", 4),
        ];
        let out: Vec<(String, Option<String>, i64)> =
            k_anonymize(&input, 5).into_iter().map(|c| (c.dim, c.value, c.visitors)).collect();
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            out,
            [
                ("".into(), None, 40),
                ("page".into(), some("/"), 30),
                ("browser".into(), some("Firefox"), 33),
                ("browser".into(), some(OTHER), 5),
            ]
        );
    }
}
