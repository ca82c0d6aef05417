//! The ingest pipeline: decode → enrich → desensitize → visits → durable store.
//! Error reports take their own path through it ([`errors`]).

mod errors;

pub use errors::{DiagnosticsOffer, ErrorsAccepted, SentryEndpoint, SentryRequest};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use obscura_model::{Clock, Event, RawHit};
use obscura_privacy::SaltRing;
use obscura_privacy::page_url::normalize_page_keeping;
use obscura_privacy::scrub::{SiteRules, scrub_text};
use obscura_store::EventStore;
use obscura_store::meta::{MetadataStore, Site};
use obscura_store::salts::SaltVault;
use obscura_store::visit_book::{OpenVisitBook, SharedVisit};
use time::{Date, OffsetDateTime};

use crate::decode::{RequestContext, app, batch, native, pixel, plausible, umami, vitals};
use crate::desensitize::{apply_site_rules, desensitize, measurements};
use crate::enricher::Enricher;
use crate::error::IngestError;
use crate::error_limit::ErrorLimiter;
use crate::pace::PaceHit;
use crate::visits::{VisitLimits, VisitState, VisitTracker, advance};

/// The request formats the pipeline decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Obscura's own event format (`POST /api/event`).
    Native,
    /// A speed beacon of the tracker's performance part (`POST /api/vitals`).
    Vitals,
    /// A batch of the application API (`POST /api/app`).
    App,
    /// Plausible's event format, on Obscura's own route (`POST /api/event`).
    Plausible,
    /// The pixel tag's query string (`GET /p.gif?site=…&url=…`).
    Pixel,
    /// Umami's collection format (`POST /api/send`).
    Umami,
}

impl Protocol {
    /// Its name, as metrics label it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Native => "obscura",
            Protocol::Vitals => "vitals",
            Protocol::App => "app",
            Protocol::Plausible => "plausible",
            Protocol::Pixel => "pixel",
            Protocol::Umami => "umami",
        }
    }
}

/// One event of a batch, checked and prepared, before the batch's one append.
enum Prepared {
    /// A retry of an idempotency key already stored (or twice in the batch).
    Duplicate,
    /// Not stored by the site's settings.
    Dropped(u32),
    /// To store, as the site's people's event or kept apart as an automated one.
    Event { site: u32, event: Box<Event>, automated: bool, key: Option<String> },
}

/// What became of one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResult {
    /// Durable in the store (kept apart when its client was judged automated: answered alike).
    Stored,
    /// A retry of an idempotency key already stored: not stored again.
    Duplicate,
    /// Not stored by the site's settings (data it does not collect).
    Dropped,
    /// Refused: the HTTP status it would have had alone, and why.
    Refused(u16, String),
}

/// What happened to an accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Durable in the store.
    Stored,
    /// Dropped by policy (Global Privacy Control / Do-Not-Track); answered 202 and counted.
    DroppedByPolicy,
    /// A speed beacon from an automated browser, left out by the site's sample rate, or with
    /// no measurement left: never mixed into the speed figures; answered 202 and counted.
    DroppedFromSpeed,
    /// From a client judged automated or suspicious (P5): stored apart from people's figures,
    /// and answered as if stored among them.
    KeptApart,
}

/// Ingest outcomes since the server started, in total and per site.
#[derive(Default, Debug)]
pub struct Counters {
    /// Events written durably to the store.
    pub stored: AtomicU64,
    /// Requests accepted but dropped: GPC / Do-Not-Track, or data the site does not collect.
    pub dropped_by_policy: AtomicU64,
    /// Requests refused with an error (bad request, unknown site, store unavailable).
    pub rejected: AtomicU64,
    /// Speed beacons from automated browsers (webdriver, headless), kept out of the figures.
    pub speed_automated: AtomicU64,
    /// Page views, custom events and engagement from clients judged automated or suspicious,
    /// kept apart from people's figures (P5).
    pub automated: AtomicU64,
    /// Speed beacons left out by their site's sample rate.
    pub speed_sampled_out: AtomicU64,
    /// Measurements dropped from speed beacons for values out of range (negative, beyond ten
    /// minutes) or CDN hosts no provider is known for.
    pub measurements_dropped: AtomicU64,
    /// Error events stored.
    pub errors_stored: AtomicU64,
    /// Error reports from headless browsers and robots, kept out of the error counts (P5).
    pub errors_automated: AtomicU64,
    /// Error reports refused because their site sent more than its ceiling (429).
    pub errors_rate_limited: AtomicU64,
    /// Envelope items that are not events (sessions, transactions, client reports, …), skipped.
    pub error_items_skipped: AtomicU64,
    /// Error reports whose detail (breadcrumbs, extra context) was stripped: detail is kept
    /// only with the person's consent (P7).
    pub error_detail_stripped: AtomicU64,
    /// Error reports whose detail was kept: they came with a valid consent token.
    pub error_detail_consented: AtomicU64,
    /// Consent tokens refused: unknown, used already, expired, or for another issue.
    pub consent_refused: AtomicU64,
    /// Requests per (protocol, outcome) — a few dozen pairs at most — for the metrics.
    by_protocol: Mutex<HashMap<(&'static str, &'static str), u64>>,
    /// How long the store took to make each append durable.
    pub append_latency: crate::latency::Latency,
    /// Appends handed to the store and not yet answered: the ingest queue's depth.
    pub appends_waiting: AtomicU64,
    /// Appends the store could not make durable (answered 503).
    pub store_failures: AtomicU64,
    /// Retention runs completed, and the site-days they destroyed (counted by maintenance).
    pub retention_runs: AtomicU64,
    /// Per site id, for requests that named a configured site (requests for unknown sites or
    /// without a readable site count in the totals only), so there are never more entries than
    /// sites configured while the server runs.
    per_site: Mutex<HashMap<u32, SiteCounts>>,
}

/// One site's ingest outcomes since the server started.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteCounts {
    /// Events of this site written durably to the store.
    pub stored: u64,
    /// Requests for this site dropped by GPC / Do-Not-Track or its collection switches.
    pub dropped_by_policy: u64,
    /// Requests for this site refused with an error.
    pub rejected: u64,
    /// Requests for this site from clients judged automated or suspicious, kept apart.
    pub automated: u64,
}

impl Counters {
    /// Counts a request: its outcome, or `None` when it was refused.
    /// Requests so far per (protocol, outcome): `stored`, `kept_apart`, `dropped_by_policy`,
    /// `dropped_from_speed`, `rejected`.
    pub fn by_protocol(&self) -> Vec<((&'static str, &'static str), u64)> {
        let mut all: Vec<_> =
            self.by_protocol.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (*k, *v)).collect();
        all.sort();
        all
    }

    /// Counts a request of `protocol` (a [`Protocol::name`], or `sentry`) and its outcome.
    fn record(&self, protocol: &'static str, site: Option<u32>, result: Option<Outcome>) {
        let outcome = match result {
            Some(Outcome::Stored) => "stored",
            Some(Outcome::KeptApart) => "kept_apart",
            Some(Outcome::DroppedByPolicy) => "dropped_by_policy",
            Some(Outcome::DroppedFromSpeed) => "dropped_from_speed",
            None => "rejected",
        };
        *self.by_protocol.lock().unwrap_or_else(|e| e.into_inner()).entry((protocol, outcome)).or_default() += 1;
        let total = match result {
            Some(Outcome::Stored) => &self.stored,
            Some(Outcome::KeptApart) => &self.automated,
            Some(Outcome::DroppedByPolicy | Outcome::DroppedFromSpeed) => &self.dropped_by_policy,
            None => &self.rejected,
        };
        total.fetch_add(1, Ordering::Relaxed);
        if let Some(site) = site {
            let mut per_site = self.per_site.lock().unwrap_or_else(|e| e.into_inner());
            let counts = per_site.entry(site).or_default();
            match result {
                Some(Outcome::Stored) => counts.stored += 1,
                Some(Outcome::KeptApart) => counts.automated += 1,
                Some(Outcome::DroppedByPolicy | Outcome::DroppedFromSpeed) => counts.dropped_by_policy += 1,
                None => counts.rejected += 1,
            }
        }
    }

    /// The counts of site `id` (zero when it has had no requests).
    pub fn site(&self, id: u32) -> SiteCounts {
        self.per_site.lock().unwrap_or_else(|e| e.into_inner()).get(&id).copied().unwrap_or_default()
    }
}

