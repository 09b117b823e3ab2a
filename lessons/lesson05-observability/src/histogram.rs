//! A latency histogram with fixed log-scale buckets, one atomic per bucket.
//!
//! Fixed buckets make recording a single `fetch_add` on a precomputed slot: no lock,
//! no allocation, no resizing, so any number of threads can record at once, and the
//! rendering is the same on every machine. The price is resolution: a sample is
//! known only to within its bucket, a factor of two here.

use std::sync::atomic::AtomicU64;
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
/// Step 2. The bucket a latency belongs in: the first whose upper bound is at least
/// `latency` (bounds are inclusive), or the last one, `BUCKETS - 1`, when the latency
/// is above every finite bound.
///
/// | latency          | bucket | its bound (`le`) |
/// |------------------|--------|------------------|
/// | 0 ns to 1000 ns  | 0      | 1 µs             |
/// | 1001 ns to 2 µs  | 1      | 2 µs             |
/// | 2001 ns to 4 µs  | 2      | 4 µs             |
/// | ...              | i      | 2^i µs           |
/// | above 2^20 µs    | 21     | +Inf             |
///
/// Every latency has exactly one bucket, from zero up to `Duration::MAX`, and a
/// bound belongs to its own bucket, not the next. Book: "Step 2: choose the bucket".
pub fn bucket_index(latency: Duration) -> usize {
    todo!("step 2: bucket_index")
}
// ANCHOR_END: bucket_index

/// One histogram: a counter per bucket and the sum of every sample.
#[derive(Debug)]
#[allow(dead_code)] // the fields are used by your code in steps 3 and 5
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
    /// Step 3. Counts one sample: one more in the bucket [`bucket_index`] gives it,
    /// and its length in nanoseconds added to `sum_nanos`. Any number of threads
    /// record at once, without a lock and without losing a sample; the ordering is
    /// the weakest that is enough, as for the counters in step 1, with a comment
    /// saying why. Book: "Step 3: record a latency".
    pub fn record(&self, latency: Duration) {
        todo!("step 3: Histogram::record")
    }
    // ANCHOR_END: record

    // ANCHOR: snapshot
    /// Step 5. Every bucket and the sum as a plain [`HistogramSnapshot`], each value
    /// one its atomic really held. Reading takes no lock and changes nothing: no
    /// bucket is reset. Book: "Step 5: read the stats without the lock".
    pub fn snapshot(&self) -> HistogramSnapshot {
        todo!("step 5: Histogram::snapshot")
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
    /// Step 6. The upper bound of the bucket holding the `q`-quantile (`q` in 0..=1).
    ///
    /// - `None` when the histogram has no samples.
    /// - Otherwise the smallest bucket bound ([`upper_bound`]) with at least
    ///   `ceil(q * count)` samples at or below it, and always at least one sample
    ///   (so `q = 0` gives the bucket of the fastest sample).
    /// - `Duration::MAX` when that bucket is the last, unbounded one.
    ///
    /// Example: 50 samples of 3 µs and 50 of 100 µs: `percentile(0.5)` is 4 µs (50
    /// samples are at or below it), `percentile(0.51)` is 128 µs.
    /// Book: "Step 6: percentiles".
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        todo!("step 6: HistogramSnapshot::percentile")
    }
    // ANCHOR_END: percentile
}
