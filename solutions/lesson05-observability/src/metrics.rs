//! The store's metrics: counters and latency histograms, all atomics, and the plain
//! [`Stats`] view copied out of them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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
    /// Counts one call of `op` that ended in `result`.
    pub fn count(&self, op: Op, result: &Result<Response, Rejected>) {
        let operations = match op {
            Op::Get => &self.gets,
            Op::Set => &self.sets,
            Op::Del => &self.dels,
        };
        let outcome = match (op, result) {
            (_, Err(_)) => Some(&self.errors),
            (Op::Get, Ok(Response::Value { .. })) => Some(&self.hits),
            (Op::Get, Ok(_)) => Some(&self.misses),
            (Op::Set | Op::Del, Ok(_)) => None,
        };
        // Relaxed is enough: a counter is a number on its own. No thread reads other
        // memory because of what a counter says, so there is nothing to order, and
        // `fetch_add` is one indivisible read-modify-write whatever the ordering:
        // no increment is ever lost.
        operations.fetch_add(1, Relaxed);
        if let Some(counter) = outcome {
            counter.fetch_add(1, Relaxed);
        }
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
    /// Copies every atomic into a plain [`Stats`]. Each number is one that really
    /// was; while other threads record, the numbers may be a few operations apart
    /// from each other, but none ever goes down from one call to the next.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        // Relaxed loads: coherence alone guarantees that a thread reading the same
        // atomic twice never sees the second value older than the first.
        Stats {
            gets: c.gets.load(Relaxed),
            sets: c.sets.load(Relaxed),
            dels: c.dels.load(Relaxed),
            hits: c.hits.load(Relaxed),
            misses: c.misses.load(Relaxed),
            errors: c.errors.load(Relaxed),
            latency: self.latency.each_ref().map(Histogram::snapshot),
        }
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