/// The ingest pipeline: turns request bodies into desensitized events and stores them.
///
/// Owns the daily visitor-hash salts (persisted encrypted) and the open-visit tracker; no IP or raw
/// text survives past [`Pipeline::prepare`].
pub struct Pipeline {
    enricher: Arc<Enricher>,
    salts: Mutex<SaltRing>,
    salt_vault: Arc<dyn SaltVault>,
    /// The ring changed but could not be saved: every later rotation and hit retries, so a
    /// destroyed salt does not outlive its 48 hours in the file (P2).
    salts_unsaved: AtomicBool,
    visits: Mutex<VisitTracker>,
    /// Open visits shared with other nodes, when there are several; `visits` then serves only
    /// while the book cannot be reached.
    visit_book: Option<Arc<dyn OpenVisitBook>>,
    /// Events whose visit was assigned by this node alone because the book could not be reached.
    pub visits_assigned_locally: AtomicU64,
    store: Arc<dyn EventStore>,
    meta: Arc<dyn MetadataStore>,
    clock: Arc<dyn Clock>,
    scrub_rules: SiteRules,
    /// Query parameters that name the visit's source (`ref`, `source` by default).
    source_params: Vec<String>,
    /// Which CDN provider serves a host, for speed beacons.
    cdn: obscura_enrich::CdnMap,
    /// The per-site ceiling on error reports.
    error_limiter: ErrorLimiter,
    /// Tells people from automated processes (P5).
    classifier: Arc<obscura_enrich::bots::Classifier>,
    /// Each client's hits in the current minute, for the classifier.
    pace: crate::pace::Pace,
    /// The batch API's idempotency keys already stored.
    idempotency: crate::idempotency::IdempotencyKeys,
    /// Bounds the events waiting for the store, and refuses ingest over the memory ceiling.
    admission: crate::admission::Admission,
    /// Whether hits are weighed at all: always, but for the benchmark's side-by-side run that
    /// measures what weighing costs ([`Pipeline::set_classifying`]).
    classifying: AtomicBool,
    /// Ingest outcomes since the server started.
    pub counters: Counters,
}

impl Pipeline {
    /// Switches weighing hits on or off, for `obscura bench ingest` only: configuration offers no
    /// such switch, since without it P5 is not kept.
    pub fn set_classifying(&self, on: bool) {
        self.classifying.store(on, Ordering::Relaxed);
    }

    /// Tells people from automated processes with `classifier` (built from the configured robot
    /// lists); by default no list is loaded and User-Agents' own markers decide.
    pub fn with_classifier(mut self, classifier: obscura_enrich::bots::Classifier) -> Self {
        self.classifier = Arc::new(classifier);
        self
    }

    /// Lets each site send at most `per_minute` error reports a minute (`[limits]
    /// errors_per_minute`); more are answered 429.
    pub fn with_errors_per_minute(mut self, per_minute: u32) -> Self {
        self.error_limiter = ErrorLimiter::new(per_minute);
        self
    }

    /// Adds the operator's scrub rules (`[[scrub.rules]]`) to the built-in ones.
    pub fn with_scrub_rules(mut self, rules: SiteRules) -> Self {
        self.scrub_rules = rules;
        self
    }

    /// Uses `cdn` (the built-in map with the operator's host rules) to name CDN providers.
    pub fn with_cdn_map(mut self, cdn: obscura_enrich::CdnMap) -> Self {
        self.cdn = cdn;
        self
    }

    /// Sets the ceilings of the open-visit tracker (`[limits]`).
    pub fn with_visit_limits(self, limits: VisitLimits) -> Self {
        *self.visits.lock().unwrap_or_else(|e| e.into_inner()) = VisitTracker::new(limits);
        self
    }

    /// Shares open visits with other nodes through `book` (PostgreSQL), so a visitor whose
    /// requests reach different nodes keeps one visit.
    pub fn with_visit_book(mut self, book: Arc<dyn OpenVisitBook>) -> Self {
        self.visit_book = Some(book);
        self
    }

    /// Deletes the shared visits that have ended (no event for 30 minutes).
    pub fn forget_ended_visits(&self) -> anyhow::Result<u64> {
        let Some(book) = &self.visit_book else { return Ok(0) };
        book.forget_ended(self.clock.now_ms() - crate::visits::VISIT_TIMEOUT_MS)
    }

    /// Assigns the event's visit from the shared book: read the visitor's visit, advance it,
    /// store it unless another node changed it meanwhile (then read again).
    fn assign_shared_visit(&self, book: &dyn OpenVisitBook, event: &mut Event) -> anyhow::Result<()> {
        let (site, visitor) = (event.site, event.visitor.get());
        for _ in 0..8 {
            let kept = book.get(site, visitor)?;
            let prior = kept.as_ref().map(|v| VisitState {
                id: v.id,
                last_ms: v.last_ms,
                pageviews: v.pageviews,
                // Kept paths are already scrubbed; scrubbing again only re-wraps them.
                last_path: v.last_path.as_deref().map(scrub_text),
            });
            let next = advance(prior, event);
            let next = SharedVisit {
                id: next.id,
                last_ms: next.last_ms,
                pageviews: next.pageviews,
                last_path: next.last_path.map(|p| p.as_str().to_owned()),
            };
            if book.replace(site, visitor, kept.as_ref(), &next)? {
                return Ok(());
            }
        }
        anyhow::bail!("the visitor's visit kept changing on other nodes")
    }

    /// Open visits held now, and visits forgotten because a ceiling was reached.
    pub fn visit_stats(&self) -> (usize, u64) {
        let visits = self.visits.lock().unwrap_or_else(|e| e.into_inner());
        (visits.open_visits(), visits.evicted())
    }

    /// The enrichment databases in use.
    pub fn enricher(&self) -> &Arc<Enricher> {
        &self.enricher
    }

    /// Sets how many events may wait for the store at once and the resident memory (bytes; 0:
    /// none) above which ingest is refused (`[limits] ingest_queue_events`, `memory_mb`).
    pub fn with_admission(mut self, max_waiting_events: usize, memory_ceiling_bytes: u64) -> Self {
        self.admission = crate::admission::Admission::new(max_waiting_events, memory_ceiling_bytes);
        self
    }

    /// The admission gate: events waiting for the store, refusals, the memory check.
    pub fn admission(&self) -> &crate::admission::Admission {
        &self.admission
    }

    /// Sets the query parameters that name the visit's source (`[url] source_params`).
    pub fn with_source_params(mut self, params: Vec<String>) -> Self {
        self.source_params = params;
        self
    }

    /// Creates the pipeline, loading the visitor salts from `salt_vault`, then rotating them.
    /// Fails if the salts cannot be read, decrypted or saved.
    pub fn new(
        enricher: Arc<Enricher>,
        store: Arc<dyn EventStore>,
        meta: Arc<dyn MetadataStore>,
        clock: Arc<dyn Clock>,
        salt_vault: Arc<dyn SaltVault>,
    ) -> anyhow::Result<Self> {
        let ring = SaltRing::restore(salt_vault.load()?, clock.now());
        let pipeline = Pipeline {
            enricher,
            salts: Mutex::new(ring),
            salt_vault,
            salts_unsaved: AtomicBool::new(false),
            visits: Mutex::new(VisitTracker::default()),
            visit_book: None,
            visits_assigned_locally: AtomicU64::new(0),
            store,
            meta,
            clock,
            scrub_rules: SiteRules::default(),
            source_params: obscura_privacy::page_url::DEFAULT_SOURCE_PARAMS.map(str::to_owned).to_vec(),
            cdn: obscura_enrich::CdnMap::built_in(),
            error_limiter: ErrorLimiter::default(),
            classifier: Arc::new(obscura_enrich::bots::Classifier::new(
                obscura_enrich::bots::user_agents::RobotNames::empty(),
            )),
            pace: crate::pace::Pace::default(),
            idempotency: Default::default(),
            admission: Default::default(),
            classifying: AtomicBool::new(true),
            counters: Counters::default(),
        };
        pipeline.rotate_salts()?;
        Ok(pipeline)
    }

    /// The clock that timestamps incoming events.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The event store events are appended to.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// Destroys expired salts and makes today's; persists the ring when it changed, or when an
    /// earlier save failed (P2).
    pub fn rotate_salts(&self) -> anyhow::Result<Vec<Date>> {
        let now = self.clock.now();
        let mut ring = self.salts.lock().unwrap_or_else(|e| e.into_inner());
        let destroyed = ring.rotate(now);
        let created = ring.ensure_today(now);
        if created || !destroyed.is_empty() {
            self.salts_unsaved.store(true, Ordering::SeqCst);
        }
        self.save_salts_if_changed(&mut ring, now)?;
        Ok(destroyed)
    }

