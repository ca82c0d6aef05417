//! PostgreSQL for what several nodes share: the metadata document, the audit chain, the daily
//! salts and the open visits. Metadata, audit records and salts are sealed under the master key
//! before they are sent, as in the sealed files of the embedded mode, so PostgreSQL holds
//! ciphertext for them (and the audit records' times, for retention). Open visits are held as
//! they are, for 30 minutes (see [`crate::visit_book`]).
//!
//! One connection, owned by one thread: callers are synchronous (metadata is read from a cache,
//! and written rarely) and may run inside the async runtime, where the blocking client must not
//! run. A lost connection is made again at the next call.

mod audit;
mod metadata;
mod salts;
mod visits;

use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;

pub use audit::PgAuditLog;
pub use metadata::PgMetaStore;
pub use salts::PgSaltVault;
pub use visits::PgOpenVisits;

type Job = Box<dyn FnOnce(Result<&mut postgres::Client, &anyhow::Error>) + Send>;

/// A connection to the shared PostgreSQL database, made by [`Postgres::connect`].
pub struct Postgres {
    jobs: Mutex<mpsc::Sender<Job>>,
    address: String,
}

/// The tables, made by the first node that starts (under a lock, so nodes starting together
/// do not collide). Each sealed value is bound to its kind by the key's context.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS obscura_documents (
    name text PRIMARY KEY,
    version bigint NOT NULL,
    sealed bytea
);
INSERT INTO obscura_documents (name, version, sealed) VALUES ('metadata', 0, NULL) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS obscura_audit (
    seq bigint PRIMARY KEY,
    ts_ms bigint NOT NULL,
    sealed text NOT NULL
);
CREATE TABLE IF NOT EXISTS obscura_salts (
    day text PRIMARY KEY,
    sealed bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS obscura_open_visits (
    site bigint NOT NULL,
    visitor bigint NOT NULL,
    visit bigint NOT NULL,
    last_ms bigint NOT NULL,
    pageviews integer NOT NULL,
    last_path text,
    PRIMARY KEY (site, visitor)
);
";

/// Serialises schema changes between nodes (an arbitrary, fixed advisory lock number).
const SCHEMA_LOCK: i64 = 0x0b5c_0001;

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and makes the tables
    /// in `schema` (made if missing; PostgreSQL's default search path when `None`). Fails,
    /// naming the address, when the server cannot be reached within a few seconds.
    pub fn connect(url: &str, schema: Option<&str>) -> anyhow::Result<Postgres> {
        let mut config: postgres::Config = url
            .parse()
            .with_context(|| "postgres.url is not a PostgreSQL address like postgres://user@host:5432/db")?;
        config.connect_timeout(Duration::from_secs(5));
        config.keepalives_idle(Duration::from_secs(30));
        // A statement that waits on a lock longer than this is a fault, not a queue.
        let mut options = "-c statement_timeout=30000".to_owned();
        let mut create_schema = String::new();
        if let Some(schema) = schema {
            if schema.is_empty() || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                anyhow::bail!("postgres.schema {schema:?} must be letters, digits and _");
            }
            options.push_str(&format!(" -c search_path={schema}"));
            create_schema = format!("CREATE SCHEMA IF NOT EXISTS {schema};");
        }
        config.options(&options);
        let address = describe(&config);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let worker_config = config.clone();
        std::thread::Builder::new()
            .name("obscura-postgres".into())
            .spawn(move || run_connection(worker_config, receiver))
            .context("cannot start the PostgreSQL connection thread")?;
        let pg = Postgres { jobs: Mutex::new(jobs), address };
        pg.call(move |client| {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            tx.batch_execute(&format!("{create_schema}{SCHEMA}"))?;
            tx.commit()?;
            Ok(())
        })
        .with_context(|| format!("cannot reach PostgreSQL at {} (postgres.url)", pg.address))?;
        Ok(pg)
    }

    /// `host:port/database`, without user or password, for messages.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Runs `work` on the connection (made again first if it was lost) and waits for it.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let result = match client {
                Ok(client) => work(client),
                Err(e) => Err(anyhow::anyhow!("{e:#}")),
            };
            let _ = reply.send(result);
        });
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| anyhow::anyhow!("the PostgreSQL connection thread has stopped"))?;
        answer
            .recv()
            .map_err(|_| anyhow::anyhow!("the PostgreSQL connection thread has stopped"))?
            .with_context(|| format!("PostgreSQL at {}", self.address))
    }

    /// Whether the server answers now.
    pub fn check(&self) -> anyhow::Result<()> {
        self.call(|client| Ok(client.simple_query("SELECT 1").map(drop)?))
    }
}

/// After a failed connection attempt, jobs fail at once for this long instead of each waiting
/// out a connect timeout of its own (ingest asks for every event while visits are shared).
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The connection thread: one job at a time, connecting when there is no live connection.
fn run_connection(config: postgres::Config, jobs: mpsc::Receiver<Job>) {
    let mut client: Option<postgres::Client> = None;
    let mut last_failure: Option<(std::time::Instant, String)> = None;
    while let Ok(job) = jobs.recv() {
        if client.as_ref().is_none_or(postgres::Client::is_closed) {
            client = None;
            if let Some((at, why)) = &last_failure
                && at.elapsed() < RECONNECT_AFTER
            {
                job(Err(&anyhow::anyhow!("cannot connect (a moment ago: {why})")));
                continue;
            }
            match config.connect(postgres::NoTls) {
                Ok(c) => {
                    client = Some(c);
                    last_failure = None;
                }
                Err(e) => {
                    last_failure = Some((std::time::Instant::now(), e.to_string()));
                    job(Err(&anyhow::Error::new(e).context("cannot connect")));
                    continue;
                }
            }
        }
        job(Ok(client.as_mut().expect("connected above")));
    }
}

fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or("postgres"))
}

/// The test server of `OBSCURA_TEST_POSTGRES` and a new schema for one test, so tests running
/// at once do not see each other's rows.
#[cfg(test)]
pub(crate) fn test_server() -> Option<(String, String)> {
    let url = std::env::var("OBSCURA_TEST_POSTGRES").ok().filter(|u| !u.is_empty())?;
    Some((url, format!("t_{}", hex::encode(rand::random::<[u8; 6]>()))))
}
