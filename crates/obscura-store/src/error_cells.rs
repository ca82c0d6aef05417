//! A finished day's error reports counted per cell: per issue and release × environment ×
//! browser × operating system, and per issue and page. A filtered question about the Errors tab
//! (`prop:release==1.2`, `browser==Firefox`, an issue's page with `event==<fingerprint>`) is
//! answered by selecting the cells its filters match, as SQL selects the rows, instead of reading
//! every report of the day again. Each day's cells are kept and saved like the day's answers
//! ([`crate::error_days`]); a day with more than [`MAX_CELLS`] cells is answered from its rows.
//!
//! Visitors of several cells are added up: a visitor hash covers one browser and system on one
//! day (it is keyed by the User-Agent), so a visitor falls in more than one cell only when one day
//! saw them on two releases or environments — the figure stays approximate, as every visitor
//! figure of the Errors tab is.

use std::collections::HashMap;

use obscura_query::errors::{ErrorCountRow, IssueSummary};
use obscura_query::{Dimension, Filter, FilterOp};
use serde::{Deserialize, Serialize};

/// The value a cell holds for a report without one (no property, no browser): a character
/// stored text never holds (properties are kept as `\u{1}key\u{2}value`).
pub(crate) const MISSING: &str = "\u{1}";
/// Cells of one site's day: beyond, the day's questions are answered from its rows.
pub(crate) const MAX_CELLS: usize = 100_000;
/// Dimensions a grouping holds at most.
pub(crate) const MAX_DIMS: usize = 5;

/// A grouping of a day's reports into cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grouping {
    /// Issue × release × environment × browser × operating system.
    Context,
    /// Issue × page.
    Pages,
}

impl Grouping {
    /// Its dimensions, the issue first.
    pub(crate) fn dims(self) -> Vec<Dimension> {
        match self {
            Grouping::Context => vec![
                Dimension::Event,
                Dimension::Prop("release".into()),
                Dimension::Prop("environment".into()),
                Dimension::Browser,
                Dimension::Os,
            ],
            Grouping::Pages => vec![Dimension::Event, Dimension::Page],
        }
    }

    /// Its name in the day's answers; `cells …`, which the saved answers tell cells apart by.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Grouping::Context => "cells context",
            Grouping::Pages => "cells pages",
        }
    }

    /// The grouping that holds every dimension `filters` compare and `wanted` (the breakdown's
    /// dimension; `None` for the issue list), if one does.
    pub(crate) fn holding(filters: &[Filter], wanted: Option<&Dimension>) -> Option<Grouping> {
        [Grouping::Context, Grouping::Pages].into_iter().find(|g| {
            let dims = g.dims();
            filters.iter().map(|f| &f.dimension).chain(wanted).all(|d| dims.contains(d))
        })
    }
}

/// One cell as a backend reads it: the values of the grouping's dimensions ([`MISSING`] for
/// none) and the cell's figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CellRow {
    /// One value per dimension of the grouping.
    pub values: Vec<String>,
    /// Reports.
    pub events: u64,
    /// Approximate distinct visitors.
    pub visitors: u64,
    /// First report, milliseconds since the epoch.
    pub first_ms: i64,
    /// Latest report, milliseconds since the epoch.
    pub last_ms: i64,
}

/// Number of a missing value.
const NONE: u32 = u32::MAX;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cell {
    /// Numbers of the values in [`DayCells::names`], [`NONE`] where missing or unused.
    keys: [u32; MAX_DIMS],
    events: u64,
    visitors: u64,
    first_ms: i64,
    last_ms: i64,
}

/// One site's day in cells of one grouping; values numbered so cells stay small.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct DayCells {
    names: Vec<String>,
    cells: Vec<Cell>,
    /// More cells than [`MAX_CELLS`]: none kept, questions go to the rows.
    overflow: bool,
}

impl DayCells {
    /// The cells of `rows`, or an overflowing day when there are too many.
    pub(crate) fn new(rows: Vec<CellRow>) -> Self {
        if rows.len() > MAX_CELLS {
            return DayCells { overflow: true, ..DayCells::default() };
        }
        let mut numbers: HashMap<String, u32> = HashMap::new();
        let mut names = Vec::new();
        let cells = rows
            .into_iter()
            .map(|row| {
                let mut keys = [NONE; MAX_DIMS];
                for (key, value) in keys.iter_mut().zip(row.values) {
                    if value != MISSING {
                        *key = *numbers.entry(value).or_insert_with_key(|v| {
                            names.push(v.clone());
                            (names.len() - 1) as u32
                        });
                    }
                }
                Cell { keys, events: row.events, visitors: row.visitors, first_ms: row.first_ms, last_ms: row.last_ms }
            })
            .collect();
        DayCells { names, cells, overflow: false }
    }

