//! The batch API's idempotency keys: a batch sent again (a retry after a timeout) stores none of
//! the events already stored. A key is remembered as a hash of its site and text under a key
//! made at start — never the text, which a client might have made from an identifier — for
//! [`KEPT_FOR_MS`], and at most [`MAX_KEYS`] at once (the oldest go first). In memory only: a
//! retry after the server restarted is counted again.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;

/// Keys remembered at once.
pub const MAX_KEYS: usize = 500_000;
/// How long a key is remembered: a day.
pub const KEPT_FOR_MS: i64 = 86_400_000;

/// The keys seen.
#[derive(Debug, Default)]
pub struct IdempotencyKeys {
    hasher: std::collections::hash_map::RandomState,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Key hash → when it was stored.
    at: HashMap<u64, i64>,
    /// Key hashes in the order they were stored, to forget the oldest first.
    order: VecDeque<(u64, i64)>,
}

impl IdempotencyKeys {
    /// Whether `key` of `site` was stored within the last day (as of `now_ms`).
    pub fn seen(&self, site: u32, key: &str, now_ms: i64) -> bool {
        let hash = self.hasher.hash_one((site, key));
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.at.get(&hash).is_some_and(|at| now_ms - at < KEPT_FOR_MS)
    }

    /// Remembers that `key` of `site` was stored at `now_ms`.
    pub fn remember(&self, site: u32, key: &str, now_ms: i64) {
        let hash = self.hasher.hash_one((site, key));
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(old, at)) = seen.order.front() {
            if seen.order.len() < MAX_KEYS && now_ms - at < KEPT_FOR_MS {
                break;
            }
            seen.order.pop_front();
            if seen.at.get(&old) == Some(&at) {
                seen.at.remove(&old);
            }
        }
        seen.at.insert(hash, now_ms);
        seen.order.push_back((hash, now_ms));
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).at.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_idempotency_keys_are_per_site_kept_a_day_and_bounded() {
        let keys = IdempotencyKeys::default();
        keys.remember(1, "order-1", 0);
        assert!(keys.seen(1, "order-1", 1_000));
        assert!(!keys.seen(2, "order-1", 1_000), "another site's key");
        assert!(!keys.seen(1, "order-2", 1_000));
        assert!(!keys.seen(1, "order-1", KEPT_FOR_MS), "a day later it is forgotten");
        for i in 0..(MAX_KEYS + 5) {
            keys.remember(1, &i.to_string(), 10);
        }
        assert!(keys.len() <= MAX_KEYS, "{}", keys.len());
        assert!(keys.seen(1, &(MAX_KEYS + 4).to_string(), 20) && !keys.seen(1, "0", 20), "the oldest went first");
    }
}
