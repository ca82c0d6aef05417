//! `obscura export`: a breakdown or time series as CSV or Parquet (as the API's exports), or a
//! whole site for moving it to another installation.

pub mod site;
pub mod table;

use crate::app::App;

/// What `obscura export` writes.
#[derive(clap::Subcommand, Debug)]
pub enum ExportCmd {
    /// A breakdown (with `--dimension`) or a time series, as CSV or Parquet: the same table as
    /// `GET /api/v1/export.csv` and `.parquet`, recorded in the audit log.
    Table(table::TableArgs),
    /// A whole site: its settings, goals and funnels, its desensitized events within retention
    /// and its k-anonymous aggregates past it, as one ZIP that `obscura import obscura` reads.
    Site(site::SiteArgs),
}

/// Runs an export against an opened store (the server must be stopped: the store is locked).
pub async fn run(app: App, cmd: ExportCmd) -> anyhow::Result<()> {
    match cmd {
        ExportCmd::Table(args) => table::run(app, args).await,
        ExportCmd::Site(args) => site::run(app, args).await,
    }
}

/// Writes `path` whole or not at all: `write` fills `<path>.partial`, which is synced and
/// renamed into place once complete; on failure it is removed, and an older `path` stays.
pub fn write_whole<T>(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::fs::File) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    use anyhow::Context;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let mut file = std::fs::File::create(&partial).with_context(|| format!("cannot write {}", partial.display()))?;
    let written = write(&mut file).and_then(|value| {
        file.sync_all()?;
        std::fs::rename(&partial, path)?;
        Ok(value)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}
