//! Deliberately broken implementations of lesson 05, one bug each.
//!
//! Each bug is a mistake a learner plausibly makes, planted into an otherwise correct
//! store built from the reference's pieces. The checker's tests assert that every
//! fixture is rejected by the criterion named next to it, so each criterion is shown
//! to be able to fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::Duration;

use parking_lot::RwLock;
use probe_kit::{Fixture, Probe};
use reference::{
    BUCKETS, FINITE_BUCKETS, Histogram, HistogramSnapshot, Op, Rejected, Stats, bucket_index,
    upper_bound, validate,
};
use state::{Command, Response};

use crate::{FakeClock, Instrumented, Rig, Subject, criteria};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The counters live inside the store's RwLock, next to the state.
    CountersBehindStoreLock,
    /// The counters are atomics, but `stats()` takes the store's read lock "to get a
    /// consistent view".
    StatsTakeReadLock,
    /// Increments are a load, then a store: two threads can both load 7 and store 8.
    /// The window between the two is widened with a yield, so the self-test never
    /// depends on luck; the real bug loses counts less often, but it does.
    LoadThenStore,
    /// The histogram has no bucket for latencies past its last bound and drops them.
    HistogramDropsSlowSamples,
    /// A rejected GET is counted as an error *and* as a miss.
    RejectedGetCountedAsMiss,
    /// Reading the stats resets the counters to zero (`swap(0)`).
    ResetOnRead,
    /// Misses are not counted but computed as `gets - hits`, with GETs counted when
    /// they arrive and hits when they finish.
    MissesAsDifference,
    /// A latency equal to a bucket's bound goes to the next bucket (`<` for `<=`).
    BucketBoundExclusive,
    /// A percentile looks for a running total *above* the rank instead of reaching it.
    PercentilePastTheRank,
    /// One label value is written without its double quotes.
    UnquotedLabel,
    /// Buckets print each bucket's own count instead of the running total.
    BucketsNotCumulative,
    /// Latency bounds and sums are printed in microseconds instead of seconds.
    LatencyInMicroseconds,
}

pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "counters-behind-store-lock",
        rejected_by: &criteria::STATS_WHILE_WRITING,
        make: || broken(Bug::CountersBehindStoreLock),
    },
    Fixture {
        name: "stats-take-read-lock",
        rejected_by: &criteria::STATS_WHILE_WRITING,
        make: || broken(Bug::StatsTakeReadLock),
    },
    Fixture {
        name: "load-then-store",
        rejected_by: &criteria::TOTALS_EXACT,
        make: || broken(Bug::LoadThenStore),
    },
    Fixture {
        name: "histogram-drops-slow-samples",
        rejected_by: &criteria::TOTALS_EXACT,
        make: || broken(Bug::HistogramDropsSlowSamples),
    },
    Fixture {
        name: "rejected-get-counted-as-miss",
        rejected_by: &criteria::TOTALS_EXACT,
        make: || broken(Bug::RejectedGetCountedAsMiss),
    },
    Fixture {
        name: "reset-on-read",
        rejected_by: &criteria::COUNTERS_MONOTONIC,
        make: || broken(Bug::ResetOnRead),
    },
    Fixture {
        name: "misses-as-difference",
        rejected_by: &criteria::COUNTERS_MONOTONIC,
        make: || broken(Bug::MissesAsDifference),
    },
    Fixture {
        name: "bucket-bound-exclusive",
        rejected_by: &criteria::HISTOGRAM_BUCKETS,
        make: || broken(Bug::BucketBoundExclusive),
    },
    Fixture {
        name: "percentile-past-the-rank",
        rejected_by: &criteria::HISTOGRAM_BUCKETS,
        make: || broken(Bug::PercentilePastTheRank),
    },
    Fixture {
        name: "unquoted-label",
        rejected_by: &criteria::EXPOSITION_VALID,
        make: || broken(Bug::UnquotedLabel),
    },
    Fixture {
        name: "buckets-not-cumulative",
        rejected_by: &criteria::EXPOSITION_VALID,
        make: || broken(Bug::BucketsNotCumulative),
    },
    Fixture {
        name: "latency-in-microseconds",
        rejected_by: &criteria::EXPOSITION_SNAPSHOT,
        make: || broken(Bug::LatencyInMicroseconds),
    },
];

fn broken(bug: Bug) -> Box<dyn Probe> {
    crate::probe(Broken(bug))
}

/// A store with one bug planted in it.
#[derive(Debug, Clone, Copy)]
pub struct Broken(pub Bug);

/// The counters, by position in the fixture's arrays.
const GETS: usize = 0;
const HITS: usize = 3;
const MISSES: usize = 4;
const ERRORS: usize = 5;

fn operations_counter(op: Op) -> usize {
    op.index()
}

/// What the store's lock guards: the state machine, and (for one bug) the counters.
struct Guarded {
    machine: Instrumented,
    counters: [u64; 6],
}

pub struct BrokenStore {
    bug: Bug,
    state: RwLock<Guarded>,
    counters: [AtomicU64; 6],
    latency: [Histogram; 3],
    clock: FakeClock,
}

impl BrokenStore {
    fn execute(&self, command: Command) -> Result<Response, Rejected> {
        let op = Op::of(&command);
        if self.bug == Bug::MissesAsDifference {
            self.bump(operations_counter(op));
        }
        let start = self.clock.now();
        let result = validate(&command).map(|()| match command {
            Command::Get { key } => self.state.read().machine.read(&key),
            write => self.state.write().machine.write(write),
        });
        let latency = self.clock.now() - start;
        self.count(op, &result);
        let dropped =
            self.bug == Bug::HistogramDropsSlowSamples && bucket_index(latency) == BUCKETS - 1;
        if !dropped {
            self.latency[op.index()].record(latency);
        }
        result
    }

