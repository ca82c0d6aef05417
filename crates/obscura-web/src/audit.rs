//! Audit entries the web layer writes itself: reads of statistics (a read that cannot be
//! recorded is not served) and account actions. Administrative actions are recorded by the admin
//! service.

use crate::api_error::ApiError;
use crate::sessions::Session;
use crate::state::AppState;

/// Records a read in the audit log; a read that cannot be recorded is not served.
pub fn record_read(state: &AppState, actor: &str, site: Option<&str>, detail: &str) -> Result<(), ApiError> {
    let ts_ms = state.clock.now_ms();
    state
        .audit
        .append(obscura_store::audit::AuditEntry { ts_ms, actor, action: "read", site, detail })
        .map_err(|e| ApiError::unavailable(format!("audit log: {e:#}")))
}

/// Records an administrative action taken in the UI.
pub fn record_action(state: &AppState, session: &Session, action: &str, detail: &str) {
    let ts_ms = state.clock.now_ms();
    let actor = format!("user:{}", session.username);
    let entry = obscura_store::audit::AuditEntry { ts_ms, actor: &actor, action, site: None, detail };
    if let Err(e) = state.audit.append(entry) {
        tracing::error!("cannot write the audit log: {e:#}");
    }
}
