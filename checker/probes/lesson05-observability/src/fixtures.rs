//! Deliberately broken implementations of lesson 05, one mistake each.
//!
//! Each is the lesson written the way a learner would write it (its own counters,
//! its own histogram, its own rendering), with one mistake a learner plausibly
//! makes: a counter bumped with a load and then a store, a bound that belongs to
//! the wrong bucket, a rank rounded down, a rendering that forgets its `+Inf`
//! bucket. The checker's tests assert that every fixture is rejected by the
//! criterion named next to it, so each criterion is shown to be able to fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use probe_kit::{Fixture, Probe};
use reference::{
    BUCKETS, FINITE_BUCKETS, HistogramSnapshot, Op, Rejected, Stats, format_seconds, upper_bound,
    validate,
};
use state::{Command, Response};

use crate::{FakeClock, Instrumented, Rig, Subject, criteria};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    // totals-exact
    /// Every counter is bumped with a load, then a store: two threads can both
    /// load 7 and store 8. Written as a learner writes it, with nothing to widen
    /// the window between the two: only threads that really run at the same time
    /// lose counts (see the storms of `totals-exact`). Measured on 2 cores:
    /// rejected in 100 of 100 runs, and in 100 of 100 again with one and with two
    /// other programs keeping the cores busy; with the probe pinned to one core,
    /// where only a preemption between the load and the store loses a count, in 17
    /// of 20.
    LoadThenStore,
    /// Bumps with one `compare_exchange` and ignores its failure, instead of
    /// retrying (or using `fetch_add`): a bump that loses the race is dropped.
    /// Measured on 2 cores: rejected in 100 of 100 runs.
    CompareExchangeOnce,
    /// The histogram has no bucket for latencies past its last bound and drops them.
    HistogramDropsSlowSamples,
    /// A rejected GET is counted as an error *and* as a miss.
    RejectedGetCountedAsMiss,
    /// A rejected command returns early, counted in `errors` only: not in its
    /// kind's counter, not in its histogram.
    RejectedCountedOnlyAsError,
    /// Every answered GET counts as a hit, NotFound included.
    /// A GET that finds an empty value is counted as a miss, as if `""` were no
    /// value ("an empty string is nothing").
    EmptyValueIsMiss,
    NotFoundCountedAsHit,
    /// The counters are right, but each histogram's sum is updated with a load,
    /// then a store: only the latency sums lose updates (measured on 2 cores:
    /// rejected in 100 of 100 runs, by the storms).
    SumLoadThenStore,
    /// The sums add whole microseconds (`as_micros`), not nanoseconds.
    SumInMicroseconds,
    /// A refused command is recorded with a latency of zero, "it never reached the
    /// store", instead of the time its call took by the store's clock.
    RefusalTakesNoTime,

    // stats-while-writing
    /// The counters live inside the store's RwLock, next to the state.
    CountersBehindStoreLock,
    /// The counters are atomics, but `stats()` takes the store's read lock "to get a
    /// consistent view".
    StatsTakeReadLock,
    /// `stats()` takes the store's read lock only if it is free (`try_read`), "so a
    /// writer never freezes the dashboard": when it is free, the copy runs under it.
    StatsTryReadLock,
    /// `stats()` waits a moment for the read lock (`try_read_for`) and goes on without
    /// it if a writer keeps it: never stuck, but never beside the lock either.
    StatsWaitBrieflyForReadLock,
    /// The metrics sit behind a mutex of their own, which `execute` holds from the
    /// start of the call to the end, so the counts and the operation "agree".
    MetricsLockHeldDuringOperation,
    /// Takes the guard first and reads the start time under it, "so that only the
    /// operation itself is timed": the wait for the lock is left out.
    StartTimedUnderTheLock,
    /// Times and records each answer while its guard is still held, "so that nobody
    /// sees the state change before the metrics count it".
    RecordedUnderTheGuard,
    /// A GET keeps its read guard, as a named local, until the end of `execute`:
    /// its latency is read and recorded under the shared lock, so a writer waits
    /// for the metrics too. SET and DEL are right.
    ReadGuardKeptToTheEnd,

    // counters-monotonic
    /// Reading the stats resets the counters to zero (`swap(0)`).
    ResetOnRead,
    /// Misses are not counted but computed as `gets - hits`, with GETs counted when
    /// they arrive and hits when they finish.
    MissesAsDifference,
    /// `stats()` returns what happened since the previous call: each counter minus
    /// its value at the last read.
    StatsSinceLastRead,
    /// A histogram's snapshot empties its buckets (`swap(0)`), to report each
    /// interval on its own.
    HistogramResetOnSnapshot,
    /// Counts every answered GET as a miss, then moves a hit over: `misses` goes up
    /// and, an instant later, down again. The totals are exact. The dip lasts two
    /// atomic operations, in the learner's code, where no hook can hold it; the
    /// watched storms see it (measured on 2 cores: rejected in 300 of 300 runs, and
    /// in 200 of 200 with three other programs keeping the cores busy).
    HitMovedFromMisses,

    // histogram-buckets
    /// A latency equal to a bucket's bound goes to the next bucket (`<` for `<=`).
    BucketBoundExclusive,
    /// A percentile looks for a running total *above* the rank instead of reaching it.
    PercentilePastTheRank,
    /// Rounds a latency down to whole microseconds (`as_micros`) before choosing
    /// its bucket, so 1.001 µs lands with 1 µs.
    MicrosRoundedDown,
    /// Keeps the rounded-up microseconds in a `u32` ("the last bound is 2^20 µs"),
    /// so a latency of 2^32 µs or more wraps into a low bucket.
    MicrosInU32,
    /// Clamps the bucket index to the last *finite* bucket: a stall of seconds is
    /// counted as 1.05 s, and the `+Inf` bucket stays empty.
    SlowSamplesInLastFiniteBucket,
    /// The percentile's rank is `q * count` rounded down, not up.
    PercentileRankRoundedDown,
    /// The percentile's rank is `q * count` rounded to the nearest.
    PercentileRankRounded,
    /// Rounds q to whole permille before taking the rank.
    QuantileInPermille,
    /// The percentile's rank is not clamped to at least 1: the 0-percentile is the
    /// first bucket's bound, even when that bucket is empty.
    PercentileRankFromZero,

    // exposition-valid
    /// One label value is written without its double quotes.
    UnquotedLabel,
    /// Buckets print each bucket's own count instead of the running total.
    BucketsNotCumulative,
    /// The buckets loop stops at the last finite bound: no `le="+Inf"` line.
    OmitsInfBucket,
    /// The lines are collected and joined with `"\n"`, so the last one has no `\n`.
    LinesJoined,
    /// Buckets only: no `_sum` and no `_count` lines.
    OmitsSumAndCount,
    /// `_count` adds up the finite buckets only, leaving out the `+Inf` one.
    CountLeavesOutInf,
    /// The `# HELP` and `# TYPE` lines are written in the loop over the kinds of
    /// operation, once per series instead of once per family.
    HeaderPerSeries,
    /// `_count` is the operations counter of the kind, not the histogram's count:
    /// the same number once every operation is done, a few apart while threads
    /// record.
    CountFromOperations,
    /// `_sum` is written as `as_secs_f64()`: exact for small sums, but a float of
    /// seconds drops the last nanoseconds of a sum past a few weeks.
    SumAsFloat,

    // exposition-snapshot
    /// Latency bounds and sums are printed in microseconds instead of seconds.
    LatencyInMicroseconds,
    /// Latencies are measured with `Instant::now()`, not with the store's clock.
    RealClock,
    /// Labels are written `le` first, then `op`.
    LabelsLeFirst,
}

