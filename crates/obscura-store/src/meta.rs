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
    /// The public key of the site's DSN, with which Sentry SDKs and the tracker's error part
    /// report errors; `None` until one is made (`obscura site dsn`, the site's settings).
    /// Public like any DSN key: it names the site, it does not protect anything.
    #[serde(default)]
    pub error_key: Option<String>,
    /// What counts as a conversion on the site: pages reached, custom events sent.
    #[serde(default)]
    pub goals: Vec<Goal>,
    /// Ordered steps a visit may take, with the share that goes on at each.
    #[serde(default)]
    pub funnels: Vec<Funnel>,
}

impl GoalTarget {
    /// The filters that select the rows reaching it: the page (exact or containing), or the
    /// event's name and the property's value.
    pub fn filters(&self) -> Vec<obscura_query::Filter> {
        use obscura_query::{Dimension, Filter, FilterOp};
        let filter = |dimension, op, value: &str| Filter { dimension, op, values: vec![value.to_owned()] };
        match self {
            GoalTarget::Page { path, contains } => {
                vec![filter(Dimension::Page, if *contains { FilterOp::Contains } else { FilterOp::Is }, path)]
            }
            GoalTarget::Event { name, property } => std::iter::once(filter(Dimension::Event, FilterOp::Is, name))
                .chain(property.iter().map(|(k, v)| filter(Dimension::Prop(k.clone()), FilterOp::Is, v)))
                .collect(),
        }
    }
}

impl std::fmt::Display for GoalTarget {
    /// What reaches it, in words: `page /thanks`, `page containing /blog/`, `event signup with
    /// plan = pro`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GoalTarget::Page { path, contains: false } => write!(f, "page {path}"),
            GoalTarget::Page { path, contains: true } => write!(f, "page containing {path}"),
            GoalTarget::Event { name, property: None } => write!(f, "event {name}"),
            GoalTarget::Event { name, property: Some((k, v)) } => write!(f, "event {name} with {k} = {v}"),
        }
    }
}

/// A funnel of a site: 2 to 8 steps, each a page reached or an event sent, taken in order
/// within one visit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Funnel {
    /// Its name, unique on the site.
    pub name: String,
    /// Its steps, in order.
    pub steps: Vec<GoalTarget>,
}

/// A goal of a site, counted as conversions: visitors who reached a page or sent an event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Goal {
    /// Its name, unique on the site.
    pub name: String,
    /// What reaches it.
    pub target: GoalTarget,
}

/// What reaches a goal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GoalTarget {
    /// A page view of this path, or with `contains` of any path that contains it.
    Page {
        /// The path, as the dashboard shows pages.
        path: String,
        /// Whether any path containing `path` counts.
        #[serde(default)]
        contains: bool,
    },
    /// A custom event of this name, and when given with this property's value.
    Event {
        /// The event's name.
        name: String,
        /// (key, value) the event's property must have.
        #[serde(default)]
        property: Option<(String, String)>,
    },
}

/// The SHA-256 of a consent token, as kept.
fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new DSN key: 32 random hexadecimal digits, like Sentry's.
pub fn new_error_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
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
    /// Issues an operator resolved or ignored (every other issue is open).
    #[serde(default)]
    pub issue_states: Vec<IssueState>,
    /// Diagnostics requests: detail an operator asked for on an issue, sent only by people who
    /// agree (P7).
    #[serde(default)]
    pub diagnostics: Vec<DiagnosticsRequest>,
}

/// Detail a diagnostics request may ask for.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DetailKind {
    /// What happened before the error (clicks, navigations, requests, log lines).
    Breadcrumbs,
    /// The extra context the application attached.
    Extra,
}

impl DetailKind {
    /// `breadcrumbs` or `extra`.
    pub fn as_str(self) -> &'static str {
        match self {
            DetailKind::Breadcrumbs => "breadcrumbs",
            DetailKind::Extra => "extra",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "breadcrumbs" => Some(DetailKind::Breadcrumbs),
            "extra" => Some(DetailKind::Extra),
            _ => None,
        }
    }
}

