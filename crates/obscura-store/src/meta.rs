//! Metadata: sites, users and API tokens, in one document sealed under the master key.
//!
//! The server notices changes made by the CLI (e.g. `obscura site add`) through the file's
//! modification time, so no restart is needed.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::crypto::Key;
use crate::sealed_json::SealedJson;

/// A tracked website and its settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Site {
    /// The site's number (from 1), stored with each of its events in place of the domain.
    pub id: u32,
    /// The site's domain as the tracker reports it (`data-site`), lowercase, no `www.`.
    pub domain: String,
    /// Honour Global Privacy Control and Do-Not-Track (default on).
    #[serde(default = "yes")]
    pub respect_dnt: bool,
    /// Which dimensions are collected at all.
    #[serde(default)]
    pub collect: Collection,
    /// When the site was added, in milliseconds since the Unix epoch (UTC).
    pub created_ms: i64,
    /// Days the site's per-event data is kept before it is destroyed (P13).
    #[serde(default = "default_retention")]
    pub retention_days: u32,
}

/// Per-event data is kept 30 days unless a site says otherwise (P13).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Ten years: longer retention is a mistake, not a policy.
pub const MAX_RETENTION_DAYS: u32 = 3650;

fn default_retention() -> u32 {
    DEFAULT_RETENTION_DAYS
}

/// Checks a retention setting, with a message that says what is allowed.
pub fn check_retention(days: u32) -> anyhow::Result<u32> {
    if (1..=MAX_RETENTION_DAYS).contains(&days) {
        Ok(days)
    } else {
        anyhow::bail!("retention must be 1 to {MAX_RETENTION_DAYS} days, not {days}")
    }
}

/// How precisely locations are collected.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Default)]
#[serde(rename_all = "lowercase")]
pub enum GeoLevel {
    /// No location at all (not looked up).
    Off,
    /// The continent only.
    Continent,
    /// Continent and country.
    Country,
    /// Continent, country and province (the default).
    #[default]
    Province,
}

impl GeoLevel {
    /// Every level, from least to most precise.
    pub const ALL: [GeoLevel; 4] = [GeoLevel::Off, GeoLevel::Continent, GeoLevel::Country, GeoLevel::Province];

    /// The level's name in settings: `off`, `continent`, `country` or `province`.
    pub fn as_str(self) -> &'static str {
        match self {
            GeoLevel::Off => "off",
            GeoLevel::Continent => "continent",
            GeoLevel::Country => "country",
            GeoLevel::Province => "province",
        }
    }

    /// The level named `s` (as [`GeoLevel::as_str`] writes it); `None` for any other text.
    pub fn parse(s: &str) -> Option<GeoLevel> {
        GeoLevel::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// The per-site collection switches: what is not switched on is never looked up nor stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Collection {
    /// Keep the referrer.
    pub referrer: bool,
    /// Look up the device (browser, operating system, device type) from the request headers.
    pub device: bool,
    /// Keep the screen width.
    pub screen: bool,
    /// How precisely to look up the location.
    pub geo: GeoLevel,
    /// Look up the network operator of the client's address.
    pub network: bool,
    /// Keep visit frequency (returning visitor, days since the last visit, visit count).
    pub frequency: bool,
    /// Accept engagement events; when off they are refused.
    pub engagement: bool,
    /// Accept speed beacons (web vitals, CDN timings) from the tracker's performance part;
    /// off by default: a site opts in.
    pub performance: bool,
    /// The share of speed beacons kept, in percent (1 to 100; 100 by default), for busy sites.
    pub performance_sample_percent: u8,
}

impl Default for Collection {
    fn default() -> Self {
        Collection {
            referrer: true,
            device: true,
            screen: true,
            geo: GeoLevel::Province,
            network: true,
            frequency: true,
            engagement: true,
            performance: false,
            performance_sample_percent: 100,
        }
    }
}

fn yes() -> bool {
    true
}

/// What a dashboard user may do; ordered, each role including the ones before it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the dashboards of the sites assigned to the user only, not the statistics API.
    Viewer,
    /// Reads every site, in the dashboard and through the statistics API.
    Analyst,
    /// Also manages sites, users and API tokens.
    Admin,
    /// Also reads the audit and access logs, and alone makes or removes owners.
    Owner,
}

