//! A per-site ceiling on error reports: a crash loop in a busy application can send thousands
//! a second, and each costs a write. Reports beyond the ceiling are answered 429 with the
//! seconds to wait, which Sentry's SDKs honour (they hold back until then).
//!
//! A token bucket per site: full at `per_minute`, refilled evenly. Only sites whose DSN key
//! was checked get a bucket, so there are never more buckets than configured sites.

use std::collections::HashMap;
use std::sync::Mutex;

/// Error reports a site may send per minute unless configured (`[limits] errors_per_minute`).
pub const DEFAULT_ERRORS_PER_MINUTE: u32 = 6_000;

/// The per-site buckets.
#[derive(Debug)]
pub struct ErrorLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<u32, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

impl ErrorLimiter {
    /// A limiter letting each site send `per_minute` reports a minute (at least one).
    pub fn new(per_minute: u32) -> Self {
        ErrorLimiter { per_minute: per_minute.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Reports a site may send per minute.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes `n` reports from `site`'s bucket at `now_ms`: `Ok` when there is room for all of
    /// them, else the whole seconds until there is (nothing is taken then).
    pub fn take(&self, site: u32, n: u32, now_ms: i64) -> Result<(), u64> {
        let capacity = f64::from(self.per_minute);
        let per_ms = capacity / 60_000.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(site).or_insert(Bucket { tokens: capacity, at_ms: now_ms });
        let elapsed = (now_ms - bucket.at_ms).max(0) as f64;
        bucket.tokens = (bucket.tokens + elapsed * per_ms).min(capacity);
        bucket.at_ms = bucket.at_ms.max(now_ms);
        let wanted = f64::from(n).min(capacity);
        if bucket.tokens >= wanted {
            bucket.tokens -= wanted;
            return Ok(());
        }
        Err((((wanted - bucket.tokens) / per_ms) / 1000.0).ceil().max(1.0) as u64)
    }
}

impl Default for ErrorLimiter {
    fn default() -> Self {
        ErrorLimiter::new(DEFAULT_ERRORS_PER_MINUTE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_limit_lets_a_minute_through_then_says_when_to_come_back() {
        let limiter = ErrorLimiter::new(60);
        assert!((0..60).all(|_| limiter.take(1, 1, 0).is_ok()), "a full bucket holds a minute's reports");
        assert_eq!(limiter.take(1, 1, 0), Err(1), "one report a second comes back");
        assert_eq!(limiter.take(1, 10, 0), Err(10));
        assert!(limiter.take(2, 1, 0).is_ok(), "each site has its own bucket");
        assert!(limiter.take(1, 5, 5_000).is_ok(), "five seconds refill five reports");
        assert_eq!(limiter.take(1, 1, 5_000), Err(1));
        assert!(limiter.take(1, 60, 600_000).is_ok(), "a bucket never holds more than a minute's worth");
        assert_eq!(limiter.take(1, 1, 600_000), Err(1));
        assert_eq!(limiter.buckets.lock().unwrap().len(), 2);
    }
}