    /// Saves the ring if it changed since the last successful save, and adopts the salts as
    /// stored (another node may have stored a day's salt first).
    fn save_salts_if_changed(&self, ring: &mut SaltRing, now: OffsetDateTime) -> anyhow::Result<()> {
        if self.salts_unsaved.load(Ordering::SeqCst) {
            let stored = self.salt_vault.store(ring.entries().map(|(d, s)| (d, *s)).collect())?;
            *ring = SaltRing::restore(stored, now);
            self.salts_unsaved.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Days whose salts are alive (for tests and status).
    pub fn salt_days(&self) -> Vec<Date> {
        self.salts.lock().unwrap_or_else(|e| e.into_inner()).days()
    }

    /// Resumes the visits that were open when the server stopped, from the stored events of the
    /// last 30 minutes, so a restart does not split them. Returns how many were resumed.
    pub async fn restore_visits(&self) -> anyhow::Result<usize> {
        let since = self.clock.now() - time::Duration::milliseconds(crate::visits::VISIT_TIMEOUT_MS);
        let open = self.store.open_visits(obscura_model::unix_ms(since)).await?;
        let mut visits = self.visits.lock().unwrap_or_else(|e| e.into_inner());
        for v in &open {
            // Stored paths are already scrubbed; scrubbing again only re-wraps them.
            let last_path = v.last_path.as_deref().filter(|_| v.pageviews > 0).map(scrub_text);
            let pageviews = v.pageviews.min(u64::from(u16::MAX)) as u16;
            visits.restore(v.site, v.visitor, v.visit, v.last_ms, pageviews, last_path);
        }
        Ok(open.len())
    }

    /// Learns the batch API's idempotency keys stored in the last day, so that a batch retried
    /// across a restart is not stored twice. Returns how many.
    pub async fn restore_idempotency_keys(&self) -> anyhow::Result<usize> {
        let since = obscura_model::unix_ms(self.clock.now()) - crate::idempotency::KEPT_FOR_MS;
        let keys = self.store.stored_keys(since).await?;
        let restored = keys.len();
        self.idempotency.restore(keys);
        Ok(restored)
    }

    /// Handles one request body of `protocol`, counting its outcome (for its site, once known).
    pub async fn ingest(&self, protocol: Protocol, body: &[u8], ctx: RequestContext) -> Result<Outcome, IngestError> {
        let mut site = None;
        let result = match protocol {
            Protocol::Native => self.ingest_one(native::decode(body, &ctx), &ctx, &mut site).await,
            Protocol::Vitals => self.ingest_vitals_inner(body, ctx, &mut site).await,
            Protocol::App => self.ingest_app_inner(body, ctx, &mut site).await,
            Protocol::Plausible => self.ingest_plausible_inner(body, ctx, &mut site).await,
            Protocol::Pixel => self.ingest_one(pixel::decode(body, &ctx), &ctx, &mut site).await,
            Protocol::Umami => self.ingest_umami_inner(body, ctx, &mut site).await,
        };
        self.counters.record(protocol.name(), site, result.as_ref().ok().copied());
        result
    }

    /// One decoded hit of the site it names (Obscura's own format, the pixel tag). Sets
    /// `site_id` as soon as the request's site is known, for the per-site counters.
    async fn ingest_one(
        &self,
        decoded: Result<native::Decoded, IngestError>,
        ctx: &RequestContext,
        site_id: &mut Option<u32>,
    ) -> Result<Outcome, IngestError> {
        let decoded = decoded?;
        let site = self.resolve_site(&decoded.site_domain)?;
        *site_id = Some(site.id);
        self.ingest_decoded(decoded, site, ctx).await
    }

    /// An Umami request: a hit of the first site it names that is served here (its `website`,
    /// then its `hostname`); `identify` and the other kinds Obscura takes in its own formats are
    /// taken and nothing of them is kept.
    async fn ingest_umami_inner(
        &self,
        body: &[u8],
        ctx: RequestContext,
        site_id: &mut Option<u32>,
    ) -> Result<Outcome, IngestError> {
        let (candidates, decoded) = match umami::decode(body, &ctx)? {
            umami::Sent::NothingKept => return Ok(Outcome::DroppedByPolicy),
            umami::Sent::Hit { candidates, decoded } => (candidates, decoded),
        };
        let site = candidates
            .iter()
            .find_map(|domain| self.resolve_site(domain).ok())
            .ok_or_else(|| IngestError::UnknownSite(candidates.join(" or ")))?;
        *site_id = Some(site.id);
        self.ingest_decoded(*decoded, site, &ctx).await
    }

    /// A Plausible event: one hit per site its `d` names. Sites not served here are skipped
    /// when another is (Plausible does the same); none served is a 404. The outcome is the
    /// first site's.
    async fn ingest_plausible_inner(
        &self,
        body: &[u8],
        ctx: RequestContext,
        site_id: &mut Option<u32>,
    ) -> Result<Outcome, IngestError> {
        let mut found = Vec::new();
        let mut unknown = None;
        for decoded in plausible::decode(body, &ctx)? {
            match self.resolve_site(&decoded.site_domain) {
                Ok(site) => found.push((decoded, site)),
                Err(e) => unknown = unknown.or(Some(e)),
            }
        }
        if found.is_empty() {
            return Err(unknown.unwrap_or_else(|| IngestError::BadRequest("no site named".into())));
        }
        let mut first = None;
        for (decoded, site) in found {
            site_id.get_or_insert(site.id);
            let outcome = self.ingest_decoded(decoded, site, &ctx).await?;
            first.get_or_insert(outcome);
        }
        Ok(first.expect("at least one site"))
    }

    /// One decoded hit of a resolved site: dropped where its client opted out, kept apart when
    /// automated, stored otherwise.
    async fn ingest_decoded(
        &self,
        decoded: native::Decoded,
        site: Site,
        ctx: &RequestContext,
    ) -> Result<Outcome, IngestError> {
        if ctx.opted_out && site.respect_dnt {
            return Ok(Outcome::DroppedByPolicy);
        }
        let decision = self.classify_at(ctx.ja4.as_deref(), &decoded, &site, true);
        if decision.verdict != obscura_enrich::bots::Verdict::Human {
            return self.keep_apart(decoded.hit, &site, decision).await;
        }
        let event = match self.prepare(decoded.hit, &site) {
            Err(IngestError::NotCollected(_)) => return Ok(Outcome::DroppedByPolicy),
            other => other?,
        };
        self.append(vec![event]).await
    }

    /// The decision about the client of a request (P5), on what it showed: its headers, the
    /// JA4 fingerprint of its TLS connection (computed here or passed by a trusted proxy), the
    /// tracker's browser signals, whether its network is a datacentre's and, with `paced`, its
    /// pace and whether it goes on viewing pages without ever an engagement beacon. Human when
    /// weighing is switched off (the benchmark's side-by-side run).
    fn classify_at(
        &self,
        ja4: Option<&str>,
        decoded: &native::Decoded,
        site: &Site,
        paced: bool,
    ) -> obscura_enrich::bots::Decision {
        if !self.classifying.load(Ordering::Relaxed) {
            let human = obscura_enrich::bots::Verdict::Human;
            return obscura_enrich::bots::Decision { verdict: human, reasons: Default::default() };
        }
        let h = &decoded.hit.headers;
        let hints = h.ch_ua.as_ref().map(|ua| obscura_enrich::user_agent::ClientHints {
            ua: Some(ua.clone()),
            mobile: h.ch_ua_mobile.clone(),
            platform: h.ch_ua_platform.clone(),
            ..Default::default()
        });
        let seen = paced.then(|| {
            let (at, hit) = (obscura_model::unix_ms(decoded.hit.received_at), PaceHit::of(decoded.hit.kind));
            self.pace.count(site.id, decoded.hit.ip, &h.user_agent, at, hit)
        });
        self.classifier.classify(&obscura_enrich::bots::Evidence {
            user_agent: &h.user_agent,
            hints: hints.as_ref(),
            secure: ja4.is_some(),
            ja4,
            signals: decoded.signals.map(obscura_enrich::bots::signals::BrowserSignals::from_bits),
            asn: self.enricher.asn(decoded.hit.ip, &site.collect),
            events_last_minute: seen.map(|s| s.this_minute),
            views_without_engagement: seen.map(|s| s.views_without_engagement),
        })
    }

    /// Stores a hit from an automated or suspicious client apart from people's (kind
    /// [`obscura_model::EventKind::Automated`], no visit), with what it was, the verdict and its
    /// reasons: what was acknowledged is kept, as everything acknowledged is.
    async fn keep_apart(
        &self,
        hit: RawHit,
        site: &Site,
        decision: obscura_enrich::bots::Decision,
    ) -> Result<Outcome, IngestError> {
        let event = match self.apart_event(hit, site, decision) {
            Err(IngestError::NotCollected(_)) => return Ok(Outcome::DroppedByPolicy),
            other => other?,
        };
        match self.append(vec![event]).await? {
            Outcome::Stored => Ok(Outcome::KeptApart),
            other => Ok(other),
        }
    }

    /// The event a hit from an automated client becomes: kind
    /// [`obscura_model::EventKind::Automated`], what it was, the verdict and its reasons.
    fn apart_event(
        &self,
        mut hit: RawHit,
        site: &Site,
        decision: obscura_enrich::bots::Decision,
    ) -> Result<Event, IngestError> {
        let was = match hit.kind {
            obscura_model::EventKind::Pageview => "pageview",
            obscura_model::EventKind::Custom => "event",
            _ => "engagement",
        };
        let reasons = decision.reasons.names();
        let verdict = match decision.verdict {
            obscura_enrich::bots::Verdict::Suspicious => "suspicious",
            _ => "automated",
        };
        // The first of the heaviest: reasons are listed from the most telling.
        let strongest = decision
            .reasons
            .iter()
            .fold(None, |best: Option<obscura_enrich::bots::Reason>, r| match best {
                Some(b) if b.weight() >= r.weight() => Some(b),
                _ => Some(r),
            })
            .map_or("", |r| r.name());
        hit.kind = obscura_model::EventKind::Automated;
        hit.props = [("was", was), ("verdict", verdict), ("reason", strongest), ("reasons", &reasons.join(","))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), obscura_model::PropValue::Text(v.to_owned())))
            .collect();
        self.desensitized(hit, site)
    }

