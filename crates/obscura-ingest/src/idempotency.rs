//! The batch API's idempotency keys: a batch sent again (a retry after a timeout) stores none of
//! the events already stored. A key is remembered as a 128-bit hash of its site and text —
//! never the text, which a client might have made from an identifier — for [`KEPT_FOR_MS`],
//! and at most [`MAX_KEYS`] at once (the oldest go first). The store keeps the hashes with the
//! events ([`obscura_store::EventStore::append_keyed`]), so a restarted server learns them
//! again ([`IdempotencyKeys::restore`]) and a retry of a batch stored just before a crash is not
//! stored twice.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use obscura_store::key_log::{KeyHash, StoredKey};
use sha2::{Digest, Sha256};

/// Keys remembered at once.
pub const MAX_KEYS: usize = 500_000;
/// How long a key is remembered: a day.
pub const KEPT_FOR_MS: i64 = obscura_store::key_log::KEPT_FOR_MS;

/// The hash of `key` of `site`: the same in every process, so that stored hashes still match
/// after a restart. Sealed wherever it is written (P12).
pub fn key_hash(site: u32, key: &str) -> KeyHash {
    let digest = Sha256::new().chain_update(site.to_le_bytes()).chain_update(key.as_bytes()).finalize();
    KeyHash::from_le_bytes(digest[..16].try_into().expect("16 of 32 bytes"))
}

/// The keys seen.
#[derive(Debug, Default)]
pub struct IdempotencyKeys {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Key hash → when it was stored.
    at: HashMap<KeyHash, i64>,
    /// Key hashes in the order they were stored, to forget the oldest first.
    order: VecDeque<(KeyHash, i64)>,
}

impl IdempotencyKeys {
    /// Whether `key` of `site` was stored within the last day (as of `now_ms`).
    pub fn seen(&self, site: u32, key: &str, now_ms: i64) -> bool {
        let hash = key_hash(site, key);
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.at.get(&hash).is_some_and(|at| now_ms - at < KEPT_FOR_MS)
    }

    /// Remembers that `key` of `site` was stored at `now_ms`.
    pub fn remember(&self, site: u32, key: &str, now_ms: i64) {
        self.remember_hash(key_hash(site, key), now_ms);
    }

    /// Remembers the keys a store kept (at start, before any batch is taken), oldest first.
    pub fn restore(&self, mut keys: Vec<StoredKey>) {
        keys.sort_by_key(|(_, at)| *at);
        for (hash, at) in keys {
            self.remember_hash(hash, at);
        }
    }

    fn remember_hash(&self, hash: KeyHash, now_ms: i64) {
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

    #[test]
    fn batch_idempotency_keys_restored_from_the_store_are_seen_again() {
        assert_eq!(key_hash(1, "order-1"), key_hash(1, "order-1"), "the same in every process");
        assert_ne!(key_hash(1, "order-1"), key_hash(2, "order-1"));
        let restarted = IdempotencyKeys::default();
        restarted.restore(vec![(key_hash(1, "b"), 50), (key_hash(1, "a"), 40)]);
        assert!(restarted.seen(1, "a", 100) && restarted.seen(1, "b", 100) && !restarted.seen(1, "c", 100));
        assert!(!restarted.seen(1, "a", 40 + KEPT_FOR_MS), "kept a day from when it was stored");
    }
}