impl Role {
    /// The role named `s` (`viewer`, `analyst`, `admin` or `owner`); `None` for any other text.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// A dashboard account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// The login name, unique among users.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// What the user may do.
    pub role: Role,
    /// Sites a viewer may read (other roles read every site).
    #[serde(default)]
    pub sites: Vec<u32>,
    /// When the user was created, in milliseconds since the Unix epoch (UTC).
    pub created_ms: i64,
}

impl User {
    /// Whether this user may read `site`.
    pub fn may_read(&self, site: u32) -> bool {
        self.role >= Role::Analyst || self.sites.contains(&site)
    }
}

/// What an API token may be used for.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Reads statistics.
    Read,
    /// For sending events; refused when used to read statistics.
    Ingest,
    /// The widest scope; reads statistics like [`TokenScope::Read`].
    Admin,
}

/// An API token, as stored: its hash, never the token itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ApiToken {
    /// Public prefix shown in lists (`obs_abcd1234`), not secret.
    pub id: String,
    /// SHA-256 of the whole token, hex. The token itself is shown once and never stored.
    pub sha256: String,
    /// A label chosen by whoever created the token.
    pub name: String,
    /// What the token may be used for.
    pub scope: TokenScope,
    /// Sites the token may read; empty = all.
    #[serde(default)]
    pub sites: Vec<u32>,
    /// When the token was created, in milliseconds since the Unix epoch (UTC).
    pub created_ms: i64,
    /// When the token stops working, in milliseconds since the Unix epoch (UTC); `None` = never.
    pub expires_ms: Option<i64>,
}

/// A shared read-only link to one site's dashboard: `/share/<token>`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Share {
    /// Public id (shown in lists, used to revoke), not the secret.
    pub id: String,
    /// SHA-256 of the link's token; the token is shown once.
    pub sha256: String,
    /// The id of the site whose dashboard the link shows.
    pub site: u32,
    /// argon2id hash, when the link also needs a password.
    pub password_hash: Option<String>,
    /// When the link stops working, in milliseconds since the Unix epoch (UTC); `None` = never.
    pub expires_ms: Option<i64>,
    /// When the link was created, in milliseconds since the Unix epoch (UTC).
    pub created_ms: i64,
}

/// The whole metadata document: sites, users, API tokens and shared links.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    /// Every site, in the order they were added.
    #[serde(default)]
    pub sites: Vec<Site>,
    /// Every dashboard user.
    #[serde(default)]
    pub users: Vec<User>,
    /// Every API token.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
    /// Every shared dashboard link.
    #[serde(default)]
    pub shares: Vec<Share>,
}

impl Metadata {
    /// Adds a site with the default collection settings; the domain must be new and valid.
    pub fn add_site(&mut self, domain: &str, created_ms: i64, retention_days: u32) -> anyhow::Result<Site> {
        let domain = normalize_domain(domain);
        if domain.is_empty() || domain.len() > 253 || domain.contains(['/', ' ', ':']) {
            anyhow::bail!("{domain:?} is not a domain name (e.g. example.com)");
        }
        if self.site_by_domain(&domain).is_some() {
            anyhow::bail!("site {domain} already exists");
        }
        let site = Site {
            id: self.sites.iter().map(|s| s.id).max().unwrap_or(0) + 1,
            domain,
            respect_dnt: true,
            collect: Collection::default(),
            created_ms,
            retention_days: check_retention(retention_days)?,
        };
        self.sites.push(site.clone());
        Ok(site)
    }

    /// The site with this domain, compared after [`normalize_domain`].
    pub fn site_by_domain(&self, domain: &str) -> Option<&Site> {
        let d = normalize_domain(domain);
        self.sites.iter().find(|s| s.domain == d)
    }

    /// The site with this id.
    pub fn site(&self, id: u32) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }
}

/// Lowercase, without a leading `www.` and without a trailing dot.
pub fn normalize_domain(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    d.strip_prefix("www.").map(str::to_owned).unwrap_or(d)
}

/// Where the metadata document is kept: a sealed file in the data folder ([`MetaStore`]) or, for
/// several nodes, PostgreSQL (`crate::postgres::PgMetaStore`). Reads come from a cached copy
/// (ingest reads metadata for every event); changes go to the shared document.
pub trait MetadataStore: Send + Sync {
    /// The current metadata (cached; refreshed when another process or node changed it).
    fn get(&self) -> Arc<Metadata>;
    /// Rereads the document now; on a read error, the last good copy.
    fn reload(&self) -> Arc<Metadata>;
    /// Rereads the document now and fails when it cannot be read (signing in must not trust a
    /// copy that may still hold a removed user).
    fn read_now(&self) -> anyhow::Result<Arc<Metadata>>;
    /// Applies a change and saves it. `change` may run more than once when another writer
    /// saved in between (the last run's change is the one saved).
    fn update_with(&self, change: &mut dyn FnMut(&mut Metadata) -> anyhow::Result<()>) -> anyhow::Result<()>;
    /// Whether the document can be read now (for `/ready`).
    fn check(&self) -> anyhow::Result<()>;
}