    /// A batch of the batch API (`POST /api/batch`): each event decoded, checked and prepared
    /// on its own, then all stored with one append. Events of sites outside `allowed` (the
    /// token's sites; `None`: every site), outside their site's retention or more than five
    /// minutes ahead, and retries of an idempotency key already stored are not stored.
    /// Automated clients' events are kept apart, as ever; a batch's pace is no client's, so
    /// pace plays no part. `Err` only when the body is no batch at all or the store fails.
    pub async fn ingest_batch(
        &self,
        body: &[u8],
        ctx: RequestContext,
        allowed: Option<&[u32]>,
    ) -> Result<Vec<BatchResult>, IngestError> {
        let now = ctx.received_at;
        let now_ms = obscura_model::unix_ms(now);
        let decoded = match batch::decode(body, &ctx) {
            Ok(d) => d,
            Err(e) => {
                self.counters.record("batch", None, None);
                return Err(e);
            }
        };
        let mut results = Vec::with_capacity(decoded.len());
        let mut events = Vec::new();
        let mut stored_at = Vec::new();
        let mut keys_in_batch = std::collections::HashSet::new();
        for item in decoded {
            let prepared = item.and_then(|item| {
                let site = self.resolve_site(&item.decoded.site_domain)?;
                if allowed.is_some_and(|a| !a.contains(&site.id)) {
                    return Err(IngestError::Forbidden(format!("this token may not send events of {}", site.domain)));
                }
                let at = item.decoded.hit.received_at;
                let oldest =
                    (now.date() - time::Duration::days(i64::from(site.retention_days) - 1)).midnight().assume_utc();
                if at < oldest || at > now + time::Duration::minutes(5) {
                    return Err(IngestError::BadRequest(format!(
                        "field `timestamp` must be within the site's retention ({} days) and not in the future",
                        site.retention_days
                    )));
                }
                if let Some(key) = &item.idempotency_key
                    && (self.idempotency.seen(site.id, key, now_ms) || !keys_in_batch.insert((site.id, key.clone())))
                {
                    return Ok(Prepared::Duplicate);
                }
                match self.prepare_given(item.decoded, &site, ctx.ja4.as_deref())? {
                    None => Ok(Prepared::Dropped(site.id)),
                    Some((event, automated)) => Ok(Prepared::Event {
                        site: site.id,
                        event: Box::new(event),
                        automated,
                        key: item.idempotency_key,
                    }),
                }
            });
            results.push(match prepared {
                Err(e) => {
                    self.counters.record("batch", None, None);
                    BatchResult::Refused(e.status(), e.to_string())
                }
                Ok(Prepared::Duplicate) => BatchResult::Duplicate,
                Ok(Prepared::Dropped(site)) => {
                    self.counters.record("batch", Some(site), Some(Outcome::DroppedByPolicy));
                    BatchResult::Dropped
                }
                Ok(Prepared::Event { site, event, automated, key }) => {
                    events.push(*event);
                    stored_at.push((site, key, automated));
                    BatchResult::Stored
                }
            });
        }
        if !events.is_empty() {
            let keys = stored_at
                .iter()
                .map(|(site, key, _)| key.as_deref().map(|key| crate::idempotency::key_hash(*site, key)))
                .collect();
            self.append_keyed(events, keys).await?;
        }
        for (site, key, automated) in stored_at {
            if let Some(key) = key {
                self.idempotency.remember(site, &key, now_ms);
            }
            self.counters.record(
                "batch",
                Some(site),
                Some(if automated { Outcome::KeptApart } else { Outcome::Stored }),
            );
        }
        Ok(results)
    }

    /// Prepares a hit that brings its own time and visitor (a batch's event, an imported log
    /// line), classified by what it carries (no pace: it is no live client's) and kept apart
    /// when automated. `Some((event, automated))`, or `None` when the site does not collect
    /// what it records. `ja4`: the TLS fingerprint of the request that brought it, if any.
    pub fn prepare_given(
        &self,
        decoded: native::Decoded,
        site: &Site,
        ja4: Option<&str>,
    ) -> Result<Option<(Event, bool)>, IngestError> {
        let decision = self.classify_at(ja4, &decoded, site, false);
        let automated = decision.verdict != obscura_enrich::bots::Verdict::Human;
        let event =
            if automated { self.apart_event(decoded.hit, site, decision) } else { self.prepare(decoded.hit, site) };
        match event {
            Err(IngestError::NotCollected(_)) => Ok(None),
            Err(e) => Err(e),
            Ok(event) => Ok(Some((event, automated))),
        }
    }

    async fn ingest_vitals_inner(
        &self,
        body: &[u8],
        ctx: RequestContext,
        site_id: &mut Option<u32>,
    ) -> Result<Outcome, IngestError> {
        let opted_out = ctx.opted_out;
        let automated = obscura_enrich::user_agent::looks_automated(&ctx.headers.user_agent);
        let mut decoded = vitals::decode(body, &ctx)?;
        let site = self.resolve_site(&decoded.site_domain)?;
        *site_id = Some(site.id);
        if opted_out && site.respect_dnt {
            return Ok(Outcome::DroppedByPolicy);
        }
        if !site.collect.performance {
            return Ok(Outcome::DroppedByPolicy);
        }
        if decoded.automated || automated {
            self.counters.speed_automated.fetch_add(1, Ordering::Relaxed);
            return Ok(Outcome::DroppedFromSpeed);
        }
        let rate = f64::from(site.collect.performance_sample_percent.clamp(1, 100)) / 100.0;
        if rate < 1.0 && rand::random::<f64>() >= rate {
            self.counters.speed_sampled_out.fetch_add(1, Ordering::Relaxed);
            return Ok(Outcome::DroppedFromSpeed);
        }
        let before = decoded.hit.measures.len();
        decoded.hit.measures.retain_mut(|m| name_provider(&self.cdn, &site.domain, m));
        let dropped = decoded.dropped + (before - decoded.hit.measures.len()) as u64;
        self.counters.measurements_dropped.fetch_add(dropped, Ordering::Relaxed);
        if decoded.hit.measures.is_empty() {
            return Ok(Outcome::DroppedFromSpeed);
        }
        let events = self.prepare_measures(decoded.hit, &site)?;
        self.append(events).await
    }

    async fn ingest_app_inner(
        &self,
        body: &[u8],
        ctx: RequestContext,
        site_id: &mut Option<u32>,
    ) -> Result<Outcome, IngestError> {
        let decoded = app::decode(body, &ctx)?;
        let site = self.resolve_site(&decoded.site_domain)?;
        *site_id = Some(site.id);
        if !site.collect.performance {
            return Ok(Outcome::DroppedByPolicy);
        }
        self.counters.measurements_dropped.fetch_add(decoded.dropped, Ordering::Relaxed);
        let mut events = Vec::with_capacity(decoded.hits.len());
        for hit in decoded.hits {
            events.extend(self.prepare_measures(hit, &site)?);
        }
        if events.is_empty() {
            return Ok(Outcome::DroppedByPolicy);
        }
        self.append(events).await
    }

    /// Stores `events` durably: [`Outcome::Stored`], or unavailable (the client may retry).
    async fn append(&self, events: Vec<Event>) -> Result<Outcome, IngestError> {
        self.append_keyed(events, Vec::new()).await
    }

    /// [`Pipeline::append`] with the hashes of the events' idempotency keys (one per event, or
    /// none), stored with them.
    async fn append_keyed(
        &self,
        events: Vec<Event>,
        keys: Vec<Option<obscura_store::key_log::KeyHash>>,
    ) -> Result<Outcome, IngestError> {
        let c = &self.counters;
        let _admitted =
            self.admission.enter(events.len()).map_err(|refusal| IngestError::Overloaded(refusal.to_string()))?;
        c.appends_waiting.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let appended = if keys.iter().any(Option::is_some) {
            self.store.append_keyed(events, keys).await
        } else {
            self.store.append(events).await
        };
        c.appends_waiting.fetch_sub(1, Ordering::Relaxed);
        match appended {
            Ok(()) => {
                c.append_latency.observe(started.elapsed());
                Ok(Outcome::Stored)
            }
            Err(e) => {
                c.store_failures.fetch_add(1, Ordering::Relaxed);
                Err(IngestError::Unavailable(e.to_string()))
            }
        }
    }

    /// [`Pipeline::prepare`] for a speed beacon: one event per measurement, sharing the page's
    /// visit (only the first carries the time since the visit's previous event).
    pub fn prepare_measures(&self, mut hit: RawHit, site: &Site) -> Result<Vec<Event>, IngestError> {
        let measures = std::mem::take(&mut hit.measures);
        let base = self.prepare(hit, site)?;
        let mut events = measurements(base, measures);
        // The labels (an element's selector, a span's name) are text the page or app sent.
        if let Some(rules) = self.scrub_rules.for_site(&site.domain) {
            events.iter_mut().for_each(|e| apply_site_rules(e, rules));
        }
        Ok(events)
    }

    /// The configured site with this domain, or [`IngestError::UnknownSite`].
    pub fn resolve_site(&self, domain: &str) -> Result<Site, IngestError> {
        self.meta.get().site_by_domain(domain).cloned().ok_or_else(|| IngestError::UnknownSite(domain.to_owned()))
    }

