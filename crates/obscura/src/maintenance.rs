//! Background maintenance, run once a minute by the server and directly by tests (with an
//! injected clock): visitor salts (P2), data retention (P13), access-log purge (P8), audit-log
//! retention, and the Errors tab's questions asked ahead of its first view.

use std::sync::Arc;

use obscura_ingest::Pipeline;
use obscura_model::Clock;
use obscura_store::EventStore;
use obscura_store::access_log::AccessLog;
use obscura_store::audit::AuditTrail;
use obscura_store::meta::MetadataStore;
use obscura_store::retention::{Destruction, PurgeReport, purge_expired};
use time::Date;

/// The day and the sites' (id, retention days) of a retention run.
type RetentionRun = (Date, Vec<(u32, u32)>);

/// The background tasks and what they work on; [`Maintenance::run_once`] runs one round.
#[derive(Clone)]
pub struct Maintenance {
    /// The ingest pipeline, whose visitor salts are rotated.
    pub pipeline: Arc<Pipeline>,
    /// The event store data past retention is destroyed from.
    pub store: Arc<dyn EventStore>,
    /// The sites and their retention settings.
    pub meta: Arc<dyn MetadataStore>,
    /// The audit log: every destruction is recorded there, and old records removed.
    pub audit: Arc<dyn AuditTrail>,
    /// The access log, whose hours past its promise are destroyed.
    pub access_log: Arc<AccessLog>,
    /// The current time (injected, so tests can set it).
    pub clock: Arc<dyn Clock>,
    /// Days the audit log keeps its records.
    pub audit_retention_days: u32,
    /// Days of per-event data kept for sites no longer configured.
    pub default_retention_days: u32,
    /// Distinct visitors every kept aggregate cell counts (P3).
    pub k: u32,
    /// The day and the sites' retention settings of the last complete retention run: the
    /// result changes only when either does.
    last_retention: Arc<std::sync::Mutex<Option<RetentionRun>>>,
}

