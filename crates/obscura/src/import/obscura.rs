//! `obscura import obscura`: another installation's full-site export ([`crate::site_archive`]).
//!
//! The site is added if it is missing, with the exported settings; goals and funnels it lacks
//! are added. Every event is made again at the privacy boundary
//! ([`obscura_ingest::desensitize::reimported`]): its text scrubbed, its visitor and visit
//! numbers re-keyed with a key of this import's that is never stored. Kept aggregates are
//! scrubbed and k-anonymized again with this installation's k. Days on which the site already
//! has data are left alone; days past this installation's retention become aggregates in the
//! maintenance round that ends the import (P3, P13).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use obscura_privacy::Rekey;
use obscura_store::meta::Site;
use obscura_store::{DayCell, RollupCell, StoredRow};
use time::Date;

use super::Problems;
use crate::app::App;
use crate::site_archive::{Entry, FORMAT, KeptFile, MANIFEST, Manifest, VERSION, next_line};

/// `obscura import obscura`.
#[derive(clap::Args, Debug)]
pub struct ObscuraArgs {
    /// The site to import into; the exported site's domain when absent (added if missing).
    #[arg(long)]
    pub site: Option<String>,
    /// The export (`obscura export site`).
    pub file: PathBuf,
}

/// What an import found and stored.
#[derive(Debug, Default)]
pub struct ObscuraTally {
    /// The site imported into.
    pub site: String,
    /// Whether the site was added by the import.
    pub site_added: bool,
    /// Goals added.
    pub goals_added: u32,
    /// Funnels added.
    pub funnels_added: u32,
    /// Events stored.
    pub events: u64,
    /// Days whose events were stored.
    pub event_days: u32,
    /// Days kept as aggregates.
    pub kept_days: u32,
    /// Days left alone because the site has data on them.
    pub days_skipped: u32,
    /// Unreadable lines and entries.
    pub problems: Problems,
}

impl ObscuraTally {
    /// The summary printed at the end.
    pub fn summary(&self) -> String {
        let added = if self.site_added { " (added)" } else { "" };
        let mut out = format!(
            "imported into {}{added}\n  events stored:            {} on {} days\n  days kept as aggregates:  {}\n  days with data already:   {} (left alone)\n  goals, funnels added:     {}, {}\n  unreadable:               {}\n",
            self.site,
            self.events,
            self.event_days,
            self.kept_days,
            self.days_skipped,
            self.goals_added,
            self.funnels_added,
            self.problems.count,
        );
        out.push_str(&self.problems.lines());
        out
    }
}

/// Events stored at once.
const CHUNK: usize = 100_000;

/// Imports `file` into `domain` (or the exported site's domain).
pub async fn import(app: &App, domain: Option<&str>, file: &std::path::Path) -> anyhow::Result<ObscuraTally> {
    let opened = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut archive = zip::ZipArchive::new(opened)
        .with_context(|| format!("{} is not a ZIP file (an `obscura export site` file)", file.display()))?;
    let manifest =
        read_manifest(&mut archive).with_context(|| format!("{} is no Obscura site export", file.display()))?;
    let mut tally = ObscuraTally::default();
    let site = target_site(app, &manifest.site, domain, &mut tally)?;
    tally.site = site.domain.clone();
    let mut entries: Vec<Entry> = archive.file_names().filter_map(Entry::parse).collect();
    entries.sort();
    let days = entries.iter().map(|e| match e {
        Entry::Events(d) | Entry::Kept(d) => *d,
    });
    let mut have: BTreeSet<Date> = super::days_with_data(app, &site, days).await?.into_iter().collect();
    let progress = super::Progress::steps("importing", entries.len() as u64, "days");
    let rekey = Rekey::new();
    let now_ms = app.state.clock.now_ms();
    for entry in entries {
        progress.inc(format!("{} events", tally.events));
        let (Entry::Events(day) | Entry::Kept(day)) = entry;
        if have.contains(&day) {
            tally.days_skipped += 1;
            continue;
        }
        let mut zipped = archive.by_name(&entry.name())?;
        match entry {
            Entry::Events(day) => {
                let mut reader = std::io::BufReader::new(&mut zipped);
                let stored =
                    import_events(app, &site, day, now_ms, &rekey, &entry.name(), &mut reader, &mut tally).await?;
                tally.events += stored;
                tally.event_days += u32::from(stored > 0);
                // A file that also holds kept cells of this day would count it twice.
                have.insert(day);
            }
            Entry::Kept(day) => {
                let mut text = Vec::new();
                (&mut zipped).take(1 << 30).read_to_end(&mut text)?;
                match serde_json::from_slice::<KeptFile>(&text) {
                    Err(e) => tally.problems.add(format!("{}: {e}", entry.name())),
                    Ok(kept) => {
                        keep(app, &site, day, kept).await?;
                        tally.kept_days += 1;
                    }
                }
            }
        }
    }
    progress.finish();
    Ok(tally)
}