    /// Enrich, desensitize and assign the visit: the hit's IP and raw text end here.
    pub fn prepare(&self, hit: RawHit, site: &Site) -> Result<Event, IngestError> {
        let mut event = self.desensitized(hit, site)?;
        let shared = self.visit_book.as_ref().map(|book| self.assign_shared_visit(book.as_ref(), &mut event));
        if let Some(Err(e)) = &shared {
            // Ingest goes on; the visit may split across nodes until the book is back.
            if self.visits_assigned_locally.fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
                tracing::warn!("open visits cannot be shared, assigning them on this node: {e:#}");
            }
        }
        if !matches!(shared, Some(Ok(()))) {
            self.visits.lock().unwrap_or_else(|e| e.into_inner()).assign(&mut event);
        }
        Ok(event)
    }

    /// Enrich and desensitize, without a visit (error reports belong to none): the hit's IP
    /// and raw text end here.
    fn desensitized(&self, mut hit: RawHit, site: &Site) -> Result<Event, IngestError> {
        hit.site = site.id;
        let page = normalize_page_keeping(&hit.url, &self.source_params)
            .map_err(|e| IngestError::BadRequest(format!("field `url`: {e}")))?;
        let collect = &site.collect;
        if hit.kind == obscura_model::EventKind::Engagement && !collect.engagement {
            return Err(IngestError::NotCollected("engagement"));
        }
        let mut found = self.enricher.enrich(hit.ip, &hit.headers, collect);
        if let Some(app) = hit.app_device.take().filter(|_| collect.device) {
            // An application tells its device itself; its User-Agent names only the SDK.
            found.device = app_device(app);
        }
        if !collect.referrer {
            hit.referrer = None;
        }
        if !collect.screen {
            hit.screen_width = None;
        }
        if !collect.frequency {
            (hit.returning, hit.days_since_last, hit.visit_count) = (None, None, None);
        }
        let visitor = {
            let mut ring = self.salts.lock().unwrap_or_else(|e| e.into_inner());
            if ring.ensure_today(hit.received_at) {
                ring.rotate(hit.received_at);
                self.salts_unsaved.store(true, Ordering::SeqCst);
            }
            // An unsaved salt would split every visitor in two after a restart.
            self.save_salts_if_changed(&mut ring, hit.received_at)
                .map_err(|e| IngestError::Unavailable(format!("cannot persist the visitor salts: {e:#}")))?;
            ring.visitor_hash(hit.received_at, site.id, hit.ip, &hit.headers.user_agent)
        };
        let mut event = desensitize(hit, page, found, visitor);
        if let Some(rules) = self.scrub_rules.for_site(&site.domain) {
            apply_site_rules(&mut event, rules);
        }
        Ok(event)
    }
}

/// The device an application reported, as enrichment would have found it.
fn app_device(app: obscura_model::AppDevice) -> obscura_enrich::Device {
    use obscura_enrich::DeviceType;
    obscura_enrich::Device {
        browser: None,
        browser_version: None,
        os: app.os,
        os_version: app.os_version,
        brand: None,
        model: app.model,
        device_type: match app.device_type.as_deref() {
            Some("desktop") => DeviceType::Desktop,
            Some("mobile") => DeviceType::Mobile,
            Some("tablet") => DeviceType::Tablet,
            _ => DeviceType::Unknown,
        },
    }
}