impl Maintenance {
    /// Maintenance of these stores with these retention settings (`k`: see [`Maintenance::k`]); nothing runs
    /// until [`Maintenance::run_once`] is called.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pipeline: Arc<Pipeline>,
        store: Arc<dyn EventStore>,
        meta: Arc<dyn MetadataStore>,
        audit: Arc<dyn AuditTrail>,
        access_log: Arc<AccessLog>,
        clock: Arc<dyn Clock>,
        audit_retention_days: u32,
        default_retention_days: u32,
        k: u32,
    ) -> Self {
        Maintenance {
            pipeline,
            store,
            meta,
            audit,
            access_log,
            clock,
            audit_retention_days,
            default_retention_days,
            k,
            last_retention: Default::default(),
        }
    }

    /// One round of every task; failures are logged and retried next round. The file work runs
    /// on blocking threads, so the async workers keep serving requests meanwhile.
    pub async fn run_once(&self) {
        // First the access log: its 73-hour promise must not wait for a long retention run.
        let (access_log, now) = (self.access_log.clone(), self.clock.now());
        match blocking(move || access_log.purge(now)).await {
            Ok(hours) if !hours.is_empty() => tracing::info!(?hours, "destroyed access-log hours"),
            Ok(_) => {}
            Err(e) => tracing::error!("access-log purge failed (retried in a minute): {e:#}"),
        }
        match self.pipeline.rotate_salts() {
            Ok(destroyed) if !destroyed.is_empty() => tracing::info!(?destroyed, "destroyed expired visitor salts"),
            Ok(_) => {}
            Err(e) => tracing::error!("salt rotation failed: {e:#}"),
        }
        match self.pipeline.forget_ended_visits() {
            Ok(_) => {}
            Err(e) => tracing::error!("cannot delete ended shared visits (retried in a minute): {e:#}"),
        }
        // Before retention: a finished day is rolled up while its rows exist.
        if let Err(e) = self.store.maintain().await {
            tracing::error!("store maintenance failed (retried in a minute): {e:#}");
        }
        // Retention renames, deletes and fsyncs files, and records in the audit log.
        let this = self.clone();
        let runtime = tokio::runtime::Handle::current();
        let retention = blocking(move || runtime.block_on(this.enforce_retention())).await;
        if retention.is_ok() {
            self.pipeline.counters.retention_runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        match retention {
            Ok(report) if !report.is_empty() => tracing::info!(?report, "destroyed data past retention"),
            Ok(_) => {}
            Err(e) => tracing::error!("data retention failed (retried in a minute): {e:#}"),
        }
        self.warm_errors().await;
        let days = self.audit_retention_days;
        let cutoff = self.clock.now() - time::Duration::days(i64::from(days));
        let audit = self.audit.clone();
        match blocking(move || audit.purge_older_than(obscura_model::unix_ms(cutoff))).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} audit records older than {days} days"),
            Err(e) => tracing::error!("audit log retention failed: {e:#}"),
        }
    }

    /// Asks each site's Errors tab questions (the default 30 days: issues, reports by release,
    /// environment and browser, and the top issue's page), so the store holds the finished days'
    /// answers and cells before anyone opens the tab; once answered, a day costs nothing until it
    /// changes.
    pub async fn warm_errors(&self) {
        let now = self.clock.now();
        let Ok(range) = obscura_query::TimeRange::named("30d", now, None, None) else { return };
        let by = [
            obscura_query::Dimension::Prop("release".into()),
            obscura_query::Dimension::Prop("environment".into()),
            obscura_query::Dimension::Browser,
        ];
        for site in self.meta.get().sites.iter().filter(|s| s.error_key.is_some()) {
            let q = obscura_query::Query { site: site.id, range, filters: Vec::new() };
            let issues = self.store.issues(&q, 100).await;
            let top = issues.as_ref().ok().and_then(|found| found.first()).map(|i| i.fingerprint.clone());
            let mut asked = vec![issues.map(drop)];
            for dim in &by {
                asked.push(self.store.error_breakdown(&q, dim, 20).await.map(drop));
            }
            // The top issue's page: its breakdowns read the days' cells, which then answer
            // every filtered view and every other issue's page too.
            if let Some(filter) = top.and_then(|f| obscura_query::Filter::parse(&format!("event=={f}")).ok()) {
                let one = obscura_query::Query { filters: vec![filter], ..q.clone() };
                asked.push(self.store.issues(&one, 1).await.map(drop));
                asked.push(self.store.error_breakdown(&one, &obscura_query::Dimension::Page, 10).await.map(drop));
            }
            if let Some(Err(e)) = asked.into_iter().find(Result::is_err) {
                tracing::warn!(site = %site.domain, "the Errors tab's questions could not be asked ahead: {e}");
            }
        }
    }

    /// Destroys per-event data past each site's retention (P13), recording each destruction in
    /// the audit log as it happens.
    pub async fn enforce_retention(&self) -> anyhow::Result<PurgeReport> {
        let today = self.clock.now().date();
        let sites = self.meta.get().sites.clone();
        let settings: Vec<(u32, u32)> = sites.iter().map(|s| (s.id, s.retention_days)).collect();
        let state = Some((today, settings));
        if *self.last_retention.lock().unwrap_or_else(|e| e.into_inner()) == state {
            return Ok(PurgeReport::default());
        }
        let record = |destruction: &Destruction| match destruction {
            Destruction::Day(day) => self.record("retention.destroy_day", &format!("{day}")),
            Destruction::Sites(day, sites, rows) => {
                self.record("retention.purge_sites", &format!("{day}: sites {sites:?}, {rows} rows"))
            }
        };
        let report =
            purge_expired(self.store.as_ref(), &sites, self.default_retention_days, self.k, today, &record).await?;
        *self.last_retention.lock().unwrap_or_else(|e| e.into_inner()) = state;
        Ok(report)
    }

    fn record(&self, action: &str, detail: &str) -> anyhow::Result<()> {
        let ts_ms = self.clock.now_ms();
        self.audit.append(obscura_store::audit::AuditEntry { ts_ms, actor: "retention", action, site: None, detail })
    }
}

/// Runs file work on a blocking thread.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| anyhow::anyhow!("maintenance task failed: {e}"))?
}
