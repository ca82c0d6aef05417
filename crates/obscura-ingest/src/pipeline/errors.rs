//! Error reports through the pipeline: Sentry's protocol checked against the site's DSN key and
//! ceiling, each report desensitized, scrubbed and grouped into an event of kind `Error`; and
//! diagnostics with consent (P7): detail is kept only from a report that carries a single-use
//! consent token of the open diagnostics request of its issue, and stripped (and counted)
//! otherwise.

use std::sync::atomic::Ordering;

use obscura_model::raw_error::RawError;
use obscura_model::{Event, RawHit};
use obscura_store::meta::{DetailKind, Site};

use super::{Outcome, Pipeline};
use crate::decode::{RequestContext, sentry};
use crate::desensitize::{apply_site_rules, error_event, with_detail};
use crate::error::IngestError;

/// Sentry's two ingestion endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentryEndpoint {
    /// `POST /api/{project}/envelope/`: an envelope of items.
    Envelope,
    /// `POST /api/{project}/store/`: one event as JSON (the legacy endpoint).
    Store,
}

/// A request of Sentry's protocol, as the HTTP layer read it.
#[derive(Debug, Clone, Copy)]
pub struct SentryRequest<'a> {
    /// Which endpoint was called.
    pub endpoint: SentryEndpoint,
    /// The `{project}` of the path: the site's id.
    pub project: &'a str,
    /// The `X-Sentry-Auth` header.
    pub auth_header: Option<&'a str>,
    /// The URL's query string (it may hold `sentry_key` and `obscura_consent`).
    pub query: Option<&'a str>,
    /// The `Content-Encoding` header.
    pub content_encoding: Option<&'a str>,
    /// The `X-Obscura-Consent` header: a consent token for the report's detail.
    pub consent: Option<&'a str>,
}

/// A diagnostics request a client is told of: ask the person, and with their consent get a
/// token and send the report again with its detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosticsOffer {
    /// The request's id.
    pub id: String,
    /// Why the detail is wanted, to show the person.
    pub purpose: String,
    /// What detail is asked for.
    pub wants: Vec<DetailKind>,
}

/// What became of an accepted Sentry request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorsAccepted {
    /// The event's id, answered back as Sentry does.
    pub id: String,
    /// Error events stored.
    pub stored: usize,
    /// Stored, dropped by a privacy signal, or `None` when the request held no event.
    pub outcome: Option<Outcome>,
    /// The open diagnostics request of a reported issue, for a report sent without consent.
    pub diagnostics: Option<DiagnosticsOffer>,
    /// What became of the reports' detail, when they carried any: kept with consent, or
    /// stripped and why.
    pub detail: Option<String>,
}

impl ErrorsAccepted {
    fn nothing(id: String, outcome: Option<Outcome>) -> Self {
        ErrorsAccepted { id, stored: 0, outcome, diagnostics: None, detail: None }
    }
}

/// The value of `name` in a query string.
fn query_value<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')).filter(|v| !v.is_empty())
}

impl Pipeline {
    /// Handles one request of Sentry's protocol (`docs/errors.md`): decompress, decode, check
    /// the DSN key against the project's site, hold to the site's ceiling, then store each event
    /// scrubbed and grouped, its detail only with consent. Counted like the other protocols.
    pub async fn ingest_errors(
        &self,
        request: SentryRequest<'_>,
        body: &[u8],
        ctx: RequestContext,
    ) -> Result<ErrorsAccepted, IngestError> {
        let mut site = None;
        let result = self.ingest_errors_inner(request, body, ctx, &mut site).await;
        match &result {
            // Envelopes of sessions or client reports only are counted as skipped items.
            Ok(ErrorsAccepted { outcome: None, .. }) => {}
            Ok(ErrorsAccepted { outcome, .. }) => self.counters.record("sentry", site, *outcome),
            Err(_) => self.counters.record("sentry", site, None),
        }
        result
    }