/// Replaces a CDN measurement's resource host (and `Server-Timing` names) by the provider that
/// serves it on `site`'s pages; false when no provider is known, so the measurement is dropped:
/// the host may be the site's own or anyone's, and only providers are compared.
fn name_provider(cdn: &obscura_enrich::CdnMap, site: &str, m: &mut obscura_model::RawMeasure) -> bool {
    let Some(host_at) = m.labels.iter().position(|(k, _)| *k == "host") else { return true };
    let host = m.labels.remove(host_at).1;
    let timing = m.labels.iter().position(|(k, _)| *k == "server_timing").map(|i| m.labels.remove(i).1);
    let provider = cdn
        .provider_for_site(site, &host)
        .map(str::to_owned)
        .or_else(|| timing.as_deref().and_then(|t| cdn.provider_of_server_timing(t)).map(str::to_owned));
    match provider {
        Some(provider) => {
            m.labels.insert(0, ("provider", provider));
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use obscura_model::raw::RawHeaders;
    use obscura_model::{DaysSinceLast, EventKind, ManualClock, ScreenClass, VisitCount};
    use obscura_privacy::Clean;
    use obscura_store::crypto::Key;
    use obscura_store::meta::{Collection, GeoLevel, MetaStore};
    use obscura_store::salts::SaltFile;
    use obscura_store::{EmbeddedStore, StoreOptions};
    use time::Duration;
    use time::macros::{date, datetime};

    use super::*;

    const CHROME: &str = concat!(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ",
        "Chrome/124.0.0.0 Safari/537.36"
    );

    /// A pipeline over a real store, metadata and salt file in a temporary folder, at noon on 2026-03-01.
    struct Fixture {
        pipeline: Pipeline,
        store: Arc<EmbeddedStore>,
        meta: Arc<MetaStore>,
        clock: Arc<ManualClock>,
        master: Key,
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let master = Key::random();
            let clock = Arc::new(ManualClock::new(at(0)));
            let store = Arc::new(
                EmbeddedStore::open(StoreOptions {
                    data_dir: dir.path().join("data"),
                    keyring_path: dir.path().join("keyring"),
                    master_key: master.clone(),
                    clock: clock.clone(),
                    rollups: false,
                    flush_rows: 1_000,
                })
                .unwrap(),
            );
            let meta = Arc::new(MetaStore::open(dir.path(), master.clone()).unwrap());
            let pipeline = Pipeline::new(
                Arc::new(Enricher::empty()),
                store.clone(),
                meta.clone(),
                clock.clone(),
                Arc::new(SaltFile::new(dir.path().join("salts"), master.clone())),
            )
            .unwrap();
            Fixture { pipeline, store, meta, clock, master, dir }
        }

        /// Another pipeline over the same store, metadata and salt file, as after a restart.
        fn reopen(&self, master: Key) -> anyhow::Result<Pipeline> {
            Pipeline::new(
                Arc::new(Enricher::empty()),
                self.store.clone(),
                self.meta.clone(),
                self.clock.clone(),
                Arc::new(SaltFile::new(self.dir.path().join("salts"), master)),
            )
        }

        fn add_site(&self, domain: &str, change: impl FnOnce(&mut Site)) -> Site {
            self.meta
                .update(|m| {
                    let mut site = m.add_site(domain, 0, 30)?;
                    change(&mut site);
                    *m.sites.last_mut().expect("just added") = site.clone();
                    Ok(site)
                })
                .unwrap()
        }
    }

    /// `minutes` after noon on 2026-03-01 (UTC).
    fn at(minutes: i64) -> OffsetDateTime {
        datetime!(2026-03-01 12:00 UTC) + Duration::minutes(minutes)
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))
    }

    fn hit(received_at: OffsetDateTime, ip: IpAddr, url: &str) -> RawHit {
        crate::synthetic::raw_pageview(0, received_at, ip, CHROME, url)
    }

    fn context(opted_out: bool) -> RequestContext {
        RequestContext {
            received_at: at(0),
            ip: ip(7),
            headers: RawHeaders { user_agent: CHROME.to_owned(), ..RawHeaders::default() },
            opted_out,
            ja4: None,
        }
    }

    fn body(domain: &str) -> Vec<u8> {
        format!(r#"{{"site":"{domain}","url":"https://{domain}/pricing"}}"#).into_bytes()
    }

    fn text(value: &Option<Clean>) -> Option<&str> {
        value.as_ref().map(Clean::as_str)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_unknown_site_is_refused_and_counted() {
        let f = Fixture::new();
        let site = f.add_site("example.com", |_| {});
        assert_eq!(f.pipeline.resolve_site("WWW.Example.com").unwrap(), site);
        let err = f.pipeline.resolve_site("other.example").unwrap_err();
        assert!(matches!(&err, IngestError::UnknownSite(d) if d == "other.example"), "{err:?}");
        assert_eq!(err.status(), 404);

        let result = f.pipeline.ingest(Protocol::Native, &body("other.example"), context(false)).await;
        assert!(matches!(&result, Err(IngestError::UnknownSite(d)) if d == "other.example"), "{result:?}");
        assert_eq!(f.pipeline.counters.rejected.load(Ordering::Relaxed), 1);
        assert_eq!(f.pipeline.counters.stored.load(Ordering::Relaxed), 0);
        assert_eq!(f.pipeline.counters.site(site.id), SiteCounts::default());
        assert!(f.store.hot_days().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_opted_out_visitor_is_dropped_where_the_site_respects_it() {
        let f = Fixture::new();
        let respecting = f.add_site("example.com", |_| {});
        let ignoring = f.add_site("blog.example", |s| s.respect_dnt = false);
        let day = date!(2026 - 03 - 01);

        let outcome = f.pipeline.ingest(Protocol::Native, &body("example.com"), context(true)).await.unwrap();
        assert_eq!(outcome, Outcome::DroppedByPolicy);
        assert!(f.store.hot_days().is_empty(), "nothing of the opted-out visitor is stored");

        let outcome = f.pipeline.ingest(Protocol::Native, &body("example.com"), context(false)).await.unwrap();
        assert_eq!(outcome, Outcome::Stored);
        assert_eq!(f.store.hot_days(), vec![(day, 1)]);

        let outcome = f.pipeline.ingest(Protocol::Native, &body("blog.example"), context(true)).await.unwrap();
        assert_eq!(outcome, Outcome::Stored);
        assert_eq!(f.store.hot_days(), vec![(day, 2)]);

        let counters = &f.pipeline.counters;
        assert_eq!(
            counters.site(respecting.id),
            SiteCounts { stored: 1, dropped_by_policy: 1, ..SiteCounts::default() }
        );
        assert_eq!(counters.site(ignoring.id), SiteCounts { stored: 1, ..SiteCounts::default() });
        assert_eq!(counters.dropped_by_policy.load(Ordering::Relaxed), 1);
        assert_eq!(counters.stored.load(Ordering::Relaxed), 2);
        assert_eq!(counters.rejected.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_automated_hits_are_kept_apart_with_their_reasons() {
        let mut f = Fixture::new();
        f.pipeline = f.pipeline.with_classifier(obscura_enrich::bots::Classifier::new(
            obscura_enrich::bots::user_agents::RobotNames::new(&["Googlebot".to_owned()], &[]).unwrap(),
        ));
        let site = f.add_site("example.com", |_| {});
        let as_client = |user_agent: &str| RequestContext {
            headers: RawHeaders { user_agent: user_agent.to_owned(), ..RawHeaders::default() },
            ..context(false)
        };
        let send = |body: String, ctx: RequestContext| {
            let pipeline = &f.pipeline;
            async move { pipeline.ingest(Protocol::Native, body.as_bytes(), ctx).await.unwrap() }
        };
        let page = r#"{"site":"example.com","url":"https://example.com/pricing"}"#;
        let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        assert_eq!(send(page.into(), as_client(googlebot)).await, Outcome::KeptApart);
        // A browser the tracker found driven by WebDriver (bit 0), sending a custom event.
        let event = r#"{"site":"example.com","kind":"event","name":"signup","url":"https://example.com/","signals":1}"#;
        assert_eq!(send(event.into(), context(false)).await, Outcome::KeptApart);
        let engagement = r#"{"site":"example.com","kind":"engagement","url":"https://example.com/","engaged_ms":900}"#;
        assert_eq!(send(engagement.into(), as_client(googlebot)).await, Outcome::KeptApart);
        assert_eq!(send(page.into(), context(false)).await, Outcome::Stored, "a person");
        assert_eq!(f.pipeline.counters.automated.load(Ordering::Relaxed), 3);

        let rows = f.store.rows_of_day(date!(2026 - 03 - 01), None).await.unwrap();
        let apart: Vec<_> = rows.iter().filter(|r| r.kind == EventKind::Automated.code()).collect();
        assert_eq!(
            (rows.len(), apart.len()),
            (4, 3),
            "the robots' page view, event and engagement, and the person's page view"
        );
        let prop = |r: &obscura_store::StoredRow, key: &str| {
            obscura_query::errors::prop(r.props.as_deref().unwrap_or(""), key).map(str::to_owned)
        };
        let robot = apart.iter().find(|r| prop(r, "was").as_deref() == Some("pageview")).unwrap();
        assert_eq!(prop(robot, "verdict").as_deref(), Some("automated"));
        assert_eq!(prop(robot, "reason").as_deref(), Some("robot_user_agent"));
        assert_eq!((robot.visit, robot.visit_seq, robot.path.as_str()), (0, 0, "/pricing"), "no visit of people's");
        let driven = apart.iter().find(|r| prop(r, "was").as_deref() == Some("event")).unwrap();
        assert_eq!((prop(driven, "reason").as_deref(), driven.name.as_deref()), (Some("webdriver"), Some("signup")));

        let q = obscura_query::Query {
            site: site.id,
            range: obscura_query::TimeRange::days(date!(2026 - 03 - 01), date!(2026 - 03 - 01)).unwrap(),
            filters: Vec::new(),
        };
        let people = f.store.aggregate(&q).await.unwrap();
        assert_eq!((people.pageviews, people.visitors, people.visits), (1, 1, 1), "people's figures: {people:?}");
        let reasons = f.store.automated_breakdown(&q, &obscura_query::Dimension::Prop("reason".into()), 10).await;
        let mut reasons: Vec<_> = reasons.unwrap().into_iter().map(|r| (r.value, r.events)).collect();
        reasons.sort();
        assert_eq!(reasons, [("robot_user_agent".to_owned(), 2), ("webdriver".to_owned(), 1)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_a_client_faster_than_people_is_kept_apart_from_then_on() {
        let f = Fixture::new();
        f.add_site("example.com", |_| {});
        let (page, click) = (
            br#"{"site":"example.com","url":"https://example.com/"}"#,
            br#"{"site":"example.com","kind":"event","name":"click","url":"https://example.com/"}"#,
        );
        for n in 1..=120 {
            assert_eq!(
                f.pipeline.ingest(Protocol::Native, click, context(false)).await.unwrap(),
                Outcome::Stored,
                "{n}"
            );
        }
        assert_eq!(f.pipeline.ingest(Protocol::Native, click, context(false)).await.unwrap(), Outcome::KeptApart);
        let other = RequestContext { ip: ip(8), ..context(false) };
        assert_eq!(f.pipeline.ingest(Protocol::Native, page, other).await.unwrap(), Outcome::Stored, "another client");
        let rows = f.store.rows_of_day(date!(2026 - 03 - 01), None).await.unwrap();
        let apart: Vec<_> = rows.iter().filter(|r| r.kind == EventKind::Automated.code()).collect();
        assert_eq!(apart.len(), 1);
        assert_eq!(obscura_query::errors::prop(apart[0].props.as_deref().unwrap(), "reason"), Some("too_many_events"));
        // The next minute starts afresh.
        let later = RequestContext { received_at: at(1), ..context(false) };
        assert_eq!(f.pipeline.ingest(Protocol::Native, page, later).await.unwrap(), Outcome::Stored);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_page_views_without_any_engagement_are_kept_apart_until_a_beacon_comes() {
        let f = Fixture::new();
        f.add_site("example.com", |_| {});
        let (page, beacon) = (
            br#"{"site":"example.com","url":"https://example.com/"}"#,
            br#"{"site":"example.com","kind":"engagement","url":"https://example.com/","engaged_ms":5000}"#,
        );
        // A minute apart, so that pace plays no part: only the missing beacons tell.
        let at_minute = |m: i64| RequestContext { received_at: at(m), ..context(false) };
        let mut outcomes = Vec::new();
        for m in 0..22 {
            outcomes.push(f.pipeline.ingest(Protocol::Native, page, at_minute(m)).await.unwrap());
        }
        assert!(outcomes[..20].iter().all(|o| *o == Outcome::Stored), "{outcomes:?}");
        assert_eq!(outcomes[20..], [Outcome::KeptApart, Outcome::KeptApart], "the 21st and later: nobody looks");
        let rows = f.store.rows_of_day(date!(2026 - 03 - 01), None).await.unwrap();
        let apart = rows.iter().find(|r| r.kind == EventKind::Automated.code()).expect("kept apart");
        assert_eq!(obscura_query::errors::prop(apart.props.as_deref().unwrap(), "reason"), Some("no_engagement"));
        // A person's browser sends a beacon on leaving a page it showed: the count starts again.
        assert_eq!(f.pipeline.ingest(Protocol::Native, beacon, at_minute(22)).await.unwrap(), Outcome::Stored);
        assert_eq!(f.pipeline.ingest(Protocol::Native, page, at_minute(23)).await.unwrap(), Outcome::Stored);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_hosting_networks_weigh_in_only_where_networks_are_collected() {
        let mut f = Fixture::new();
        let networks = obscura_enrich::AsnDb::from_csv_str("203.0.113.0,203.0.113.255,16509,\"Amazon.com, Inc.\"");
        f.pipeline = Pipeline::new(
            Arc::new(Enricher::new(obscura_enrich::UaParser::builtin(), obscura_enrich::GeoDb::empty(), networks)),
            f.store.clone(),
            f.meta.clone(),
            f.clock.clone(),
            Arc::new(SaltFile::new(f.dir.path().join("salts"), f.master.clone())),
        )
        .unwrap();
        f.add_site("cloud.example", |_| {});
        f.add_site("private.example", |s| s.collect.network = false);
        let page = |site: &str| format!(r#"{{"site":"{site}","url":"https://{site}/"}}"#).into_bytes();
        // A person's browser, from a cloud provider's network (AS 16509): suspicious alone.
        let outcome = f.pipeline.ingest(Protocol::Native, &page("cloud.example"), context(false)).await.unwrap();
        assert_eq!(outcome, Outcome::KeptApart);
        let rows = f.store.rows_of_day(date!(2026 - 03 - 01), None).await.unwrap();
        let props = rows[0].props.as_deref().unwrap_or_default();
        assert_eq!(obscura_query::errors::prop(props, "verdict"), Some("suspicious"));
        assert_eq!(obscura_query::errors::prop(props, "reason"), Some("hosting_network"));
        // Where the site does not collect network operators, the network is not looked up.
        let outcome = f.pipeline.ingest(Protocol::Native, &page("private.example"), context(false)).await.unwrap();
        assert_eq!(outcome, Outcome::Stored);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_speed_beacons_name_providers_drop_hosts_and_keep_robots_out() {
        let f = Fixture::new();
        f.add_site("fast.example", |s| s.collect.performance = true);
        f.add_site("quiet.example", |_| {});
        let beacon = |site: &str, automated: bool| {
            format!(
                r#"{{"site":"{site}","url":"https://{site}/a","automated":{automated},"vitals":{{"lcp":1200,"inp":-3}},
                    "cdn":[{{"host":"cdn.jsdelivr.net","protocol":"h2","resources":2,"ttfb":30}},{{"host":"img.{site}","resources":5}}]}}"#
            )
            .into_bytes()
        };
        let as_browser = |user_agent: &str| RequestContext {
            headers: RawHeaders { user_agent: user_agent.to_owned(), ..RawHeaders::default() },
            ..context(false)
        };
        let outcome = |body: Vec<u8>, ctx: RequestContext| {
            let pipeline = &f.pipeline;
            async move { pipeline.ingest(Protocol::Vitals, &body, ctx).await.unwrap() }
        };
        assert_eq!(
            outcome(beacon("quiet.example", false), context(false)).await,
            Outcome::DroppedByPolicy,
            "not opted in"
        );
        assert_eq!(outcome(beacon("fast.example", true), context(false)).await, Outcome::DroppedFromSpeed);
        let headless = CHROME.replace("Chrome/", "HeadlessChrome/");
        assert_eq!(outcome(beacon("fast.example", false), as_browser(&headless)).await, Outcome::DroppedFromSpeed);
        assert_eq!(f.pipeline.counters.speed_automated.load(Ordering::Relaxed), 2);
        assert!(f.store.rows_of_day(date!(2026 - 03 - 01), None).await.unwrap().is_empty(), "nothing of robots stored");

        assert_eq!(outcome(beacon("fast.example", false), context(false)).await, Outcome::Stored);
        let rows = f.store.rows_of_day(date!(2026 - 03 - 01), None).await.unwrap();
        let mut stored: Vec<(String, f64, String)> = rows
            .iter()
            .map(|r| (r.metric.clone().unwrap(), r.value.unwrap(), r.props.clone().unwrap_or_default()))
            .collect();
        stored.sort_by(|a, b| a.0.cmp(&b.0));
        let labels = "\u{1}provider\u{2}jsDelivr\u{1}protocol\u{2}h2\u{1}";
        assert_eq!(
            stored,
            [
                ("cdn.resources".into(), 2.0, labels.into()),
                ("cdn.ttfb".into(), 30.0, labels.into()),
                ("lcp".into(), 1200.0, String::new()),
            ],
            "the site's own host and the negative INP are dropped; hosts are never stored"
        );
        assert!(rows.iter().all(|r| r.kind == 3 && r.visit_seq == 0), "measurements are neither pageviews nor events");
        assert_eq!(f.pipeline.counters.measurements_dropped.load(Ordering::Relaxed), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_speed_sample_rate_keeps_about_that_share_of_beacons() {
        let f = Fixture::new();
        f.add_site("busy.example", |s| {
            s.collect.performance = true;
            s.collect.performance_sample_percent = 25;
        });
        let body = br#"{"site":"busy.example","url":"https://busy.example/","vitals":{"lcp":900}}"#;
        let mut stored = 0;
        for _ in 0..800 {
            if f.pipeline.ingest(Protocol::Vitals, body, context(false)).await.unwrap() == Outcome::Stored {
                stored += 1;
            }
        }
        // 25% of 800 is 200, give or take 12 (one standard deviation): 6 deviations either way.
        assert!((128..=272).contains(&stored), "{stored} of 800 beacons kept at a 25% sample rate");
        assert_eq!(f.pipeline.counters.speed_sampled_out.load(Ordering::Relaxed), 800 - stored);
        let rows = f.store.rows_of_day(date!(2026 - 03 - 01), None).await.unwrap();
        assert_eq!(rows.len() as u64, stored, "what is sampled out is not stored");
    }

    fn sentry_request<'a>(project: &'a str, key: &'a str) -> SentryRequest<'a> {
        SentryRequest {
            endpoint: SentryEndpoint::Store,
            project,
            auth_header: None,
            query: Some(key),
            content_encoding: None,
            consent: None,
        }
    }

    /// A report of `kind` raised in `function`, from line `line`, with personal data planted in
    /// its message, a frame and its detail.
    fn sentry_event(kind: &str, function: &str, line: u32) -> Vec<u8> {
        format!(
            r#"{{"event_id":"9ec79c33-ec99-42ab-8353-589fcb2e04dc","level":"error","release":"shop@1.4.2",
                "environment":"production","request":{{"url":"https://shop.example/checkout/991?mail=jane@example.com"}},
                "user":{{"email":"jane@example.com","ip_address":"{{{{auto}}}}"}},
                "exception":{{"values":[{{"type":"{kind}","value":"card 4111 1111 1111 1111 declined for jane@example.com",
                "stacktrace":{{"frames":[{{"filename":"/home/jdoe/shop/app.js","function":"{function}","lineno":{line},"in_app":true}}]}}}}]}},
                "breadcrumbs":[{{"message":"clicked pay"}}]}}"#
        )
        .into_bytes()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_sentry_reports_are_keyed_scrubbed_grouped_and_never_visits() {
        let f = Fixture::new();
        let site = f.add_site("shop.example", |_| {});
        let key = format!("sentry_key={}", site.error_key.clone().unwrap());
        let project = site.id.to_string();
        let ingest = |body: Vec<u8>, project: &str, key: &str| {
            let pipeline = &f.pipeline;
            let (project, key) = (project.to_owned(), key.to_owned());
            async move { pipeline.ingest_errors(sentry_request(&project, &key), &body, context(false)).await }
        };
        let (project, key) = (project.as_str(), key.as_str());
        let accepted = ingest(sentry_event("TypeError", "pay", 42), project, key).await.unwrap();
        assert_eq!(accepted.id, "9ec79c33ec9942ab8353589fcb2e04dc", "the SDK's id comes back");
        assert_eq!(accepted.stored, 1);
        ingest(sentry_event("TypeError", "pay", 57), project, key).await.unwrap();
        ingest(sentry_event("RangeError", "pay", 42), project, key).await.unwrap();

        // Wrong, missing and disagreeing keys; an unknown project.
        let wrong = ingest(sentry_event("E", "f", 1), project, "sentry_key=0123").await.unwrap_err();
        assert_eq!(wrong.status(), 403, "{wrong}");
        let none = ingest(sentry_event("E", "f", 1), project, "").await.unwrap_err();
        assert_eq!(none.status(), 403, "{none}");
        let unknown = ingest(sentry_event("E", "f", 1), "99", key).await.unwrap_err();
        assert_eq!(unknown.status(), 404, "{unknown}");
        assert_eq!(f.pipeline.counters.site(site.id).rejected, 1, "refused for the known site");

        // A headless browser's report is answered alike and kept out of the error counts.
        let headless = RequestContext {
            headers: obscura_model::raw::RawHeaders {
                user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36".into(),
                ..Default::default()
            },
            ..context(false)
        };
        let body = sentry_event("TypeError", "pay", 42);
        let automated = f.pipeline.ingest_errors(sentry_request(project, key), &body, headless).await.unwrap();
        assert_eq!((automated.id.as_str(), automated.stored), ("9ec79c33ec9942ab8353589fcb2e04dc", 0));
        assert_eq!(f.pipeline.counters.errors_automated.load(Ordering::Relaxed), 1);

        let rows = f.store.rows_of_day(date!(2026 - 03 - 01), Some(site.id)).await.unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.kind == 4 && r.visit == 0 && r.visit_seq == 0));
        assert!(rows[0].path.starts_with("/checkout/"), "the page, without its query: {}", rows[0].path);
        let props = rows[0].props.clone().unwrap();
        assert!(props.contains("\u{1}type\u{2}TypeError\u{1}"), "{props:?}");
        assert!(props.contains("[card] declined for [email]"), "{props:?}");
        assert!(props.contains("pay (/home/[user]/shop/app.js:42)"), "{props:?}");
        assert!(props.contains("\u{1}release\u{2}shop@1.4.2\u{1}"), "{props:?}");
        let everything = format!("{rows:?}");
        for never in ["jane", "4111", "jdoe", "clicked pay", "auto"] {
            assert!(!everything.contains(never), "{never} is not stored: {everything}");
        }
        assert_eq!(rows[0].name, rows[1].name, "the same bug from another line is one issue");
        assert_ne!(rows[0].name, rows[2].name, "another exception type is another issue");
        assert_eq!(f.pipeline.counters.error_detail_stripped.load(Ordering::Relaxed), 3, "breadcrumbs need consent");

        // Error reports belong to no visit (the storage conformance suite shows they count in no
        // visit figure).
        assert!(f.store.open_visits(0).await.unwrap().is_empty(), "no visit to resume after a restart");
    }

    /// P7: breadcrumbs and extra context are detail, kept only with the person's consent; a
    /// report without it is stored without them, and counted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn p07_error_detail_is_never_stored_without_consent() {
        let f = Fixture::new();
        let site = f.add_site("shop.example", |_| {});
        let (project, key) = (site.id.to_string(), format!("sentry_key={}", site.error_key.clone().unwrap()));
        let body = br#"{"message":"checkout failed","breadcrumbs":{"values":[{"category":"ui.click","message":"button#pay-now"}]},
            "extra":{"basket":"three-books-and-a-lamp"},"tags":{"tenant":"acme-corp"}}"#;
        let accepted = f.pipeline.ingest_errors(sentry_request(&project, &key), body, context(false)).await.unwrap();
        assert_eq!(accepted.stored, 1, "the report itself is stored");
        assert_eq!(f.pipeline.counters.error_detail_stripped.load(Ordering::Relaxed), 1);
        let stored = format!("{:?}", f.store.rows_of_day(date!(2026 - 03 - 01), None).await.unwrap());
        assert!(stored.contains("checkout failed"), "{stored}");
        for detail in ["pay-now", "ui.click", "three-books", "acme-corp"] {
            assert!(!stored.contains(detail), "{detail} was stored without consent: {stored}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_sentry_site_ceiling_answers_429_with_the_wait() {
        let f = Fixture::new();
        let site = f.add_site("shop.example", |_| {});
        let pipeline = f.reopen(f.master.clone()).unwrap().with_errors_per_minute(2);
        let key = format!("sentry_key={}", site.error_key.clone().unwrap());
        let project = site.id.to_string();
        for _ in 0..2 {
            let body = sentry_event("E", "f", 1);
            pipeline.ingest_errors(sentry_request(&project, &key), &body, context(false)).await.unwrap();
        }
        let body = sentry_event("E", "f", 1);
        let err = pipeline.ingest_errors(sentry_request(&project, &key), &body, context(false)).await.unwrap_err();
        assert!(matches!(err, IngestError::RateLimited(30)), "{err:?}");
        assert_eq!(err.status(), 429);
        assert_eq!(pipeline.counters.errors_rate_limited.load(Ordering::Relaxed), 1);
        f.clock.set(at(1));
        let body = sentry_event("E", "f", 1);
        assert!(pipeline.ingest_errors(sentry_request(&project, &key), &body, context(false)).await.is_ok());
    }

    #[test]
    fn pipeline_speed_site_cdn_rules_name_the_sites_own_hosts() {
        let cdn =
            obscura_enrich::CdnMap::built_in().with_site_rules("shop.example", [("img.shop.example", "Own edge")]);
        let cdn = cdn.unwrap();
        let measure = |host: &str| obscura_model::RawMeasure {
            metric: obscura_model::Metric::CdnTtfb,
            value: 30.0,
            labels: vec![("host", host.to_owned()), ("protocol", "h2".to_owned())],
        };
        let mut own = measure("img.shop.example");
        assert!(name_provider(&cdn, "shop.example", &mut own));
        assert_eq!(own.labels, [("provider", "Own edge".to_owned()), ("protocol", "h2".to_owned())]);
        assert!(!name_provider(&cdn, "blog.example", &mut measure("img.shop.example")), "another site's host");
        let mut public = measure("cdn.jsdelivr.net");
        assert!(name_provider(&cdn, "blog.example", &mut public));
        assert_eq!(public.labels[0], ("provider", "jsDelivr".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_switched_off_collection_leaves_fields_out_of_the_event() {
        let f = Fixture::new();
        let full = f.add_site("example.com", |_| {});
        let bare = f.add_site("quiet.example", |s| {
            s.collect = Collection {
                referrer: false,
                device: false,
                screen: false,
                geo: GeoLevel::Off,
                network: false,
                frequency: false,
                engagement: false,
                performance: false,
                performance_sample_percent: 100,
            }
        });
        let detailed = |url: &str| RawHit {
            referrer: Some("https://news.example/story?id=7".to_owned()),
            screen_width: Some(1920),
            returning: Some(true),
            days_since_last: Some(DaysSinceLast::TwoToSeven),
            visit_count: Some(VisitCount::FourToNine),
            ..hit(at(0), ip(7), url)
        };

        let kept = f.pipeline.prepare(detailed("https://example.com/pricing"), &full).unwrap();
        assert_eq!(kept.site, full.id);
        assert_eq!(text(&kept.referrer_host), Some("news.example"));
        assert_eq!(kept.source, "other");
        assert_eq!(kept.screen, Some(ScreenClass::Desktop));
        assert_eq!(kept.returning, Some(true));
        assert_eq!(kept.days_since_last, Some(DaysSinceLast::TwoToSeven));
        assert_eq!(kept.visit_count, Some(VisitCount::FourToNine));
        assert_eq!(text(&kept.browser), Some("Chrome"));
        assert_eq!(text(&kept.os), Some("Windows"));
        assert_eq!(kept.device_type, "desktop");

        let left_out = f.pipeline.prepare(detailed("https://quiet.example/pricing"), &bare).unwrap();
        assert_eq!(left_out.site, bare.id);
        assert_eq!(left_out.path.as_str(), "/pricing");
        assert_eq!(left_out.referrer_host, None);
        assert_eq!(left_out.source, "direct");
        assert_eq!(left_out.screen, None);
        assert_eq!(left_out.returning, None);
        assert_eq!(left_out.days_since_last, None);
        assert_eq!(left_out.visit_count, None);
        assert_eq!(left_out.browser, None);
        assert_eq!(left_out.os, None);
        assert_eq!(left_out.device_type, "unknown");

        let engagement = RawHit {
            kind: EventKind::Engagement,
            engaged_ms: Some(5_000),
            ..hit(at(1), ip(7), "https://quiet.example/pricing")
        };
        let err = f.pipeline.prepare(engagement, &bare).unwrap_err();
        assert!(matches!(err, IngestError::NotCollected("engagement")), "{err:?}");
        assert_eq!(err.status(), 202);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_pageviews_of_one_visitor_share_a_visit_in_order() {
        let f = Fixture::new();
        let site = f.add_site("example.com", |_| {});
        let first = f.pipeline.prepare(hit(at(0), ip(7), "https://example.com/"), &site).unwrap();
        let second = f.pipeline.prepare(hit(at(1), ip(7), "https://example.com/pricing"), &site).unwrap();
        let stranger = f.pipeline.prepare(hit(at(1), ip(8), "https://example.com/pricing"), &site).unwrap();
        let signup = "https://example.com/signup?mail=jane@example.com";
        let third = f.pipeline.prepare(hit(at(3), ip(7), signup), &site).unwrap();

        assert_eq!(first.ts_ms, obscura_model::unix_ms(at(0)));
        assert_eq!((first.visit_seq, first.visit_gap_ms), (1, 0));
        assert_eq!(first.prev_path, None);

        assert_eq!(second.visitor, first.visitor);
        assert_eq!(second.visit, first.visit);
        assert_eq!((second.visit_seq, second.visit_gap_ms), (2, 60_000));
        assert_eq!(text(&second.prev_path), Some("/"));

        assert_eq!(third.visit, first.visit);
        assert_eq!(third.path.as_str(), "/signup");
        assert_eq!((third.visit_seq, third.visit_gap_ms), (3, 120_000));
        assert_eq!(text(&third.prev_path), Some("/pricing"));

        assert_ne!(stranger.visitor, first.visitor);
        assert_ne!(stranger.visit, first.visit);
        assert_eq!(stranger.visit_seq, 1);

        // Over 30 minutes idle: the same visitor starts a new visit.
        let back = f.pipeline.prepare(hit(at(34), ip(7), "https://example.com/"), &site).unwrap();
        assert_eq!(back.visitor, first.visitor);
        assert_ne!(back.visit, first.visit);
        assert_eq!((back.visit_seq, back.visit_gap_ms), (1, 0));
        assert_eq!(back.prev_path, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_salts_rotate_so_a_new_day_hashes_the_visitor_differently() {
        let f = Fixture::new();
        let site = f.add_site("example.com", |_| {});
        assert_eq!(f.pipeline.salt_days(), vec![date!(2026 - 03 - 01)]);

        let noon = f.pipeline.prepare(hit(at(0), ip(7), "https://example.com/"), &site).unwrap();
        let evening = f.pipeline.prepare(hit(at(6 * 60), ip(7), "https://example.com/"), &site).unwrap();
        assert_eq!(evening.visitor, noon.visitor);

        let next_morning = f.pipeline.prepare(hit(at(21 * 60), ip(7), "https://example.com/"), &site).unwrap();
        assert_ne!(next_morning.visitor, noon.visitor);
        assert_eq!(next_morning.visit_seq, 1);
        assert_eq!(f.pipeline.salt_days(), vec![date!(2026 - 03 - 01), date!(2026 - 03 - 02)]);

        f.clock.set(datetime!(2026-03-03 00:00 UTC));
        assert_eq!(f.pipeline.rotate_salts().unwrap(), vec![date!(2026 - 03 - 01)]);
        assert_eq!(f.pipeline.salt_days(), vec![date!(2026 - 03 - 02), date!(2026 - 03 - 03)]);
        assert_eq!(f.pipeline.rotate_salts().unwrap(), Vec::<Date>::new());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipeline_salts_survive_a_restart_only_under_their_master_key_and_lifetime() {
        let f = Fixture::new();
        let site = f.add_site("example.com", |_| {});
        let before = f.pipeline.prepare(hit(at(0), ip(7), "https://example.com/"), &site).unwrap();

        let restarted = f.reopen(f.master.clone()).unwrap();
        assert_eq!(restarted.salt_days(), vec![date!(2026 - 03 - 01)]);
        let after = restarted.prepare(hit(at(5), ip(7), "https://example.com/"), &site).unwrap();
        assert_eq!(after.visitor, before.visitor);

        assert!(f.reopen(Key::random()).is_err(), "salts sealed under another key cannot be read");

        f.clock.set(datetime!(2026-03-03 00:00 UTC));
        let much_later = f.reopen(f.master.clone()).unwrap();
        assert_eq!(much_later.salt_days(), vec![date!(2026 - 03 - 03)]);
    }
}
