//! Wiring: from a configuration to a running server.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use obscura_enrich::{AsnDb, GeoDb, UaParser};
use obscura_ingest::Pipeline;
use obscura_ingest::enricher::Enricher;
use obscura_model::Clock;
use obscura_store::access_log::AccessLog;
use obscura_store::audit::{AuditLog, AuditTrail};
use obscura_store::crypto::{Key, load_master_key};
use obscura_store::meta::{MetaStore, MetadataStore};
use obscura_store::postgres::{PgAuditLog, PgMetaStore, PgOpenVisits, PgSaltVault, Postgres};
use obscura_store::salts::{SaltFile, SaltVault};
use obscura_store::visit_book::OpenVisitBook;
use obscura_store::{ClickHouseStore, EmbeddedStore, EventStore, StoreOptions};
use obscura_web::AppState;
use obscura_web::sessions::Sessions;
use obscura_web::state::SharedState;

use crate::config::{Backend, Config};
use crate::maintenance::Maintenance;

/// A server ready to run: its shared state, stores and settings, made by [`open`] and run by [`serve`].
pub struct App {
    /// What the HTTP handlers share.
    pub state: AppState,
    /// Built-in TLS, if configured (P10).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Where plain HTTP is redirected to HTTPS from, if anywhere.
    pub redirect_http_from: Option<SocketAddr>,
    /// The address browsers use (`public_url`): where plain HTTP is redirected to.
    pub public_url: Option<String>,
    /// The event store, whichever backend it is (closed when the server stops).
    pub store: Arc<dyn EventStore>,
    /// The embedded store when it is the backend: its tiers, for the benchmark's diagnostics.
    pub embedded: Option<Arc<EmbeddedStore>>,
    /// The ingest pipeline (its open visits are resumed when serving starts).
    pub pipeline: Arc<Pipeline>,
    /// Sites, users, API tokens and shared links.
    pub meta: Arc<dyn MetadataStore>,
    /// The background tasks, run once a minute while serving.
    pub maintenance: Maintenance,
    /// How long clients may take to send headers, and to stay silent.
    pub timeouts: crate::http_server::Timeouts,
}

/// Opens metadata and the audit log only (for CLI commands that manage sites, users and tokens).
pub fn open_meta(config: &Config) -> anyhow::Result<(Arc<dyn MetadataStore>, Arc<dyn AuditTrail>)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data folder {}", config.data_dir.display()))?;
    let key = load_master_key(&config.master_key_source(), &config.data_dir)?;
    let shared = SharedStores::open(config, &key)?;
    Ok((shared.meta, shared.audit))
}

/// What every node of an installation shares: metadata, the audit log and the daily salts.
/// Sealed files in the data folder, or PostgreSQL when `[postgres] url` is set.
pub struct SharedStores {
    /// Sites, users, API tokens and shared links.
    pub meta: Arc<dyn MetadataStore>,
    /// The audit log (P12).
    pub audit: Arc<dyn AuditTrail>,
    /// The daily visitor-hash salts (P2).
    pub salts: Arc<dyn SaltVault>,
    /// Open visits, when several nodes share them (with PostgreSQL).
    pub visits: Option<Arc<dyn OpenVisitBook>>,
}

impl SharedStores {
    /// Opens them under `key`; fails, naming the address, when PostgreSQL cannot be reached.
    pub fn open(config: &Config, key: &Key) -> anyhow::Result<SharedStores> {
        match &config.postgres.url {
            Some(url) => {
                let pg = Arc::new(Postgres::connect(url, config.postgres.schema.as_deref())?);
                tracing::info!("metadata, audit log and salts are kept in PostgreSQL at {}", pg.address());
                Ok(SharedStores {
                    meta: Arc::new(PgMetaStore::open(pg.clone(), key.clone())?),
                    audit: Arc::new(PgAuditLog::new(pg.clone(), key.clone())),
                    salts: Arc::new(PgSaltVault::new(pg, key.clone())),
                    // A connection of its own: ingest must not wait behind metadata and audit work.
                    visits: Some(Arc::new(PgOpenVisits::new(Arc::new(Postgres::connect(
                        url,
                        config.postgres.schema.as_deref(),
                    )?)))),
                })
            }
            None => {
                obscura_store::crypto::prepare_key_file(&config.salts_path(), &config.data_dir, "salts")?;
                Ok(SharedStores {
                    meta: Arc::new(MetaStore::open(&config.data_dir, key.clone())?),
                    audit: Arc::new(AuditLog::open(&config.data_dir, key.clone())?),
                    salts: Arc::new(SaltFile::new(config.salts_path(), key.clone())),
                    visits: None,
                })
            }
        }
    }
}

