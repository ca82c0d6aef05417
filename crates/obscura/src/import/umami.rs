//! `obscura import umami`: Umami's data export, in the layout Umami documents for moving data
//! between its installations (<https://umami.is/docs/cloud/import-data>): a website-event CSV
//! (`website_id, session_id, visit_id, event_id, hostname, browser, os, device, screen,
//! language, country, subdivision1, subdivision2, city, url_path, url_query, referrer_path,
//! referrer_query, referrer_domain, page_title, event_type, event_name, created_at`), plain or
//! gzip-compressed, columns found by header.
//!
//! Each day becomes kept aggregates, as for Plausible's export: totals, pages, entry and exit
//! pages, referrers, sources and campaigns, countries, provinces, browsers, operating systems,
//! devices, screens and custom events, k-anonymized (P3), every value scrubbed (P1). Property
//! values are not kept in daily aggregates (nor are Obscura's own), so Umami's event-data CSV
//! is named and skipped. Umami's session and visit ids count visitors and visits and are then
//! dropped: they are hashed in memory with a random key and never stored (P4). Cities,
//! second-level subdivisions, languages and page titles are not kept (P2, P6).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;
use std::path::PathBuf;

use obscura_privacy::page_url::normalize_page;
use obscura_privacy::referrer;
use obscura_store::aggregates::RollupCell;
use obscura_store::meta::Site;
use time::{Date, PrimitiveDateTime};

use super::Problems;
use crate::app::App;

/// `obscura import umami`.
#[derive(clap::Args, Debug)]
pub struct UmamiArgs {
    /// The site to import into.
    #[arg(long)]
    pub site: String,
    /// Umami's website-event CSVs (plain or gzip).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// One visit of a day, as its events show it.
#[derive(Default)]
struct Visit {
    visitor: u64,
    first_ms: i64,
    last_ms: i64,
    pageviews: i64,
    events: i64,
    /// (time, page) of the first and last page view.
    entry: Option<(i64, String)>,
    exit: Option<(i64, String)>,
    /// What the visit's earliest event says of it (source, country, browser, …), and when.
    traits: (i64, Vec<(&'static str, String)>),
}

/// An event-level cell: a page or a custom event.
#[derive(Default)]
struct EventCell {
    visitors: HashSet<u64>,
    pageviews: i64,
    events: i64,
}

/// A day's visits and event-level cells.
#[derive(Default)]
struct Day {
    visits: HashMap<u64, Visit>,
    cells: HashMap<(String, String), EventCell>,
}

/// What an import found and kept.
#[derive(Debug, Default)]
pub struct UmamiTally {
    /// Rows read.
    pub rows: u64,
    /// Page views read.
    pub page_views: u64,
    /// Custom events read.
    pub events: u64,
    /// Days kept.
    pub days: u32,
    /// Days left alone because the site has data on them.
    pub days_skipped: u32,
    /// Cells kept, and cells of fewer than k visitors left out.
    pub cells: u64,
    /// Cells under k visitors.
    pub cells_below_k: u64,
    /// Unreadable rows and skipped files.
    pub problems: Problems,
}

impl UmamiTally {
    /// The summary printed at the end.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "read {} rows ({} unreadable)\n  days imported:            {}\n  days with data already:   {} (left alone)\n  page views:               {}\n  custom events:            {}\n  cells kept:               {}\n  cells under k visitors:   {} (left out, P3)\n",
            self.rows,
            self.problems.count,
            self.days,
            self.days_skipped,
            self.page_views,
            self.events,
            self.cells,
            self.cells_below_k,
        );
        out.push_str(&self.problems.lines());
        out
    }
}

/// Umami's browser names (from its `detect-browser`) as Obscura names them.
fn browser_name(umami: &str) -> String {
    match umami {
        "chrome" | "crios" | "chromium-webview" => "Chrome".into(),
        "firefox" | "fxios" => "Firefox".into(),
        "safari" | "ios" | "ios-webview" => "Safari".into(),
        "edge" | "edge-chromium" | "edge-ios" => "Edge".into(),
        "opera" | "opera-mini" => "Opera".into(),
        "samsung" => "Samsung Internet".into(),
        "yandexbrowser" => "Yandex Browser".into(),
        "android" => "Android Browser".into(),
        other => {
            let mut chars = other.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

/// Umami's operating-system names as Obscura names them (`Windows 10` → `Windows`).
fn os_name(umami: &str) -> String {
    match umami {
        "Mac OS" | "macOS" => "macOS".into(),
        "Android OS" => "Android".into(),
        "Chrome OS" => "ChromeOS".into(),
        windows if windows.starts_with("Windows") => "Windows".into(),
        other => other.to_owned(),
    }
}

/// Umami's `created_at`: `YYYY-MM-DD HH:MM:SS` (UTC), or ISO 8601 with `T`, fraction and `Z`.
fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z').replacen('T', " ", 1);
    let text = text.split('.').next()?;
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let at = PrimitiveDateTime::parse(text, format).ok()?.assume_utc();
    Some(obscura_model::unix_ms(at))
}

/// A CSV row's cells by column name.
struct Row<'a> {
    columns: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, name: &str) -> &str {
        self.columns.get(name).and_then(|i| self.record.get(*i)).map_or("", str::trim)
    }
}

/// Reads the rows of every file into `days`.
struct Reader {
    days: BTreeMap<Date, Day>,
    ids: RandomState,
    tally: UmamiTally,
}

impl Reader {
    fn id(&self, text: &str) -> u64 {
        self.ids.hash_one(text)
    }