    /// The site of DSN project `project` whose key `key` is; 404 or 403 otherwise. Sets
    /// `site_id` once the project names a site.
    fn error_site(&self, project: &str, key: &str, site_id: &mut Option<u32>) -> Result<Site, IngestError> {
        let site = project
            .parse::<u32>()
            .ok()
            .and_then(|id| self.meta.get().site(id).cloned())
            .ok_or_else(|| IngestError::UnknownProject(project.chars().take(20).collect()))?;
        *site_id = Some(site.id);
        if site.error_key.as_deref() != Some(key) {
            return Err(IngestError::Forbidden(format!(
                "the DSN key is not project {}'s: copy the DSN from the site's settings",
                site.id
            )));
        }
        Ok(site)
    }

    async fn ingest_errors_inner(
        &self,
        request: SentryRequest<'_>,
        body: &[u8],
        ctx: RequestContext,
        site_id: &mut Option<u32>,
    ) -> Result<ErrorsAccepted, IngestError> {
        // Credentials that are malformed or disagree are refused before the body is read.
        sentry::request_key(request.auth_header, request.query, None)?;
        let bytes = sentry::decompress(body, request.content_encoding)?;
        let decoded = match request.endpoint {
            SentryEndpoint::Envelope => sentry::envelope(&bytes)?,
            SentryEndpoint::Store => sentry::store(&bytes)?,
        };
        let key =
            sentry::request_key(request.auth_header, request.query, decoded.dsn_key.as_deref())?.ok_or_else(|| {
                IngestError::Forbidden(
                    "no DSN key: send `X-Sentry-Auth: Sentry sentry_key=<key>` or `?sentry_key=<key>`".into(),
                )
            })?;
        let site = self.error_site(request.project, &key, site_id)?;
        self.counters.error_items_skipped.fetch_add(u64::from(decoded.skipped), Ordering::Relaxed);
        let id = decoded.event_id.clone().unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
        if decoded.events.is_empty() {
            return Ok(ErrorsAccepted::nothing(id, None));
        }
        if ctx.opted_out && site.respect_dnt {
            return Ok(ErrorsAccepted::nothing(id, Some(Outcome::DroppedByPolicy)));
        }
        let count = u32::try_from(decoded.events.len()).unwrap_or(u32::MAX);
        // A headless browser or a robot (its User-Agent says so; a server SDK's does not) is no
        // person whose errors count (P5): counted, answered alike, not stored — as its speed
        // beacons are not.
        if obscura_enrich::user_agent::looks_automated(&ctx.headers.user_agent) {
            self.counters.errors_automated.fetch_add(u64::from(count), Ordering::Relaxed);
            return Ok(ErrorsAccepted::nothing(id, Some(Outcome::KeptApart)));
        }
        if let Err(wait) = self.error_limiter.take(site.id, count, self.clock.now_ms()) {
            self.counters.errors_rate_limited.fetch_add(u64::from(count), Ordering::Relaxed);
            return Err(IngestError::RateLimited(wait));
        }
        let consent = request.consent.or_else(|| query_value(request.query, "obscura_consent"));
        let mut accepted = ErrorsAccepted::nothing(id, Some(Outcome::Stored));
        let mut events = Vec::with_capacity(decoded.events.len());
        for mut raw in decoded.events {
            let detail = std::mem::take(&mut raw.detail);
            let mut event = self.prepare_error(raw, &ctx, &site)?;
            let fingerprint = event.name.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default();
            let consented = match consent.filter(|_| !detail.is_empty()) {
                Some(token) => self.take_consent(&site, &fingerprint, token),
                None => Err("no consent token came with it".to_owned()),
            };
            match consented {
                Ok((request_id, wants)) => {
                    let wanted: Vec<&String> = detail.iter().filter(|line| wanted_line(line, &wants)).collect();
                    with_detail(&mut event, &wanted, &request_id);
                    self.counters.error_detail_consented.fetch_add(1, Ordering::Relaxed);
                    accepted.detail = Some(format!("kept with consent for diagnostics request {request_id}"));
                }
                Err(why) => {
                    if !detail.is_empty() {
                        self.counters.error_detail_stripped.fetch_add(1, Ordering::Relaxed);
                        accepted.detail = Some(format!("stripped: {why}"));
                    }
                    if accepted.diagnostics.is_none() {
                        accepted.diagnostics = self.offer(&site, &fingerprint);
                    }
                }
            }
            events.push(event);
        }
        accepted.stored = events.len();
        self.append(events).await?;
        self.counters.errors_stored.fetch_add(accepted.stored as u64, Ordering::Relaxed);
        Ok(accepted)
    }

