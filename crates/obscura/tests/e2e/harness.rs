//! A test server: an app in a temporary folder with an injected clock, a site, an owner and a
//! read token, listening on a free loopback port.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use mmdb_writer::ipnet::IpNet;
use mmdb_writer::{IpVersion, Value, Writer};
use obscura::admin;
use obscura::app;
use obscura::config::Config;
use obscura_model::ManualClock;
use obscura_store::meta::{Role, TokenScope};
use time::OffsetDateTime;

pub const SITE: &str = "shop.example";

pub struct TestServer {
    pub base: String,
    pub token: String,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    /// The server's event store, through the seam every backend implements.
    pub store: Arc<dyn obscura_store::EventStore>,
    /// The same store when it is the embedded backend: its keyring and tiers, for tests of them.
    embedded_store: Option<Arc<obscura_store::EmbeddedStore>>,
    /// The server's ingest pipeline (to prepare generated traffic as the server would).
    pub pipeline: Arc<obscura_ingest::Pipeline>,
    /// The server's own metadata, to reread at once after a change through [`TestServer::meta`].
    server_meta: Arc<dyn obscura_store::meta::MetadataStore>,
    /// The server's maintenance tasks, to run at once after moving the clock.
    pub maintenance: obscura::maintenance::Maintenance,
    /// The owner's password.
    pub password: String,
    config: Config,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A city database for the loopback addresses the tests send from: 127.0.0.0/30 is Berlin,
/// 127.0.0.4/30 is Île-de-France (with city and coordinates that must never come out).
pub fn geo_fixture(dir: &std::path::Path) -> PathBuf {
    let mut writer = Writer::builder("Obscura-Test-City").ip_version(IpVersion::V6).build();
    let record = |country: &str, state: &str, city: &str| {
        Value::map([
            ("country_code", Value::from(country)),
            ("state1", Value::from(state)),
            ("city", Value::from(city)),
            ("latitude", Value::from(48.8566_f64)),
            ("longitude", Value::from(2.3522_f64)),
        ])
    };
    let nets: [(&str, Value); 2] =
        [("127.0.0.0/30", record("DE", "Berlin", "Berlin")), ("127.0.0.4/30", record("FR", "Ile-de-France", "Paris"))];
    for (net, value) in nets {
        writer.insert_value(net.parse::<IpNet>().unwrap(), value).unwrap();
    }
    let path = dir.join("city.mmdb");
    std::fs::write(&path, writer.to_bytes().unwrap()).unwrap();
    path
}

impl TestServer {
    pub async fn start(now: OffsetDateTime) -> TestServer {
        Self::start_with(now, |_| {}).await
    }

    /// Like [`TestServer::start`], with a change to the configuration.
    pub async fn start_with(now: OffsetDateTime, configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            master_key_file: dir.path().join("keys/master.key"),
            ..Default::default()
        };
        config.enrich.geo_databases = vec![geo_fixture(dir.path())];
        config.enrich.asn_databases = vec![];
        let regexes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles/regexes.yaml");
        config.enrich.user_agent_regexes = regexes.exists().then_some(regexes);
        let datafiles = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datafiles");
        config.enrich.robot_lists = ["crawler-user-agents.json", "isbot-patterns.json"]
            .iter()
            .map(|name| datafiles.join(name))
            .filter(|path| path.exists())
            .collect();
        // The memory ceiling is the process's: here many servers and their clients share one.
        config.limits.memory_mb = 0;
        configure(&mut config);
        let clock = Arc::new(ManualClock::new(now));
        let app = app::open(&config, clock.clone()).await.unwrap();
        // A further node of an installation whose metadata is shared finds the site made.
        let (password, token) = if app.meta.get().site_by_domain(SITE).is_some() {
            (String::new(), String::new())
        } else {
            admin::add_site(&*app.meta, SITE, true, obscura_store::meta::DEFAULT_RETENTION_DAYS).unwrap();
            let password = admin::add_user(&*app.meta, "owner", Role::Owner, None).unwrap();
            (password, admin::add_token(&*app.meta, "tests", TokenScope::Read, &[], None).unwrap())
        };
        Self::serve(app, dir, config, clock, token, password).await
    }