    fn read_file(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let (input, progress) = super::open(path)?;
        self.read_csv(&super::display(path), input, Some(&progress))?;
        progress.finish();
        Ok(())
    }

    /// Adds the events of one CSV (`name` for the problems it reports).
    fn read_csv(
        &mut self,
        name: &str,
        input: impl std::io::Read,
        progress: Option<&super::Progress>,
    ) -> anyhow::Result<()> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let columns: HashMap<String, usize> =
            reader.headers()?.iter().enumerate().map(|(i, h)| (h.trim().to_ascii_lowercase(), i)).collect();
        if columns.contains_key("event_key") || columns.contains_key("data_key") {
            let why = "event data: property values are not kept in daily aggregates";
            self.tally.problems.add(format!("{name}: skipped, {why}"));
            return Ok(());
        }
        if !(columns.contains_key("url_path") && columns.contains_key("event_type")) {
            self.tally.problems.add(format!("{name}: skipped, not Umami's website-event CSV"));
            return Ok(());
        }
        for (index, record) in reader.records().enumerate() {
            self.tally.rows += 1;
            let line = index + 2;
            let read = record.map_err(|e| e.to_string()).and_then(|record| {
                let row = Row { columns: &columns, record: &record };
                self.add_event(&row)
            });
            if let Err(why) = read {
                self.tally.problems.add(format!("{name}:{line}: {why}"));
            }
            if let Some(progress) = progress.filter(|_| self.tally.rows.is_multiple_of(10_000)) {
                progress.lines(self.tally.rows);
            }
        }
        Ok(())
    }

    fn time(row: &Row) -> Result<(i64, Date), String> {
        let at = parse_time(row.get("created_at"))
            .ok_or_else(|| format!("`created_at` {:?} is not a UTC time", row.get("created_at")))?;
        Ok((at, obscura_model::day_of_ms(at)))
    }

    fn session(&self, row: &Row) -> Result<u64, String> {
        match row.get("session_id") {
            "" => Err("no `session_id`".into()),
            id => Ok(self.id(id)),
        }
    }