    /// Whether the day's cells answer questions (not too many to keep).
    pub(crate) fn complete(&self) -> bool {
        !self.overflow
    }

    /// Approximate bytes held.
    pub(crate) fn weight(&self) -> usize {
        self.cells.len() * std::mem::size_of::<Cell>() + self.names.iter().map(|n| n.len() + 24).sum::<usize>()
    }

    fn name(&self, key: u32) -> Option<&str> {
        self.names.get(key as usize).map(String::as_str)
    }

    /// The cells of `grouping` that `filters` select. Each filter is decided once per value, not
    /// once per cell.
    fn selected<'a>(&'a self, grouping: Grouping, filters: &[Filter]) -> impl Iterator<Item = &'a Cell> + 'a {
        let dims = grouping.dims();
        // Per filter: its slot, whether it selects a missing value, and which numbers it selects.
        let tests: Vec<(usize, bool, Vec<bool>)> = filters
            .iter()
            .filter_map(|f| {
                let slot = dims.iter().position(|d| *d == f.dimension)?;
                let by_number = self.names.iter().map(|n| cell_matches(f, Some(n))).collect();
                Some((slot, cell_matches(f, None), by_number))
            })
            .collect();
        self.cells.iter().filter(move |cell| {
            tests.iter().all(|(slot, if_missing, by_number)| match cell.keys[*slot] {
                NONE => *if_missing,
                key => by_number[key as usize],
            })
        })
    }

    /// The issues among the cells `filters` select, in no order; each issue's properties from
    /// `props` (the day's latest report of it).
    pub(crate) fn issues(
        &self,
        grouping: Grouping,
        filters: &[Filter],
        props: &HashMap<&str, Option<&str>>,
    ) -> Vec<IssueSummary> {
        let mut by_issue: HashMap<u32, IssueSummary> = HashMap::new();
        for cell in self.selected(grouping, filters) {
            let Some(fingerprint) = self.name(cell.keys[0]) else { continue };
            let issue = by_issue.entry(cell.keys[0]).or_insert_with(|| IssueSummary {
                fingerprint: fingerprint.to_owned(),
                events: 0,
                visitors: 0,
                first_ms: cell.first_ms,
                last_ms: cell.last_ms,
                props: props.get(fingerprint).copied().flatten().map(str::to_owned),
            });
            issue.events += cell.events;
            issue.visitors += cell.visitors;
            issue.first_ms = issue.first_ms.min(cell.first_ms);
            issue.last_ms = issue.last_ms.max(cell.last_ms);
        }
        by_issue.into_values().collect()
    }

    /// Reports and visitors per value of `dim` among the cells `filters` select, in no order;
    /// reports without a value under `(unknown)`, as the rows' breakdown shows them.
    pub(crate) fn counts(&self, grouping: Grouping, filters: &[Filter], dim: &Dimension) -> Vec<ErrorCountRow> {
        let Some(slot) = grouping.dims().iter().position(|d| d == dim) else { return Vec::new() };
        let mut by_value: HashMap<u32, (u64, u64)> = HashMap::new();
        for cell in self.selected(grouping, filters) {
            let sum = by_value.entry(cell.keys[slot]).or_default();
            sum.0 += cell.events;
            sum.1 += cell.visitors;
        }
        by_value
            .into_iter()
            .map(|(key, (events, visitors))| ErrorCountRow {
                value: self.name(key).unwrap_or("(unknown)").to_owned(),
                events,
                visitors,
            })
            .collect()
    }
}

