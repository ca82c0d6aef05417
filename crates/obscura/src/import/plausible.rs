//! `obscura import plausible`: a site's history from Plausible's CSV export (the ZIP of
//! `imported_*_YYYYMMDD_YYYYMMDD.csv` files, a folder of them, or single files), kept as daily
//! aggregates, k-anonymous like Obscura's own (P3), and shown by the dashboard as its own kept
//! aggregates are.
//!
//! Columns are read by their header names, as Plausible's importer reads them; durations are
//! seconds summed over visits. Days for which the site already has data are left alone.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use obscura_store::aggregates::RollupCell;
use obscura_store::meta::Site;
use time::Date;

use super::Problems;
use crate::app::App;

/// The options of `obscura import plausible`.
#[derive(clap::Args, Debug)]
pub struct PlausibleArgs {
    /// The site to import into (as added with `obscura site add`).
    #[arg(long)]
    pub site: String,
    /// The export: its ZIP file, a folder of its CSV files, or CSV files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// What an import found.
#[derive(Debug, Default)]
pub struct PlausibleTally {
    /// Files read, by table.
    pub tables: Vec<String>,
    /// Rows read.
    pub rows: u64,
    /// Rows that could not be read.
    pub bad_rows: u64,
    /// Rows that could not be read (file, line, why) and files skipped (why).
    pub problems: Problems,
    /// Days imported.
    pub days: u64,
    /// Days skipped because the site has data of its own for them.
    pub days_skipped: u64,
    /// Cells kept, after k-anonymity.
    pub cells: u64,
    /// Cells left out by k-anonymity (fewer than k visitors).
    pub cells_below_k: u64,
    /// Page views and visitors of the imported days' totals.
    pub page_views: i64,
    /// Visitors, summed over the imported days.
    pub visitors: i64,
}

impl PlausibleTally {
    fn problem(&mut self, text: String) {
        self.problems.add(text);
    }

    /// The summary printed at the end.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "read {} rows of {} ({} unreadable)\n  days imported:            {}\n  days with data already:   {} (left alone)\n  page views:               {}\n  visitors (summed by day): {}\n  cells kept:               {}\n  cells under k visitors:   {} (left out, P3)\n",
            self.rows,
            self.tables.join(", "),
            self.bad_rows,
            self.days,
            self.days_skipped,
            self.page_views,
            self.visitors,
            self.cells,
            self.cells_below_k,
        );
        out.push_str(&self.problems.lines());
        out
    }
}

/// How a table's rows become cells: the dimension, and the columns of its value and figures.
struct Mapping {
    /// Dimension name (`""`: the day's totals) and the column holding its value.
    dims: &'static [(&'static str, Value)],
    visits: &'static str,
    events: &'static str,
}

