//! Per-day rollups of speed measurements: for each finished day, site and rolled grouping (the
//! groupings the speed dashboard asks for), one cell per group and metric with its count, exact
//! sum, ratings and quantile sketch — so unfiltered speed figures over long ranges merge a few
//! thousand sketches instead of reading every measurement. Both backends keep them (the
//! embedded store sealed under the day's key, ClickHouse in `measure_rollup_days`) and destroy
//! them with the day.

use obscura_model::Metric;
use obscura_query::Dimension;
use obscura_query::measures::{HistogramRow, MeasureCells, Sketch};
use serde::{Deserialize, Serialize};
use time::Date;

/// The groupings kept per day, each with the metrics kept for it: the speed dashboard's and
/// the API's usual questions. Other groupings and metrics are read from rows.
pub(crate) fn rolled_sets() -> Vec<(Vec<Dimension>, &'static [Metric])> {
    let prop = |key: &str| Dimension::Prop(key.into());
    vec![
        (vec![], &Metric::ALL),
        (vec![Dimension::Page], &Metric::VITALS),
        (vec![Dimension::DeviceType], &Metric::VITALS),
        (vec![Dimension::Country], &Metric::VITALS),
        (vec![Dimension::Browser], &Metric::VITALS),
        (vec![Dimension::Os], &Metric::VITALS),
        (vec![prop("element")], &[Metric::Lcp]),
        (vec![prop("provider")], &Metric::CDN),
        (vec![prop("provider"), prop("protocol")], &Metric::CDN),
        (vec![Dimension::Province, Dimension::Network, prop("provider")], &[Metric::CdnTtfb]),
        (vec![Dimension::Country, Dimension::Network, prop("provider")], &[Metric::CdnTtfb]),
        (vec![prop("start")], &[Metric::Launch]),
        (vec![prop("start"), prop("version")], &[Metric::Launch]),
        (vec![Dimension::Os, prop("start")], &[Metric::Launch]),
        (vec![prop("span"), prop("status")], &[Metric::Span]),
    ]
}

/// A grouping's name in the rollup (`""` for the totals, `prop:provider,prop:protocol`, …).
pub(crate) fn set_name(by: &[Dimension]) -> String {
    by.iter().map(Dimension::name).collect::<Vec<_>>().join(",")
}

/// Whether the rollups keep grouping `by` for every one of `metrics`.
pub(crate) fn is_rolled(by: &[Dimension], metrics: &[Metric]) -> bool {
    rolled_sets().iter().any(|(set, kept)| set.as_slice() == by && metrics.iter().all(|m| kept.contains(m)))
}

/// One kept cell: a site's group of a grouping on one day, one metric.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DayCell {
    /// The site's id.
    pub site: u32,
    /// The grouping's name ([`set_name`]).
    pub dims: String,
    /// The group's values.
    pub keys: Vec<String>,
    /// The metric's name.
    pub metric: String,
    /// How many measurements.
    pub samples: u64,
    /// Their exact sum.
    pub sum: f64,
    /// Good, needs improvement, poor.
    pub ratings: [u64; 3],
    /// The values themselves, as (3-significant-digit value, count), when there are at most
    /// [`FEW_VALUES`] distinct ones; `sketch` is then empty.
    #[serde(default)]
    pub values: Vec<(f64, u64)>,
    /// The values' sketch ([`Sketch::to_bytes`]), when there are more.
    pub sketch: Vec<u8>,
}

/// Cells with at most this many distinct values keep the values rather than a sketch.
pub(crate) const FEW_VALUES: usize = 16;

/// The cells of one grouping from a day's histogram rows, each row with its site.
pub(crate) fn day_cells(by: &[Dimension], rows: Vec<(u32, HistogramRow)>) -> Vec<DayCell> {
    let mut groups: std::collections::BTreeMap<(u32, Vec<String>, String), Vec<HistogramRow>> = Default::default();
    for (site, row) in rows {
        groups.entry((site, row.keys.clone(), row.metric.clone())).or_default().push(row);
    }
    let dims = set_name(by);
    groups
        .into_iter()
        .map(|((site, keys, metric), rows)| {
            let mut cells = MeasureCells::default();
            let mut values: Vec<(f64, u64)> = rows.iter().map(|r| (r.bucket, r.n)).collect();
            for row in rows {
                cells.add(row);
            }
            let cell = cells.into_cells().pop().expect("one group, one cell");
            // A few distinct values travel as they are: cheaper to merge than a sketch to decode.
            values.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (values, sketch) =
                if values.len() <= FEW_VALUES { (values, Vec::new()) } else { (Vec::new(), cell.sketch.to_bytes()) };
            DayCell {
                site,
                dims: dims.clone(),
                keys,
                metric,
                samples: cell.samples,
                sum: cell.sum,
                ratings: cell.ratings,
                values,
                sketch,
            }
        })
        .collect()
}

/// A day's cells, shared with the queries reading them.
pub(crate) type DayCells = std::sync::Arc<Vec<DayCell>>;

/// The cells that answer for `site` on each day: its kept cells where it has any (its rows are
/// gone, or about to go), else the day's rollup.
pub(crate) fn cells_per_day(
    rolled: Vec<(Date, DayCells)>,
    kept: Vec<(Date, DayCells)>,
    site: u32,
) -> Vec<(Date, DayCells)> {
    let mut out: std::collections::BTreeMap<Date, DayCells> = rolled.into_iter().collect();
    // Other sites' kept cells say nothing of this site's day: its rows (if any) answer then.
    for (day, cells) in kept {
        if cells.iter().any(|c| c.site == site) {
            out.insert(day, cells);
        }
    }
    out.into_iter().collect()
}

