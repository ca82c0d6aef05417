//! Per-day rollups of speed measurements: for each finished day, site and rolled grouping (the
//! groupings the speed dashboard asks for), one cell per group and metric with its count, exact
//! sum, ratings and quantile sketch — so unfiltered speed figures over long ranges merge a few
//! thousand sketches instead of reading every measurement. Both backends keep them (the
//! embedded store sealed under the day's key, ClickHouse in `measure_rollup_days`) and destroy
//! them with the day.

use obscura_model::Metric;
use obscura_query::measures::{HistogramRow, MeasureCell, MeasureCells, Sketch};
use obscura_query::{Dimension, Filter, FilterOp, Query};
use std::collections::HashMap;

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
        (vec![Dimension::Page, prop("provider")], &[Metric::CdnTtfb, Metric::CdnDownload, Metric::CdnResources]),
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

/// How a speed question is answered from a rolled grouping: which grouping's cells, which of
/// their keys make the question's groups, and which filters select cells. A filter on a rolled
/// dimension selects whole cells, so `country==DE` over the vitals reads the by-country cells
/// of Germany instead of every German measurement.
pub(crate) struct RollupPlan {
    /// The grouping's name ([`set_name`]).
    dims: String,
    /// For each of the question's dimensions, its position in the grouping.
    picks: Vec<usize>,
    /// Each filter with the position of its dimension in the grouping.
    filters: Vec<(usize, Filter)>,
    metrics: Vec<Metric>,
}

/// The plan answering `metrics` by `by` under `q`'s filters from the rollups: the smallest
/// rolled grouping holding every dimension of `by` and of the filters and keeping every metric;
/// `None` when there is none (the rows answer) or when `q` does not cover whole days.
pub(crate) fn plan(q: &Query, by: &[Dimension], metrics: &[Metric]) -> Option<RollupPlan> {
    if !q.range.is_whole_days() || by.iter().enumerate().any(|(i, d)| by[..i].contains(d)) {
        return None;
    }
    rolled_sets()
        .into_iter()
        .filter(|(set, kept)| metrics.iter().all(|m| kept.contains(m)) && by.iter().all(|d| set.contains(d)))
        .filter(|(set, _)| q.filters.iter().all(|f| set.contains(&f.dimension)))
        .min_by_key(|(set, _)| set.len())
        .map(|(set, _)| {
            let at = |d: &Dimension| set.iter().position(|s| s == d).expect("checked above");
            RollupPlan {
                dims: set_name(&set),
                picks: by.iter().map(at).collect(),
                filters: q.filters.iter().map(|f| (at(&f.dimension), f.clone())).collect(),
                metrics: metrics.to_vec(),
            }
        })
}

impl RollupPlan {
    /// The grouping whose cells answer ([`set_name`]).
    pub(crate) fn dims(&self) -> &str {
        &self.dims
    }

    /// Adds the cells that answer for `site` on each day — its kept cells where it has any, else
    /// the day's rollup ([`cells_per_day`]) — to `cells`, and returns those days: the rows of
    /// the rest of the range answer for them.
    pub(crate) fn merge_days(
        &self,
        cells: &mut MeasureCells,
        rolled: Vec<(Date, DayCells)>,
        kept: Vec<(Date, DayCells)>,
        site: u32,
    ) -> Vec<Date> {
        let days = cells_per_day(rolled, kept, site);
        self.merge(cells, days.iter().map(|(_, day_cells)| day_cells), site);
        days.into_iter().map(|(day, _)| day).collect()
    }