    /// The open diagnostics request of `site`'s issue `fingerprint`, to tell the client of.
    fn offer(&self, site: &Site, fingerprint: &str) -> Option<DiagnosticsOffer> {
        let meta = self.meta.get();
        let request = meta.open_diagnostics(site.id, fingerprint, self.clock.now_ms())?;
        Some(DiagnosticsOffer {
            id: request.id.clone(),
            purpose: request.purpose.clone(),
            wants: request.wants.clone(),
        })
    }

    /// Uses consent token `token` for a report of issue `fingerprint`: the request's id and
    /// what it asks for, or why the detail is stripped (counted).
    fn take_consent(&self, site: &Site, fingerprint: &str, token: &str) -> Result<(String, Vec<DetailKind>), String> {
        let now = self.clock.now_ms();
        let taken = self.meta.update(|m| Ok(m.redeem_consent(site.id, fingerprint, token, now)));
        match taken {
            Ok(Ok(request)) => Ok((request.id, request.wants)),
            Ok(Err(refusal)) => {
                self.counters.consent_refused.fetch_add(1, Ordering::Relaxed);
                Err(refusal.to_string())
            }
            Err(e) => {
                tracing::error!("a consent token could not be checked; the report's detail is stripped: {e:#}");
                Err("the consent could not be checked".to_owned())
            }
        }
    }

    /// Hands out a single-use consent token for diagnostics request `request_id` of DSN
    /// project `project` (the key from `auth_header` or `query`): the person agreed to send
    /// the detail. Returns the token and when it expires (milliseconds since the epoch).
    pub fn grant_consent(
        &self,
        project: &str,
        auth_header: Option<&str>,
        query: Option<&str>,
        request_id: &str,
    ) -> Result<(String, i64), IngestError> {
        let key = sentry::request_key(auth_header, query, None)?
            .ok_or_else(|| IngestError::Forbidden("no DSN key: send `?sentry_key=<key>`".into()))?;
        let site = self.error_site(project, &key, &mut None)?;
        let now = self.clock.now_ms();
        // Each consent is a metadata write: held to the site's ceiling like a report.
        if let Err(wait) = self.error_limiter.take(site.id, 1, now) {
            return Err(IngestError::RateLimited(wait));
        }
        let granted = self
            .meta
            .update(|m| Ok(m.grant_consent(site.id, request_id, now)))
            .map_err(|e| IngestError::Unavailable(format!("{e:#}")))?;
        granted.map_err(|refusal| match refusal {
            obscura_store::meta::ConsentRefusal::UnknownRequest => IngestError::NotFound(refusal.to_string()),
            other => IngestError::Conflict(other.to_string()),
        })
    }

    /// One error report of `site` received in `ctx`: enriched and desensitized like a page
    /// view (without a visit), scrubbed and given its issue's fingerprint. Its detail is not
    /// kept here: only [`Pipeline::ingest_errors`] keeps it, with consent (P7).
    pub fn prepare_error(&self, mut raw: RawError, ctx: &RequestContext, site: &Site) -> Result<Event, IngestError> {
        raw.detail.clear();
        let url = raw.url.clone().unwrap_or_else(|| format!("https://{}/", site.domain));
        let mut hit = ctx.hit(obscura_model::EventKind::Error, url);
        hit.app_device = raw.device.take();
        let base = match self.desensitized(hit.clone(), site) {
            // A URL that is not one (`app://`, a file path) leaves the page at the site's root.
            Err(IngestError::BadRequest(_)) => {
                self.desensitized(RawHit { url: format!("https://{}/", site.domain), ..hit }, site)?
            }
            other => other?,
        };
        let mut event = error_event(base, &raw);
        if let Some(rules) = self.scrub_rules.for_site(&site.domain) {
            apply_site_rules(&mut event, rules);
        }
        Ok(event)
    }
}

/// Whether a detail line (`breadcrumb …`, `extra …`, as the decoder writes them) is of a kind
/// the request asks for.
fn wanted_line(line: &str, wants: &[DetailKind]) -> bool {
    wants.iter().any(|w| match w {
        DetailKind::Breadcrumbs => line.starts_with("breadcrumb "),
        DetailKind::Extra => line.starts_with("extra "),
    })
}
