//! How long the store takes to make appends durable (the group commit), as a histogram of fixed
//! buckets: counting is a few atomic additions, and the buckets are those Prometheus scrapes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: 1 ms to 5 s.
pub const BOUNDS_SECONDS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Durations counted into [`BOUNDS_SECONDS`].
#[derive(Debug, Default)]
pub struct Latency {
    /// Per bucket, the durations at most its bound and above the one before (not cumulative).
    buckets: [AtomicU64; BOUNDS_SECONDS.len()],
    /// Durations above the last bound.
    above: AtomicU64,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// A reading of a [`Latency`], as Prometheus takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencySnapshot {
    /// Sum of the durations, in seconds.
    pub sum_seconds: f64,
    /// Durations counted.
    pub count: u64,
    /// (upper bound in seconds, durations at most it): cumulative, ending with `+Inf`.
    pub cumulative: Vec<(f64, u64)>,
}

impl Latency {
    /// Counts one duration.
    pub fn observe(&self, d: Duration) {
        let seconds = d.as_secs_f64();
        match BOUNDS_SECONDS.iter().position(|b| seconds <= *b) {
            Some(i) => self.buckets[i].fetch_add(1, Ordering::Relaxed),
            None => self.above.fetch_add(1, Ordering::Relaxed),
        };
        self.sum_micros.fetch_add(d.as_micros().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> LatencySnapshot {
        let mut running = 0;
        let mut cumulative: Vec<(f64, u64)> = BOUNDS_SECONDS
            .iter()
            .zip(&self.buckets)
            .map(|(bound, n)| {
                running += n.load(Ordering::Relaxed);
                (*bound, running)
            })
            .collect();
        cumulative.push((f64::INFINITY, running + self.above.load(Ordering::Relaxed)));
        LatencySnapshot {
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count: self.count.load(Ordering::Relaxed),
            cumulative,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_latency_buckets_are_cumulative_and_end_with_every_duration() {
        let l = Latency::default();
        for ms in [0, 3, 3, 40, 9_000] {
            l.observe(Duration::from_millis(ms));
        }
        let s = l.snapshot();
        assert_eq!(s.count, 5);
        assert!((s.sum_seconds - 9.046).abs() < 1e-9, "{}", s.sum_seconds);
        let at = |bound: f64| s.cumulative.iter().find(|(b, _)| *b == bound).map(|(_, n)| *n);
        assert_eq!(
            (at(0.001), at(0.005), at(0.05), at(5.0), at(f64::INFINITY)),
            (Some(1), Some(3), Some(4), Some(4), Some(5))
        );
    }
}