/// Where a cell's value comes from.
#[derive(Clone, Copy)]
enum Value {
    /// No value: the day's totals.
    Total,
    /// A column, as it is (empty: no value).
    Column(&'static str),
    /// The referring site: the referrer's host, else the source's name (empty or
    /// `Direct / None`: no value).
    Referrer,
    /// The kind of source Obscura shows: direct, search, social, campaign or other.
    SourceKind,
    /// The device type, in Obscura's words.
    Device,
}

/// The tables read, and how; the others are reported and skipped.
fn mapping(table: &str) -> Option<Mapping> {
    use Value::*;
    let m = |dims, visits, events| Some(Mapping { dims, visits, events });
    match table {
        "visitors" => m(&[("", Total)], "visits", ""),
        "pages" => m(&[("page", Column("page"))], "visits", ""),
        "entry_pages" => m(&[("entry_page", Column("entry_page"))], "entrances", ""),
        "exit_pages" => m(&[("exit_page", Column("exit_page"))], "exits", ""),
        "sources" => m(
            &[
                ("referrer", Referrer),
                ("source", SourceKind),
                ("utm_source", Column("utm_source")),
                ("utm_medium", Column("utm_medium")),
                ("utm_campaign", Column("utm_campaign")),
            ],
            "visits",
            "",
        ),
        "locations" => m(&[("country", Column("country"))], "visits", ""),
        "devices" => m(&[("device_type", Device)], "visits", ""),
        "browsers" => m(&[("browser", Column("browser"))], "visits", ""),
        "operating_systems" => m(&[("os", Column("operating_system"))], "visits", ""),
        "custom_events" => m(&[("event", Column("name")), ("", Total)], "", "events"),
        _ => None,
    }
}

/// One cell's figures while summing rows.
#[derive(Default, Clone, Copy)]
struct Figures {
    visitors: i64,
    visits: i64,
    pageviews: i64,
    events: i64,
    bounces: i64,
    duration_ms: i64,
}

/// Cells by day, then by (dimension, value).
type Days = BTreeMap<Date, BTreeMap<(String, Option<String>), Figures>>;

/// Imports the export at `paths` into `site`, keeping cells of at least `k` visitors.
pub async fn import(app: &App, site: &Site, paths: &[PathBuf], k: u32) -> anyhow::Result<PlausibleTally> {
    let mut tally = PlausibleTally::default();
    let mut days = Days::new();
    for (name, bytes) in csv_files(paths)? {
        let Some(table) = table_of(&name) else {
            tally.problem(format!("{name}: skipped, not an export file (`imported_<table>_<from>_<to>.csv`)"));
            continue;
        };
        let Some(mapping) = mapping(&table) else {
            tally.problem(format!("{name}: skipped, table `{table}` is not imported"));
            continue;
        };
        tally.tables.push(table);
        read_table(&name, &bytes, &mapping, &mut days, &mut tally);
    }
    anyhow::ensure!(!tally.tables.is_empty(), "no table of a Plausible export found in {paths:?}");
    let have = super::days_with_data(app, site, days.keys().copied()).await?;
    for (day, cells) in days {
        if have.contains(&day) {
            tally.days_skipped += 1;
            continue;
        }
        let cells: Vec<RollupCell> = cells
            .into_iter()
            .map(|((dim, value), f)| RollupCell {
                site: site.id,
                dim,
                value,
                visitors: f.visitors,
                visits: f.visits,
                pageviews: f.pageviews,
                events: f.events,
                bounces: f.bounces,
                duration_ms: f.duration_ms,
            })
            .collect();
        let (kept, below_k) = super::keep_k_anonymous(app, day, &cells, k).await?;
        if let Some(total) = kept.iter().find(|c| c.dim.is_empty()) {
            tally.page_views += total.pageviews;
            tally.visitors += total.visitors;
        }
        tally.cells += kept.len() as u64;
        tally.cells_below_k += below_k;
        if !kept.is_empty() {
            tally.days += 1;
        }
    }
    Ok(tally)
}

/// The table a file holds: `imported_pages_20230101_20231231.csv` → `pages` (the prefix and
/// the dates are optional).
fn table_of(name: &str) -> Option<String> {
    let base = Path::new(name).file_name()?.to_str()?.strip_suffix(".csv")?;
    let base = base.strip_prefix("imported_").unwrap_or(base);
    let parts: Vec<&str> = base.split('_').collect();
    let dated = parts.len() > 2
        && parts[parts.len() - 2..].iter().all(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_digit()));
    let table = if dated { parts[..parts.len() - 2].join("_") } else { base.to_owned() };
    Some(table)
}

/// Every CSV file of `paths`, with its name: the entries of ZIP files, the `.csv` files of
/// folders, and files named directly.
fn csv_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut names: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "csv"))
                .collect();
            names.sort();
            for name in names {
                let bytes = std::fs::read(&name).with_context(|| format!("cannot read {}", name.display()))?;
                out.push((name.display().to_string(), bytes));
            }
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
            let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let mut archive =
                zip::ZipArchive::new(file).with_context(|| format!("{} is not a ZIP file", path.display()))?;
            for i in 0..archive.len() {
                let mut entry = archive.by_index(i)?;
                if !entry.name().ends_with(".csv") {
                    continue;
                }
                let name = entry.name().to_owned();
                let mut bytes = Vec::with_capacity(entry.size().min(1 << 30) as usize);
                entry.read_to_end(&mut bytes).with_context(|| format!("cannot read {name} in {}", path.display()))?;
                out.push((name, bytes));
            }
        } else {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            out.push((path.display().to_string(), bytes));
        }
    }
    Ok(out)
}

/// How many daily cells one export file (`name` says its table) makes, as an import reads it,
/// and what was read: without a store, for the fuzzer and tests.
pub fn cells_of_file(name: &str, bytes: &[u8]) -> (usize, PlausibleTally) {
    let mut tally = PlausibleTally::default();
    let mut days = Days::new();
    match table_of(name).and_then(|table| mapping(&table)) {
        Some(how) => read_table(name, bytes, &how, &mut days, &mut tally),
        None => tally.problem(format!("{name}: not a table that is imported")),
    }
    (days.values().map(BTreeMap::len).sum(), tally)
}