impl dyn MetadataStore + '_ {
    /// Applies a change and saves it; returns what the closure returned on its last run.
    pub fn update<R>(&self, mut change: impl FnMut(&mut Metadata) -> anyhow::Result<R>) -> anyhow::Result<R> {
        let mut result = None;
        self.update_with(&mut |m| {
            result = Some(change(m)?);
            Ok(())
        })?;
        Ok(result.expect("a successful update ran the change"))
    }
}

impl MetadataStore for MetaStore {
    fn get(&self) -> Arc<Metadata> {
        MetaStore::get(self)
    }
    fn reload(&self) -> Arc<Metadata> {
        MetaStore::reload(self)
    }
    fn read_now(&self) -> anyhow::Result<Arc<Metadata>> {
        self.try_reload()
    }
    fn update_with(&self, change: &mut dyn FnMut(&mut Metadata) -> anyhow::Result<()>) -> anyhow::Result<()> {
        MetaStore::update(self, change)
    }
    fn check(&self) -> anyhow::Result<()> {
        self.doc.load::<Metadata>().map(drop)
    }
}

/// The metadata document in a sealed file, with a cached, reloadable copy.
pub struct MetaStore {
    doc: SealedJson,
    cache: RwLock<(Arc<Metadata>, Option<SystemTime>)>,
    /// When the file's modification time was last looked at (not on every request: ingest reads
    /// metadata for every event).
    checked: Mutex<Instant>,
}

/// How often the file is checked for changes made by another process.
const RECHECK: Duration = Duration::from_secs(1);

impl MetaStore {
    /// Opens the metadata document of `data_dir` (file `metadata`, sealed under `master`); a missing
    /// file means empty metadata, one that cannot be decrypted or parsed is an error.
    pub fn open(data_dir: &Path, master: Key) -> anyhow::Result<Self> {
        let doc = SealedJson::new(data_dir.join("metadata"), b"obscura metadata v1", master);
        let meta: Metadata = doc.load()?;
        let modified = doc.modified();
        Ok(MetaStore { doc, cache: RwLock::new((Arc::new(meta), modified)), checked: Mutex::new(Instant::now()) })
    }

    /// Rereads the file now, whatever its modification time says (two writes within one tick
    /// of the file system's clock look alike), instead of at the next check. Returns the
    /// current metadata; on a read error, the last good copy.
    pub fn reload(&self) -> Arc<Metadata> {
        self.try_reload().unwrap_or_else(|e| {
            tracing::error!("cannot reload metadata, keeping the last good copy: {e:#}");
            self.cache.read().unwrap_or_else(|e| e.into_inner()).0.clone()
        })
    }

    /// Rereads the file now; fails (keeping the cached copy) when it cannot be read.
    pub fn try_reload(&self) -> anyhow::Result<Arc<Metadata>> {
        let mut guard = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let modified = self.doc.modified();
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        let fresh = Arc::new(self.doc.load::<Metadata>()?);
        *guard = (fresh.clone(), modified);
        Ok(fresh)
    }

    /// The current metadata, reloaded if another process changed the file.
    pub fn get(&self) -> Arc<Metadata> {
        let (cached, seen) = self.cache.read().unwrap_or_else(|e| e.into_inner()).clone();
        {
            let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
            if checked.elapsed() < RECHECK {
                return cached;
            }
            *checked = Instant::now();
        }
        if self.doc.modified() != seen {
            return self.reload();
        }
        cached
    }

    /// Applies a change and saves it; returns what the closure returned.
    pub fn update<R>(&self, change: impl FnOnce(&mut Metadata) -> anyhow::Result<R>) -> anyhow::Result<R> {
        let mut guard = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let mut meta: Metadata = self.doc.load()?;
        let result = change(&mut meta)?;
        self.doc.save(&meta)?;
        *guard = (Arc::new(meta), self.doc.modified());
        Ok(result)
    }
}