/// A cell's identity for the visitors it counts: site, grouping, group and metric.
pub(crate) type CellKey = (u32, String, Vec<String>, String);

/// The cells of `sites` whose group and metric count at least `k` distinct visitors (P3):
/// smaller ones could single people out and are not kept past retention.
pub(crate) fn k_anonymous(
    cells: Vec<DayCell>,
    visitors: &std::collections::HashMap<CellKey, u64>,
    sites: &[u32],
    k: u32,
) -> Vec<DayCell> {
    cells
        .into_iter()
        .filter(|c| sites.contains(&c.site))
        .filter(|c| {
            let key = (c.site, c.dims.clone(), c.keys.clone(), c.metric.clone());
            visitors.get(&key).copied().unwrap_or(0) >= u64::from(k)
        })
        .collect()
}

/// Adds the kept cells of `site`, grouping `by`, `metrics` to `cells`; a cell whose sketch
/// cannot be read is skipped with a warning.
pub(crate) fn merge_kept<'a>(
    cells: &mut MeasureCells,
    kept: impl IntoIterator<Item = &'a DayCell>,
    site: u32,
    by: &[Dimension],
    metrics: &[obscura_model::Metric],
) {
    let dims = set_name(by);
    for day_cell in kept {
        if day_cell.site != site || day_cell.dims != dims || !metrics.iter().any(|m| m.name() == day_cell.metric) {
            continue;
        }
        let (keys, metric) = (&day_cell.keys, &day_cell.metric);
        let merged = if day_cell.sketch.is_empty() {
            cells.merge_values(keys, metric, day_cell.sum, day_cell.ratings, &day_cell.values);
            true
        } else {
            Sketch::from_bytes(&day_cell.sketch).is_some_and(|sketch| {
                cells.merge_parts(keys, metric, day_cell.samples, day_cell.sum, day_cell.ratings, &sketch)
            })
        };
        if !merged {
            tracing::warn!(site, metric = %day_cell.metric, "a kept speed sketch cannot be read; skipped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p03_speed_cells_under_k_visitors_are_not_kept() {
        let cells = day_cells(
            &[Dimension::Page],
            vec![(1, row("/", "lcp", 1000.0, 7)), (1, row("/rare", "lcp", 900.0, 2)), (2, row("/", "lcp", 9.0, 9))],
        );
        let key = |site: u32, page: &str| (site, "page".to_owned(), vec![page.to_owned()], "lcp".to_owned());
        let visitors = std::collections::HashMap::from([(key(1, "/"), 5), (key(1, "/rare"), 2), (key(2, "/"), 9)]);
        let kept = |sites: &[u32], k| -> Vec<(u32, String)> {
            k_anonymous(cells.clone(), &visitors, sites, k).into_iter().map(|c| (c.site, c.keys[0].clone())).collect()
        };
        assert_eq!(kept(&[1], 5), [(1, "/".to_owned())], "the page of two visitors is dropped");
        assert!(kept(&[1], 6).is_empty(), "five visitors are under k = 6");
        assert_eq!(kept(&[2], 2), [(2, "/".to_owned())], "only the sites whose rows go");
        let unknown = day_cells(&[Dimension::Country], vec![(1, row("DE", "lcp", 1.0, 50))]);
        assert!(k_anonymous(unknown, &visitors, &[1], 1).is_empty(), "a cell without a visitor count is not kept");
    }

    fn row(key: &str, metric: &str, bucket: f64, n: u64) -> HistogramRow {
        HistogramRow { keys: vec![key.into()], metric: metric.into(), bucket, rating: 0, n, total: bucket * n as f64 }
    }

    #[test]
    fn measure_rollup_day_cells_round_trip_and_merge_per_site_grouping_and_metric() {
        let by = [Dimension::Page];
        let cells = day_cells(
            &by,
            vec![(1, row("/", "lcp", 1000.0, 3)), (1, row("/", "lcp", 2000.0, 1)), (2, row("/", "lcp", 9.0, 1))],
        );
        assert_eq!(cells.len(), 2, "one cell per site");
        assert_eq!((cells[0].site, cells[0].dims.as_str(), cells[0].samples), (1, "page", 4));
        let json = serde_json::to_vec(&cells).unwrap();
        let back: Vec<DayCell> = serde_json::from_slice(&json).unwrap();
        let mut merged = MeasureCells::default();
        merge_kept(&mut merged, &back, 1, &by, &[obscura_model::Metric::Lcp]);
        merge_kept(&mut merged, &back, 1, &by, &[obscura_model::Metric::Lcp]);
        let out = merged.into_cells();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].samples, out[0].sum), (8, 10_000.0), "two days of site 1 only");
        let mut other = MeasureCells::default();
        merge_kept(&mut other, &back, 1, &[Dimension::Country], &[obscura_model::Metric::Lcp]);
        assert!(other.into_cells().is_empty(), "another grouping's cells stay out");
        assert!(is_rolled(&[], &[obscura_model::Metric::Span]) && is_rolled(&by, &[obscura_model::Metric::Lcp]));
        assert!(!is_rolled(&[Dimension::Flow], &[]) && !is_rolled(&by, &[obscura_model::Metric::CdnTtfb]));
    }
}
