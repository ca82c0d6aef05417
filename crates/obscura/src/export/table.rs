//! `obscura export table`: the API's CSV and Parquet exports from the command line.

use std::io::Write;
use std::path::PathBuf;

use obscura_web::exports::audited_table;
use obscura_web::stats_query::{Params, Reader};

use crate::app::App;

/// The file format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values, defused for spreadsheets.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// `obscura export table`.
#[derive(clap::Args, Debug)]
pub struct TableArgs {
    /// The site's domain.
    #[arg(long)]
    pub site: String,
    /// Break down by this dimension (`page`, `country`, `prop:plan`, …); a time series without.
    #[arg(long)]
    pub dimension: Option<String>,
    /// The range: `today`, `7d`, `30d`, `month`, `12mo`, `custom` (with `--from` and `--to`), ….
    #[arg(long, default_value = "30d")]
    pub range: String,
    /// First day of a custom range (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Last day of a custom range (YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<String>,
    /// Filters as in the API, `;`-separated (`country==DE;page~blog`).
    #[arg(long)]
    pub filters: Option<String>,
    /// A time series' buckets: `hour`, `day`, `week` or `month`.
    #[arg(long)]
    pub interval: Option<String>,
    /// At most this many rows of a breakdown (1 to 1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// The file format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Where to write it; standard output when absent or `-`.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

impl TableArgs {
    /// The API parameters these options stand for.
    fn params(&self) -> Params {
        let mut params = Params::new();
        params.insert("site".into(), self.site.clone());
        params.insert("range".into(), self.range.clone());
        let optional = [
            ("dimension", self.dimension.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("filters", self.filters.clone()),
            ("interval", self.interval.clone()),
            ("limit", self.limit.map(|l| l.to_string())),
        ];
        params.extend(optional.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))));
        params
    }
}

/// Writes the table and says where, with how many rows.
pub async fn run(app: App, args: TableArgs) -> anyhow::Result<()> {
    let reader = Reader { actor: "cli".into(), sites: None };
    let export = audited_table(&app.state, &reader, &args.params(), "obscura export table").await;
    app.store.close();
    let export = export.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let bytes = match args.format {
        Format::Csv => export.table.csv().into_bytes(),
        Format::Parquet => export.table.parquet()?,
    };
    match args.out.as_deref().filter(|p| p.as_os_str() != "-") {
        None => std::io::stdout().lock().write_all(&bytes)?,
        Some(path) => {
            super::write_whole(path, |file| Ok(file.write_all(&bytes)?))?;
            eprintln!("{} rows written to {}", export.table.rows.len(), path.display());
        }
    }
    Ok(())
}