    async fn serve(
        app: obscura::app::App,
        dir: tempfile::TempDir,
        config: Config,
        clock: Arc<ManualClock>,
        token: String,
        password: String,
    ) -> TestServer {
        let store = app.store.clone();
        let embedded_store = app.embedded.clone();
        let pipeline = app.pipeline.clone();
        let server_meta = app.meta.clone();
        let maintenance = app.maintenance.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let server = tokio::spawn(app::serve(app, listener));
        // Serving starts with resuming open visits; wait until it answers.
        for _ in 0..100 {
            if reqwest::get(format!("http://{addr}/health")).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        TestServer {
            base: format!("http://{addr}"),
            token,
            clock,
            data_dir: config.data_dir.clone(),
            dir,
            config,
            store,
            embedded_store,
            pipeline,
            server_meta,
            maintenance,
            password,
            server,
        }
    }

    /// Stops the server and starts a new one on the same data folder and clock.
    pub async fn restart(self) -> TestServer {
        self.restart_after(|| ()).await.0
    }

    /// Makes the server reread the metadata now, after a change through [`TestServer::meta`]
    /// (it would otherwise notice within a second).
    pub fn reload_metadata(&self) {
        self.server_meta.reload();
    }

    /// The server's own metadata store, whichever kind it is (sealed file or PostgreSQL).
    pub fn server_meta(&self) -> Arc<dyn obscura_store::meta::MetadataStore> {
        self.server_meta.clone()
    }

    /// Runs the `obscura` command line on this server's data, as an operator beside it would.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().expect("the obscura binary runs")
    }