    fn add_event(&mut self, row: &Row) -> Result<(), String> {
        let (at, day) = Self::time(row)?;
        let visitor = self.session(row)?;
        let pageview = match row.get("event_type") {
            "1" => true,
            "2" => false,
            other => return Err(format!("`event_type` {other:?} is neither 1 (page view) nor 2 (custom event)")),
        };
        let host = match row.get("hostname") {
            "" => "site.invalid",
            host => host,
        };
        let query = row.get("url_query");
        let url = format!("https://{host}{}{}{query}", row.get("url_path"), if query.is_empty() { "" } else { "?" });
        let page = normalize_page(&url).map_err(|e| format!("`url_path` cannot be a page: {e}"))?;
        let path = page.path.as_str().to_owned();
        let visit = match row.get("visit_id") {
            // Before Umami 2.10 there were no visits: a session's hour stands for one.
            "" => self.id(&format!("{}/{}", row.get("session_id"), at / 3_600_000)),
            id => self.id(id),
        };
        let mut traits = Vec::new();
        if pageview {
            let has_utm = page.utm_source.is_some() || page.utm_medium.is_some() || page.utm_campaign.is_some();
            let referrer_url = match row.get("referrer_domain") {
                "" => None,
                domain => Some(format!("https://{domain}{}", row.get("referrer_path"))),
            };
            let referral = referrer::classify(referrer_url.as_deref(), page.host.as_str(), has_utm);
            traits.push(("source", referral.source.as_str().to_owned()));
            if let Some(host) = referral.host {
                traits.push(("referrer", host.into_string()));
            }
            let utm = [("utm_source", page.utm_source.or(page.ref_param)), ("utm_medium", page.utm_medium)];
            for (dim, value) in utm.into_iter().chain([("utm_campaign", page.utm_campaign)]) {
                if let Some(value) = value {
                    traits.push((dim, value.into_string()));
                }
            }
        }
        let country = row.get("country").to_ascii_uppercase();
        if let Some(continent) = obscura_enrich::continent_of(&country) {
            traits.push(("country", country.clone()));
            traits.push(("continent", continent.to_owned()));
        }
        let session_traits = [
            ("province", row.get("subdivision1").to_owned()),
            ("browser", browser_name(row.get("browser"))),
            ("os", os_name(row.get("os"))),
        ];
        traits.extend(session_traits.into_iter().filter(|(_, v)| !v.is_empty()));
        match row.get("device") {
            "desktop" | "laptop" => traits.push(("device_type", "desktop".into())),
            device @ ("mobile" | "tablet") => traits.push(("device_type", device.into())),
            _ => {}
        }
        let width = row.get("screen").split('x').next().and_then(|w| w.parse::<u32>().ok());
        if let Some(width) = width.filter(|w| *w > 0) {
            traits.push(("screen", obscura_model::ScreenClass::from_width(width).as_str().to_owned()));
        }
        let the_day = self.days.entry(day).or_default();
        let visit = the_day.visits.entry(visit).or_insert_with(|| Visit {
            visitor,
            first_ms: at,
            last_ms: at,
            traits: (i64::MAX, Vec::new()),
            ..Visit::default()
        });
        visit.first_ms = visit.first_ms.min(at);
        visit.last_ms = visit.last_ms.max(at);
        if at < visit.traits.0 && (pageview || visit.traits.1.is_empty()) {
            visit.traits = (at, traits);
        }
        let (dim, value) = if pageview {
            visit.pageviews += 1;
            self.tally.page_views += 1;
            if visit.entry.as_ref().is_none_or(|(t, _)| at < *t) {
                visit.entry = Some((at, path.clone()));
            }
            if visit.exit.as_ref().is_none_or(|(t, _)| at >= *t) {
                visit.exit = Some((at, path.clone()));
            }
            ("page", path)
        } else {
            visit.events += 1;
            self.tally.events += 1;
            match row.get("event_name") {
                "" => return Err("a custom event without `event_name`".into()),
                name => ("event", name.to_owned()),
            }
        };
        let cell = the_day.cells.entry((dim.to_owned(), value)).or_default();
        cell.visitors.insert(visitor);
        if pageview {
            cell.pageviews += 1
        } else {
            cell.events += 1
        }
        Ok(())
    }
}

