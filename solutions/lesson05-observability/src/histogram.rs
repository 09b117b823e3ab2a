//! A latency histogram with fixed log-scale buckets, one atomic per bucket.
//!
//! Fixed buckets make recording a single `fetch_add` on a precomputed slot: no lock,
//! no allocation, no resizing, so any number of threads can record at once, and the
//! rendering is the same on every machine. The price is resolution: a sample is
//! known only to within its bucket, a factor of two here.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

// ANCHOR: buckets
/// Buckets with a finite upper bound: bucket `i` holds the samples in
/// (2^(i-1) µs, 2^i µs], from 1 µs up to 2^20 µs (about 1.05 s).
pub const FINITE_BUCKETS: usize = 21;

/// All buckets: the finite ones, then one for everything slower (`le="+Inf"`).
pub const BUCKETS: usize = FINITE_BUCKETS + 1;

/// The inclusive upper bound of bucket `index`, or `None` for the last, unbounded one.
pub fn upper_bound(index: usize) -> Option<Duration> {
    (index < FINITE_BUCKETS).then(|| Duration::from_micros(1 << index))
}
// ANCHOR_END: buckets

// ANCHOR: bucket_index
/// The bucket a latency belongs in: the first whose upper bound is at least `latency`.
pub fn bucket_index(latency: Duration) -> usize {
    // Whole microseconds, rounded up, keep the bounds inclusive: 1000 ns is in the
    // 1 µs bucket, 1001 ns in the next one.
    let micros = latency.as_nanos().div_ceil(1_000);
    // The first i with micros <= 2^i is the bit length of (micros - 1).
    let bits = u128::BITS - micros.saturating_sub(1).leading_zeros();
    (bits as usize).min(BUCKETS - 1)
}
// ANCHOR_END: bucket_index

/// One histogram: a counter per bucket and the sum of every sample.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }

    // ANCHOR: record
    /// Counts one sample. Lock-free: two atomic additions.
    pub fn record(&self, latency: Duration) {
        // Relaxed, like the counters: each bucket is an independent tally. Nothing
        // is published through it, so there is nothing to order.
        self.buckets[bucket_index(latency)].fetch_add(1, Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }
    // ANCHOR_END: record

    // ANCHOR: snapshot
    /// Copies the buckets and the sum. Each value is exact; taken together they are a
    /// few samples apart at most while other threads record (see the book).
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Relaxed)),
            sum_nanos: self.sum_nanos.load(Relaxed),
        }
    }
    // ANCHOR_END: snapshot
}

/// A histogram's numbers at one moment: plain values, free to copy, compare and print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Samples per bucket (not cumulative).
    pub buckets: [u64; BUCKETS],
    /// The sum of all samples, in nanoseconds.
    pub sum_nanos: u64,
}

impl HistogramSnapshot {
    /// How many samples were recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos)
    }

    // ANCHOR: percentile
    /// The upper bound of the bucket holding the `q`-quantile (`q` in 0..=1): at least
    /// a fraction `q` of the samples are at or below it. `None` without samples;
    /// `Duration::MAX` when that bucket is the unbounded one.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        // The rank of the sample we are after, counting from 1: never 0, never
        // past the last sample.
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        let index = self.buckets.iter().position(|&n| {
            seen += n;
            seen >= rank
        })?;
        Some(upper_bound(index).unwrap_or(Duration::MAX))
    }
    // ANCHOR_END: percentile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        let ns = Duration::from_nanos;
        assert_eq!(bucket_index(Duration::ZERO), 0);
        assert_eq!(bucket_index(ns(1_000)), 0);
        assert_eq!(bucket_index(ns(1_001)), 1);
        assert_eq!(bucket_index(ns(2_000)), 1);
        assert_eq!(bucket_index(ns(2_001)), 2);
        assert_eq!(bucket_index(Duration::from_micros(1 << 20)), 20);
        assert_eq!(bucket_index(Duration::from_micros((1 << 20) + 1)), 21);
        assert_eq!(bucket_index(Duration::MAX), BUCKETS - 1);
    }

    #[test]
    fn every_sample_is_within_its_bucket() {
        for nanos in (0..5_000_000u64).step_by(997) {
            let latency = Duration::from_nanos(nanos);
            let index = bucket_index(latency);
            assert!(latency <= upper_bound(index).unwrap(), "{latency:?}");
            if index > 0 {
                assert!(latency > upper_bound(index - 1).unwrap(), "{latency:?}");
            }
        }
    }

    #[test]
    fn percentiles_are_bucket_bounds() {
        let histogram = Histogram::new();
        assert_eq!(histogram.snapshot().percentile(0.5), None);
        for _ in 0..90 {
            histogram.record(Duration::from_micros(3));
        }
        for _ in 0..10 {
            histogram.record(Duration::from_secs(5));
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), 100);
        assert_eq!(snapshot.percentile(0.5), Some(Duration::from_micros(4)));
        assert_eq!(snapshot.percentile(0.9), Some(Duration::from_micros(4)));
        assert_eq!(snapshot.percentile(0.91), Some(Duration::MAX));
        assert_eq!(snapshot.percentile(0.0), Some(Duration::from_micros(4)));
    }
}