/// The manifest, if the file is an export this build reads.
fn read_manifest(archive: &mut zip::ZipArchive<std::fs::File>) -> anyhow::Result<Manifest> {
    let mut text = Vec::new();
    archive.by_name(MANIFEST).context("it has no site.json")?.take(16 << 20).read_to_end(&mut text)?;
    let manifest: Manifest = serde_json::from_slice(&text).context("its site.json cannot be read")?;
    anyhow::ensure!(manifest.format == FORMAT, "its format is {:?}, not {FORMAT:?}", manifest.format);
    anyhow::ensure!(
        manifest.version <= VERSION,
        "it was written by a newer Obscura (layout version {}); this one reads up to {VERSION}",
        manifest.version
    );
    Ok(manifest)
}

/// The site to import into: `domain`'s, or the exported one's, added with the exported
/// settings if missing; goals and funnels it lacks are added.
fn target_site(app: &App, exported: &Site, domain: Option<&str>, tally: &mut ObscuraTally) -> anyhow::Result<Site> {
    let domain = domain.unwrap_or(&exported.domain);
    let admin = crate::admin::cli(&*app.meta, &*app.state.audit);
    if app.meta.get().site_by_domain(domain).is_none() {
        admin.add_site(domain, exported.respect_dnt, exported.retention_days)?;
        tally.site_added = true;
    }
    let site = super::site(app, domain)?;
    for goal in &exported.goals {
        if !site.goals.iter().any(|g| g.name == goal.name) {
            admin.add_goal(domain, goal.clone())?;
            tally.goals_added += 1;
        }
    }
    for funnel in &exported.funnels {
        if !site.funnels.iter().any(|f| f.name == funnel.name) {
            admin.add_funnel(domain, funnel.clone())?;
            tally.funnels_added += 1;
        }
    }
    super::site(app, domain)
}

/// Stores a day's events, in chunks, and rolls the day up once; returns how many were stored.
#[allow(clippy::too_many_arguments)]
async fn import_events(
    app: &App,
    site: &Site,
    day: Date,
    now_ms: i64,
    rekey: &Rekey,
    name: &str,
    reader: &mut impl std::io::BufRead,
    tally: &mut ObscuraTally,
) -> anyhow::Result<u64> {
    let first_ms = obscura_model::unix_ms(day.midnight().assume_utc());
    let end_ms = first_ms + 86_400_000;
    let mut line = Vec::new();
    let mut events = Vec::new();
    let mut stored = 0;
    let mut number = 0;
    while let Some(read) = next_line(reader, &mut line)? {
        number += 1;
        let event = read
            .map_err(|length| format!("a line of more than {length} bytes"))
            .and_then(|()| serde_json::from_slice::<StoredRow>(&line).map_err(|e| e.to_string()))
            .and_then(|row| {
                if !(first_ms..end_ms).contains(&row.ts_ms) || row.ts_ms > now_ms {
                    return Err(format!(
                        "its time {} is not on {day} or is in the future",
                        obscura_model::format_ms(row.ts_ms)
                    ));
                }
                let visitor = rekey.visitor(row.visitor);
                let visit = rekey.number("visit", row.visit);
                let mut event = obscura_ingest::desensitize::reimported(&row, visitor, visit)?;
                event.site = site.id;
                Ok(event)
            });
        match event {
            Ok(event) => events.push(event),
            Err(why) => tally.problems.add(format!("{name}:{number}: {why}")),
        }
        if events.len() >= CHUNK {
            stored += events.len() as u64;
            app.store.import_unrolled(std::mem::take(&mut events)).await?;
        }
    }
    stored += events.len() as u64;
    if !events.is_empty() {
        app.store.import_unrolled(events).await?;
    }
    if stored > 0 {
        app.store.roll_up_days(&[day]).await?;
    }
    Ok(stored)
}

/// Keeps a day's exported aggregates for `site`: values scrubbed, cells k-anonymous again.
async fn keep(app: &App, site: &Site, day: Date, kept: KeptFile) -> anyhow::Result<()> {
    let cells: Vec<RollupCell> = kept
        .aggregates
        .into_iter()
        .map(|c| RollupCell { site: site.id, value: c.value.as_deref().map(|v| super::clean_value(&c.dim, v)), ..c })
        .collect();
    let cells = obscura_store::aggregates::k_anonymize(&cells, app.maintenance.k);
    app.store.keep_aggregates(day, &cells).await?;
    let measures: Vec<DayCell> = kept
        .measures
        .into_iter()
        .map(|c| DayCell {
            site: site.id,
            keys: c.keys.iter().map(|k| obscura_privacy::scrub::scrub_label(k).into_string()).collect(),
            ..c
        })
        .collect();
    app.store.keep_measures(day, &measures).await?;
    Ok(())
}

/// `obscura import obscura`: imports, runs one round of maintenance, prints the summary.
pub async fn run(app: App, args: ObscuraArgs) -> anyhow::Result<()> {
    let tally = import(&app, args.site.as_deref(), &args.file).await;
    if tally.is_ok() {
        app.maintenance.run_once().await;
    }
    app.store.close();
    let tally = tally?;
    print!("{}", tally.summary());
    Ok(())
}
