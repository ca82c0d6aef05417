//! The ingest pipeline: decode → enrich → desensitize → visits → durable store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use obscura_model::{Clock, Event, RawHit};
use obscura_privacy::SaltRing;
use obscura_privacy::page_url::normalize_page_keeping;
use obscura_privacy::scrub::{SiteRules, scrub_text};
use obscura_store::EventStore;
use obscura_store::crypto::Key;
use obscura_store::meta::{MetaStore, Site};
use obscura_store::sealed_json::SealedJson;
use time::Date;

use crate::decode::{RequestContext, native};
use crate::desensitize::{apply_site_rules, desensitize};
use crate::enricher::Enricher;
use crate::error::IngestError;
use crate::visits::{VisitLimits, VisitTracker};

/// What happened to an accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Durable in the store.
    Stored,
    /// Dropped by policy (Global Privacy Control / Do-Not-Track); answered 202 and counted.
    DroppedByPolicy,
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
}

impl Counters {
    fn record(&self, site: Option<u32>, result: &Result<Outcome, IngestError>) {
        let total = match result {
            Ok(Outcome::Stored) => &self.stored,
            Ok(Outcome::DroppedByPolicy) => &self.dropped_by_policy,
            Err(_) => &self.rejected,
        };
        total.fetch_add(1, Ordering::Relaxed);
        if let Some(site) = site {
            let mut per_site = self.per_site.lock().unwrap_or_else(|e| e.into_inner());
            let counts = per_site.entry(site).or_default();
            match result {
                Ok(Outcome::Stored) => counts.stored += 1,
                Ok(Outcome::DroppedByPolicy) => counts.dropped_by_policy += 1,
                Err(_) => counts.rejected += 1,
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
    salt_file: SealedJson,
    /// The ring changed but could not be saved: every later rotation and hit retries, so a
    /// destroyed salt does not outlive its 48 hours in the file (P2).
    salts_unsaved: AtomicBool,
    visits: Mutex<VisitTracker>,
    store: Arc<dyn EventStore>,
    meta: Arc<MetaStore>,
    clock: Arc<dyn Clock>,
    scrub_rules: SiteRules,
    /// Query parameters that name the visit's source (`ref`, `source` by default).
    source_params: Vec<String>,
    /// Ingest outcomes since the server started.
    pub counters: Counters,
}

type StoredSalts = Vec<(String, String)>;

impl Pipeline {
    /// Adds the operator's scrub rules (`[[scrub.rules]]`) to the built-in ones.
    pub fn with_scrub_rules(mut self, rules: SiteRules) -> Self {
        self.scrub_rules = rules;
        self
    }

    /// Sets the ceilings of the open-visit tracker (`[limits]`).
    pub fn with_visit_limits(self, limits: VisitLimits) -> Self {
        *self.visits.lock().unwrap_or_else(|e| e.into_inner()) = VisitTracker::new(limits);
        self
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

    /// Sets the query parameters that name the visit's source (`[url] source_params`).
    pub fn with_source_params(mut self, params: Vec<String>) -> Self {
        self.source_params = params;
        self
    }

    /// Creates the pipeline, loading the visitor salts sealed with `master` from `salts_path` (none if
    /// the file is missing), then rotating them. Fails if the salt file cannot be read, decrypted or saved.
    pub fn new(
        enricher: Arc<Enricher>,
        store: Arc<dyn EventStore>,
        meta: Arc<MetaStore>,
        clock: Arc<dyn Clock>,
        salts_path: &std::path::Path,
        master: Key,
    ) -> anyhow::Result<Self> {
        let salt_file = SealedJson::new(salts_path.to_path_buf(), b"obscura salts v1", master);
        let stored: StoredSalts = salt_file.load()?;
        let entries = stored.into_iter().filter_map(|(day, salt)| {
            let day = obscura_model::parse_day(&day)?;
            let salt: [u8; 32] = hex::decode(salt).ok()?.try_into().ok()?;
            Some((day, salt))
        });
        let ring = SaltRing::restore(entries, clock.now());
        let pipeline = Pipeline {
            enricher,
            salts: Mutex::new(ring),
            salt_file,
            salts_unsaved: AtomicBool::new(false),
            visits: Mutex::new(VisitTracker::default()),
            store,
            meta,
            clock,
            scrub_rules: SiteRules::default(),
            source_params: obscura_privacy::page_url::DEFAULT_SOURCE_PARAMS.map(str::to_owned).to_vec(),
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
        self.save_salts_if_changed(&ring)?;
        Ok(destroyed)
    }

    /// Saves the ring if it changed since the last successful save.
    fn save_salts_if_changed(&self, ring: &SaltRing) -> anyhow::Result<()> {
        if self.salts_unsaved.load(Ordering::SeqCst) {
            self.persist_salts(ring)?;
            self.salts_unsaved.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Days whose salts are alive (for tests and status).
    pub fn salt_days(&self) -> Vec<Date> {
        self.salts.lock().unwrap_or_else(|e| e.into_inner()).days()
    }

    fn persist_salts(&self, ring: &SaltRing) -> anyhow::Result<()> {
        let stored: StoredSalts = ring.entries().map(|(d, s)| (obscura_model::format_day(d), hex::encode(s))).collect();
        self.salt_file.save(&stored)
    }

    /// Resumes the visits that were open when the server stopped, from the stored events of the
    /// last 30 minutes, so a restart does not split them. Returns how many were resumed.
    pub async fn restore_visits(&self) -> anyhow::Result<usize> {
        use arrow::array::{Array, Int64Array, StringArray, UInt64Array};
        use arrow::compute::cast;
        use arrow::datatypes::DataType;
        let since = self.clock.now() - time::Duration::milliseconds(crate::visits::VISIT_TIMEOUT_MS);
        let query = obscura_store::SqlQuery {
            sql: "SELECT CAST(site AS BIGINT) AS site, visitor, visit, \
                  max(CAST(ts AS BIGINT)) AS last_ms, CAST(max(visit_seq) AS BIGINT) AS pageviews, \
                  last_value(path ORDER BY visit_seq) AS last_path \
                  FROM events WHERE ts >= $1 AND day >= $2 GROUP BY site, visitor, visit"
                .into(),
            params: vec![
                obscura_store::Param::Timestamp(obscura_model::unix_ms(since)),
                obscura_store::Param::Text(obscura_model::format_day(since.date())),
            ],
        };
        let batches = self.store.query(&query).await?;
        let mut visits = self.visits.lock().unwrap_or_else(|e| e.into_inner());
        let mut restored = 0;
        for b in &batches {
            let int = |name: &str| -> anyhow::Result<Int64Array> {
                let col =
                    cast(b.column_by_name(name).ok_or_else(|| anyhow::anyhow!("no column {name}"))?, &DataType::Int64)?;
                Ok(col.as_any().downcast_ref::<Int64Array>().expect("cast to Int64").clone())
            };
            let id = |name: &str| -> anyhow::Result<UInt64Array> {
                let col = cast(
                    b.column_by_name(name).ok_or_else(|| anyhow::anyhow!("no column {name}"))?,
                    &DataType::UInt64,
                )?;
                Ok(col.as_any().downcast_ref::<UInt64Array>().expect("cast to UInt64").clone())
            };
            let (site, visitor, visit, last_ms, pageviews) =
                (int("site")?, id("visitor")?, id("visit")?, int("last_ms")?, int("pageviews")?);
            let paths = cast(b.column_by_name("last_path").expect("selected"), &DataType::Utf8)?;
            let paths = paths.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
            for i in 0..b.num_rows() {
                // Stored paths are already scrubbed; scrubbing again only re-wraps them.
                let last_path = (pageviews.value(i) > 0 && !paths.is_null(i)).then(|| scrub_text(paths.value(i)));
                visits.restore(
                    site.value(i) as u32,
                    visitor.value(i),
                    visit.value(i),
                    last_ms.value(i),
                    pageviews.value(i).clamp(0, i64::from(u16::MAX)) as u16,
                    last_path,
                );
                restored += 1;
            }
        }
        Ok(restored)
    }

    /// Handles one body of Obscura's own format.
    pub async fn ingest_native(&self, body: &[u8], ctx: RequestContext) -> Result<Outcome, IngestError> {
        let mut site = None;
        let result = self.ingest_native_inner(body, ctx, &mut site).await;
        self.counters.record(site, &result);
        result
    }

    /// Sets `site_id` as soon as the request's site is known, for the per-site counters.
    async fn ingest_native_inner(
        &self,
        body: &[u8],
        ctx: RequestContext,
        site_id: &mut Option<u32>,
    ) -> Result<Outcome, IngestError> {
        let opted_out = ctx.opted_out;
        let decoded = native::decode(body, &ctx)?;
        let site = self.resolve_site(&decoded.site_domain)?;
        *site_id = Some(site.id);
        if opted_out && site.respect_dnt {
            return Ok(Outcome::DroppedByPolicy);
        }
        let event = match self.prepare(decoded.hit, &site) {
            Err(IngestError::NotCollected(_)) => return Ok(Outcome::DroppedByPolicy),
            other => other?,
        };
        self.store.append(vec![event]).await.map_err(|e| IngestError::Unavailable(e.to_string()))?;
        Ok(Outcome::Stored)
    }

    /// The configured site with this domain, or [`IngestError::UnknownSite`].
    pub fn resolve_site(&self, domain: &str) -> Result<Site, IngestError> {
        self.meta.get().site_by_domain(domain).cloned().ok_or_else(|| IngestError::UnknownSite(domain.to_owned()))
    }

    /// Enrich, desensitize and assign the visit: the hit's IP and raw text end here.
    pub fn prepare(&self, mut hit: RawHit, site: &Site) -> Result<Event, IngestError> {
        hit.site = site.id;
        let page = normalize_page_keeping(&hit.url, &self.source_params)
            .map_err(|e| IngestError::BadRequest(format!("field `url`: {e}")))?;
        let collect = &site.collect;
        if hit.kind == obscura_model::EventKind::Engagement && !collect.engagement {
            return Err(IngestError::NotCollected("engagement"));
        }
        let found = self.enricher.enrich(hit.ip, &hit.headers, collect);
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
            self.save_salts_if_changed(&ring)
                .map_err(|e| IngestError::Unavailable(format!("cannot persist the visitor salts: {e:#}")))?;
            ring.visitor_hash(hit.received_at, site.id, hit.ip, &hit.headers.user_agent)
        };
        let mut event = desensitize(hit, page, found, visitor);
        if let Some(rules) = self.scrub_rules.for_site(&site.domain) {
            apply_site_rules(&mut event, rules);
        }
        self.visits.lock().unwrap_or_else(|e| e.into_inner()).assign(&mut event);
        Ok(event)
    }
}