/// The enricher from the configured data files: the User-Agent regexes (else the small built-in parser)
/// and the geo and network operator databases (without them, those lookups find nothing).
pub fn load_enricher(config: &Config) -> anyhow::Result<Enricher> {
    let e = &config.enrich;
    let user_agents = match &e.user_agent_regexes {
        Some(path) => UaParser::from_yaml_file(path)?,
        None => {
            tracing::warn!("no uap-core regexes.yaml configured: using the small built-in User-Agent parser");
            UaParser::builtin()
        }
    };
    let geo = if e.geo_databases.is_empty() { GeoDb::empty() } else { GeoDb::open(&e.geo_databases)? };
    let networks = if e.asn_databases.is_empty() { AsnDb::empty() } else { AsnDb::open(&e.asn_databases)? };
    return_freed_memory();
    Ok(Enricher::with_cache_entries(user_agents, geo, networks, config.limits.user_agent_cache))
}

/// Hands the memory freed after loading the data files (the geo database files, read whole and
/// reduced to range tables, and the CSV text) back to the system. mimalloc returns freed pages
/// only when a thread allocates again after a delay, which an idle server never does, so
/// without this an idle server would keep about 60 MB it no longer uses.
fn return_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called at any time from any thread;
    // when mimalloc is not the global allocator (library tests) it has nothing to collect.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Turns transparent huge pages off for this process, for bulk work (imports, exports): it
