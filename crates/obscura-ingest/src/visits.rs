//! Visits: a visit ends after 30 minutes without activity.
//!
//! Keyed by the day's visitor hash, so visits never link across days. Each pageview learns its
//! position in the visit (1 = entry page) and the previous page (behaviour flow).
//!
//! Every request from a new address or User-Agent opens a visit, so the tracker is bounded: at
//! most [`VisitLimits::max_open`] visits and [`VisitLimits::max_path_bytes`] bytes of remembered
//! pages. Past either bound the least recently active visit is forgotten first; its visitor's
//! next event then starts a new visit.

use std::num::NonZeroUsize;

use lru::LruCache;
use obscura_model::{Event, EventKind};
use obscura_privacy::Clean;

/// Inactivity after which a visit ends, in milliseconds (30 minutes).
pub const VISIT_TIMEOUT_MS: i64 = 30 * 60 * 1000;

/// The tracker's ceilings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitLimits {
    /// Open visits remembered at once.
    pub max_open: usize,
    /// Bytes of last-page text remembered at once (pages are what makes a visit large).
    pub max_path_bytes: usize,
}

impl Default for VisitLimits {
    fn default() -> Self {
        VisitLimits { max_open: 500_000, max_path_bytes: 32 << 20 }
    }
}

/// One open visit: what the next event of its visitor needs.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitState {
    /// The visit's id.
    pub id: u64,
    /// Its latest event, in milliseconds since the Unix epoch (UTC).
    pub last_ms: i64,
    /// Pageviews so far.
    pub pageviews: u16,
    /// The last page viewed.
    pub last_path: Option<Clean>,
}

/// The visitor's visit after `event`, given the visit open before it (`prior`), filling in the
/// event's `visit`, `visit_seq`, `visit_gap_ms` and `prev_path`. The one rule for visits,
/// whether they are held in this process or shared by several nodes.
pub fn advance(prior: Option<VisitState>, event: &mut Event) -> VisitState {
    let fresh = || VisitState { id: rand::random(), last_ms: event.ts_ms, pageviews: 0, last_path: None };
    let mut state = match prior {
        Some(state) if event.ts_ms - state.last_ms <= VISIT_TIMEOUT_MS => state,
        _ => fresh(),
    };
    event.visit_gap_ms = (event.ts_ms - state.last_ms).clamp(0, VISIT_TIMEOUT_MS) as u32;
    state.last_ms = state.last_ms.max(event.ts_ms);
    event.visit = state.id;
    if event.kind == EventKind::Pageview {
        state.pageviews = state.pageviews.saturating_add(1);
        event.visit_seq = state.pageviews;
        event.prev_path = state.last_path.replace(event.path.clone());
    }
    state
}

impl VisitState {
    fn path_bytes(&self) -> usize {
        self.last_path.as_ref().map_or(0, |p| p.as_str().len())
    }
}

/// Open visits held in memory, keyed by site and the day's visitor hash, bounded by [`VisitLimits`].
pub struct VisitTracker {
    /// Most recently active first.
    visits: LruCache<(u32, u64), VisitState>,
    limits: VisitLimits,
    path_bytes: usize,
    assigned_since_prune: usize,
    /// Visits forgotten because a ceiling was reached (some may have ended already, before the
    /// next prune noticed).
    evicted: u64,
}

impl Default for VisitTracker {
    fn default() -> Self {
        Self::new(VisitLimits::default())
    }
}

impl VisitTracker {
    /// An empty tracker with these ceilings (`max_open` of 0 is treated as 1).
    pub fn new(limits: VisitLimits) -> Self {
        let max_open = limits.max_open.max(1);
        VisitTracker {
            visits: LruCache::new(NonZeroUsize::new(max_open).expect("at least 1")),
            limits: VisitLimits { max_open, ..limits },
            path_bytes: 0,
            assigned_since_prune: 0,
            evicted: 0,
        }
    }

    /// Fills in `visit`, `visit_seq`, `visit_gap_ms` and `prev_path`.
    pub fn assign(&mut self, event: &mut Event) {
        let key = (event.site, event.visitor.get());
        let prior = self.take(&key);
        let state = advance(prior, event);
        self.put(key, state);
        self.assigned_since_prune += 1;
        if self.assigned_since_prune >= 10_000 {
            self.prune(event.ts_ms);
        }
    }

    /// Resumes a visit that was open when the server stopped (from the stored events).
    pub fn restore(
        &mut self,
        site: u32,
        visitor: u64,
        id: u64,
        last_ms: i64,
        pageviews: u16,
        last_path: Option<Clean>,
    ) {
        if self.visits.peek(&(site, visitor)).is_some_and(|existing| existing.last_ms >= last_ms) {
            return;
        }
        self.take(&(site, visitor));
        self.put((site, visitor), VisitState { id, last_ms, pageviews, last_path });
    }

