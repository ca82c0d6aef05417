//! `obscura import`: a site's history from elsewhere. Each import streams its input, shows its
//! progress, and ends with a summary of what it found and stored.

pub mod logs;
pub mod obscura;
pub mod plausible;
pub mod umami;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;
use obscura_store::meta::Site;

use crate::app::App;

/// What `obscura import` reads.
#[derive(clap::Subcommand, Debug)]
pub enum ImportCmd {
    /// Web-server access logs: every page view at its time, through the same privacy path as
    /// live hits; assets, redirects, errors and robots are told apart by rule.
    Logs(logs::LogsArgs),
    /// Plausible's CSV export (its ZIP, or the CSV files): each day's figures kept as
    /// aggregates, k-anonymous like Obscura's own; days with data already are left alone.
    Plausible(plausible::PlausibleArgs),
    /// Umami's data export (its website-event CSV, and optionally its event-data CSV): each
    /// day's figures kept as aggregates, k-anonymous; days with data already are left alone.
    Umami(umami::UmamiArgs),
    /// Another Obscura's full-site export (`obscura export site`): the site's settings, goals
    /// and funnels, its events again through the privacy boundary, its kept aggregates; days
    /// with data already are left alone.
    Obscura(obscura::ObscuraArgs),
}

/// Runs an import against an opened store (the server must be stopped: the store is locked).
pub async fn run(app: App, cmd: ImportCmd) -> anyhow::Result<()> {
    match cmd {
        ImportCmd::Logs(args) => logs::run(app, args).await,
        ImportCmd::Plausible(args) => plausible::run(app, args).await,
        ImportCmd::Obscura(args) => obscura::run(app, args).await,
        ImportCmd::Umami(args) => umami::run(app, args).await,
    }
}

/// The configured site of `domain`, or an error saying how to add it.
pub(crate) fn site(app: &App, domain: &str) -> anyhow::Result<Site> {
    app.pipeline
        .resolve_site(domain)
        .map_err(|_| anyhow::anyhow!("no site {domain:?}: add it first with `obscura site add {domain}`"))
}

/// Days among `days` on which the site already has page views or visitors (its own, or
/// imported before): imports leave them alone rather than count them twice.
pub(crate) async fn days_with_data(
    app: &App,
    site: &Site,
    days: impl IntoIterator<Item = time::Date>,
) -> anyhow::Result<Vec<time::Date>> {
    let days: Vec<time::Date> = days.into_iter().collect();
    let (Some(first), Some(last)) = (days.iter().min(), days.iter().max()) else { return Ok(Vec::new()) };
    let range = obscura_query::TimeRange {
        from: first.midnight().assume_utc(),
        to: (last.next_day().unwrap_or(*last)).midnight().assume_utc(),
    };
    let q = obscura_query::Query { site: site.id, range, filters: Vec::new() };
    let series = app.store.timeseries(&q, obscura_query::Interval::Day).await?;
    Ok(series
        .iter()
        .filter(|p| p.pageviews > 0 || p.visitors > 0)
        .filter_map(|p| time::OffsetDateTime::from_unix_timestamp(p.bucket_ms / 1000).ok().map(|t| t.date()))
        .collect())
}

/// Keeps a day's imported cells as aggregates, k-anonymous like Obscura's own (P3). Returns
/// the cells kept (none stored when none is left) and how many were under k visitors.
pub(crate) async fn keep_k_anonymous(
    app: &App,
    day: time::Date,
    cells: &[obscura_store::RollupCell],
    k: u32,
) -> anyhow::Result<(Vec<obscura_store::RollupCell>, u64)> {
    let kept = obscura_store::aggregates::k_anonymize(cells, k);
    let below_k = cells.iter().filter(|c| c.visitors < i64::from(k)).count() as u64;
    if !kept.is_empty() {
        app.store.keep_aggregates(day, &kept).await?;
    }
    Ok((kept, below_k))
}

/// A dimension's value from an imported file, scrubbed as a live event's would be (P1): pages
/// as page paths, anything else as a label.
pub(crate) fn clean_value(dim: &str, value: &str) -> String {
    match dim {
        "page" | "entry_page" | "exit_page" | "previous_page" => obscura_privacy::page_url::scrub_page_path(value),
        prop if prop.starts_with("prop:") => obscura_privacy::page_url::scrub_property_value(value),
        _ => obscura_privacy::scrub::scrub_label(value),
    }
    .into_string()
}

