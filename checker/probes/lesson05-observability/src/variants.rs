//! Correct implementations of lesson 05 written differently from the reference:
//! every criterion must accept each of them, which shows that the criteria grade
//! the rules (every call counted once, no lock for the stats, bounds in their
//! buckets, valid text), not the reference's way of keeping them.
//!
//! - [`Indexed`]: the counters in one array indexed by name, `SeqCst` everywhere,
//!   the bucket found by a loop over the bounds, the percentile by comparing
//!   running totals with `q * count` directly, the text written with `write!`.
//! - [`Cumulative`]: a histogram kept the way Prometheus exports it, each bucket
//!   counting every sample at or below its bound (a sample bumps its bucket and
//!   every one above, from the top down, with `Release`; a snapshot reads them from
//!   the bottom up, with `Acquire`, and takes differences), and each call counted in
//!   its kind's counter on arrival, in its outcome's once answered.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use probe_kit::Variant;
use reference::{
    BUCKETS, FINITE_BUCKETS, HistogramSnapshot, Op, Rejected, Stats, format_seconds, upper_bound,
    validate,
};
use state::{Command, Response};

use crate::{FakeClock, Instrumented, Rig, Subject};

pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "indexed-counters-seqcst",
        make: || crate::probe(Indexed),
    },
    Variant {
        name: "cumulative-histogram-acquire-release",
        make: || crate::probe(Cumulative),
    },
];

/// The store of both variants: the state machine behind the lock, the metrics
/// beside it.
pub struct VariantStore<M> {
    state: RwLock<Instrumented>,
    metrics: M,
    clock: FakeClock,
}

impl<M: Default> VariantStore<M> {
    fn new(rig: &Arc<Rig>) -> Self {
        VariantStore {
            state: RwLock::new(Instrumented::new(rig)),
            metrics: M::default(),
            clock: FakeClock::new(rig),
        }
    }

    fn run(&self, command: Command) -> Result<Response, Rejected> {
        validate(&command)?;
        Ok(match command {
            Command::Get { key } => {
                let state = self.state.read();
                state.read(&key)
            }
            write => {
                let mut state = self.state.write();
                state.write(write)
            }
        })
    }
}

// ---------------------------------------------------------------------------
// Indexed

#[derive(Debug, Clone, Copy)]
pub struct Indexed;

const GETS: usize = 0;
const SETS: usize = 1;
const DELS: usize = 2;
const HITS: usize = 3;
const MISSES: usize = 4;
const ERRORS: usize = 5;

pub struct IndexedMetrics {
    counters: [AtomicU64; 6],
    buckets: [[AtomicU64; BUCKETS]; 3],
    sums: [AtomicU64; 3],
}

