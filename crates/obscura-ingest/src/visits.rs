//! Visits: a visit ends after 30 minutes without activity.
//!
//! Keyed by the day's visitor hash, so visits never link across days. Each pageview learns its
//! position in the visit (1 = entry page) and the previous page (behaviour flow).

use std::collections::HashMap;

use obscura_model::{Event, EventKind};
use obscura_privacy::Clean;

pub const VISIT_TIMEOUT_MS: i64 = 30 * 60 * 1000;

struct VisitState {
    id: u64,
    last_ms: i64,
    pageviews: u16,
    last_path: Option<Clean>,
}

#[derive(Default)]
pub struct VisitTracker {
    visits: HashMap<(u32, u64), VisitState>,
    assigned_since_prune: usize,
}

impl VisitTracker {
    /// Fills in `visit`, `visit_seq`, `visit_gap_ms` and `prev_path`.
    pub fn assign(&mut self, event: &mut Event) {
        let key = (event.site, event.visitor.get());
        let state = self.visits.entry(key).or_insert_with(|| VisitState {
            id: rand::random(),
            last_ms: event.ts_ms,
            pageviews: 0,
            last_path: None,
        });
        if event.ts_ms - state.last_ms > VISIT_TIMEOUT_MS {
            *state = VisitState { id: rand::random(), last_ms: event.ts_ms, pageviews: 0, last_path: None };
        }
        event.visit_gap_ms = (event.ts_ms - state.last_ms).clamp(0, VISIT_TIMEOUT_MS) as u32;
        state.last_ms = state.last_ms.max(event.ts_ms);
        event.visit = state.id;
        if event.kind == EventKind::Pageview {
            state.pageviews = state.pageviews.saturating_add(1);
            event.visit_seq = state.pageviews;
            event.prev_path = state.last_path.replace(event.path.clone());
        }
        self.assigned_since_prune += 1;
        if self.assigned_since_prune >= 10_000 {
            self.prune(event.ts_ms);
        }
    }

    /// Resumes a visit that was open when the server stopped (from the stored events).
    pub fn restore(&mut self, site: u32, visitor: u64, id: u64, last_ms: i64, pageviews: u16, last_path: Option<Clean>) {
        let state = VisitState { id, last_ms, pageviews, last_path };
        match self.visits.get(&(site, visitor)) {
            Some(existing) if existing.last_ms >= last_ms => {}
            _ => {
                self.visits.insert((site, visitor), state);
            }
        }
    }

    /// Forgets visits that have ended.
    pub fn prune(&mut self, now_ms: i64) {
        self.visits.retain(|_, s| now_ms - s.last_ms <= VISIT_TIMEOUT_MS);
        self.assigned_since_prune = 0;
    }

    pub fn open_visits(&self) -> usize {
        self.visits.len()
    }
}