/// An operator's request for detail on one issue: clients that meet the issue are told of it,
/// ask the person, and only with their consent upload the detail, with a single-use token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DiagnosticsRequest {
    /// Its id: 16 hexadecimal digits.
    pub id: String,
    /// The site's id.
    pub site: u32,
    /// The issue's fingerprint.
    pub fingerprint: String,
    /// Why the detail is wanted, shown to the person who is asked.
    pub purpose: String,
    /// What detail is asked for.
    pub wants: Vec<DetailKind>,
    /// When it was opened, milliseconds since the Unix epoch (UTC).
    pub created_ms: i64,
    /// When it stops taking reports.
    pub expires_ms: i64,
    /// The most consented reports it takes.
    pub max_reports: u32,
    /// Consented reports received.
    pub received: u32,
    /// Consent tokens handed out and not used yet: SHA-256 (hex) and expiry.
    #[serde(default)]
    pub tokens: Vec<(String, i64)>,
    /// Closed by an operator before it expired or filled.
    #[serde(default)]
    pub closed: bool,
}

impl DiagnosticsRequest {
    /// Whether it still takes consents and reports at `now_ms`.
    pub fn is_open(&self, now_ms: i64) -> bool {
        !self.closed && now_ms < self.expires_ms && self.received < self.max_reports
    }
}

/// Why a consent token was not handed out or not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsentRefusal {
    /// The site has no such request.
    #[error("no such diagnostics request")]
    UnknownRequest,
    /// The request expired, was closed or has all its reports.
    #[error("the diagnostics request is closed")]
    Closed,
    /// Too many tokens are out and unused for this request.
    #[error("too many consents are waiting for their reports; try later")]
    TooManyWaiting,
    /// The token was never handed out, was used already, or expired.
    #[error("the consent token is unknown, used already or expired")]
    UnknownToken,
    /// The token is for another issue's request.
    #[error("the consent token is for another issue")]
    OtherIssue,
}

/// How long a consent token stays good: the person agreed to send this report, not any later.
pub const CONSENT_TOKEN_MS: i64 = 60 * 60 * 1000;
/// Diagnostics requests a site may have open at once.
pub const MAX_OPEN_DIAGNOSTICS: usize = 50;

/// What an operator decided about an issue.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IssueStatus {
    /// To look at (every issue, until someone decides otherwise).
    Open,
    /// Fixed: a report after that moment reopens it (a regression).
    Resolved,
    /// Not worth fixing: hidden from the open issues, its reports still counted.
    Ignored,
}

impl IssueStatus {
    /// `open`, `resolved` or `ignored`.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Open => "open",
            IssueStatus::Resolved => "resolved",
            IssueStatus::Ignored => "ignored",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(IssueStatus::Open),
            "resolved" => Some(IssueStatus::Resolved),
            "ignored" => Some(IssueStatus::Ignored),
            _ => None,
        }
    }
}

/// An issue's status, as an operator set it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IssueState {
    /// The site's id.
    pub site: u32,
    /// The issue's fingerprint.
    pub fingerprint: String,
    /// Resolved or ignored.
    pub status: IssueStatus,
    /// When it was set, in milliseconds since the Unix epoch (UTC).
    pub changed_ms: i64,
}

/// How an issue shows, from its state and its latest report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShownStatus {
    /// Open.
    Open,
    /// Resolved, and no report since.
    Resolved,
    /// Ignored.
    Ignored,
    /// Resolved, then reported again: open again.
    Regressed,
}

impl ShownStatus {
    /// `open`, `resolved`, `ignored` or `regressed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ShownStatus::Open => "open",
            ShownStatus::Resolved => "resolved",
            ShownStatus::Ignored => "ignored",
            ShownStatus::Regressed => "regressed",
        }
    }

    /// Whether the issue counts among the open ones (open or regressed).
    pub fn is_open(self) -> bool {
        matches!(self, ShownStatus::Open | ShownStatus::Regressed)
    }
}