    /// Adds the cells of `site` that answer, from every day of `days`, to `cells` under the
    /// question's keys; a cell whose sketch cannot be read is skipped with a warning. Thirty
    /// days of a fine grouping hold hundreds of thousands of cells, so they are gathered by
    /// numbers: each day's names (a few hundred) are looked up once, and each cell is grouped
    /// by the numbers of its names, then every group goes to `cells` once.
    fn merge<'a>(&self, cells: &mut MeasureCells, days: impl IntoIterator<Item = &'a DayCells>, site: u32) {
        let fast = foldhash::fast::RandomState::default();
        let mut numbers: HashMap<&'a str, u32, _> = HashMap::with_hasher(fast.clone());
        let mut names: Vec<&'a str> = Vec::new();
        let mut groups: HashMap<[u32; 4], MeasureCell, _> = HashMap::with_hasher(fast);
        for day in days {
            let (from, to) = day.range_of(site, &self.dims);
            // This day's name numbers, translated to the question's on first use.
            let mut translated = vec![u32::MAX; day.names.len()];
            let mut number = |local: u32| -> u32 {
                let slot = &mut translated[local as usize];
                if *slot == u32::MAX {
                    let name = day.names[local as usize].as_ref();
                    *slot = *numbers.entry(name).or_insert_with(|| {
                        names.push(name);
                        names.len() as u32 - 1
                    });
                }
                *slot
            };
            for (day_cell, local) in day.cells[from..to].iter().zip(&day.numbers[from..to]) {
                if !self.metrics.iter().any(|m| m.name() == day_cell.metric)
                    || !self.filters.iter().all(|(at, f)| day_cell.keys.get(*at).is_some_and(|k| cell_matches(f, k)))
                {
                    continue;
                }
                let mut key = [u32::MAX; 4];
                for (slot, at) in key.iter_mut().zip(&self.picks) {
                    *slot = local.get(*at).copied().map_or(u32::MAX, &mut number);
                }
                key[3] = number(local[3]);
                let group = groups.entry(key).or_default();
                let (samples, sum, ratings) = (day_cell.samples, day_cell.sum, day_cell.ratings);
                let merged = if day_cell.sketch.is_empty() {
                    group.add_values(sum, ratings, &day_cell.values);
                    true
                } else {
                    Sketch::from_bytes(&day_cell.sketch)
                        .is_some_and(|sketch| group.add_parts(samples, sum, ratings, &sketch))
                };
                if !merged {
                    tracing::warn!(site, metric = %day_cell.metric, "a stored speed sketch cannot be read; skipped");
                }
            }
        }
        let name = |n: u32| names.get(n as usize).map_or(String::new(), |s| (*s).to_owned());
        for (key, mut group) in groups {
            group.keys = key.iter().take(self.picks.len()).map(|n| name(*n)).collect();
            group.metric = name(key[3]);
            cells.merge(group);
        }
    }
}