    fn take(&mut self, key: &(u32, u64)) -> Option<VisitState> {
        let state = self.visits.pop(key)?;
        self.path_bytes -= state.path_bytes();
        Some(state)
    }

    fn put(&mut self, key: (u32, u64), state: VisitState) {
        self.path_bytes += state.path_bytes();
        if let Some((_, gone)) = self.visits.push(key, state) {
            self.forget(gone);
        }
        while self.path_bytes > self.limits.max_path_bytes {
            match self.visits.pop_lru() {
                Some((_, gone)) => self.forget(gone),
                None => break,
            }
        }
    }

    fn forget(&mut self, gone: VisitState) {
        self.path_bytes -= gone.path_bytes();
        self.evicted += 1;
    }

    /// Forgets visits that have ended. The least recently active come first, so the scan stops
    /// at the first visit still open.
    pub fn prune(&mut self, now_ms: i64) {
        while self.visits.peek_lru().is_some_and(|(_, s)| now_ms - s.last_ms > VISIT_TIMEOUT_MS) {
            let (_, gone) = self.visits.pop_lru().expect("peeked");
            self.path_bytes -= gone.path_bytes();
        }
        self.assigned_since_prune = 0;
    }

    /// Visits held now (may include ended visits the next prune has not yet forgotten).
    pub fn open_visits(&self) -> usize {
        self.visits.len()
    }

    /// Visits forgotten because a ceiling was reached, since start.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Bytes of remembered page text.
    pub fn path_bytes(&self) -> usize {
        self.path_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pageview of `path` by visitor number `visitor`, `ts_ms` after a fixed noon.
    fn pageview(visitor: u64, ts_ms: i64, path: &str) -> Event {
        let noon = time::macros::datetime!(2026-03-01 12:00 UTC);
        crate::synthetic::pageview(1, visitor, noon + time::Duration::milliseconds(ts_ms), path)
    }

    #[test]
    fn hardening_visit_tracker_is_bounded_by_count_and_bytes() {
        let mut visits = VisitTracker::new(VisitLimits { max_open: 100, max_path_bytes: 10_000 });
        // A flood of new visitors: the tracker never holds more than its ceiling.
        for v in 0..1_000 {
            visits.assign(&mut pageview(v, 1_000 + v as i64, "/p"));
            assert!(visits.open_visits() <= 100);
        }
        assert_eq!(visits.evicted(), 900);
        // Long pages: the byte ceiling holds too.
        // Pages are kept up to about 500 characters.
        let long = format!("/docs/{}", "chapter-".repeat(60));
        for v in 2_000..2_100 {
            let mut event = pageview(v, 5_000, &long);
            assert!(event.path.as_str().len() > 400, "the page stays long: {:?}", event.path);
            visits.assign(&mut event);
            assert!(visits.path_bytes() <= 10_000, "{}", visits.path_bytes());
        }
        assert!(visits.path_bytes() > 5_000, "long pages are remembered up to the ceiling");
        assert!(visits.open_visits() <= 100);
    }

    #[test]
    fn hardening_visit_tracker_keeps_recently_active_visits_under_pressure() {
        let mut visits = VisitTracker::new(VisitLimits { max_open: 10, max_path_bytes: 1 << 20 });
        let mut first = pageview(1, 0, "/a");
        visits.assign(&mut first);
        for v in 100..200 {
            // Visitor 1 stays active while strangers come and go.
            let mut again = pageview(1, v, "/b");
            visits.assign(&mut again);
            assert_eq!(again.visit, first.visit, "an active visit is never the one forgotten");
            visits.assign(&mut pageview(v as u64, v, "/x"));
        }
    }

    #[test]
    fn hardening_prune_forgets_ended_visits_and_their_bytes() {
        let mut visits = VisitTracker::new(VisitLimits::default());
        let mut old = pageview(1, 0, "/old");
        visits.assign(&mut old);
        visits.assign(&mut pageview(2, VISIT_TIMEOUT_MS, "/new"));
        visits.prune(old.ts_ms + VISIT_TIMEOUT_MS + 1);
        assert_eq!(visits.open_visits(), 1);
        assert_eq!(visits.path_bytes(), "/new".len());
        // The visit that ended starts anew.
        let mut back = pageview(1, VISIT_TIMEOUT_MS + 2, "/again");
        visits.assign(&mut back);
        assert_eq!(back.visit_seq, 1);
        assert_eq!(back.prev_path, None);
    }
}