/// Adds a table's rows to `days`; a row that cannot be read is counted and reported.
fn read_table(name: &str, bytes: &[u8], mapping: &Mapping, days: &mut Days, tally: &mut PlausibleTally) {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            tally.bad_rows += 1;
            tally.problem(format!("{name}: no header row: {e}"));
            return;
        }
    };
    if !headers.iter().any(|h| h.trim() == "date") {
        tally.problem(format!("{name}: skipped, no `date` column"));
        return;
    }
    for (index, record) in reader.records().enumerate() {
        tally.rows += 1;
        let line = index + 2;
        let row = record.map_err(|e| e.to_string()).and_then(|record| {
            let row = Row { headers: &headers, record: &record };
            let text = |wanted: &str| row.text(wanted);
            let date = Date::parse(text("date"), time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| format!("`date` {:?} is not YYYY-MM-DD", text("date")))?;
            let number = |wanted: &str| -> Result<i64, String> {
                match text(wanted) {
                    "" => Ok(0),
                    n => n.parse::<i64>().ok().filter(|n| *n >= 0).ok_or(format!("`{wanted}` {n:?} is not a count")),
                }
            };
            let figures = Figures {
                visitors: number("visitors")?,
                visits: if mapping.visits.is_empty() { 0 } else { number(mapping.visits)? },
                pageviews: number("pageviews")?,
                events: if mapping.events.is_empty() { 0 } else { number(mapping.events)? },
                bounces: number("bounces")?,
                duration_ms: number("visit_duration")?.saturating_mul(1000),
            };
            let values: Vec<(&str, Option<String>)> = mapping
                .dims
                .iter()
                .map(|(dim, value)| (*dim, value_of(*value, &row).map(|v| super::clean_value(dim, &v))))
                .collect();
            Ok((date, figures, values))
        });
        match row {
            Err(why) => {
                tally.bad_rows += 1;
                tally.problem(format!("{name}:{line}: {why}"));
            }
            Ok((date, figures, values)) => {
                let cells = days.entry(date).or_default();
                for (dim, value) in values {
                    // Custom events add to the day's totals their events only.
                    let events_only = dim.is_empty() && !mapping.events.is_empty();
                    let f =
                        if events_only { Figures { events: figures.events, ..Figures::default() } } else { figures };
                    add(cells.entry((dim.to_owned(), value)).or_default(), f);
                }
            }
        }
    }
}

fn add(cell: &mut Figures, f: Figures) {
    cell.visitors += f.visitors;
    cell.visits += f.visits;
    cell.pageviews += f.pageviews;
    cell.events += f.events;
    cell.bounces += f.bounces;
    cell.duration_ms += f.duration_ms;
}

/// Search engines and social networks among Plausible's source names.
const SEARCH: [&str; 9] = ["Google", "Bing", "DuckDuckGo", "Yahoo!", "Yandex", "Ecosia", "Baidu", "Brave", "Qwant"];
const SOCIAL: [&str; 9] =
    ["Facebook", "Twitter", "X", "Reddit", "LinkedIn", "Instagram", "YouTube", "Mastodon", "Pinterest"];

/// A CSV row, its cells found by their column's header.
struct Row<'a> {
    headers: &'a csv::StringRecord,
    record: &'a csv::StringRecord,
}

impl<'a> Row<'a> {
    /// The cell of column `wanted`, trimmed; empty when there is no such column.
    fn text(&self, wanted: &str) -> &'a str {
        let column = self.headers.iter().position(|h| h.trim() == wanted);
        column.and_then(|i| self.record.get(i)).map(str::trim).unwrap_or_default()
    }
}