/// A file's name in messages.
pub(crate) fn display(file: &Path) -> String {
    if file == Path::new("-") { "standard input".into() } else { file.display().to_string() }
}

/// A file (or `-`: standard input) to read lines from, gunzipped when it is compressed, with
/// its progress bar.
pub(crate) fn open(path: &Path) -> anyhow::Result<(Box<dyn BufRead>, Progress)> {
    let (raw, progress): (Box<dyn Read>, Progress) = if path == Path::new("-") {
        let progress = Progress::spinner("standard input");
        (Box::new(progress.wrap(std::io::stdin())), progress)
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let progress = Progress::bar(&path.display().to_string(), size);
        (Box::new(progress.wrap(file)), progress)
    };
    let mut buffered = BufReader::with_capacity(1 << 20, raw);
    let gzipped = buffered.fill_buf().is_ok_and(|head| head.starts_with(&[0x1f, 0x8b]));
    if gzipped {
        let gunzipped = flate2::bufread::MultiGzDecoder::new(buffered);
        return Ok((Box::new(BufReader::with_capacity(1 << 20, gunzipped)), progress));
    }
    Ok((Box::new(buffered), progress))
}

/// Problems met on the way (unreadable lines or rows, skipped files): all counted, the first
/// few kept to show with where they were.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems {
    /// How many there were.
    pub count: u64,
    /// The first ones, each saying where and why.
    pub first: Vec<String>,
}

impl Problems {
    /// Problems shown one by one.
    const SHOWN: usize = 5;

    /// Counts one, keeping its text if it is among the first.
    pub fn add(&mut self, text: String) {
        self.count += 1;
        if self.first.len() < Self::SHOWN {
            self.first.push(text);
        }
    }

    /// Adds another part's problems.
    pub fn merge(&mut self, other: Problems) {
        self.count += other.count;
        let room = Self::SHOWN.saturating_sub(self.first.len());
        self.first.extend(other.first.into_iter().take(room));
    }

    /// The problems kept, one per indented line, and how many more there were.
    pub fn lines(&self) -> String {
        let mut out: String = self.first.iter().map(|p| format!("    {p}\n")).collect();
        if self.count > self.first.len() as u64 {
            out.push_str(&format!("    … and {} more\n", self.count - self.first.len() as u64));
        }
        out
    }
}

/// A progress bar on standard error (hidden when it is no terminal).
pub struct Progress(indicatif::ProgressBar);

impl Progress {
    /// A bar for reading `size` bytes of `name`.
    pub fn bar(name: &str, size: u64) -> Self {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {msg} (eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_owned());
        Progress(bar)
    }

    /// A spinner for input of unknown size.
    pub fn spinner(name: &str) -> Self {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} {spinner} {bytes} {bytes_per_sec}, {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_prefix(name.to_owned());
        Progress(bar)
    }

    /// A bar for `total` steps of `unit` (days, files).
    pub fn steps(name: &str, total: u64, unit: &str) -> Self {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{msg}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_owned());
        Progress(bar)
    }

    /// One step done; `message` says how far.
    pub fn inc(&self, message: String) {
        self.0.inc(1);
        self.0.set_message(message);
    }

    /// `reader`, advancing the bar by the bytes read.
    pub fn wrap<R: std::io::Read>(&self, reader: R) -> indicatif::ProgressBarIter<R> {
        self.0.wrap_read(reader)
    }

    /// Shows how many lines were read.
    pub fn lines(&self, lines: u64) {
        self.0.set_message(format!("{lines} lines"));
    }

    /// Leaves the bar as it ended.
    pub fn finish(&self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p01_imported_aggregate_values_are_scrubbed_as_live_ones() {
        assert_eq!(clean_value("page", "/users/jane.doe@example.com/orders/88123456?x=1"), "/users/:email/orders/:id");
        assert_eq!(clean_value("exit_page", "/blog/"), "/blog");
        assert!(!clean_value("utm_campaign", "for jane.doe@example.com").contains("jane.doe"));
        assert!(!clean_value("prop:link", "https://shop.example/a?token=secret").contains("secret"));
        assert_eq!(clean_value("browser", "Firefox"), "Firefox");
    }
}
