//! `obscura export site`: a whole site in one file ([`crate::site_archive`]), for moving it to
//! another installation.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use obscura_privacy::Rekey;
use obscura_store::EventStore;
use obscura_store::meta::Site;
use zip::write::SimpleFileOptions;

use crate::app::App;
use crate::site_archive::{Entry, FORMAT, KeptFile, MANIFEST, Manifest, VERSION};

/// `obscura export site`.
#[derive(clap::Args, Debug)]
pub struct SiteArgs {
    /// The site's domain.
    #[arg(long)]
    pub site: String,
    /// The file to write; `<site>.obscura.zip` when absent.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Events written.
    pub events: u64,
    /// Days with events.
    pub event_days: u32,
    /// Days with kept aggregates.
    pub kept_days: u32,
}

/// Writes `site`'s export to `out`: whole or not at all.
pub async fn write(store: &dyn EventStore, site: &Site, now_ms: i64, out: &Path) -> anyhow::Result<Written> {
    let days = store.days().await?;
    let kept = store.kept_of_site(site.id).await?;
    let progress = crate::import::Progress::steps("exporting", (days.len() + kept.len()) as u64, "days");
    let handle = tokio::runtime::Handle::current();
    let written = tokio::task::block_in_place(|| {
        super::write_whole(out, |file| {
            let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
            let options =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
            // The numbers in the file match neither this installation's nor the next one's.
            let rekey = Rekey::new();
            let mut written = Written::default();
            let mut event_days = BTreeSet::new();
            for day in &days {
                let rows = handle.block_on(store.rows_of_day(*day, Some(site.id)))?;
                progress.inc(format!("{} events", written.events));
                if rows.is_empty() {
                    continue;
                }
                zip.start_file(Entry::Events(*day).name(), options)?;
                for mut row in rows {
                    row.visitor = rekey.number("visitor", row.visitor);
                    row.visit = rekey.number("visit", row.visit);
                    serde_json::to_writer(&mut zip, &row)?;
                    zip.write_all(b"\n")?;
                    written.events += 1;
                }
                event_days.insert(*day);
            }
            written.event_days = event_days.len() as u32;
            for day in kept {
                progress.inc(format!("{} events", written.events));
                // A day whose rows are written kept its aggregates ahead of the rows' going;
                // the rows say more, and both would count the day twice.
                if event_days.contains(&day.day) {
                    continue;
                }
                zip.start_file(Entry::Kept(day.day).name(), options)?;
                serde_json::to_writer(&mut zip, &KeptFile { aggregates: day.aggregates, measures: day.measures })?;
                written.kept_days += 1;
            }
            let manifest = Manifest {
                format: FORMAT.to_owned(),
                version: VERSION,
                exported_ms: now_ms,
                site: site.clone(),
                events: written.events,
                event_days: written.event_days,
                kept_days: written.kept_days,
            };
            zip.start_file(MANIFEST, options)?;
            serde_json::to_writer_pretty(&mut zip, &manifest)?;
            zip.finish()?.flush()?;
            Ok(written)
        })
    });
    progress.finish();
    written
}

/// `obscura export site`: writes the file and says what it holds.
pub async fn run(app: App, args: SiteArgs) -> anyhow::Result<()> {
    let site = crate::import::site(&app, &args.site)?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}.obscura.zip", site.domain)));
    let now_ms = app.state.clock.now_ms();
    app.state.audit.append(obscura_store::audit::AuditEntry {
        ts_ms: now_ms,
        actor: "cli",
        action: "export",
        site: Some(&site.domain),
        detail: &format!("obscura export site (to {})", out.display()),
    })?;
    let written = write(app.store.as_ref(), &site, now_ms, &out).await;
    app.store.close();
    let written = written?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "exported {} to {} ({size} bytes)\n  events:                   {} on {} days\n  days kept as aggregates:  {}\n  goals and funnels:        {} and {}",
        site.domain,
        out.display(),
        written.events,
        written.event_days,
        written.kept_days,
        site.goals.len(),
        site.funnels.len(),
    );
    Ok(())
}