macro_rules! fixtures {
    ($($name:literal => $bug:ident, $criterion:ident;)*) => {
        pub const FIXTURES: &[Fixture] = &[
            $(Fixture {
                name: $name,
                rejected_by: &criteria::$criterion,
                make: || broken(Bug::$bug),
            },)*
        ];
    };
}

fixtures! {
    "load-then-store" => LoadThenStore, TOTALS_EXACT;
    "compare-exchange-once" => CompareExchangeOnce, TOTALS_EXACT;
    "histogram-drops-slow-samples" => HistogramDropsSlowSamples, TOTALS_EXACT;
    "rejected-get-counted-as-miss" => RejectedGetCountedAsMiss, TOTALS_EXACT;
    "rejected-counted-only-as-error" => RejectedCountedOnlyAsError, TOTALS_EXACT;
    "not-found-counted-as-hit" => NotFoundCountedAsHit, TOTALS_EXACT;
    "empty-value-is-miss" => EmptyValueIsMiss, TOTALS_EXACT;
    "sum-load-then-store" => SumLoadThenStore, TOTALS_EXACT;
    "sum-in-microseconds" => SumInMicroseconds, TOTALS_EXACT;
    "refusal-takes-no-time" => RefusalTakesNoTime, TOTALS_EXACT;
    "counters-behind-store-lock" => CountersBehindStoreLock, STATS_WHILE_WRITING;
    "stats-take-read-lock" => StatsTakeReadLock, STATS_WHILE_WRITING;
    "stats-try-read-lock" => StatsTryReadLock, STATS_WHILE_WRITING;
    "stats-wait-briefly-for-read-lock" => StatsWaitBrieflyForReadLock, STATS_WHILE_WRITING;
    "metrics-lock-held-during-operation" => MetricsLockHeldDuringOperation, STATS_WHILE_WRITING;
    "recorded-under-the-guard" => RecordedUnderTheGuard, STATS_WHILE_WRITING;
    "start-timed-under-the-lock" => StartTimedUnderTheLock, STATS_WHILE_WRITING;
    "read-guard-kept-to-the-end" => ReadGuardKeptToTheEnd, STATS_WHILE_WRITING;
    "reset-on-read" => ResetOnRead, COUNTERS_MONOTONIC;
    "misses-as-difference" => MissesAsDifference, COUNTERS_MONOTONIC;
    "stats-since-last-read" => StatsSinceLastRead, COUNTERS_MONOTONIC;
    "histogram-reset-on-snapshot" => HistogramResetOnSnapshot, COUNTERS_MONOTONIC;
    "hit-moved-from-misses" => HitMovedFromMisses, COUNTERS_MONOTONIC;
    "bucket-bound-exclusive" => BucketBoundExclusive, HISTOGRAM_BUCKETS;
    "percentile-past-the-rank" => PercentilePastTheRank, HISTOGRAM_BUCKETS;
    "micros-rounded-down" => MicrosRoundedDown, HISTOGRAM_BUCKETS;
    "micros-in-u32" => MicrosInU32, HISTOGRAM_BUCKETS;
    "slow-samples-in-last-finite-bucket" => SlowSamplesInLastFiniteBucket, HISTOGRAM_BUCKETS;
    "percentile-rank-rounded-down" => PercentileRankRoundedDown, HISTOGRAM_BUCKETS;
    "percentile-rank-rounded" => PercentileRankRounded, HISTOGRAM_BUCKETS;
    "quantile-in-permille" => QuantileInPermille, HISTOGRAM_BUCKETS;
    "percentile-rank-from-zero" => PercentileRankFromZero, HISTOGRAM_BUCKETS;
    "unquoted-label" => UnquotedLabel, EXPOSITION_VALID;
    "buckets-not-cumulative" => BucketsNotCumulative, EXPOSITION_VALID;
    "omits-inf-bucket" => OmitsInfBucket, EXPOSITION_VALID;
    "lines-joined" => LinesJoined, EXPOSITION_VALID;
    "omits-sum-and-count" => OmitsSumAndCount, EXPOSITION_VALID;
    "count-leaves-out-inf" => CountLeavesOutInf, EXPOSITION_VALID;
    "header-per-series" => HeaderPerSeries, EXPOSITION_VALID;
    "count-from-operations" => CountFromOperations, EXPOSITION_VALID;
    "sum-as-float" => SumAsFloat, EXPOSITION_VALID;
    "latency-in-microseconds" => LatencyInMicroseconds, EXPOSITION_SNAPSHOT;
    "real-clock" => RealClock, EXPOSITION_SNAPSHOT;
    "labels-le-first" => LabelsLeFirst, EXPOSITION_SNAPSHOT;
}