    /// The `obscura` command line on this server's data, to run later (e.g. while it is stopped).
    pub fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_obscura"));
        command
            .env("OBSCURA_DATA_DIR", &self.data_dir)
            .env("OBSCURA_MASTER_KEY_FILE", self.dir.path().join("keys/master.key"))
            .env("OBSCURA_LOG", "warn");
        command
    }

    /// Stops the server, runs `between` (an operator's offline work on its data), and starts it again.
    pub async fn restart_after<T>(self, between: impl FnOnce() -> T) -> (TestServer, T) {
        let TestServer { token, clock, dir, config, store, embedded_store, password, server, pipeline, .. } = self;
        server.abort();
        let _ = server.await;
        store.close();
        drop((store, embedded_store, pipeline));
        let done = between();
        let app = app::open(&config, clock.clone()).await.unwrap();
        (Self::serve(app, dir, config, clock, token, password).await, done)
    }

    /// The metadata (sites, users, tokens, links) as the CLI would open it; the server rereads
    /// changes within a second.
    pub fn meta(&self) -> obscura_store::meta::MetaStore {
        obscura_store::meta::MetaStore::open(&self.data_dir, self.master_key()).unwrap()
    }

    /// The access log as the CLI opens it.
    pub fn access_log(&self) -> obscura_store::access_log::AccessLog {
        use obscura_model::Clock;
        obscura::app::open_access_log(&self.config, self.master_key(), self.clock.now()).unwrap()
    }

    /// The keyring file (beside the master key, outside the data folder).
    pub fn keyring_path(&self) -> PathBuf {
        self.config.keyring_path()
    }

    /// Waits until the writer has flushed every finished day to its files.
    pub async fn wait_flushed(&self) {
        for _ in 0..100 {
            if self.embedded().hot_days().is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("finished days were not flushed: {:?}", self.embedded().hot_days());
    }

    /// Waits until `day` is flushed and rolled up (the rollup follows the day file).
    pub async fn wait_rolled_up(&self, day: time::Date) {
        self.wait_flushed().await;
        for _ in 0..100 {
            if self.store.rollup_days().await.unwrap().contains(&day) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{day} was not rolled up: {:?}", self.store.rollup_days().await.unwrap());
    }

    pub fn master_key(&self) -> obscura_store::crypto::Key {
        obscura_store::crypto::load_master_key(
            &obscura_store::crypto::MasterKeySource::File(self.dir.path().join("keys/master.key")),
            &self.data_dir,
        )
        .unwrap()
    }

    /// The embedded store, for tests of its keyring and tiers.
    pub fn embedded(&self) -> &Arc<obscura_store::EmbeddedStore> {
        self.embedded_store.as_ref().expect("this test server runs the embedded store")
    }

    /// Every stored row of every day, read back through the store.
    pub async fn stored_rows(&self) -> Vec<obscura_store::StoredRow> {
        let mut rows = Vec::new();
        for day in self.store.days().await.unwrap() {
            rows.extend(self.store.rows_of_day(day, None).await.unwrap());
        }
        rows
    }

    /// The test site's DSN, as Sentry SDKs and the tracker's error part take it.
    pub fn dsn(&self) -> String {
        let site = self.server_meta.get().site_by_domain(SITE).cloned().expect("the test site");
        let key = site.error_key.expect("a new site has a DSN key");
        format!("{}/{}", self.base.replacen("http://", &format!("http://{key}@"), 1), site.id)
    }

    /// The stored error reports, once there are at least `n` (they arrive from a browser or an
    /// SDK's thread); panics after ten seconds.
    pub async fn error_reports(&self, n: usize) -> Vec<obscura_store::StoredRow> {
        for _ in 0..100 {
            let reports: Vec<_> = self.stored_rows().await.into_iter().filter(|r| r.kind == 4).collect();
            if reports.len() >= n {
                return reports;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{n} error reports did not arrive");
    }

    /// The test site's issues of today from the stats API, once there are at least `n`; what
    /// there is after ten seconds.
    pub async fn issues(&self, n: usize) -> Vec<serde_json::Value> {
        let mut issues = Vec::new();
        for _ in 0..100 {
            issues = self.api(&format!("/api/v1/stats/issues?site={SITE}&range=today")).await["results"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if issues.len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        issues
    }

    /// A client whose connections come from `ip` (any 127.x.y.z address works on loopback).
    pub fn client_from(ip: [u8; 4]) -> reqwest::Client {
        reqwest::Client::builder().local_address(IpAddr::from(ip)).build().unwrap()
    }

    /// Posts one event as a browser at `ip` with `user_agent` would; returns the status.
    pub async fn send(&self, ip: [u8; 4], user_agent: &str, body: serde_json::Value) -> reqwest::StatusCode {
        Self::client_from(ip)
            .post(format!("{}/api/event", self.base))
            .header("user-agent", user_agent)
            .header("content-type", "text/plain")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
    }

    /// GET on the stats API with the read token.
    pub async fn api(&self, path_and_query: &str) -> serde_json::Value {
        let res = reqwest::Client::new()
            .get(format!("{}{}", self.base, path_and_query))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(status.is_success(), "{path_and_query} answered {status}: {body}");
        body
    }

    pub fn stop(self) -> tempfile::TempDir {
        self.server.abort();
        self.store.close();
        self.dir
    }
}

/// Every regular file under `dir`.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Logs in through the form (CSRF cookie and field included); returns the session cookie pair.
pub async fn login(base: &str, username: &str, password: &str) -> Option<String> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = submit_login(&client, base, username, password).await;
    (res.status() == 303).then(|| res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned())
}

/// Fetches the login form with `client` and submits it; returns the answer to the submission.
pub async fn submit_login(client: &reqwest::Client, base: &str, username: &str, password: &str) -> reqwest::Response {
    let form = client.get(format!("{base}/login")).send().await.unwrap();
    let csrf_cookie = form.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = csrf_in(&form.text().await.unwrap());
    client
        .post(format!("{base}/login"))
        .header("cookie", csrf_cookie)
        .form(&[("username", username), ("password", password), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

/// The CSRF token in a page's forms.
pub fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

/// A signed-in browser for tests: signs in through the login form, keeps the session cookie and
/// the session's CSRF token, and sends them with every page, form and API call.
pub struct TestClient {
    client: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl TestClient {
    /// Signs `username` in on the server at `base`; panics if the login is refused.
    pub async fn sign_in(base: &str, username: &str, password: &str) -> TestClient {
        let cookie = login(base, username, password).await.unwrap_or_else(|| panic!("{username} could not sign in"));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let account = client.get(format!("{base}/account")).header("cookie", &cookie).send().await.unwrap();
        let csrf = csrf_in(&account.text().await.unwrap());
        TestClient { client, base: base.to_owned(), cookie, csrf }
    }

    /// `GET path`: the status and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self.client.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Posts a form to `path` with the session's CSRF token added: the status and the body.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// `GET path` of the JSON API with the session: the status and the parsed body.
    pub async fn api(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get(path).await;
        (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
    }
}

/// The HTTP addresses of the two-shard ClickHouse cluster the tests use: from
/// `OBSCURA_TEST_CLICKHOUSE` (set by `scripts/test`), or started with the project's own
/// `scripts/clickhouse-cluster` (which installs Debian's `clickhouse-server` when missing).
pub fn clickhouse_shards() -> Vec<String> {
    let split = |list: &str| list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if let Ok(list) = std::env::var("OBSCURA_TEST_CLICKHOUSE") {
        return split(&list);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/clickhouse-cluster");
    let started = std::process::Command::new("bash").args([script, "start"]).status().expect("bash runs");
    assert!(started.success(), "{script} start failed");
    let env = std::process::Command::new("bash").args([script, "env"]).output().expect("bash runs");
    let env = String::from_utf8_lossy(&env.stdout);
    let list = env
        .split_once("OBSCURA_TEST_CLICKHOUSE=")
        .map(|(_, rest)| rest.trim().trim_matches(|c| c == '"' || c == '\''))
        .expect("the script prints the addresses");
    split(list)
}

/// A two-shard ClickHouse cluster of its own (folder `dir`, ports moved by `offset`), for tests
/// that stop a shard without disturbing the tests that share the default cluster. Returns the
/// script's environment for restarting it and the shards' HTTP addresses.
pub fn private_clickhouse_cluster(dir: &str, offset: u16) -> (Vec<(String, String)>, Vec<String>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/clickhouse-cluster");
    let env = vec![
        ("OBSCURA_CLICKHOUSE_DIR".to_owned(), dir.to_owned()),
        ("OBSCURA_CLICKHOUSE_PORT_OFFSET".to_owned(), offset.to_string()),
    ];
    let started = std::process::Command::new("bash").args([script, "start"]).envs(env.clone()).status().expect("bash");
    assert!(started.success(), "{script} start failed");
    let shards = (1..=2).map(|n| format!("http://127.0.0.1:{}", 18_122 + n + offset)).collect();
    (env, shards)
}

/// The PostgreSQL server the tests use: from `OBSCURA_TEST_POSTGRES` (set by `scripts/test`),
/// or started with the project's own `scripts/postgres-test` (which installs Debian's
/// `postgresql` when missing).
pub fn postgres_url() -> String {
    if let Ok(url) = std::env::var("OBSCURA_TEST_POSTGRES") {
        return url;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres-test");
    let started = std::process::Command::new("bash").args([script, "start"]).status().expect("bash runs");
    assert!(started.success(), "{script} start failed");
    let env = std::process::Command::new("bash").args([script, "env"]).output().expect("bash runs");
    let env = String::from_utf8_lossy(&env.stdout);
    env.split_once("OBSCURA_TEST_POSTGRES=")
        .map(|(_, rest)| rest.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
        .expect("the script prints the address")
}

/// Drops a test database from every shard (best effort: a stopped shard keeps it).
pub async fn drop_clickhouse_database(shards: &[String], database: &str) {
    for url in shards {
        let _ = reqwest::Client::new().post(url).body(format!("DROP DATABASE IF EXISTS {database}")).send().await;
    }
}

/// How many times each page path is stored in `database` on the ClickHouse `shards` (each
/// shard's own table, read directly).
pub async fn stored_paths(shards: &[String], database: &str) -> std::collections::BTreeMap<String, u32> {
    let mut paths = std::collections::BTreeMap::new();
    for url in shards {
        let body = reqwest::Client::new()
            .post(url)
            .body(format!("SELECT path FROM {database}.events_local FORMAT TSV"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for path in body.lines() {
            *paths.entry(path.to_owned()).or_default() += 1;
        }
    }
    paths
}

/// Waits until the server at `base` answers `/health` (10 s at most).
pub async fn wait_healthy(base: &str) {
    for _ in 0..200 {
        if reqwest::get(format!("{base}/health")).await.is_ok_and(|r| r.status() == 204) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server at {base} did not come up");
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A database name no other test run uses.
pub fn unique_database(prefix: &str) -> String {
    format!("{prefix}_{}_{:08x}", std::process::id(), rand::random::<u32>())
}
