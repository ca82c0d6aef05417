//! Times the dashboard's aggregate query against an existing data folder, with bound parameters
//! and with the same values as literals, to see what binding costs.
//! Usage: query_probe DATA_DIR KEY_FILE SITE_ID
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Instant;
use obscura_query::{Dialect, Query, TimeRange};
use obscura_store::{EmbeddedStore, EventStore, Param, SqlQuery, StoreOptions, crypto};

async fn time(store: &EmbeddedStore, q: &SqlQuery) -> f64 {
    let mut times = vec![];
    for _ in 0..5 {
        let t = Instant::now();
        store.query(q).await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let key = crypto::load_master_key(&crypto::MasterKeySource::File(args[2].clone().into()), args[1].as_ref())?;
    let store = EmbeddedStore::open(StoreOptions { data_dir: args[1].clone().into(), master_key: key, clock: Arc::new(obscura_model::SystemClock) })?;
    let q = Query { site: args[3].parse()?, range: TimeRange::named("30d", time::OffsetDateTime::now_utc(), None, None)?, filters: vec![] };
    let bound = Dialect::DataFusion.aggregate(&q);
    let mut spliced = bound.sql.clone();
    for (i, p) in bound.params.iter().enumerate().rev() {
        let lit = match p {
            Param::Int(v) => v.to_string(),
            Param::UInt(v) => v.to_string(),
            Param::Text(t) => format!("'{t}'"),
            Param::Timestamp(ms) => format!("to_timestamp_millis({ms})"),
        };
        spliced = spliced.replace(&format!("${}", i + 1), &lit);
    }
    println!("bound:   {:.1} ms", time(&store, &bound).await);
    println!("spliced: {:.1} ms", time(&store, &SqlQuery { sql: spliced.clone(), params: vec![] }).await);
    let explain = SqlQuery { sql: format!("EXPLAIN {}", bound.sql), params: bound.params.clone() };
    for b in store.query(&explain).await? {
        for c in b.columns() { println!("{}", obscura_store::arrow_reexport::format_column(c)); }
    }
    Ok(())
}