/// A day's cells for `site`: totals, the visits' traits and pages, and the event-level cells.
fn cells_of(site: u32, day: Day) -> Vec<RollupCell> {
    // Per (dimension, value): the visits' visitors, and their visits, page views, custom
    // events, bounces and duration.
    type Sums = (HashSet<u64>, [i64; 5]);
    let mut by_visit: BTreeMap<(String, Option<String>), Sums> = BTreeMap::new();
    for visit in day.visits.values() {
        let bounce = i64::from(visit.pageviews <= 1);
        let figures = [1, visit.pageviews, visit.events, bounce, visit.last_ms - visit.first_ms];
        let mut keys: Vec<(String, Option<String>)> = vec![(String::new(), None)];
        keys.extend(visit.traits.1.iter().map(|(dim, value)| ((*dim).to_owned(), Some(value.clone()))));
        for (dim, page) in [("entry_page", &visit.entry), ("exit_page", &visit.exit)] {
            keys.extend(page.as_ref().map(|(_, p)| (dim.to_owned(), Some(p.clone()))));
        }
        for key in keys {
            let (visitors, sums) = by_visit.entry(key).or_default();
            visitors.insert(visit.visitor);
            for (sum, n) in sums.iter_mut().zip(figures) {
                *sum += n;
            }
        }
    }
    // A page's visits are the visits that began on it.
    let mut entries: HashMap<&str, [i64; 3]> = HashMap::new();
    for visit in day.visits.values() {
        if let Some((_, page)) = &visit.entry {
            let e = entries.entry(page.as_str()).or_default();
            e[0] += 1;
            e[1] += i64::from(visit.pageviews <= 1);
            e[2] += visit.last_ms - visit.first_ms;
        }
    }
    let mut cells: Vec<RollupCell> = by_visit
        .into_iter()
        .map(|((dim, value), (visitors, [visits, pageviews, events, bounces, duration_ms]))| RollupCell {
            value: value.map(|v| super::clean_value(&dim, &v)),
            site,
            dim,
            visitors: visitors.len() as i64,
            visits,
            pageviews,
            events,
            bounces,
            duration_ms,
        })
        .collect();
    for ((dim, value), cell) in &day.cells {
        let [visits, bounces, duration_ms] =
            if dim == "page" { entries.get(value.as_str()).copied() } else { None }.unwrap_or_default();
        cells.push(RollupCell {
            site,
            dim: dim.clone(),
            value: Some(super::clean_value(dim, value)),
            visitors: cell.visitors.len() as i64,
            visits,
            pageviews: cell.pageviews,
            events: cell.events,
            bounces,
            duration_ms,
        });
    }
    cells
}

/// The cells (of site 1, before k-anonymity) that a website-event CSV makes, as an import reads
/// it, and what was read: without a store, for the fuzzer and tests.
pub fn cells_of_csv(bytes: &[u8]) -> (Vec<RollupCell>, UmamiTally) {
    let mut reader = Reader { days: BTreeMap::new(), ids: RandomState::new(), tally: UmamiTally::default() };
    if let Err(e) = reader.read_csv("website_event.csv", bytes, None) {
        reader.tally.problems.add(format!("website_event.csv: {e}"));
    }
    let cells = std::mem::take(&mut reader.days).into_values().flat_map(|day| cells_of(1, day)).collect();
    (cells, reader.tally)
}

/// Reads `files` and keeps each day's k-anonymous cells for `site`; days with data are left alone.
pub async fn import(app: &App, site: &Site, files: &[PathBuf], k: u32) -> anyhow::Result<UmamiTally> {
    let mut reader = Reader { days: BTreeMap::new(), ids: RandomState::new(), tally: UmamiTally::default() };
    for file in files {
        reader.read_file(file)?;
    }
    let Reader { days, mut tally, .. } = reader;
    anyhow::ensure!(
        tally.rows > tally.problems.count,
        "no readable row of Umami's website-event CSV in {files:?}{}",
        if tally.problems.first.is_empty() { String::new() } else { format!(":\n{}", tally.problems.lines()) }
    );
    let have = super::days_with_data(app, site, days.keys().copied()).await?;
    for (day, contents) in days {
        if have.contains(&day) {
            tally.days_skipped += 1;
            continue;
        }
        let (kept, below_k) = super::keep_k_anonymous(app, day, &cells_of(site.id, contents), k).await?;
        tally.cells += kept.len() as u64;
        tally.cells_below_k += below_k;
        tally.days += u32::from(!kept.is_empty());
    }
    Ok(tally)
}