/// Whether rows whose value for `f`'s dimension is `value` (`None`: no value) are selected by
/// `f`, exactly as the SQL filter decides: `==` a value never selects rows without one, unless it
/// names the dimension's missing label; `!=` keeps what `==` does not; contains needs a value.
pub(crate) fn cell_matches(f: &Filter, value: Option<&str>) -> bool {
    let missing = crate::sql::missing_label(&f.dimension);
    match f.op {
        FilterOp::Contains => value.is_some_and(|v| {
            let v = v.to_lowercase();
            f.values.iter().any(|x| v.contains(&x.to_lowercase()))
        }),
        FilterOp::Is | FilterOp::IsNot => {
            let hit = f
                .values
                .iter()
                .any(|x| if Some(x.as_str()) == missing { value.is_none() } else { value == Some(x.as_str()) });
            hit == (f.op == FilterOp::Is)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[&str], events: u64, visitors: u64, at: i64) -> CellRow {
        CellRow {
            values: values.iter().map(|v| v.to_string()).collect(),
            events,
            visitors,
            first_ms: at,
            last_ms: at + 10,
        }
    }

    fn filters(texts: &[&str]) -> Vec<Filter> {
        texts.iter().map(|t| Filter::parse(t).unwrap()).collect()
    }

    fn day() -> DayCells {
        DayCells::new(vec![
            row(&["a", "1.0", "production", "Chrome", "Windows"], 2, 1, 100),
            row(&["a", "1.1", "production", "Chrome", "Windows"], 1, 1, 200),
            row(&["a", MISSING, MISSING, "Firefox", MISSING], 4, 2, 50),
            row(&["b", "1.1", "staging", MISSING, "Linux"], 3, 3, 300),
        ])
    }

    fn issues(cells: &DayCells, texts: &[&str]) -> Vec<(String, u64, u64, i64, i64)> {
        let props = HashMap::from([("a", Some("\u{1}type\u{2}TypeError\u{1}")), ("b", None)]);
        let mut found: Vec<_> = cells
            .issues(Grouping::Context, &filters(texts), &props)
            .into_iter()
            .map(|s| (s.fingerprint, s.events, s.visitors, s.first_ms, s.last_ms))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn error_cells_answer_issues_for_filters_as_the_rows_would() {
        let cells = day();
        assert!(cells.complete());
        let all = issues(&cells, &[]);
        assert_eq!(all, [("a".into(), 7, 4, 50, 210), ("b".into(), 3, 3, 300, 310)]);
        assert_eq!(
            issues(&cells, &["prop:release==1.1"]),
            [("a".into(), 1, 1, 200, 210), ("b".into(), 3, 3, 300, 310)]
        );
        // `!=` keeps reports without a release, as SQL's NOT coalesce(release = '1.1', false) does.
        assert_eq!(issues(&cells, &["prop:release!=1.1"]), [("a".into(), 6, 3, 50, 110)]);
        assert_eq!(issues(&cells, &["prop:release~=1."]).iter().map(|i| i.1).sum::<u64>(), 6, "contains needs a value");
        assert_eq!(issues(&cells, &["browser==(unknown)"]), [("b".into(), 3, 3, 300, 310)], "the missing label");
        assert_eq!(issues(&cells, &["browser==Chrome|Firefox", "event==a"]).len(), 1);
        assert_eq!(issues(&cells, &["os!=Windows", "prop:environment==staging"]), [("b".into(), 3, 3, 300, 310)]);
        let props = HashMap::from([("a", Some("p"))]);
        let a = cells.issues(Grouping::Context, &filters(&["event==a"]), &props);
        assert_eq!(a[0].props.as_deref(), Some("p"), "the issue's latest properties");
    }

    #[test]
    fn error_cells_count_values_with_missing_ones_unknown() {
        let cells = day();
        let mut browsers = cells.counts(Grouping::Context, &filters(&[]), &Dimension::Browser);
        browsers.sort_by(|a, b| a.value.cmp(&b.value));
        let browsers: Vec<_> = browsers.iter().map(|r| (r.value.as_str(), r.events, r.visitors)).collect();
        assert_eq!(browsers, [("(unknown)", 3, 3), ("Chrome", 3, 2), ("Firefox", 4, 2)]);
        let releases = cells.counts(Grouping::Context, &filters(&["event==b"]), &Dimension::Prop("release".into()));
        assert_eq!(releases.iter().map(|r| (r.value.as_str(), r.events)).collect::<Vec<_>>(), [("1.1", 3)]);
        assert!(cells.counts(Grouping::Context, &[], &Dimension::Page).is_empty(), "not in the grouping");
    }

    #[test]
    fn error_cells_groupings_hold_the_dimensions_of_their_questions() {
        let release = Dimension::Prop("release".into());
        assert_eq!(Grouping::holding(&filters(&["prop:release==1"]), None), Some(Grouping::Context));
        assert_eq!(Grouping::holding(&filters(&["event==a"]), Some(&Dimension::Page)), Some(Grouping::Pages));
        assert_eq!(Grouping::holding(&filters(&["event==a", "os==Linux"]), Some(&release)), Some(Grouping::Context));
        assert_eq!(Grouping::holding(&filters(&["page==/x", "browser==Chrome"]), None), None, "no grouping holds both");
        assert_eq!(Grouping::holding(&filters(&["country==DE"]), None), None);
    }

    #[test]
    fn error_cells_too_many_are_not_kept() {
        let rows = (0..=MAX_CELLS).map(|i| row(&[&i.to_string()], 1, 1, 0)).collect();
        let cells = DayCells::new(rows);
        assert!(!cells.complete());
        assert_eq!(cells.weight(), 0);
    }
}
