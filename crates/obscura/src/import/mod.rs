//! `obscura import`: a site's history from elsewhere. Each import streams its input, shows its
//! progress, and ends with a summary of what it found and stored.

pub mod logs;
pub mod plausible;

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
}

/// Runs an import against an opened store (the server must be stopped: the store is locked).
pub async fn run(app: App, cmd: ImportCmd) -> anyhow::Result<()> {
    match cmd {
        ImportCmd::Logs(args) => logs::run(app, args).await,
        ImportCmd::Plausible(args) => plausible::run(app, args).await,
    }
}

/// The configured site of `domain`, or an error saying how to add it.
fn site(app: &App, domain: &str) -> anyhow::Result<Site> {
    app.pipeline
        .resolve_site(domain)
        .map_err(|_| anyhow::anyhow!("no site {domain:?}: add it first with `obscura site add {domain}`"))
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