    fn count(&self, op: Op, result: &Result<Response, Rejected>) {
        if self.bug != Bug::MissesAsDifference {
            self.bump(operations_counter(op));
        }
        match (op, result) {
            (Op::Get, Err(_)) if self.bug == Bug::RejectedGetCountedAsMiss => {
                self.bump(ERRORS);
                self.bump(MISSES);
            }
            (_, Err(_)) => self.bump(ERRORS),
            (Op::Get, Ok(Response::Value { .. })) => self.bump(HITS),
            (Op::Get, Ok(_)) if self.bug != Bug::MissesAsDifference => self.bump(MISSES),
            _ => {}
        }
    }

    fn bump(&self, counter: usize) {
        match self.bug {
            Bug::CountersBehindStoreLock => self.state.write().counters[counter] += 1,
            Bug::LoadThenStore => {
                let seen = self.counters[counter].load(Relaxed);
                thread::yield_now();
                self.counters[counter].store(seen + 1, Relaxed);
            }
            _ => {
                self.counters[counter].fetch_add(1, Relaxed);
            }
        }
    }

    fn stats(&self) -> Stats {
        let read = |counter: usize| match self.bug {
            Bug::ResetOnRead => self.counters[counter].swap(0, Relaxed),
            _ => self.counters[counter].load(Relaxed),
        };
        let values: [u64; 6] = match self.bug {
            Bug::CountersBehindStoreLock => self.state.read().counters,
            Bug::StatsTakeReadLock => {
                let _consistent = self.state.read();
                std::array::from_fn(read)
            }
            _ => std::array::from_fn(read),
        };
        let mut stats = Stats {
            gets: values[0],
            sets: values[1],
            dels: values[2],
            hits: values[3],
            misses: values[4],
            errors: values[5],
            latency: self.latency.each_ref().map(Histogram::snapshot),
        };
        if self.bug == Bug::MissesAsDifference {
            // Two loads at two moments: a GET that arrived between them counts as a
            // miss until it finishes as a hit.
            let gets = self.counters[GETS].load(Relaxed);
            let hits = self.counters[HITS].load(Relaxed);
            stats.misses = gets.saturating_sub(hits);
        }
        stats
    }

    fn render(&self) -> String {
        let text = self.stats().render_prometheus();
        match self.bug {
            Bug::UnquotedLabel => text.replacen("{op=\"del\"}", "{op=del}", 1),
            Bug::BucketsNotCumulative => not_cumulative(&text),
            Bug::LatencyInMicroseconds => in_microseconds(&text),
            _ => text,
        }
    }
}

/// Rewrites each bucket's running total as that bucket's own count.
fn not_cumulative(text: &str) -> String {
    let mut previous = 0u64;
    let mut out = String::new();
    for line in text.lines() {
        match line.split_once("_bucket{") {
            Some(_) => {
                let (series, value) = line.rsplit_once(' ').expect("a sample line");
                let total: u64 = value.parse().expect("a count");
                if series.contains("le=\"0.000001\"") {
                    previous = 0;
                }
                out += &format!("{series} {}\n", total - previous);
                previous = total;
            }
            None => out += &format!("{line}\n"),
        }
    }
    out
}

/// Rewrites `le` bounds and `_sum` values from seconds to microseconds.
fn in_microseconds(text: &str) -> String {
    let micros = |seconds: &str| match seconds.parse::<f64>() {
        Ok(s) if s.is_finite() => format!("{}", (s * 1e6).round()),
        _ => seconds.to_owned(),
    };
    let mut out = String::new();
    for line in text.lines() {
        let line = if let Some((head, rest)) = line.split_once("le=\"") {
            let (bound, tail) = rest.split_once('"').expect("a quoted bound");
            format!("{head}le=\"{}\"{tail}", micros(bound))
        } else if line.contains("_sum{") {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            format!("{series} {}", micros(value))
        } else {
            line.to_owned()
        };
        out += &line;
        out.push('\n');
    }
    out
}

/// The percentile with the classic off-by-one: `seen > rank` instead of `>=`.
fn percentile_past_the_rank(snapshot: &HistogramSnapshot, q: f64) -> Option<Duration> {
    let count = snapshot.count();
    if count == 0 {
        return None;
    }
    let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
    let mut seen = 0;
    let index = snapshot
        .buckets
        .iter()
        .position(|&n| {
            seen += n;
            seen > rank
        })
        .unwrap_or(BUCKETS - 1);
    Some(upper_bound(index).unwrap_or(Duration::MAX))
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
            counters: Default::default(),
            latency: Default::default(),
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

    fn histogram(
        &self,
        samples: &[Duration],
        quantiles: &[f64],
    ) -> (HistogramSnapshot, Vec<Option<Duration>>) {
        let mut snapshot = HistogramSnapshot::default();
        for &sample in samples {
            let mut index = bucket_index(sample);
            let on_bound = index < FINITE_BUCKETS && upper_bound(index) == Some(sample);
            if self.0 == Bug::BucketBoundExclusive && on_bound {
                index += 1;
            }
            snapshot.buckets[index] += 1;
            snapshot.sum_nanos += sample.as_nanos() as u64;
        }
        let percentiles = quantiles
            .iter()
            .map(|&q| match self.0 {
                Bug::PercentilePastTheRank => percentile_past_the_rank(&snapshot, q),
                _ => snapshot.percentile(q),
            })
            .collect();
        (snapshot, percentiles)
    }
}