fn value_of(value: Value, row: &Row) -> Option<String> {
    let text = |wanted: &str| row.text(wanted);
    let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    let source = text("source");
    let direct = source.is_empty() || source == "Direct / None";
    match value {
        Value::Total => None,
        Value::Column(c) => some(text(c)),
        Value::Referrer => {
            let referrer = text("referrer");
            let host = url::Url::parse(referrer).ok().and_then(|u| u.host_str().map(str::to_owned));
            host.or_else(|| some(referrer)).or_else(|| (!direct).then(|| source.to_owned()))
        }
        Value::SourceKind => Some(
            if !text("utm_source").is_empty() || !text("utm_medium").is_empty() || !text("utm_campaign").is_empty() {
                "campaign"
            } else if direct {
                "direct"
            } else if SEARCH.contains(&source) {
                "search"
            } else if SOCIAL.contains(&source) {
                "social"
            } else {
                "other"
            }
            .to_owned(),
        ),
        Value::Device => match text("device") {
            "Desktop" | "Laptop" => Some("desktop".into()),
            "Mobile" => Some("mobile".into()),
            "Tablet" => Some("tablet".into()),
            _ => None,
        },
    }
}

/// `obscura import plausible`: imports and prints the summary.
pub async fn run(app: App, args: PlausibleArgs) -> anyhow::Result<()> {
    let site = super::site(&app, &args.site)?;
    let tally = import(&app, &site, &args.files, app.maintenance.k).await?;
    app.store.close();
    print!("{}", tally.summary());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_file_names_name_their_tables() {
        assert_eq!(table_of("imported_visitors_20230101_20231231.csv").as_deref(), Some("visitors"));
        assert_eq!(table_of("x/imported_entry_pages_20230101_20231231.csv").as_deref(), Some("entry_pages"));
        assert_eq!(table_of("operating_systems_00010101_20250101.csv").as_deref(), Some("operating_systems"));
        assert_eq!(table_of("custom_events.csv").as_deref(), Some("custom_events"));
        assert_eq!(table_of("notes.txt"), None);
    }

    #[test]
    fn plausible_rows_sum_into_cells_and_bad_rows_are_reported_by_line() {
        let sources = "\"date\",\"source\",\"referrer\",\"utm_source\",\"utm_medium\",\"utm_campaign\",\"utm_content\",\"utm_term\",\"pageviews\",\"visitors\",\"visits\",\"visit_duration\",\"bounces\"\n\
            \"2024-03-01\",\"Google\",\"\",\"\",\"\",\"\",\"\",\"\",30,20,22,600,10\n\
            \"2024-03-01\",\"Direct / None\",\"\",\"\",\"\",\"\",\"\",\"\",12,9,9,90,5\n\
            \"2024-03-01\",\"Newsletter\",\"\",\"news\",\"email\",\"spring\",\"\",\"\",7,6,6,60,2\n\
            \"2024-03-01\",\"Hacker News\",\"https://news.ycombinator.com/item?id=1\",\"\",\"\",\"\",\"\",\"\",5,4,4,40,1\n\
            \"March 2nd\",\"Google\",\"\",\"\",\"\",\"\",\"\",\"\",1,1,1,1,1\n\
            \"2024-03-02\",\"Google\",\"\",\"\",\"\",\"\",\"\",\"\",1,-1,1,1,1\n";
        let (mut days, mut tally) = (Days::new(), PlausibleTally::default());
        read_table("imported_sources.csv", sources.as_bytes(), &mapping("sources").unwrap(), &mut days, &mut tally);
        assert_eq!((tally.rows, tally.bad_rows), (6, 2));
        assert!(
            tally.problems.first[0].contains("imported_sources.csv:6: `date` \"March 2nd\""),
            "{:?}",
            tally.problems.first
        );
        assert!(tally.problems.first[1].contains(":7: `visitors` \"-1\" is not a count"), "{:?}", tally.problems.first);
        let day = &days[&time::macros::date!(2024 - 03 - 01)];
        let cell = |dim: &str, value: Option<&str>| day[&(dim.to_owned(), value.map(str::to_owned))];
        assert_eq!(cell("source", Some("search")).visitors, 20);
        assert_eq!(cell("source", Some("direct")).pageviews, 12);
        assert_eq!(cell("source", Some("campaign")).duration_ms, 60_000);
        assert_eq!(cell("source", Some("other")).visits, 4);
        assert_eq!(cell("referrer", Some("news.ycombinator.com")).visitors, 4);
        assert_eq!(cell("referrer", Some("Google")).visitors, 20);
        assert_eq!(cell("referrer", None).visitors, 9, "direct visits have no referrer");
        assert_eq!(cell("utm_campaign", Some("spring")).bounces, 2);
        assert_eq!(cell("utm_campaign", None).visitors, 33);
    }
}