fn broken(bug: Bug) -> Box<dyn Probe> {
    crate::probe(Broken(bug))
}

/// A store with one bug planted in it.
#[derive(Debug, Clone, Copy)]
pub struct Broken(pub Bug);

/// One more, as the bug has the learner write it.
fn bump(bug: Bug, counter: &AtomicU64) {
    match bug {
        Bug::LoadThenStore => {
            let seen = counter.load(Relaxed);
            counter.store(seen + 1, Relaxed);
        }
        Bug::CompareExchangeOnce => {
            let seen = counter.load(Relaxed);
            let _ = counter.compare_exchange(seen, seen + 1, Relaxed, Relaxed);
        }
        _ => {
            counter.fetch_add(1, Relaxed);
        }
    }
}

/// The counters, by name.
#[derive(Default)]
struct Counters {
    gets: AtomicU64,
    sets: AtomicU64,
    dels: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    fn kind(&self, op: Op) -> &AtomicU64 {
        match op {
            Op::Get => &self.gets,
            Op::Set => &self.sets,
            Op::Del => &self.dels,
        }
    }
}

/// The learner's histogram: a counter per bucket and the sum.
struct Histogram {
    bug: Bug,
    buckets: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new(bug: Bug) -> Self {
        Histogram {
            bug,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn record(&self, latency: Duration) {
        let Some(index) = bucket_index(self.bug, latency) else {
            return;
        };
        bump(self.bug, &self.buckets[index]);
        let nanos = match self.bug {
            Bug::SumInMicroseconds => latency.as_micros() as u64,
            _ => latency.as_nanos() as u64,
        };
        match self.bug {
            Bug::LoadThenStore | Bug::SumLoadThenStore => {
                let sum = self.sum_nanos.load(Relaxed);
                self.sum_nanos.store(sum + nanos, Relaxed);
            }
            _ => {
                self.sum_nanos.fetch_add(nanos, Relaxed);
            }
        }
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let read = |atomic: &AtomicU64| match self.bug {
            Bug::HistogramResetOnSnapshot => atomic.swap(0, Relaxed),
            _ => atomic.load(Relaxed),
        };
        HistogramSnapshot {
            buckets: std::array::from_fn(|i| read(&self.buckets[i])),
            sum_nanos: read(&self.sum_nanos),
        }
    }
}

/// The bucket of a latency, with the bug's mistake; `None` where the bug drops it.
fn bucket_index(bug: Bug, latency: Duration) -> Option<usize> {
    let micros = match bug {
        Bug::MicrosRoundedDown => latency.as_micros(),
        // "The last bound is 2^20 µs, so a u32 is plenty."
        Bug::MicrosInU32 => u128::from(latency.as_nanos().div_ceil(1_000) as u32),
        _ => latency.as_nanos().div_ceil(1_000),
    };
    // The first bucket whose bound holds the latency, bounds 1, 2, 4, ... µs.
    let mut index = 0;
    while index < FINITE_BUCKETS {
        let bound = 1u128 << index;
        let inside = match bug {
            Bug::BucketBoundExclusive => micros < bound,
            _ => micros <= bound,
        };
        if inside {
            return Some(index);
        }
        index += 1;
    }
    match bug {
        Bug::HistogramDropsSlowSamples => None,
        Bug::SlowSamplesInLastFiniteBucket => Some(FINITE_BUCKETS - 1),
        _ => Some(BUCKETS - 1),
    }
}

/// The percentile, with the bug's mistake.
fn percentile(bug: Bug, snapshot: &HistogramSnapshot, q: f64) -> Option<Duration> {
    let count = snapshot.count();
    if count == 0 {
        return None;
    }
    let exact = match bug {
        // q kept as whole permille, "three digits are enough for p99.9".
        Bug::QuantileInPermille => (q * 1000.0).round() * count as f64 / 1000.0,
        _ => q * count as f64,
    };
    let rank = match bug {
        Bug::PercentileRankRoundedDown => exact.floor() as u64,
        Bug::PercentileRankRounded => exact.round() as u64,
        _ => exact.ceil() as u64,
    };
    let rank = match bug {
        Bug::PercentileRankFromZero => rank.min(count),
        _ => rank.clamp(1, count),
    };
    let mut seen = 0;
    let index = snapshot
        .buckets
        .iter()
        .position(|&n| {
            seen += n;
            match bug {
                Bug::PercentilePastTheRank => seen > rank,
                _ => seen >= rank,
            }
        })
        .unwrap_or(BUCKETS - 1);
    Some(upper_bound(index).unwrap_or(Duration::MAX))
}

/// What the store's lock guards: the state machine, and (for one bug) the counters.
struct Guarded {
    machine: Instrumented,
    counters: [u64; 6],
}

pub struct BrokenStore {
    bug: Bug,
    state: RwLock<Guarded>,
    counters: Counters,
    latency: [Histogram; 3],
    /// The metrics' own lock, for the bug that holds it through a whole call.
    metrics_lock: Mutex<()>,
    /// The counters at the last `stats()`, for the bug that reports the difference.
    last_read: Mutex<[u64; 6]>,
    clock: FakeClock,
}

impl BrokenStore {
    fn execute(&self, command: Command) -> Result<Response, Rejected> {
        let _whole_call =
            (self.bug == Bug::MetricsLockHeldDuringOperation).then(|| self.metrics_lock.lock());
        let op = Op::of(&command);
        if self.bug == Bug::MissesAsDifference {
            bump(self.bug, self.counters.kind(op));
        }
        let real_start = Instant::now();
        // This bug reads its start later, under the guard.
        let start = (self.bug != Bug::StartTimedUnderTheLock).then(|| self.clock.now());
        if let Err(rejected) = validate(&command)
            && self.bug == Bug::RejectedCountedOnlyAsError
        {
            bump(self.bug, &self.counters.errors);
            return Err(rejected);
        }
        let record = |result: &Result<Response, Rejected>| {
            let latency = match (self.bug, result) {
                (Bug::RealClock, _) => real_start.elapsed(),
                (Bug::RefusalTakesNoTime, Err(_)) => Duration::ZERO,
                // (A refused command of the late-start bug starts when it is refused.)
                _ => {
                    let start = start.unwrap_or_else(|| self.clock.now());
                    self.clock.now().saturating_duration_since(start)
                }
            };
            self.count(op, result);
            self.latency[op.index()].record(latency);
        };
        match (self.bug, validate(&command), command) {
            (Bug::StartTimedUnderTheLock, Ok(()), command) => {
                let (result, start) = match command {
                    Command::Get { key } => {
                        let state = self.state.read();
                        let start = self.clock.now();
                        (Ok(state.machine.read(&key)), start)
                    }
                    write => {
                        let mut state = self.state.write();
                        let start = self.clock.now();
                        (Ok(state.machine.write(write)), start)
                    }
                };
                let latency = self.clock.now().saturating_duration_since(start);
                self.count(op, &result);
                self.latency[op.index()].record(latency);
                result
            }
            (
                Bug::RecordedUnderTheGuard | Bug::ReadGuardKeptToTheEnd,
                Ok(()),
                Command::Get { key },
            ) => {
                let state = self.state.read();
                let result = Ok(state.machine.read(&key));
                record(&result);
                result
            }
            (Bug::RecordedUnderTheGuard, Ok(()), write) => {
                let mut state = self.state.write();
                let result = Ok(state.machine.write(write));
                record(&result);
                result
            }
            (_, checked, command) => {
                let result = checked.map(|()| match command {
                    Command::Get { key } => self.state.read().machine.read(&key),
                    write => self.state.write().machine.write(write),
                });
                record(&result);
                result
            }
        }
    }

    fn count(&self, op: Op, result: &Result<Response, Rejected>) {
        if self.bug == Bug::CountersBehindStoreLock {
            let mut state = self.state.write();
            state.counters[op.index()] += 1;
            let outcome = match (op, result) {
                (_, Err(_)) => Some(5),
                (Op::Get, Ok(Response::Value { .. })) => Some(3),
                (Op::Get, Ok(_)) => Some(4),
                _ => None,
            };
            if let Some(i) = outcome {
                state.counters[i] += 1;
            }
            return;
        }
        let c = &self.counters;
        if self.bug != Bug::MissesAsDifference {
            bump(self.bug, c.kind(op));
        }
        match (op, result) {
            (Op::Get, Err(_)) if self.bug == Bug::RejectedGetCountedAsMiss => {
                bump(self.bug, &c.errors);
                bump(self.bug, &c.misses);
            }
            (_, Err(_)) => bump(self.bug, &c.errors),
            (Op::Get, Ok(_)) if self.bug == Bug::NotFoundCountedAsHit => bump(self.bug, &c.hits),
            (Op::Get, Ok(response)) if self.bug == Bug::HitMovedFromMisses => {
                bump(self.bug, &c.misses);
                if matches!(response, Response::Value { .. }) {
                    c.misses.fetch_sub(1, Relaxed);
                    bump(self.bug, &c.hits);
                }
            }
            (Op::Get, Ok(Response::Value { value, .. }))
                if self.bug == Bug::EmptyValueIsMiss && value.is_empty() =>
            {
                bump(self.bug, &c.misses)
            }
            (Op::Get, Ok(Response::Value { .. })) => bump(self.bug, &c.hits),
            (Op::Get, Ok(_)) if self.bug != Bug::MissesAsDifference => bump(self.bug, &c.misses),
            _ => {}
        }
    }

    fn stats(&self) -> Stats {
        let _consistent = match self.bug {
            Bug::StatsTakeReadLock => Some(self.state.read()),
            Bug::StatsTryReadLock => self.state.try_read(),
            Bug::StatsWaitBrieflyForReadLock => self.state.try_read_for(Duration::from_millis(20)),
            _ => None,
        };
        let _metrics =
            (self.bug == Bug::MetricsLockHeldDuringOperation).then(|| self.metrics_lock.lock());
        let c = &self.counters;
        let read = |counter: &AtomicU64| match self.bug {
            Bug::ResetOnRead => counter.swap(0, Relaxed),
            _ => counter.load(Relaxed),
        };
        let mut values = match self.bug {
            Bug::CountersBehindStoreLock => self.state.read().counters,
            _ => [
                read(&c.gets),
                read(&c.sets),
                read(&c.dels),
                read(&c.hits),
                read(&c.misses),
                read(&c.errors),
            ],
        };
        if self.bug == Bug::MissesAsDifference {
            // Two loads at two moments: a GET that arrived between them counts as a
            // miss until it finishes as a hit.
            values[4] = c.gets.load(Relaxed).saturating_sub(c.hits.load(Relaxed));
        }
        if self.bug == Bug::StatsSinceLastRead {
            let mut last = self.last_read.lock();
            let now = values;
            for (value, before) in values.iter_mut().zip(last.iter()) {
                *value -= before;
            }
            *last = now;
        }
        Stats {
            gets: values[0],
            sets: values[1],
            dels: values[2],
            hits: values[3],
            misses: values[4],
            errors: values[5],
            latency: self.latency.each_ref().map(Histogram::snapshot),
        }
    }

    fn render(&self) -> String {
        render(self.bug, &self.stats())
    }
}

/// The rendering, written out line by line, with the bug's mistake.
fn render(bug: Bug, stats: &Stats) -> String {
    fn header(out: &mut String, name: &str, kind: &str, help: &str) {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    }
    let mut out = String::new();
    header(
        &mut out,
        "kvlab_operations_total",
        "counter",
        "Operations issued to the store, by kind, rejected ones included.",
    );
    for op in Op::ALL {
        let label = match (bug, op) {
            (Bug::UnquotedLabel, Op::Del) => "op=del".to_owned(),
            _ => format!("op=\"{}\"", op.label()),
        };
        out.push_str(&format!(
            "kvlab_operations_total{{{label}}} {}\n",
            stats.operations(op)
        ));
    }
    for (name, help, value) in [
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
    ] {
        header(&mut out, name, "counter", help);
        out.push_str(&format!("{name} {value}\n"));
    }
    let family = "kvlab_operation_duration_seconds";
    let help = "Time from call to answer, waiting for the store's lock included.";
    let seconds = |d: Duration| match bug {
        Bug::LatencyInMicroseconds => format!("{}", d.as_micros()),
        _ => format_seconds(d),
    };
    if bug != Bug::HeaderPerSeries {
        header(&mut out, family, "histogram", help);
    }
    for op in Op::ALL {
        if bug == Bug::HeaderPerSeries {
            header(&mut out, family, "histogram", help);
        }
        let histogram = stats.latency(op);
        let last = match bug {
            Bug::OmitsInfBucket => FINITE_BUCKETS,
            _ => BUCKETS,
        };
        let mut running = 0;
        for index in 0..last {
            let samples = histogram.buckets[index];
            running += samples;
            let le = upper_bound(index).map_or("+Inf".into(), seconds);
            let value = match bug {
                Bug::BucketsNotCumulative => samples,
                _ => running,
            };
            let labels = match bug {
                Bug::LabelsLeFirst => format!("le=\"{le}\",op=\"{}\"", op.label()),
                _ => format!("op=\"{}\",le=\"{le}\"", op.label()),
            };
            out.push_str(&format!("{family}_bucket{{{labels}}} {value}\n"));
        }
        if bug == Bug::OmitsSumAndCount {
            continue;
        }
        let count = match bug {
            Bug::CountLeavesOutInf => running - histogram.buckets[BUCKETS - 1],
            Bug::CountFromOperations => stats.operations(op),
            _ => histogram.count(),
        };
        let sum = match bug {
            Bug::SumAsFloat => histogram.sum().as_secs_f64().to_string(),
            _ => seconds(histogram.sum()),
        };
        out.push_str(&format!("{family}_sum{{op=\"{}\"}} {sum}\n", op.label()));
        out.push_str(&format!(
            "{family}_count{{op=\"{}\"}} {count}\n",
            op.label()
        ));
    }
    if bug == Bug::LinesJoined {
        out.pop();
    }
    out
}

impl Subject for Broken {
    type Store = BrokenStore;

    fn new_store(&self, rig: &Arc<Rig>) -> BrokenStore {
        BrokenStore {
            bug: self.0,
            state: RwLock::new(Guarded {
                machine: Instrumented::new(rig),
                counters: [0; 6],
            }),
            counters: Counters::default(),
            latency: std::array::from_fn(|_| Histogram::new(self.0)),
            metrics_lock: Mutex::new(()),
            last_read: Mutex::new([0; 6]),
            clock: FakeClock::new(rig),
        }
    }

    fn execute(&self, store: &BrokenStore, command: Command) -> Result<Response, Rejected> {
        store.execute(command)
    }

    fn stats(&self, store: &BrokenStore) -> Stats {
        store.stats()
    }

    fn render(&self, store: &BrokenStore) -> String {
        store.render()
    }

    fn render_stats(&self, stats: &Stats) -> String {
        render(self.0, stats)
    }

    fn histogram(
        &self,
        samples: &[Duration],
        quantiles: &[f64],
    ) -> (HistogramSnapshot, Vec<Option<Duration>>) {
        let histogram = Histogram::new(self.0);
        for &sample in samples {
            histogram.record(sample);
        }
        let snapshot = histogram.snapshot();
        let percentiles = quantiles
            .iter()
            .map(|&q| percentile(self.0, &snapshot, q))
            .collect();
        (snapshot, percentiles)
    }
}