/// allocates and frees large buffers (day files, batches) over and over, and each fresh 2 MiB
/// huge page is zeroed by the kernel on first touch — a quarter of an access-log import's time
/// in its profile (`clear_page_erms`), about 15 % of its speed (BENCHMARKS.md).
pub fn without_huge_pages() {
    // SAFETY: `prctl(PR_SET_THP_DISABLE)` takes no pointers and only sets a flag of this
    // process; it fails harmlessly where unsupported.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// The access log (P8) in the data folder, its hour keys beside the keyring; hours due for
/// destruction (the server may have been stopped when they fell due) go at once.
pub fn open_access_log(
    config: &Config,
    key: obscura_store::crypto::Key,
    now: time::OffsetDateTime,
) -> anyhow::Result<AccessLog> {
    let log = AccessLog::open(config.data_dir.join("access-log"), config.access_log_keys_path(), key)?
        .with_budget(config.access_log.budget());
    log.purge(now)?;
    Ok(log)
}

/// Opens everything the server needs from `config` (TLS certificates first, then the master key, metadata,
/// the event store, the ingest pipeline, the audit and access logs); serves nothing yet.
pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
    // Certificates first: never start half-protected on a typo in a path.
    let tls = config.tls.as_ref().map(crate::tls::server_config).transpose()?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data folder {}", config.data_dir.display()))?;
    let key = load_master_key(&config.master_key_source(), &config.data_dir)?;
    let shared = SharedStores::open(config, &key)?;
    let meta = shared.meta.clone();
    let keyring_path = config.keyring_path();
    obscura_store::crypto::prepare_key_file(&keyring_path, &config.data_dir, "keyring")?;
    let (store, embedded): (Arc<dyn EventStore>, _) = match config.backend {
        Backend::Embedded => {
            let embedded = Arc::new(EmbeddedStore::open(StoreOptions {
                data_dir: config.data_dir.clone(),
                keyring_path,
                master_key: key.clone(),
                clock: clock.clone(),
                rollups: true,
                flush_rows: config.flush_rows,
            })?);
            (embedded.clone(), Some(embedded))
        }
        Backend::ClickHouse => {
            let store =
                ClickHouseStore::connect(config.clickhouse.options(clock.clone(), &config.data_dir, &key)).await?;
            tracing::info!(
                "events are stored in ClickHouse {} ({} shards)",
                store.version(),
                config.clickhouse.shards.len()
            );
            (Arc::new(store), None)
        }
    };
    let enricher = Arc::new(load_enricher(config)?);
    let mut pipeline = Pipeline::new(enricher, store.clone(), meta.clone(), clock.clone(), shared.salts.clone())?
        .with_scrub_rules(config.scrub.site_rules()?)
        .with_source_params(config.url.source_params.clone())
        .with_cdn_map(config.enrich.cdn_map()?)
        .with_visit_limits(config.limits.visits())
        .with_errors_per_minute(config.limits.errors_per_minute)
        .with_admission(config.limits.ingest_queue_events, config.limits.memory_mb << 20)
        .with_classifier(obscura_enrich::bots::Classifier::new(config.enrich.robot_names()?));
    if let Some(book) = shared.visits.clone() {
        pipeline = pipeline.with_visit_book(book);
    }
    let pipeline = Arc::new(pipeline);
    let audit = shared.audit.clone();
    let state = AppState::new(SharedState {
        pipeline: pipeline.clone(),
        store: store.clone(),
        meta: meta.clone(),
        clock: clock.clone(),
        sessions: Arc::new(Sessions::default()),
        audit,
        share_grants: Default::default(),
        login_attempts: Default::default(),
        password_hashing: Default::default(),
        https: config.tls.is_some() || config.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
        tls_counters: Arc::default(),
        privacy: Arc::new(obscura_web::state::PrivacySettings {
            default_retention_days: config.retention_days,
            k_anonymity: config.k_anonymity,
            source_params: config.url.source_params.clone(),
        }),
        access_log: Arc::new(open_access_log(config, key.clone(), clock.now())?),
        trusted_proxies: Arc::new(config.trusted_proxies()?),
        policy_versions: Arc::new(obscura_store::sealed_json::SealedJson::new(
            config.data_dir.join("policy-versions"),
            b"obscura policy versions v1",
            key.clone(),
        )),
    });
    let maintenance = Maintenance::new(
        pipeline.clone(),
        state.store.clone(),
        meta.clone(),
        state.audit.clone(),
        state.access_log.clone(),
        state.clock.clone(),
        config.audit_retention_days,
        config.retention_days,
        config.k_anonymity,
    );
    let redirect_http_from = config.tls.as_ref().and_then(|t| t.redirect_http_from);
    Ok(App {
        state,
        tls,
        redirect_http_from,
        public_url: config.public_url.clone(),
        store,
        embedded,
        pipeline,
        meta,
        maintenance,
        timeouts: config.limits.timeouts(),
    })
}

/// Serves until Ctrl-C / SIGTERM, running maintenance (salts, retention) in the background.
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    match app.pipeline.restore_visits().await {
        Ok(0) => {}
        Ok(n) => tracing::info!("resumed {n} open visits"),
        Err(e) => tracing::warn!("cannot resume open visits (they will start anew): {e:#}"),
    }
    match app.pipeline.restore_idempotency_keys().await {
        Ok(0) => {}
        Ok(n) => tracing::info!("remembered {n} idempotency keys of batches stored in the last day"),
        Err(e) => {
            tracing::warn!("cannot read the stored idempotency keys (a retried batch may be stored twice): {e:#}")
        }
    }
    let maintenance = app.maintenance.clone();
    let _maintenance = AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            maintenance.run_once().await;
        }
    }));
    let router = obscura_web::router(app.state.clone());
    let mut redirect = None;
    if let (Some(_), Some(from)) = (&app.tls, app.redirect_http_from) {
        let plain = tokio::net::TcpListener::bind(from)
            .await
            .with_context(|| format!("cannot listen on {from} for the HTTP-to-HTTPS redirect"))?;
        let target = crate::tls::RedirectTarget::new(app.public_url.as_deref(), listener.local_addr()?);
        redirect = Some(AbortOnDrop(tokio::spawn(crate::tls::serve_redirect(plain, target, app.timeouts))));
    }
    let tls = app.tls.clone().map(|config| (config, app.state.tls_counters.clone()));
    crate::http_server::serve(listener, tls, router, app.timeouts, shutdown_signal()).await?;
    drop(redirect);
    app.store.close();
    Ok(())
}

/// Stops a background task when serving ends, also when the serving task itself is aborted:
/// a maintenance loop left running would keep the store (and its spool's lock) alive.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