/// `obscura import umami`: imports and prints the summary.
pub async fn run(app: App, args: UmamiArgs) -> anyhow::Result<()> {
    let site = super::site(&app, &args.site)?;
    let tally = import(&app, &site, &args.files, app.maintenance.k).await;
    app.store.close();
    print!("{}", tally?.summary());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> Reader {
        Reader { days: BTreeMap::new(), ids: RandomState::new(), tally: UmamiTally::default() }
    }

    const HEADER: &str = "website_id,session_id,visit_id,event_id,hostname,browser,os,device,screen,language,country,subdivision1,subdivision2,city,url_path,url_query,referrer_path,referrer_query,referrer_domain,page_title,event_type,event_name,created_at";

    fn read(csv_text: &str) -> Reader {
        let mut r = reader();
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(csv_text.as_bytes());
        let columns: HashMap<String, usize> =
            csv.headers().unwrap().iter().enumerate().map(|(i, h)| (h.to_owned(), i)).collect();
        for (i, record) in csv.records().enumerate() {
            let record = record.unwrap();
            let row = Row { columns: &columns, record: &record };
            if let Err(why) = r.add_event(&row) {
                r.tally.problems.add(format!("{}: {why}", i + 2));
            }
        }
        r
    }

    #[test]
    fn umami_rows_become_visits_pages_and_traits_of_the_day() {
        let rows = [
            "w,s1,v1,e1,shop.example,chrome,Windows 10,desktop,1920x1080,en-US,DE,DE-BW,,Stuttgart,/,utm_source=news&utm_campaign=spring,,,,Home,1,,2024-03-01 10:00:00",
            "w,s1,v1,e2,shop.example,chrome,Windows 10,desktop,1920x1080,en-US,DE,DE-BW,,Stuttgart,/pricing,,,,,Pricing,1,,2024-03-01 10:05:00",
            "w,s1,v1,e3,shop.example,chrome,Windows 10,desktop,1920x1080,en-US,DE,DE-BW,,Stuttgart,/pricing,,,,,Pricing,2,signup,2024-03-01 10:06:00",
            "w,s2,v2,e4,shop.example,ios,iOS,mobile,390x844,de-DE,FR,,,,/users/jane.doe@example.com,,/search,q=x,www.google.com,,1,,2024-03-01T11:00:00.000Z",
            "w,s2,v2,e5,shop.example,ios,iOS,mobile,390x844,de-DE,FR,,,,/,,,,,,7,,2024-03-01 11:00:00",
            "w,s3,v3,e6,shop.example,firefox,Linux,desktop,,en,,,,,/,,,,,,1,,March 1st",
        ];
        let r = read(&format!("{HEADER}\n{}\n", rows.join("\n")));
        assert_eq!(r.tally.problems.count, 2, "{:?}", r.tally.problems);
        assert!(r.tally.problems.first[0].contains("`event_type` \"7\""), "{:?}", r.tally.problems);
        assert!(r.tally.problems.first[1].contains("`created_at` \"March 1st\""), "{:?}", r.tally.problems);
        let day = time::macros::date!(2024 - 03 - 01);
        let cells = cells_of(
            9,
            r.days
                .into_iter()
                .next()
                .map(|(d, c)| {
                    assert_eq!(d, day);
                    c
                })
                .unwrap(),
        );
        let find = |dim: &str, value: Option<&str>| {
            cells
                .iter()
                .find(|c| c.dim == dim && c.value.as_deref() == value)
                .unwrap_or_else(|| panic!("{dim} {value:?}: {cells:?}"))
        };
        let total = find("", None);
        assert_eq!((total.visitors, total.visits, total.pageviews, total.events, total.bounces), (2, 2, 3, 1, 1));
        assert_eq!(total.duration_ms, 6 * 60_000);
        assert_eq!((find("page", Some("/pricing")).pageviews, find("page", Some("/pricing")).visits), (1, 0));
        assert_eq!(find("page", Some("/")).visits, 1, "one visit began on the home page");
        assert_eq!(find("entry_page", Some("/")).visitors, 1);
        assert_eq!(find("exit_page", Some("/pricing")).pageviews, 2, "the visit's page views");
        assert_eq!(find("utm_campaign", Some("spring")).visits, 1);
        assert_eq!(find("source", Some("campaign")).visitors, 1);
        assert_eq!(find("source", Some("search")).visitors, 1);
        assert_eq!(find("referrer", Some("google.com")).visits, 1);
        assert_eq!(find("browser", Some("Chrome")).visitors, 1);
        assert_eq!(find("browser", Some("Safari")).visitors, 1);
        assert_eq!(find("os", Some("Windows")).visitors, 1);
        assert_eq!(find("device_type", Some("mobile")).visitors, 1);
        assert_eq!(find("screen", Some("mobile")).visitors, 1);
        assert_eq!(find("continent", Some("EU")).visitors, 2);
        assert_eq!(find("event", Some("signup")).events, 1);
        assert_eq!(find("page", Some("/users/:email")).pageviews, 1, "paths are scrubbed as live ones (P1)");
        assert!(
            !cells.iter().any(|c| c.value.as_deref().is_some_and(|v| v.contains("Stuttgart") || v.contains("jane")))
        );
    }

    #[test]
    fn umami_times_read_both_layouts() {
        assert_eq!(parse_time("2024-03-01 10:00:00"), Some(1_709_287_200_000));
        assert_eq!(parse_time("2024-03-01T10:00:00.123Z"), Some(1_709_287_200_000));
        assert_eq!(parse_time("yesterday"), None);
    }
}