/// Whether a cell whose key for `f`'s dimension is `key` holds rows `f` selects, as the SQL
/// filter decides for those rows: cells keep rows without a value under the dimension's missing
/// label, which a filter names to select them; `!=` keeps what `==` does not.
fn cell_matches(f: &Filter, key: &str) -> bool {
    let missing = crate::sql::missing_label(&f.dimension);
    let no_value = key == missing.unwrap_or("(none)");
    match f.op {
        FilterOp::Contains => {
            let key = key.to_lowercase();
            !no_value && f.values.iter().any(|v| key.contains(&v.to_lowercase()))
        }
        FilterOp::Is | FilterOp::IsNot => {
            let hit =
                f.values.iter().any(|v| if Some(v.as_str()) == missing { no_value } else { !no_value && v == key });
            hit == (f.op == FilterOp::Is)
        }
    }
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

/// A day's cells, sorted by site and grouping so that a question reads only the cells of its
/// grouping (a day holds every grouping of every site), with each cell's names — its keys, then
/// its metric — as numbers into the day's list of names; shared with the queries reading them.
#[derive(Clone, Debug, Default)]
pub(crate) struct DayCells(std::sync::Arc<NumberedCells>);

#[derive(Debug, Default)]
pub(crate) struct NumberedCells {
    cells: Vec<DayCell>,
    /// Per cell: the numbers of its first three keys (`u32::MAX` where it has fewer), then of its metric.
    numbers: Vec<[u32; 4]>,
    names: Vec<Box<str>>,
}

impl std::ops::Deref for DayCells {
    type Target = NumberedCells;

    fn deref(&self) -> &NumberedCells {
        &self.0
    }
}

impl DayCells {
    /// The cells, sorted and numbered.
    pub(crate) fn new(mut cells: Vec<DayCell>) -> Self {
        cells.sort_by(|a, b| (a.site, &a.dims).cmp(&(b.site, &b.dims)));
        let mut known: HashMap<String, u32> = HashMap::new();
        let mut names: Vec<Box<str>> = Vec::new();
        let mut number = |name: &str| -> u32 {
            if let Some(n) = known.get(name) {
                return *n;
            }
            names.push(name.into());
            let n = names.len() as u32 - 1;
            known.insert(name.to_owned(), n);
            n
        };
        let numbers = cells
            .iter()
            .map(|c| {
                let mut these = [u32::MAX; 4];
                for (slot, key) in these.iter_mut().zip(&c.keys) {
                    *slot = number(key);
                }
                these[3] = number(&c.metric);
                these
            })
            .collect();
        DayCells(std::sync::Arc::new(NumberedCells { cells, numbers, names }))
    }

    /// Every cell.
    pub(crate) fn all(&self) -> &[DayCell] {
        &self.cells
    }

    /// Where the cells of `site`'s grouping `dims` are.
    fn range_of(&self, site: u32, dims: &str) -> (usize, usize) {
        let from = self.cells.partition_point(|c| (c.site, c.dims.as_str()) < (site, dims));
        let to = from + self.cells[from..].partition_point(|c| (c.site, c.dims.as_str()) == (site, dims));
        (from, to)
    }

    /// Whether any cell is `site`'s.
    pub(crate) fn has_site(&self, site: u32) -> bool {
        let at = self.cells.partition_point(|c| c.site < site);
        self.cells.get(at).is_some_and(|c| c.site == site)
    }
}

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
        if cells.has_site(site) {
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
        let back = DayCells::new(serde_json::from_slice(&json).unwrap());
        let lcp = [obscura_model::Metric::Lcp];
        let pages = plan_for(&[], &by, &lcp);
        let mut merged = MeasureCells::default();
        pages.merge(&mut merged, [&back, &back], 1);
        let out = merged.into_cells();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].samples, out[0].sum), (8, 10_000.0), "two days of site 1 only");
        let mut other = MeasureCells::default();
        plan_for(&[], &[Dimension::Country], &lcp).merge(&mut other, [&back], 1);
        assert!(other.into_cells().is_empty(), "another grouping's cells stay out");
        assert!(plan(&query(&[]), &[], &[obscura_model::Metric::Span]).is_some());
        assert!(plan(&query(&[]), &[Dimension::Flow], &[]).is_none(), "flows are not rolled");
        assert!(plan(&query(&[]), &by, &[obscura_model::Metric::CdnDns]).is_none(), "nor DNS times per page");
        let mut part_of_a_day = query(&[]);
        part_of_a_day.range.to -= time::Duration::hours(1);
        assert!(plan(&part_of_a_day, &[], &lcp).is_none(), "rollups hold whole days");
    }

    fn query(filters: &[&str]) -> Query {
        let day = time::macros::date!(2026 - 01 - 10);
        Query {
            site: 1,
            range: obscura_query::TimeRange::days(day, day).unwrap(),
            filters: filters.iter().map(|f| Filter::parse(f).unwrap()).collect(),
        }
    }

    fn plan_for(filters: &[&str], by: &[Dimension], metrics: &[obscura_model::Metric]) -> RollupPlan {
        plan(&query(filters), by, metrics).expect("a rolled grouping answers")
    }

    #[test]
    fn measure_rollup_filters_pick_the_smallest_grouping_that_holds_them() {
        use obscura_model::Metric::{CdnTtfb, Lcp};
        let provider = Dimension::Prop("provider".into());
        assert_eq!(plan_for(&["country==DE"], &[], &[Lcp]).dims(), "country");
        assert_eq!(plan_for(&["country==DE"], &[Dimension::Country], &[Lcp]).dims(), "country");
        assert_eq!(plan_for(&["prop:provider==cdnjs"], &[], &[CdnTtfb]).dims(), "prop:provider");
        let grid = plan_for(&["network~=tele"], &[Dimension::Province, provider.clone()], &[CdnTtfb]);
        assert_eq!(grid.dims(), "province,network,prop:provider");
        assert_eq!(grid.picks, [0, 2], "the question's keys, in its order");
        assert!(plan(&query(&["country==DE", "page==/"]), &[], &[Lcp]).is_none(), "no grouping holds both");
        assert!(plan(&query(&["source==Search"]), &[], &[Lcp]).is_none());
    }

    #[test]
    fn measure_rollup_filters_select_cells_as_sql_selects_rows() {
        let f = |text: &str| Filter::parse(text).unwrap();
        assert!(cell_matches(&f("country==DE|FR"), "FR") && !cell_matches(&f("country==DE"), "FR"));
        assert!(cell_matches(&f("country!=DE"), "FR") && !cell_matches(&f("country!=DE|FR"), "FR"));
        assert!(cell_matches(&f("country==(unknown)"), "(unknown)"), "the label selects rows without a value");
        assert!(cell_matches(&f("country!=DE"), "(unknown)"), "rows without a value are not DE");
        assert!(!cell_matches(&f("country~=unk"), "(unknown)"), "nor do they contain anything");
        assert!(cell_matches(&f("network~=TELE"), "Deutsche Telekom"), "contains ignores case");
        assert!(!cell_matches(&f("prop:element==(none)"), "(none)"), "properties have no missing label");
        assert!(cell_matches(&f("prop:element!=x"), "(none)"));
    }
}
