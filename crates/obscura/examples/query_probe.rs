//! Runs the dashboard queries against an existing data folder and prints errors with their SQL.
//! Usage: query_probe DATA_DIR KEY_FILE SITE_ID
use std::sync::Arc;
use obscura_query::{Dialect, Dimension, Interval, Query, TimeRange};
use obscura_store::{EmbeddedStore, EventStore, StoreOptions, crypto};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let key = crypto::load_master_key(&crypto::MasterKeySource::File(args[2].clone().into()), args[1].as_ref())?;
    let store = EmbeddedStore::open(StoreOptions { data_dir: args[1].clone().into(), master_key: key, clock: Arc::new(obscura_model::SystemClock) })?;
    let q = Query { site: args[3].parse()?, range: TimeRange::named("30d", time::OffsetDateTime::now_utc(), None, None)?, filters: vec![] };
    let d = Dialect::DataFusion;
    for (name, sql) in [("aggregate", d.aggregate(&q)), ("timeseries", d.timeseries(&q, Interval::Day)), ("breakdown", d.breakdown(&q, &Dimension::Page, 10))] {
        match store.query(&sql).await {
            Ok(b) => println!("{name}: ok {} rows", b.iter().map(|b| b.num_rows()).sum::<usize>()),
            Err(e) => println!("{name}: {e}\n{}\n{:?}", sql.sql, sql.params),
        }
    }
    Ok(())
}
