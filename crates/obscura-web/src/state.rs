//! Shared state of the HTTP server.

use std::sync::Arc;

use obscura_ingest::Pipeline;
use obscura_model::Clock;
use obscura_store::EventStore;
use obscura_store::audit::AuditTrail;
use obscura_store::meta::MetadataStore;

use crate::sessions::Sessions;

/// What every handler shares. Axum clones the state for every request, so it is one shared
/// pointer: a clone is one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    /// The state handlers share.
    pub fn new(shared: SharedState) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct SharedState {
    /// The ingest pipeline events go through, with its counters.
    pub pipeline: Arc<Pipeline>,
    /// The event store statistics are read from.
    pub store: Arc<dyn EventStore>,
    /// Sites, users, API tokens and shared links.
    pub meta: Arc<dyn MetadataStore>,
    /// The current time (injected, so tests can set it).
    pub clock: Arc<dyn Clock>,
    /// Dashboard login sessions.
    pub sessions: Arc<Sessions>,
    /// Every read of data and every admin action (P12).
    pub audit: Arc<dyn AuditTrail>,
    /// Browsers that entered the password of a protected shared link.
    pub share_grants: Arc<crate::shares::ShareGrants>,
    /// Failed password attempts per network, user name and shared link.
    pub login_attempts: Arc<crate::login_limit::AttemptLimiter>,
    /// Bounds concurrent password hashing (argon2 is memory-hard).
    pub password_hashing: Arc<crate::password_hashing::PasswordHashing>,
    /// Each policy text's hash and the day it last changed (P16).
    pub policy_versions: Arc<obscura_store::sealed_json::SealedJson>,
    /// Served to browsers over HTTPS (the public URL says so): HSTS and `Secure` cookies.
    pub https: bool,
    /// TLS handshakes on the built-in TLS port (zeros without it).
    pub tls_counters: Arc<crate::connection::TlsCounters>,
    /// Settings the privacy policy reports and new sites start with.
    pub privacy: Arc<PrivacySettings>,
    /// Obscura's own access log (P8).
    pub access_log: Arc<obscura_store::access_log::AccessLog>,
    /// Proxies whose forwarding header is believed (P10); none by default.
    pub trusted_proxies: Arc<crate::client_ip::TrustedProxies>,
}

/// Privacy settings from the configuration, as the policy page states them (P16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivacySettings {
    /// Days new sites keep per-event data (P13).
    pub default_retention_days: u32,
    /// Distinct visitors every aggregate kept past retention counts (P3).
    pub k_anonymity: u32,
    /// Query parameters kept as the visit's source, besides `utm_*`.
    pub source_params: Vec<String>,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings {
            default_retention_days: obscura_store::meta::DEFAULT_RETENTION_DAYS,
            k_anonymity: obscura_store::aggregates::DEFAULT_K,
            source_params: obscura_privacy::page_url::DEFAULT_SOURCE_PARAMS.map(str::to_owned).to_vec(),
        }
    }
}