impl Default for IndexedMetrics {
    fn default() -> Self {
        IndexedMetrics {
            counters: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            sums: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn kind_slot(op: Op) -> usize {
    match op {
        Op::Get => GETS,
        Op::Set => SETS,
        Op::Del => DELS,
    }
}

/// The first bucket whose bound is at least the latency, by walking the bounds.
fn bucket_by_walking(latency: Duration) -> usize {
    let nanos = latency.as_nanos();
    (0..FINITE_BUCKETS)
        .find(|&i| nanos <= 1_000u128 << i)
        .unwrap_or(BUCKETS - 1)
}

fn percentile_by_comparing(snapshot: &HistogramSnapshot, q: f64) -> Option<Duration> {
    let count = snapshot.count();
    if count == 0 {
        return None;
    }
    // A running total (a whole number) reaches ceil(q * count) exactly when it
    // reaches q * count; and the rank is at least 1.
    let wanted = (q.clamp(0.0, 1.0) * count as f64).max(1.0);
    let mut running = 0u64;
    for (index, &samples) in snapshot.buckets.iter().enumerate() {
        running += samples;
        if running as f64 >= wanted {
            return Some(upper_bound(index).unwrap_or(Duration::MAX));
        }
    }
    Some(Duration::MAX)
}

impl IndexedMetrics {
    fn record(&self, op: Op, result: &Result<Response, Rejected>, latency: Duration) {
        let bump = |slot: usize| self.counters[slot].fetch_add(1, Ordering::SeqCst);
        bump(kind_slot(op));
        match (op, result) {
            (_, Err(_)) => bump(ERRORS),
            (Op::Get, Ok(Response::Value { .. })) => bump(HITS),
            (Op::Get, Ok(_)) => bump(MISSES),
            _ => 0,
        };
        let kind = op.index();
        self.buckets[kind][bucket_by_walking(latency)].fetch_add(1, Ordering::SeqCst);
        self.sums[kind].fetch_add(latency.as_nanos() as u64, Ordering::SeqCst);
    }

    fn stats(&self) -> Stats {
        let read = |slot: usize| self.counters[slot].load(Ordering::SeqCst);
        let histogram = |kind: usize| HistogramSnapshot {
            buckets: std::array::from_fn(|i| self.buckets[kind][i].load(Ordering::SeqCst)),
            sum_nanos: self.sums[kind].load(Ordering::SeqCst),
        };
        Stats {
            gets: read(GETS),
            sets: read(SETS),
            dels: read(DELS),
            hits: read(HITS),
            misses: read(MISSES),
            errors: read(ERRORS),
            latency: std::array::from_fn(histogram),
        }
    }
}

/// The exposition, written with `write!` into one string.
fn render_with_write(stats: &Stats) -> String {
    let mut out = String::new();
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    family(
        &mut out,
        "kvlab_operations_total",
        "counter",
        "Operations issued to the store, by kind, rejected ones included.",
    );
    for op in Op::ALL {
        let _ = writeln!(
            out,
            "kvlab_operations_total{{op=\"{}\"}} {}",
            op.label(),
            stats.operations(op)
        );
    }
    let singles = [
        (
            "kvlab_get_hits_total",
            "GET operations that found a live value.",
            stats.hits,
        ),
        (
            "kvlab_get_misses_total",
            "GET operations that found no live value.",
            stats.misses,
        ),
        (
            "kvlab_errors_total",
            "Operations rejected before they reached the state machine.",
            stats.errors,
        ),
    ];
    for (name, help, value) in singles {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
    let name = "kvlab_operation_duration_seconds";
    family(
        &mut out,
        name,
        "histogram",
        "Time from call to answer, waiting for the store's lock included.",
    );
    for op in Op::ALL {
        let histogram = stats.latency(op);
        let running = histogram.buckets.iter().scan(0u64, |total, &n| {
            *total += n;
            Some(*total)
        });
        for (index, total) in running.enumerate() {
            let le = match upper_bound(index) {
                Some(bound) => format_seconds(bound),
                None => "+Inf".to_owned(),
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{op=\"{}\",le=\"{le}\"}} {total}",
                op.label()
            );
        }
        let _ = writeln!(
            out,
            "{name}_sum{{op=\"{}\"}} {}",
            op.label(),
            format_seconds(histogram.sum())
        );
        let _ = writeln!(
            out,
            "{name}_count{{op=\"{}\"}} {}",
            op.label(),
            histogram.count()
        );
    }
    out
}

impl Subject for Indexed {
    type Store = VariantStore<IndexedMetrics>;

    fn new_store(&self, rig: &Arc<Rig>) -> Self::Store {
        VariantStore::new(rig)
    }

    fn execute(&self, store: &Self::Store, command: Command) -> Result<Response, Rejected> {
        let op = Op::of(&command);
        let started = store.clock.now();
        let result = store.run(command);
        let latency = store.clock.now().saturating_duration_since(started);
        store.metrics.record(op, &result, latency);
        result
    }

    fn stats(&self, store: &Self::Store) -> Stats {
        store.metrics.stats()
    }

    fn render(&self, store: &Self::Store) -> String {
        render_with_write(&store.metrics.stats())
    }

    fn render_stats(&self, stats: &Stats) -> String {
        render_with_write(stats)
    }

    fn histogram(
        &self,
        samples: &[Duration],
        quantiles: &[f64],
    ) -> (HistogramSnapshot, Vec<Option<Duration>>) {
        let metrics = IndexedMetrics::default();
        for &sample in samples {
            metrics.record(Op::Set, &Ok(Response::NotFound), sample);
        }
        let snapshot = metrics.stats().latency[Op::Set.index()];
        let percentiles = quantiles
            .iter()
            .map(|&q| percentile_by_comparing(&snapshot, q))
            .collect();
        (snapshot, percentiles)
    }
}

// ---------------------------------------------------------------------------
// Cumulative

#[derive(Debug, Clone, Copy)]
pub struct Cumulative;

/// A histogram whose bucket `i` counts every sample at or below bound `i`.
pub struct CumulativeHistogram {
    at_or_below: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
}

impl Default for CumulativeHistogram {
    fn default() -> Self {
        CumulativeHistogram {
            at_or_below: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl CumulativeHistogram {
    fn record(&self, latency: Duration) {
        let index = reference::bucket_index(latency);
        // From the top down, each with Release: a snapshot that reads a bucket
        // with Acquire sees this sample in every bucket above it too, so the
        // buckets it reads from the bottom up never decrease.
        for bucket in self.at_or_below[index..].iter().rev() {
            bucket.fetch_add(1, Ordering::Release);
        }
        self.sum_nanos
            .fetch_add(latency.as_nanos() as u64, Ordering::Relaxed);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let totals: [u64; BUCKETS] =
            std::array::from_fn(|i| self.at_or_below[i].load(Ordering::Acquire));
        let mut buckets = [0; BUCKETS];
        let mut below = 0;
        for (bucket, &total) in buckets.iter_mut().zip(&totals) {
            *bucket = total - below;
            below = total;
        }
        HistogramSnapshot {
            buckets,
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
        }
    }
}

#[derive(Default)]
pub struct CumulativeMetrics {
    arrived: [AtomicU64; 3],
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    latency: [CumulativeHistogram; 3],
}

impl CumulativeMetrics {
    fn arrived(&self, op: Op) {
        self.arrived[op.index()].fetch_add(1, Ordering::AcqRel);
    }

    fn answered(&self, op: Op, result: &Result<Response, Rejected>, latency: Duration) {
        let outcome = match (op, result) {
            (_, Err(_)) => Some(&self.errors),
            (Op::Get, Ok(Response::Value { .. })) => Some(&self.hits),
            (Op::Get, Ok(_)) => Some(&self.misses),
            _ => None,
        };
        if let Some(counter) = outcome {
            counter.fetch_add(1, Ordering::AcqRel);
        }
        self.latency[op.index()].record(latency);
    }

    fn stats(&self) -> Stats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Acquire);
        Stats {
            gets: load(&self.arrived[0]),
            sets: load(&self.arrived[1]),
            dels: load(&self.arrived[2]),
            hits: load(&self.hits),
            misses: load(&self.misses),
            errors: load(&self.errors),
            latency: self.latency.each_ref().map(CumulativeHistogram::snapshot),
        }
    }
}

impl Subject for Cumulative {
    type Store = VariantStore<CumulativeMetrics>;

    fn new_store(&self, rig: &Arc<Rig>) -> Self::Store {
        VariantStore::new(rig)
    }

    fn execute(&self, store: &Self::Store, command: Command) -> Result<Response, Rejected> {
        let op = Op::of(&command);
        store.metrics.arrived(op);
        let started = store.clock.now();
        let result = store.run(command);
        let latency = store.clock.now().saturating_duration_since(started);
        store.metrics.answered(op, &result, latency);
        result
    }

    fn stats(&self, store: &Self::Store) -> Stats {
        store.metrics.stats()
    }

    fn render(&self, store: &Self::Store) -> String {
        store.metrics.stats().render_prometheus()
    }

    fn render_stats(&self, stats: &Stats) -> String {
        stats.render_prometheus()
    }

    fn histogram(
        &self,
        samples: &[Duration],
        quantiles: &[f64],
    ) -> (HistogramSnapshot, Vec<Option<Duration>>) {
        let histogram = CumulativeHistogram::default();
        for &sample in samples {
            histogram.record(sample);
        }
        let snapshot = histogram.snapshot();
        let percentiles = quantiles.iter().map(|&q| snapshot.percentile(q)).collect();
        (snapshot, percentiles)
    }
}
