//! The store's metrics: counters and latency histograms, all atomics, and the plain
//! [`Stats`] view copied out of them.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::{Histogram, HistogramSnapshot, Op, Rejected, Response};

// ANCHOR: counters
/// One atomic per counter. Each only ever goes up.
#[derive(Debug, Default)]
pub struct Counters {
    pub gets: AtomicU64,
    pub sets: AtomicU64,
    pub dels: AtomicU64,
    /// GETs that found a live value.
    pub hits: AtomicU64,
    /// GETs that found nothing (never written, or deleted).
    pub misses: AtomicU64,
    /// Commands rejected before they reached the state machine, of any kind.
    pub errors: AtomicU64,
}
// ANCHOR_END: counters

impl Counters {
    pub fn new() -> Self {
        Counters::default()
    }

    // ANCHOR: count
    /// Step 1. Counts one call of `op` that ended in `result`:
    ///
    /// - the counter of its kind (`gets`, `sets` or `dels`) goes up by one, always;
    /// - a rejected call (`Err`) also counts one in `errors`; a GET that was answered
    ///   counts one in `hits` for a `Response::Value` and in `misses` for any other
    ///   answer; an answered SET or DEL counts nothing more.
    ///
    /// Any number of threads count at the same time, and not one count may be lost
    /// between them. Counting takes no lock and never waits. Use the weakest memory
    /// ordering that is enough, and say in a comment why it is enough.
    /// Book: "Step 1: count with atomics".
    pub fn count(&self, op: Op, result: &Result<Response, Rejected>) {
        todo!("step 1: Counters::count")
    }
    // ANCHOR_END: count
}

/// Everything the store measures. No lock anywhere: every field is atomic.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Counters,
    /// One histogram per kind of operation, indexed by [`Op::index`].
    latency: [Histogram; 3],
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Records one call: its counts and its latency.
    pub fn record(&self, op: Op, result: &Result<Response, Rejected>, latency: Duration) {
        self.counters.count(op, result);
        self.latency[op.index()].record(latency);
    }

    // ANCHOR: stats
    /// Step 5. Every counter and every histogram (as [`Histogram::snapshot`] copies
    /// it, in the order of `latency`) as a plain [`Stats`]. What must stay true:
    ///
    /// - Each number is one its own atomic really held, never worked out from other
    ///   counters read at other moments.
    /// - Reading changes nothing: nothing is reset, so no number ever goes down from
    ///   one call to the next, even while other threads record.
    /// - No lock: it never waits for a thread that records.
    ///
    /// Book: "Step 5: read the stats without the lock".
    pub fn stats(&self) -> Stats {
        todo!("step 5: Metrics::stats")
    }
    // ANCHOR_END: stats
}

// ANCHOR: stats_struct
/// The metrics at one moment, as plain numbers: cheap to copy, compare, diff and print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub gets: u64,
    pub sets: u64,
    pub dels: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    /// One histogram per kind of operation, indexed by [`Op::index`].
    pub latency: [HistogramSnapshot; 3],
}
// ANCHOR_END: stats_struct

impl Stats {
    /// How many operations of kind `op` were issued, rejected ones included.
    pub fn operations(&self, op: Op) -> u64 {
        match op {
            Op::Get => self.gets,
            Op::Set => self.sets,
            Op::Del => self.dels,
        }
    }

    pub fn latency(&self, op: Op) -> &HistogramSnapshot {
        &self.latency[op.index()]
    }
}
