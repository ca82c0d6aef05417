//! Injected time: retention, salt rotation and log purge take a clock, so tests can run days in
//! milliseconds.

use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// A source of the current time, injected so retention, salt rotation and log purge can be tested.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;

    /// Now, in milliseconds since the Unix epoch (the unit stored and logged everywhere).
    fn now_ms(&self) -> i64 {
        unix_ms(self.now())
    }
}

/// `t` in milliseconds since the Unix epoch.
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The wall clock, in UTC.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to (for tests and for generating historical demo data).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// Moves the clock to `to` (forwards or backwards).
    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }

    /// Moves the clock forward by `by` (backwards when `by` is negative).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Milliseconds since the Unix epoch as RFC 3339 in UTC (empty when out of range).
pub fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_milliseconds_since_the_epoch() {
        let t = time::macros::datetime!(2026-12-01 02:20:21.123_456 UTC);
        assert_eq!(unix_ms(t), 1_796_091_621_123);
        assert_eq!(unix_ms(OffsetDateTime::UNIX_EPOCH - Duration::milliseconds(5)), -5);
        assert_eq!(ManualClock::new(t).now_ms(), 1_796_091_621_123);
        assert_eq!(format_ms(1_796_091_621_123), "2026-12-01T02:20:21.123Z");
        assert_eq!(format_ms(i64::MAX), "");
    }
}
