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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Site {
    pub id: u32,
    /// The site's domain as the tracker reports it (`data-site`), lowercase, no `www.`.
    pub domain: String,
    /// Honour Global Privacy Control and Do-Not-Track (default on).
    #[serde(default = "yes")]
    pub respect_dnt: bool,
    /// Which dimensions are collected at all.
    #[serde(default)]
    pub collect: Collection,
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
    Off,
    Continent,
    Country,
    #[default]
    Province,
}

impl GeoLevel {
    pub const ALL: [GeoLevel; 4] = [GeoLevel::Off, GeoLevel::Continent, GeoLevel::Country, GeoLevel::Province];

    pub fn as_str(self) -> &'static str {
        match self {
            GeoLevel::Off => "off",
            GeoLevel::Continent => "continent",
            GeoLevel::Country => "country",
            GeoLevel::Province => "province",
        }
    }

    pub fn parse(s: &str) -> Option<GeoLevel> {
        GeoLevel::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// The per-site collection switches: what is not switched on is never looked up nor stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Collection {
    pub referrer: bool,
    pub device: bool,
    pub screen: bool,
    pub geo: GeoLevel,
    pub network: bool,
    pub frequency: bool,
    pub engagement: bool,
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
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
    Owner,
}

impl Role {
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub role: Role,
    /// Sites a viewer may read (other roles read every site).
    #[serde(default)]
    pub sites: Vec<u32>,
    pub created_ms: i64,
}

impl User {
    /// Whether this user may read `site`.
    pub fn may_read(&self, site: u32) -> bool {
        self.role >= Role::Analyst || self.sites.contains(&site)
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Read,
    Ingest,
    Admin,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ApiToken {
    /// Public prefix shown in lists (`obs_abcd1234`), not secret.
    pub id: String,
    /// SHA-256 of the whole token, hex. The token itself is shown once and never stored.
    pub sha256: String,
    pub name: String,
    pub scope: TokenScope,
    /// Sites the token may read; empty = all.
    #[serde(default)]
    pub sites: Vec<u32>,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
}

/// A shared read-only link to one site's dashboard: `/share/<token>`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Share {
    /// Public id (shown in lists, used to revoke), not the secret.
    pub id: String,
    /// SHA-256 of the link's token; the token is shown once.
    pub sha256: String,
    pub site: u32,
    /// argon2id hash, when the link also needs a password.
    pub password_hash: Option<String>,
    pub expires_ms: Option<i64>,
    pub created_ms: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    #[serde(default)]
    pub sites: Vec<Site>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
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

    pub fn site_by_domain(&self, domain: &str) -> Option<&Site> {
        let d = normalize_domain(domain);
        self.sites.iter().find(|s| s.domain == d)
    }

    pub fn site(&self, id: u32) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }
}

/// Lowercase, without a leading `www.` and without a trailing dot.
pub fn normalize_domain(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    d.strip_prefix("www.").map(str::to_owned).unwrap_or(d)
}

/// The metadata document with a cached, reloadable copy.
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
    pub fn open(data_dir: &Path, master: Key) -> anyhow::Result<Self> {
        let doc = SealedJson::new(data_dir.join("metadata"), b"obscura metadata v1", master);
        let meta: Metadata = doc.load()?;
        let modified = doc.modified();
        Ok(MetaStore { doc, cache: RwLock::new((Arc::new(meta), modified)), checked: Mutex::new(Instant::now()) })
    }

    /// Rereads the file now if another process changed it, instead of at the next check (at
    /// most a second later). Returns the current metadata.
    pub fn reload(&self) -> Arc<Metadata> {
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now() - RECHECK;
        self.get()
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
        let now = self.doc.modified();
        if now != seen {
            match self.doc.load::<Metadata>() {
                Ok(fresh) => {
                    let fresh = Arc::new(fresh);
                    *self.cache.write().unwrap_or_else(|e| e.into_inner()) = (fresh.clone(), now);
                    return fresh;
                }
                Err(e) => tracing::error!("cannot reload metadata, keeping the last good copy: {e:#}"),
            }
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