/// Issue states kept at most; beyond, the oldest go (their issues show as open again).
pub const MAX_ISSUE_STATES: usize = 100_000;

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
            error_key: Some(new_error_key()),
            goals: Vec::new(),
            funnels: Vec::new(),
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

    /// How issue `fingerprint` of `site` shows, given its latest report at `last_ms`: a report
    /// after it was resolved reopens it.
    pub fn issue_status(&self, site: u32, fingerprint: &str, last_ms: i64) -> ShownStatus {
        let state = self.issue_states.iter().find(|s| s.site == site && s.fingerprint == fingerprint);
        match state {
            None => ShownStatus::Open,
            Some(s) => match s.status {
                IssueStatus::Open => ShownStatus::Open,
                IssueStatus::Ignored => ShownStatus::Ignored,
                IssueStatus::Resolved if last_ms > s.changed_ms => ShownStatus::Regressed,
                IssueStatus::Resolved => ShownStatus::Resolved,
            },
        }
    }

    /// The open diagnostics request of `site`'s issue `fingerprint` at `now_ms`, if any.
    pub fn open_diagnostics(&self, site: u32, fingerprint: &str, now_ms: i64) -> Option<&DiagnosticsRequest> {
        self.diagnostics.iter().find(|d| d.site == site && d.fingerprint == fingerprint && d.is_open(now_ms))
    }

    /// Hands out a single-use consent token for `site`'s request `id`: the person agreed.
    /// Returns the token (only its hash is kept) and its expiry.
    pub fn grant_consent(&mut self, site: u32, id: &str, now_ms: i64) -> Result<(String, i64), ConsentRefusal> {
        let request =
            self.diagnostics.iter_mut().find(|d| d.site == site && d.id == id).ok_or(ConsentRefusal::UnknownRequest)?;
        if !request.is_open(now_ms) {
            return Err(ConsentRefusal::Closed);
        }
        request.tokens.retain(|(_, expires)| *expires > now_ms);
        let room = (request.max_reports - request.received) as usize * 2;
        if request.tokens.len() >= room.max(1) {
            return Err(ConsentRefusal::TooManyWaiting);
        }
        let token = hex::encode(rand::random::<[u8; 16]>());
        let expires = (now_ms + CONSENT_TOKEN_MS).min(request.expires_ms);
        request.tokens.push((token_hash(&token), expires));
        Ok((token, expires))
    }

    /// Takes consent token `token` for a report of `site`'s issue `fingerprint`: used once, for
    /// that issue's open request only. Returns the request (after counting the report).
    pub fn redeem_consent(
        &mut self,
        site: u32,
        fingerprint: &str,
        token: &str,
        now_ms: i64,
    ) -> Result<DiagnosticsRequest, ConsentRefusal> {
        let hash = token_hash(token);
        let request = self
            .diagnostics
            .iter_mut()
            .find(|d| d.site == site && d.tokens.iter().any(|(h, e)| *h == hash && *e > now_ms))
            .ok_or(ConsentRefusal::UnknownToken)?;
        if request.fingerprint != fingerprint {
            return Err(ConsentRefusal::OtherIssue);
        }
        if !request.is_open(now_ms) {
            return Err(ConsentRefusal::Closed);
        }
        request.tokens.retain(|(h, e)| *h != hash && *e > now_ms);
        request.received += 1;
        Ok(request.clone())
    }

    /// Sets issue `fingerprint`'s status (open removes its state), keeping at most
    /// [`MAX_ISSUE_STATES`] states.
    pub fn set_issue_status(&mut self, site: u32, fingerprint: &str, status: IssueStatus, now_ms: i64) {
        self.issue_states.retain(|s| !(s.site == site && s.fingerprint == fingerprint));
        if status != IssueStatus::Open {
            self.issue_states.push(IssueState {
                site,
                fingerprint: fingerprint.to_owned(),
                status,
                changed_ms: now_ms,
            });
        }
        if self.issue_states.len() > MAX_ISSUE_STATES {
            let extra = self.issue_states.len() - MAX_ISSUE_STATES;
            self.issue_states.drain(..extra);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_request(max_reports: u32) -> Metadata {
        let mut m = Metadata::default();
        m.add_site("shop.example", 0, 30).unwrap();
        m.diagnostics.push(DiagnosticsRequest {
            id: "00000000000000d1".into(),
            site: 1,
            fingerprint: "aaaaaaaaaaaaaaaa".into(),
            purpose: "Why does checkout fail?".into(),
            wants: vec![DetailKind::Breadcrumbs],
            created_ms: 0,
            expires_ms: 10 * CONSENT_TOKEN_MS,
            max_reports,
            received: 0,
            tokens: Vec::new(),
            closed: false,
        });
        m
    }

    #[test]
    fn p07_consent_tokens_are_single_use_for_one_issue_and_expire() {
        let mut m = with_request(2);
        assert!(m.open_diagnostics(1, "aaaaaaaaaaaaaaaa", 0).is_some());
        assert!(m.open_diagnostics(1, "bbbbbbbbbbbbbbbb", 0).is_none(), "another issue has none");
        let (token, expires) = m.grant_consent(1, "00000000000000d1", 0).unwrap();
        assert_eq!(expires, CONSENT_TOKEN_MS);
        assert!(!format!("{m:?}").contains(&token), "only the token's hash is kept");
        assert_eq!(m.redeem_consent(1, "bbbbbbbbbbbbbbbb", &token, 1).unwrap_err(), ConsentRefusal::OtherIssue);
        assert_eq!(m.redeem_consent(2, "aaaaaaaaaaaaaaaa", &token, 1).unwrap_err(), ConsentRefusal::UnknownToken);
        assert_eq!(m.redeem_consent(1, "aaaaaaaaaaaaaaaa", &token, 1).unwrap().received, 1);
        assert_eq!(
            m.redeem_consent(1, "aaaaaaaaaaaaaaaa", &token, 2).unwrap_err(),
            ConsentRefusal::UnknownToken,
            "a token is used once"
        );
        let (late, _) = m.grant_consent(1, "00000000000000d1", 0).unwrap();
        assert_eq!(
            m.redeem_consent(1, "aaaaaaaaaaaaaaaa", &late, CONSENT_TOKEN_MS + 1).unwrap_err(),
            ConsentRefusal::UnknownToken,
            "a token expires after an hour"
        );
        assert_eq!(m.grant_consent(1, "00000000000000d9", 0).unwrap_err(), ConsentRefusal::UnknownRequest);
    }

    #[test]
    fn p07_diagnostics_requests_close_when_full_expired_or_closed() {
        let mut m = with_request(1);
        let tokens: Vec<String> = (0..2).map(|_| m.grant_consent(1, "00000000000000d1", 0).unwrap().0).collect();
        assert_eq!(m.grant_consent(1, "00000000000000d1", 0).unwrap_err(), ConsentRefusal::TooManyWaiting);
        m.redeem_consent(1, "aaaaaaaaaaaaaaaa", &tokens[0], 1).unwrap();
        assert_eq!(m.redeem_consent(1, "aaaaaaaaaaaaaaaa", &tokens[1], 1).unwrap_err(), ConsentRefusal::Closed, "full");
        assert!(m.open_diagnostics(1, "aaaaaaaaaaaaaaaa", 1).is_none());
        let mut m = with_request(5);
        assert_eq!(m.grant_consent(1, "00000000000000d1", 10 * CONSENT_TOKEN_MS).unwrap_err(), ConsentRefusal::Closed);
        m.diagnostics[0].closed = true;
        assert_eq!(m.grant_consent(1, "00000000000000d1", 0).unwrap_err(), ConsentRefusal::Closed);
    }
}
