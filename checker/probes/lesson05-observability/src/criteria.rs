//! The criteria of lesson 05. Each takes the subject and the run's context and either
//! passes or says what it expected and what it saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::kvlab_watch::{self as watch, How, Side};
use probe_kit::sync::{self, Barrier, Stuck};
use probe_kit::{Criterion, Ctx, Failure, Info, Verdict, ensure, snapshot};
use rand::{Rng, RngExt};
use reference::{BUCKETS, HistogramSnapshot, Op, Rejected, Stats, upper_bound};
use state::{Command, Response};

use crate::exposition;
use crate::{Rig, Subject, held_at_clock_reads, held_inside, refusal_takes, set_latency};

pub const TOTALS_EXACT: Info = Info {
    id: "totals-exact",
    title: "after many threads run a seeded workload, every counter and histogram count \
            equals the operations issued",
    hint: "Every call of execute counts exactly once: in its kind's counter, in hits, misses \
           or errors where that applies, and in its kind's histogram. Increment with \
           fetch_add (a load then a store loses counts between threads), and give every \
           latency a bucket, the slowest included (le=\"+Inf\").",
    book: "lesson05-observability.html#step-1-count-with-atomics",
    deadline_secs: 30,
    graded: true,
    steps: &[1, 3, 4, 5],
};

pub const STATS_WHILE_WRITING: Info = Info {
    id: "stats-while-writing",
    title: "the metrics stay beside the lock: stats are read while a SET holds it and \
            never ask for it, and each operation is timed from before it asks for the lock \
            to after it lets go",
    hint: "stats() must not take the store's lock, not even a read lock for a 'consistent' \
           view, and the counters must not live inside the RwLock. Keep them in atomics \
           beside it, and read those.",
    book: "lesson05-observability.html#step-5-read-the-stats-without-the-lock",
    deadline_secs: 30,
    graded: true,
    steps: &[4, 5],
};

pub const COUNTERS_MONOTONIC: Info = Info {
    id: "counters-monotonic",
    title: "no counter goes down between two reads, even with operations in flight",
    hint: DIP_HINT,
    book: "lesson05-observability.html#why-relaxed-is-enough",
    deadline_secs: 30,
    graded: true,
    steps: &[1, 5],
};

pub const HISTOGRAM_BUCKETS: Info = Info {
    id: "histogram-buckets",
    title: "each latency lands in its log-scale bucket, and percentiles are bucket bounds",
    hint: "A bound belongs to its bucket: 1 µs goes in le=\"0.000001\", 1.001 µs in the \
           next one. The q-percentile is the bound of the first bucket whose running total \
           reaches ceil(q * count).",
    book: "lesson05-observability.html#step-2-choose-the-bucket",
    deadline_secs: 20,
    graded: true,
    steps: &[2, 3, 6],
};

pub const EXPOSITION_VALID: Info = Info {
    id: "exposition-valid",
    title: "the text rendering is valid Prometheus exposition format and agrees with the stats",
    hint: "The evidence names the line. Each family needs # HELP and # TYPE before its \
           samples; label values go in double quotes; buckets are cumulative, the last is \
           le=\"+Inf\" and it equals _count.",
    book: "lesson05-observability.html#the-exposition-format",
    deadline_secs: 20,
    graded: true,
    steps: &[7],
};

pub const EXPOSITION_SNAPSHOT: Info = Info {
    id: "exposition-snapshot",
    title: "the rendering of a scripted workload matches the expected text",
    hint: "Compare with the expected lines in the diff: metric and label names, label order \
           (op, then le), seconds written with format_seconds, and latencies measured with \
           the store's clock (self.clock), never with Instant::now().",
    book: "lesson05-observability.html#step-7-render-for-prometheus",
    deadline_secs: 20,
    graded: true,
    steps: &[7],
};

/// The lesson's criteria, in the order they run and are reported.
pub fn all<S: Subject>() -> Vec<Criterion<S>> {
    vec![
        Criterion::new(&TOTALS_EXACT, |subject, ctx| totals_exact(*subject, ctx)),
        Criterion::new(&STATS_WHILE_WRITING, |subject, ctx| {
            stats_while_writing(*subject, ctx)
        }),
        Criterion::new(&COUNTERS_MONOTONIC, |subject, ctx| {
            counters_monotonic(*subject, ctx)
        }),
        Criterion::new(&HISTOGRAM_BUCKETS, |subject, ctx| {
            histogram_buckets(*subject, ctx)
        }),
        Criterion::new(&EXPOSITION_VALID, |subject, ctx| {
            exposition_valid(*subject, ctx)
        }),
        Criterion::new(&EXPOSITION_SNAPSHOT, |subject, ctx| {
            exposition_snapshot(*subject, ctx)
        }),
    ]
}

/// How long threads may take to meet at a barrier, to enter a held operation, or to
/// finish: hang detectors, far above what a passing run needs.
const MEET: Duration = Duration::from_secs(10);
const FINISH: Duration = Duration::from_secs(15);
/// How long `stats()` may take while a writer holds the store's lock: a hang
/// detector (a correct `stats()` returns in microseconds). What the verdict rests
/// on is what happens next: the SET is released, and a `stats()` that returns only
/// then was waiting for something the SET held.
const STATS_WAIT: Duration = Duration::from_secs(2);
/// The key whose operation the probe stops inside the state machine.
const HELD_KEY: &str = "held";

const KEYS: [&str; 12] = [
    "apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi", "lemon", "mango",
    "olive", "pear",
];

/// A random command: mostly GETs, then SETs, then DELs, and a few the store rejects.
fn random_command(rng: &mut impl Rng) -> Command {
    let key = KEYS[rng.random_range(0..KEYS.len())];
    match rng.random_range(0..100) {
        0 => Command::get(""),
        1 => Command::set(&"k".repeat(reference::MAX_KEY_LEN + 1), "v"),
        2 => Command::set(key, &"v".repeat(reference::MAX_VALUE_LEN + 1)),
        3 => Command::del(""),
        4..50 => Command::get(key),
        // An empty value is a value: a GET that finds it is a hit.
        50..53 => Command::set(key, ""),
        53..80 => Command::set(key, &format!("v{}", rng.random_range(0..1000))),
        _ => Command::del(key),
    }
}

/// A random latency: mostly between 1 ns and 4 ms on a log scale, sometimes zero,
/// and one in a hundred a stall of seconds (past the last finite bucket).
fn random_latency(rng: &mut impl Rng) -> Duration {
    match rng.random_range(0..100) {
        0 => Duration::from_millis(rng.random_range(1_100..4_000)),
        1..4 => Duration::ZERO,
        _ => {
            let scale = rng.random_range(0..22);
            Duration::from_nanos(rng.random_range(1u64 << scale..2u64 << scale))
        }
    }
}

/// What a thread issued, counted from the answers it got and the latencies it
/// planted.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    operations: [u64; 3],
    hits: u64,
    misses: u64,
    errors: u64,
    /// Rejected commands, per kind.
    rejected: [u64; 3],
    /// GETs answered NotFound.
    not_found: u64,
    /// Operations slower than the last finite bound, per kind (le="+Inf").
    stalls: [u64; 3],
    /// The latencies spent, per kind, in nanoseconds: what each histogram's sum
    /// must hold (the rig's clock gives each operation exactly its planted latency).
    spent_nanos: [u64; 3],
}

impl Tally {
    fn add(&mut self, op: Op, result: &Result<Response, Rejected>, latency: Duration) {
        self.operations[op.index()] += 1;
        match (op, result) {
            (_, Err(_)) => {
                self.errors += 1;
                self.rejected[op.index()] += 1;
            }
            (Op::Get, Ok(Response::Value { .. })) => self.hits += 1,
            (Op::Get, Ok(_)) => {
                self.misses += 1;
                self.not_found += 1;
            }
            _ => {}
        }
        // A rejected command spends its latency too, outside the state machine
        // (see `random_operations`).
        if reference::bucket_index(latency) == BUCKETS - 1 {
            self.stalls[op.index()] += 1;
        }
        self.spent_nanos[op.index()] += latency.as_nanos() as u64;
    }

    fn merge(mut self, other: Tally) -> Tally {
        for op in Op::ALL {
            let i = op.index();
            self.operations[i] += other.operations[i];
            self.rejected[i] += other.rejected[i];
            self.stalls[i] += other.stalls[i];
            self.spent_nanos[i] += other.spent_nanos[i];
        }
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
        self.not_found += other.not_found;
        self
    }
}

/// A stuck thread, told in words.
fn hang(stuck: Stuck, doing: &str) -> Failure {
    Failure::new(
        format!("every thread finishes {doing} within {FINISH:?}"),
        format!("{stuck}: is an operation or stats() waiting for something that never comes?"),
    )
}

/// Runs `per_thread` random operations on each of `threads` threads, all started at
/// once, and returns what they issued. `extra` more parties meet them at the start.
fn run_workload<S: Subject>(
    subject: S,
    store: &Arc<S::Store>,
    ctx: &Ctx,
    threads: usize,
    per_thread: usize,
    start: &Arc<Barrier>,
) -> Vec<sync::Worker<Tally>> {
    (0..threads)
        .map(|t| {
            let mut rng = ctx.rng(100 + t as u64);
            let (store, start) = (Arc::clone(store), Arc::clone(start));
            sync::spawn(format!("worker {t}"), move || {
                start.wait(MEET);
                random_operations(subject, &store, &mut rng, per_thread)
            })
        })
        .collect()
}

/// `count` random operations with random latencies, on the calling thread.
fn random_operations<S: Subject>(
    subject: S,
    store: &S::Store,
    rng: &mut impl Rng,
    count: usize,
) -> Tally {
    let mut tally = Tally::default();
    for _ in 0..count {
        let command = random_command(rng);
        let latency = random_latency(rng);
        set_latency(latency);
        // A refusal is an operation too: it takes its time, which the store's
        // clock tells as it tells any other.
        if reference::validate(&command).is_err() {
            refusal_takes(latency);
        }
        let op = Op::of(&command);
        let result = subject.execute(store, command);
        refusal_takes(Duration::ZERO);
        tally.add(op, &result, latency);
    }
    set_latency(Duration::ZERO);
    tally
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Get => "GET",
        Op::Set => "SET",
        Op::Del => "DEL",
    }
}

/// The first count in `stats` that is not what the threads issued, with a hint
/// chosen by how it is off. `alone` says whether one thread did everything, so
/// that a count that is off is a logic error, not a race.
/// How far a count is from what it should be: `3 lost`, `2 ns too many`.
fn gap(want: u64, seen: u64, unit: &str) -> String {
    if seen < want {
        format!("{}{unit} lost", want - seen)
    } else {
        format!("{}{unit} too many", seen - want)
    }
}

fn compare_totals(issued: &Tally, stats: &Stats, alone: bool) -> Result<(), Failure> {
    let counters = [
        (
            "GET count (gets)",
            Some(Op::Get),
            issued.operations[0],
            stats.gets,
        ),
        (
            "SET count (sets)",
            Some(Op::Set),
            issued.operations[1],
            stats.sets,
        ),
        (
            "DEL count (dels)",
            Some(Op::Del),
            issued.operations[2],
            stats.dels,
        ),
        ("hits", None, issued.hits, stats.hits),
        ("misses", None, issued.misses, stats.misses),
        ("errors", None, issued.errors, stats.errors),
    ];
    let race = "With one thread every count was right; here, with threads counting at the \
                same time, counts were lost. An increment written as a load then a store \
                (or one compare_exchange whose failure is ignored) loses the counts of the \
                threads that bump between the two: use fetch_add, one indivisible \
                read-modify-write.";
    for (name, op, want, seen) in counters {
        if want == seen {
            continue;
        }
        let gap = gap(want, seen, "");
        let hint = if !alone {
            race.to_owned()
        } else if let Some(op) =
            op.filter(|op| want - seen.min(want) == issued.rejected[op.index()])
        {
            format!(
                "Every call counts in its kind's counter, rejected ones too: the {} \
                 {}s the store rejected were not counted in it.",
                issued.rejected[op.index()],
                op_name(op)
            )
        } else if name == "misses" && seen == want + issued.rejected[Op::Get.index()] {
            "A rejected GET is an error, not a miss: misses are GETs that reached the state \
             machine and found no live value."
                .to_owned()
        } else if name == "hits" && seen == want + issued.not_found {
            "A hit is a GET answered Response::Value, an empty value included; a NotFound answer is a miss.".to_owned()
        } else {
            "Every call of execute counts exactly once in its kind's counter, and once in \
             errors (rejected), hits (a GET answered with a value) or misses (a GET answered \
             NotFound), never in two of them."
                .to_owned()
        };
        return Err(Failure::new(
            format!("{name} = {want}, as the threads' answers add up"),
            format!("{name} = {seen} ({gap})"),
        )
        .with_hint(hint));
    }
    for op in Op::ALL {
        let (want, histogram) = (issued.operations[op.index()], stats.latency(op));
        let seen = histogram.count();
        if seen == want {
            continue;
        }
        let slowest = histogram.buckets[BUCKETS - 1];
        let stalls = issued.stalls[op.index()];
        let hint = if !alone {
            race.to_owned()
        } else if seen < want && slowest < stalls {
            format!(
                "{stalls} {}s took longer than the last finite bound (about 1.05 s), and the \
                 le=\"+Inf\" bucket holds {slowest}: give every latency a bucket, the \
                 slowest in the last one.",
                op_name(op)
            )
        } else if want - seen.min(want) == issued.rejected[op.index()] {
            format!(
                "Rejected calls are timed and recorded too: the {} rejected {}s are missing \
                 from the histogram.",
                issued.rejected[op.index()],
                op_name(op)
            )
        } else {
            "Each call records exactly one latency, in its own kind's histogram.".to_owned()
        };
        return Err(Failure::new(
            format!(
                "the {} latency histogram holds {want} samples, one per {} issued",
                op_name(op),
                op_name(op)
            ),
            format!(
                "its buckets add up to {seen} ({slowest} in the le=\"+Inf\" bucket; {stalls} \
                 of the {}s took over a second)",
                op_name(op)
            ),
        )
        .with_hint(hint));
    }
    for op in Op::ALL {
        let (want, seen) = (issued.spent_nanos[op.index()], stats.latency(op).sum_nanos);
        if want == seen {
            continue;
        }
        let hint = if alone {
            "Each call adds its own latency to its kind's sum, in nanoseconds, once: the time \
             between two readings of the store's clock (self.clock.now()), one when the call \
             starts and one when it answers, never Instant::now(). A refused call is timed \
             the same way: its refusal takes time too."
        } else {
            "With one thread the sums were right; here, with threads adding at the same time, \
             part of them was lost. A sum updated with a load then a store loses the \
             latencies of the threads that add between the two: use fetch_add."
        };
        return Err(Failure::new(
            format!(
                "the {} latency histogram's sum is {want} ns, the latencies the {}s spent",
                op_name(op),
                op_name(op)
            ),
            format!("its sum is {seen} ns ({})", gap(want, seen, " ns")),
        )
        .with_hint(hint));
    }
    Ok(())
}

fn totals_exact<S: Subject>(subject: S, ctx: &Ctx) -> Verdict {
    // One thread first: a count that is off here is a logic error, named as such.
    const ALONE: usize = 3_000;
    let rig = Rig::new();
    let store = subject.new_store(&rig);
    ctx.progress(format_args!("one thread runs {ALONE} random operations"));
    let issued = random_operations(subject, &store, &mut ctx.rng(99), ALONE);
    compare_totals(&issued, &subject.stats(&store), true).map_err(|f| {
        f.with_detail(format!(
            "one thread, {ALONE} random operations, one after another (seed {})",
            ctx.seed()
        ))
    })?;

    // Then many threads at once.
    const THREADS: usize = 4;
    const PER_THREAD: usize = 4_000;
    let rig = Rig::new();
    let store = Arc::new(subject.new_store(&rig));
    ctx.progress(format_args!(
        "{THREADS} threads run {PER_THREAD} random operations each on one store"
    ));
    let start = Arc::new(Barrier::new(THREADS));
    let workers = run_workload(subject, &store, ctx, THREADS, PER_THREAD, &start);
    let tallies = sync::join_all(workers, FINISH).map_err(|s| hang(s, "the workload"))?;
    let issued = tallies.into_iter().fold(Tally::default(), Tally::merge);
    ctx.progress("reading the stats after every thread has finished");
    compare_totals(&issued, &subject.stats(&store), false).map_err(|f| {
        f.with_detail(format!(
            "{THREADS} threads, {PER_THREAD} random operations each, all started together \
             (seed {})",
            ctx.seed()
        ))
    })?;
    storms(subject, ctx, Watch::Totals)
}

/// What the storms check: what the counters grew by, after each storm
/// (`totals-exact`), or that no counter dips while the storm runs, read over and
/// over by one more thread (`counters-monotonic`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    Totals,
    Dips,
}

/// The storms: threads that bump the same counters at the same moment, so that an
/// increment split in two (a load, then a store) loses counts.
///
/// This race cannot be forced. The window between the load and the store lies
/// inside the implementation's own code, and the probe's hooks (the fake clock,
/// the state machine) are reached before it and after it, never in between. So the
/// storms make the loss as likely as the machine allows, and repeat until the
/// chance of missing it is small:
///
/// - each storm is one command, the same on every thread, so every thread bumps
///   the same counters in the same order;
/// - rejected commands never reach the lock or the state machine, and the rig
///   touches nothing shared when no hold is armed: the threads spend their time
///   in the counters, not queueing for a lock of the store's or of the probe's;
/// - the threads leave a spinning start line together;
/// - each thread looks at the others' progress every [`CHECK_EVERY`] calls, so a
///   storm knows whether its threads really ran at the same moment on different
///   cores or took turns on one. Taking turns, a split increment loses counts only
///   when a thread is preempted between its load and its store, which almost never
///   happens; running together, it loses hundreds or thousands in every storm
///   measured (every storm in which the threads overlapped on at least 3% of
///   their looks lost counts, in 26 of 26 on 2 cores).
///
/// So a storm counts only if its threads ran together on at least
/// [`TOGETHER_PERCENT`]% of their looks, and each kind of command is stormed until
/// it has had [`REAL_STORMS`] such storms, counts are lost, or [`STORM_BUDGET`] is
/// spent. On an idle machine a correct implementation is done in two rounds, a few
/// tens of milliseconds; only a machine that gives the probe one core at a time
/// makes it wait out the budget, and there a split increment can escape (see the
/// measured catch rates in the fixtures' notes).
///
/// A counter that is bumped and then taken back (a GET counted as a miss, then
/// moved over to the hits) dips in the same kind of window, which the same storms
/// open: watched, each storm has one more thread read the stats over and over, and
/// each kind is stormed until [`DIP_READS`] of those reads were made while the
/// storm ran on another core at that very moment (a read whose storm made progress
/// since the watcher's last read, less than [`BACK_TO_BACK`] before). Only such a
/// read can land inside another thread's window. Measured with the
/// `hit-moved-from-misses` fixture, whose dip is two atomic operations long, the
/// storms saw the first dip within 4 to 111 such reads (in the 16 of 30 runs that
/// the random workload before them had not caught already), so 500 leave a miss
/// far rarer than one in a thousand; a machine that gives the probe fewer cores at once
/// makes the storms go on longer, not the reads fewer.
fn storms<S: Subject>(subject: S, ctx: &Ctx, watch: Watch) -> Verdict {
    let threads = 2 * thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let rig = Rig::new();
    let store = Arc::new(subject.new_store(&rig));
    let _ = subject.execute(&store, Command::set("storm", "v"));
    let long_key = "k".repeat(reference::MAX_KEY_LEN + 1);
    let kinds: [(&str, Command); 5] = [
        ("a rejected GET", Command::get("")),
        ("a rejected SET", Command::set(&long_key, "v")),
        ("a rejected DEL", Command::del("")),
        ("a GET that hits", Command::get("storm")),
        ("a GET that misses", Command::get("nothing here")),
    ];
    // Per kind: storms whose threads ran together, or reads made while one ran.
    let mut real = [0usize; 5];
    let enough = match watch {
        Watch::Totals => REAL_STORMS,
        Watch::Dips => DIP_READS,
    };
    let give_up = Instant::now() + STORM_BUDGET;
    let mut round = 0;
    while real.iter().any(|&n| n < enough) && Instant::now() < give_up {
        round += 1;
        for (k, (name, command)) in kinds.iter().enumerate() {
            if real[k] >= enough {
                continue;
            }
            ctx.progress(format_args!(
                "{threads} threads issue {name} {STORM_PER_THREAD} times each, all at once \
                 (round {round})"
            ));
            let before = subject.stats(&store);
            let stop = Arc::new(AtomicBool::new(false));
            let watcher = (watch == Watch::Dips)
                .then(|| watch_for_dips(subject, Arc::clone(&store), Arc::clone(&stop)));
            let together = storm(subject, &store, threads, command);
            stop.store(true, Ordering::Release);
            if let Some(watcher) = watcher {
                let watched = watcher
                    .join_by(Instant::now() + FINISH)
                    .map_err(|s| hang(s, "reading the stats"))?;
                match watched {
                    Ok(reads) => real[k] += reads.beside_the_storm,
                    Err((decrease, reads)) => {
                        return Err(Failure::new(
                            "no counter goes down from one read of the stats to the next",
                            decrease,
                        )
                        .with_detail(format!(
                            "read {reads} of the stats by one thread while {threads} threads each \
                         issued {name} {STORM_PER_THREAD} times (round {round} of the storms, \
                         seed {})",
                            ctx.seed()
                        )));
                    }
                }
            }
            let together = together?;
            if watch == Watch::Dips {
                continue;
            }
            let checks = (threads * (STORM_PER_THREAD / CHECK_EVERY)) as u64;
            if together * 100 >= checks * TOGETHER_PERCENT {
                real[k] += 1;
            }
            let after = subject.stats(&store);
            let op = Op::of(command);
            let want = (threads * STORM_PER_THREAD) as u64;
            let rejected = name.contains("rejected");
            // A rejected command never reaches the state machine: it spends nothing.
            let want_nanos = if rejected {
                0
            } else {
                want * STORM_LATENCY.as_nanos() as u64
            };
            let outcome = match (rejected, name.contains("hits")) {
                (true, _) => ("errors", after.errors.saturating_sub(before.errors)),
                (false, true) => ("hits", after.hits.saturating_sub(before.hits)),
                (false, false) => ("misses", after.misses.saturating_sub(before.misses)),
            };
            let (histogram_before, histogram_after) = (before.latency(op), after.latency(op));
            let grown = [
                (
                    format!("{}s", op.label()),
                    want,
                    after.operations(op).saturating_sub(before.operations(op)),
                ),
                (outcome.0.to_owned(), want, outcome.1),
                (
                    format!("the {} histogram's count", op_name(op)),
                    want,
                    histogram_after
                        .count()
                        .saturating_sub(histogram_before.count()),
                ),
                (
                    format!("the {} histogram's sum (ns)", op_name(op)),
                    want_nanos,
                    histogram_after
                        .sum_nanos
                        .saturating_sub(histogram_before.sum_nanos),
                ),
            ];
            for (counter, want, seen) in grown {
                if seen == want {
                    continue;
                }
                let each = if counter.contains("sum") {
                    format!("{STORM_LATENCY:?} per call")
                } else {
                    "one per call".to_owned()
                };
                return Err(Failure::new(
                    format!("{counter} grows by {want}, {each}"),
                    format!("it grew by {seen} ({})", gap(want, seen, "")),
                )
                .with_hint(
                    "One thread at a time, and many threads on a mixed workload, every count \
                     and sum was right; with threads adding to the same atomic at the same \
                     moment, some additions were lost. An addition written as a load then a \
                     store (or one compare_exchange whose failure is ignored) loses those of \
                     the threads that add between the two: use fetch_add, one indivisible \
                     read-modify-write.",
                )
                .with_detail(format!(
                    "{threads} threads each issued {name} {STORM_PER_THREAD} times, leaving a \
                     start line together (round {round} of the storms, seed {})",
                    ctx.seed()
                )));
            }
        }
    }
    Ok(())
}

/// Storms in which the threads really ran together, per kind of command, after
/// which a correct count is believed. Every such storm measured lost counts to a
/// split increment, so two leave a chance of a miss far below one in a thousand.
const REAL_STORMS: usize = 2;
/// The share of a storm's looks at the other threads that must find one of them
/// moving, for the storm to count as run together.
const TOGETHER_PERCENT: u64 = 5;
/// How long the storms may go on looking for storms run together.
const STORM_BUDGET: Duration = Duration::from_secs(3);
/// Calls per thread in one storm.
const STORM_PER_THREAD: usize = 20_000;
/// The latency of every call in a storm, so that the sums grow too.
const STORM_LATENCY: Duration = Duration::from_micros(1);

/// `threads` threads issue `command` [`STORM_PER_THREAD`] times each, leaving a
/// spinning start line together. Returns how many of the threads' looks at the
/// others' progress found another thread moving.
fn storm<S: Subject>(
    subject: S,
    store: &Arc<S::Store>,
    threads: usize,
    command: &Command,
) -> Result<u64, Failure> {
    let ready = Arc::new(AtomicUsize::new(0));
    let lanes: Arc<Vec<Lane>> = Arc::new((0..threads).map(|_| Lane::default()).collect());
    let workers = (0..threads)
        .map(|t| {
            let (store, ready, command, lanes) = (
                Arc::clone(store),
                Arc::clone(&ready),
                command.clone(),
                Arc::clone(&lanes),
            );
            sync::spawn(format!("storm {t}"), move || {
                set_latency(STORM_LATENCY);
                ready.fetch_add(1, Ordering::SeqCst);
                let give_up = Instant::now() + MEET;
                let mut spins = 0u32;
                while ready.load(Ordering::SeqCst) < threads && Instant::now() < give_up {
                    spins += 1;
                    if spins.is_multiple_of(256) {
                        thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
                let mut seen = vec![0u64; threads];
                let mut together = 0u64;
                for i in 0..STORM_PER_THREAD {
                    let _ = subject.execute(&store, command.clone());
                    if i % CHECK_EVERY == CHECK_EVERY - 1 {
                        lanes[t].done.store(i as u64 + 1, Ordering::Relaxed);
                        let mut moved = false;
                        for (p, lane) in lanes.iter().enumerate() {
                            let now = lane.done.load(Ordering::Relaxed);
                            moved |= p != t && now != seen[p];
                            seen[p] = now;
                        }
                        together += u64::from(moved);
                    }
                }
                together
            })
        })
        .collect();
    let together = sync::join_all(workers, FINISH).map_err(|s| hang(s, "the storm"))?;
    Ok(together.into_iter().sum())
}

/// How many calls a storm thread makes between two looks at the other threads'
/// progress.
const CHECK_EVERY: usize = 64;

/// A storm thread's progress, on a cache line of its own.
#[derive(Default)]
#[repr(align(128))]
struct Lane {
    done: AtomicU64,
}

fn stats_while_writing<S: Subject>(subject: S, ctx: &Ctx) -> Verdict {
    let rig = Rig::new();
    let store = Arc::new(subject.new_store(&rig));
    ctx.progress("four operations before the held write");
    for command in [
        Command::set("apple", "red"),
        Command::get("apple"),
        Command::get("pear"),
        Command::set("", "no key"),
    ] {
        // The answers are lesson 01's business; this criterion grades the stats.
        let _ = subject.execute(&store, command);
    }
    let hold = rig.hold(HELD_KEY);
    ctx.progress(format_args!(
        "a SET of `{HELD_KEY}` stops inside the state machine, holding the store's write lock"
    ));
    let writer = {
        let store = Arc::clone(&store);
        sync::spawn("held SET", move || {
            subject.execute(&store, Command::set(HELD_KEY, "v"))
        })
    };
    if !hold.entered.wait(MEET) {
        hold.release.open();
        return Err(Failure::new(
            format!("the SET of `{HELD_KEY}` reaches the state machine"),
            format!("it had not reached it after {MEET:?}"),
        )
        .with_detail("execute must hand SET commands to the state machine, under the write lock"));
    }
    // Only stats(): render_prometheus() is given as a rendering of stats(), so it
    // cannot wait for the lock unless stats() does, and it is graded on its own later.
    ctx.progress("calling stats() while the SET holds the write lock");
    let (sender, during) = mpsc::channel();
    {
        let store = Arc::clone(&store);
        thread::Builder::new()
            .name("stats reader".into())
            .spawn(move || {
                let _ = sender.send(subject.stats(&store));
            })
            .expect("the probe can start threads");
    }
    let read = during.recv_timeout(STATS_WAIT);
    hold.release.open();
    ctx.progress("waiting for the held SET to finish after its release");
    let answer = writer
        .join_by(Instant::now() + FINISH)
        .map_err(|s| hang(s, "the held SET"))?;
    let stats = match read {
        Ok(stats) => stats,
        // stats() panicked: the harness reports the panic it recorded.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err(Failure::new("stats() returns", "it panicked"));
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let after_release = during.recv_timeout(FINISH).is_ok();
            let failure = Failure::new(
                "stats() returns while a writer holds the store's lock",
                if after_release {
                    format!(
                        "it had not returned after {STATS_WAIT:?}, and returned as soon as \
                         the held SET was let go: it waits for something the SET holds"
                    )
                } else {
                    format!(
                        "it had not returned after {STATS_WAIT:?}, nor once the held SET was \
                         let go and had finished: it waits for something that never comes"
                    )
                },
            )
            .with_detail(
                "A dashboard that polls the stats would freeze behind every slow write, and a \
                 stuck writer would hide the very numbers that could explain it. Keep the \
                 metrics in atomics beside the RwLock and read them without locking.",
            );
            return Err(if after_release {
                failure.with_hint(
                    "stats() waits for the SET: it takes the store's lock (a read lock is \
                     enough to wait behind a writer), the counters live behind that lock, \
                     or execute holds a lock of the metrics' own while the operation runs. \
                     Keep the counters in atomics beside the RwLock, record after the lock \
                     is released, and read them with plain loads.",
                )
            } else {
                failure
            });
        }
    };
    ensure(
        matches!(answer, Ok(Response::Stored { .. })),
        format!("the held SET of `{HELD_KEY}` answers STORED once released"),
        format!("{answer:?}"),
    )?;
    ensure(
        stats.gets == 2 && stats.errors == 1 && (2..=3).contains(&stats.sets),
        "the stats read during the held SET count the four operations finished before it \
         (gets 2, errors 1, sets 2, or 3 if the held SET is counted on arrival)",
        format!(
            "gets {}, sets {}, errors {}",
            stats.gets, stats.sets, stats.errors
        ),
    )?;
    for command in [Command::set("apple", "green"), Command::get("apple")] {
        times_the_answer_outside_the_lock(subject, ctx, command)?;
    }
    watched_lock_use(subject, ctx)
}

/// What no answer shows, seen through the watched lock: each operation reads its
/// start before it holds the store's lock (the latency includes the wait, which the
/// fake clock cannot make take time), and `stats()` asks that lock for nothing, not
/// even with a try (a `try_read` that finds it free holds it through the copy, so a
/// writer that comes then waits for the dashboard). By construction, not by timing,
/// when the store's lock is parking_lot's `RwLock`: the checker builds the crate
/// against a watched parking_lot that notes each lock a watched thread asks for and
/// holds, and the store's lock is the one held inside the state machine. A store on
/// another lock (std's, say) is graded by the rest of this criterion.
fn watched_lock_use<S: Subject>(subject: S, ctx: &Ctx) -> Verdict {
    let rig = Rig::new();
    let store = subject.new_store(&rig);
    let mut store_locks = Vec::new();
    for command in [Command::set("apple", "red"), Command::get("apple")] {
        let kind = if matches!(command, Command::Get { .. }) {
            "GET"
        } else {
            "SET"
        };
        ctx.progress(format_args!(
            "a {kind}, watched: which lock does it hold inside the state machine, and \
             when does it read the clock?"
        ));
        held_at_clock_reads();
        let _ = watch::watching(|| subject.execute(&store, command));
        store_locks = held_inside();
        let reads = held_at_clock_reads();
        // The latency includes the wait for the lock (the stub says so), and the fake
        // clock cannot make that wait take time: seen by where the start is read.
        if let Some(first) = reads.first()
            && first.iter().any(|lock| store_locks.contains(lock))
        {
            return Err(Failure::new(
                format!(
                    "a {kind} reads the clock for its start before it asks for the store's \
                     lock, so that its latency includes any wait for the lock"
                ),
                "its first clock read came while it held the lock it holds inside the \
                 state machine: a wait for that lock is left out of its latency",
            )
            .with_hint(
                "Read the start time first thing in execute, before the lock is asked for. \
                 A store that waits a second for a writer and records a microsecond hides \
                 the very stall the histogram is there to show.",
            ));
        }
    }
    if store_locks.is_empty() {
        return Ok(());
    }
    ctx.progress("stats(), watched, with the store's lock free");
    let (_, requests) = watch::watching(|| subject.stats(&store));
    let Some(asked) = requests.iter().find(|r| store_locks.contains(&r.lock)) else {
        return Ok(());
    };
    let side = match asked.side {
        Side::Shared => "read",
        Side::Exclusive => "write",
        Side::Upgradable => "upgradable_read",
    };
    let call = match asked.how {
        How::Wait => format!("{side}()"),
        How::Try => format!("try_{side}()"),
        How::TryWithTimeout => format!("try_{side}_for() (or _until)"),
    };
    let outcome = if asked.granted {
        "and got it: the copy ran under the store's lock, and a writer arriving then \
         would have waited for it"
    } else {
        "and was refused"
    };
    Err(Failure::new(
        "stats() asks the store's lock for nothing (the lock a GET holds inside the \
         state machine), not even with a try",
        format!("with the lock free, stats() called {call} on it, {outcome}"),
    )
    .with_detail(
        "Taking the lock when it happens to be free makes the dashboard's view no more \
         consistent (each counter is read on its own anyway) and puts it back in the \
         writers' way. Read the atomics beside the lock, and nothing else.",
    )
    .with_hint(
        "Remove every use of the store's lock from stats(): read the counters and the \
         histograms with plain loads. A view that is a moment apart between counters \
         is what the lesson allows; the chapter says why.",
    ))
}

/// Once the state machine has answered, the lock is let go before the answer is
/// timed and recorded. By construction: `command` is stopped at its first clock
/// read after the machine, and a SET of another key is called; it gets into the
/// machine only if the lock is free. One that gets in only once `command` is let go
/// was waiting for a lock `command` still held.
fn times_the_answer_outside_the_lock<S: Subject>(
    subject: S,
    ctx: &Ctx,
    command: Command,
) -> Verdict {
    let rig = Rig::new();
    let store = Arc::new(subject.new_store(&rig));
    let _ = subject.execute(&store, Command::set("apple", "red"));
    let shown = command.to_string();
    ctx.progress(format_args!(
        "`{shown}` stops at its clock read after the state machine, and a SET is called"
    ));
    let after = rig.hold_after("apple");
    let first = {
        let store = Arc::clone(&store);
        sync::spawn("timed operation", move || subject.execute(&store, command))
    };
    if !after.entered.wait(MEET) {
        // It never read the clock after the machine: its latencies are wrong, and
        // totals-exact says so.
        after.release.open();
        return first
            .join_by(Instant::now() + FINISH)
            .map(|_| ())
            .map_err(|s| hang(s, &format!("`{shown}`")));
    }
    let inside = rig.hold("pear");
    let second = {
        let store = Arc::clone(&store);
        sync::spawn("second SET", move || {
            subject.execute(&store, Command::set("pear", "green"))
        })
    };
    let got_in = inside.entered.wait(STATS_WAIT);
    after.release.open();
    let got_in_after = got_in || inside.entered.wait(MEET);
    inside.release.open();
    // The answers are lesson 01's business; this criterion grades the lock.
    let _ = first
        .join_by(Instant::now() + FINISH)
        .map_err(|s| hang(s, &format!("`{shown}`")))?;
    let _ = second
        .join_by(Instant::now() + FINISH)
        .map_err(|s| hang(s, "the second SET"))?;
    if got_in {
        return Ok(());
    }
    Err(Failure::new(
        format!(
            "the store's lock is free once the state machine has answered `{shown}`, before \
             the answer is timed and recorded"
        ),
        if got_in_after {
            format!(
                "`{shown}` read the clock for its latency while holding the lock: a SET \
                 called then got into the state machine only once `{shown}` went on"
            )
        } else {
            format!(
                "a SET called while `{shown}` read the clock for its latency never got into \
                 the state machine"
            )
        },
    )
    .with_hint(
        "Let the guard go as soon as the state machine has answered (apply_locked drops it \
         before it returns), then read the clock and record. Recording under the lock \
         makes every writer hold it longer, and every reader and writer wait longer.",
    ))
}

/// A number of a stats view that must never go down, by a name a learner knows.
#[derive(Clone, Copy)]
enum Monotonic {
    Counter(&'static str),
    Count(Op),
    Sum(Op),
    /// The cumulative count up to a bucket's bound, as it is exported.
    Bucket(Op, usize),
}

impl std::fmt::Display for Monotonic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Monotonic::Counter(name) => write!(f, "{name}"),
            Monotonic::Count(op) => write!(f, "{} histogram count", op_name(op)),
            Monotonic::Sum(op) => write!(f, "{} histogram sum (ns)", op_name(op)),
            Monotonic::Bucket(op, index) => {
                let bound = upper_bound(index).map_or("+Inf".into(), reference::format_seconds);
                write!(f, "{} bucket le=\"{bound}\"", op_name(op))
            }
        }
    }
}

/// Every number of a stats view that must never go down. Cheap (no text is made
/// until a decrease is found), so that a watcher reads the stats as often as it can.
fn monotonic_values(stats: &Stats) -> Vec<(Monotonic, u64)> {
    let mut values = vec![
        (Monotonic::Counter("gets"), stats.gets),
        (Monotonic::Counter("sets"), stats.sets),
        (Monotonic::Counter("dels"), stats.dels),
        (Monotonic::Counter("hits"), stats.hits),
        (Monotonic::Counter("misses"), stats.misses),
        (Monotonic::Counter("errors"), stats.errors),
    ];
    for op in Op::ALL {
        let histogram = stats.latency(op);
        values.push((Monotonic::Count(op), histogram.count()));
        values.push((Monotonic::Sum(op), histogram.sum_nanos));
        // The buckets as they are exported: cumulative. A histogram kept cumulative
        // (each sample counted in its bucket and every one above) may show a sample
        // between two buckets for a moment, so its per-bucket counts can dip; the
        // exported values never may.
        let mut running = 0;
        for (index, &samples) in histogram.buckets.iter().enumerate() {
            running += samples;
            values.push((Monotonic::Bucket(op, index), running));
        }
    }
    values
}

/// The first number that went down from `before` to `after`.
fn first_decrease(before: &Stats, after: &Stats) -> Option<String> {
    monotonic_values(before)
        .into_iter()
        .zip(monotonic_values(after))
        .find(|((_, b), (_, a))| a < b)
        .map(|((name, b), (_, a))| format!("{name} went from {b} down to {a}"))
}

fn counters_monotonic<S: Subject>(subject: S, ctx: &Ctx) -> Verdict {
    // First, deterministically: reads before, during and after one GET that is held
    // inside the state machine, so an operation is surely in flight.
    let rig = Rig::new();
    let store = Arc::new(subject.new_store(&rig));
    ctx.progress("six operations on a new store");
    for command in [
        Command::set(HELD_KEY, "v"),
        Command::set("apple", "red"),
        Command::get("apple"),
        Command::get("pear"),
        Command::get(""),
        Command::del("apple"),
    ] {
        let _ = subject.execute(&store, command);
    }
    ctx.progress("reading the stats");
    let before = subject.stats(&store);
    let hold = rig.hold(HELD_KEY);
    ctx.progress(format_args!(
        "a GET of `{HELD_KEY}` stops inside the state machine"
    ));
    let reader = {
        let store = Arc::clone(&store);
        sync::spawn("held GET", move || {
            subject.execute(&store, Command::get(HELD_KEY))
        })
    };
    if !hold.entered.wait(MEET) {
        hold.release.open();
        return Err(Failure::new(
            format!("the GET of `{HELD_KEY}` reaches the state machine"),
            format!("it had not reached it after {MEET:?}"),
        ));
    }
    ctx.progress("reading the stats while the GET is in flight");
    let during = subject.stats(&store);
    hold.release.open();
    let answer = reader
        .join_by(Instant::now() + FINISH)
        .map_err(|s| hang(s, "the held GET"))?;
    ensure(
        matches!(answer, Ok(Response::Value { .. })),
        format!("the held GET of `{HELD_KEY}` finds its value once released"),
        format!("{answer:?}"),
    )?;
    ctx.progress("reading the stats after the GET finished");
    let after = subject.stats(&store);
    for ((earlier, later), when) in [
        (
            (&before, &during),
            "before a GET started and while it was in flight",
        ),
        (
            (&during, &after),
            "while a GET was in flight and after it finished",
        ),
    ] {
        if let Some(decrease) = first_decrease(earlier, later) {
            return Err(Failure::new(
                "no counter goes down from one read of the stats to the next",
                decrease,
            )
            .with_detail(format!(
                "between two reads taken {when}, by one thread, with nothing reset in between"
            )));
        }
    }

    // Then under load: one thread reads the stats over and over while three run a
    // seeded workload.
    const THREADS: usize = 3;
    const PER_THREAD: usize = 3_000;
    ctx.progress(format_args!(
        "{THREADS} threads run random operations while another reads the stats in a loop"
    ));
    let start = Arc::new(Barrier::new(THREADS));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = watch_for_dips(subject, Arc::clone(&store), Arc::clone(&done));
    let workers = run_workload(subject, &store, ctx, THREADS, PER_THREAD, &start);
    sync::join_all(workers, FINISH).map_err(|s| hang(s, "the workload"))?;
    done.store(true, Ordering::Release);
    let watched = watcher
        .join_by(Instant::now() + FINISH)
        .map_err(|s| hang(s, "reading the stats"))?;
    if let Err((decrease, reads)) = watched {
        return Err(Failure::new(
            "no counter goes down from one read of the stats to the next",
            decrease,
        )
        .with_detail(format!(
            "read {reads} of the stats by one thread while {THREADS} threads ran \
             {PER_THREAD} random operations each (seed {})",
            ctx.seed()
        )));
    }
    storms(subject, ctx, Watch::Dips)
}

const DIP_HINT: &str = "Read each atomic with a plain load, and bump each counter once, with \
    fetch_add, where the answer is known. Never bump one counter and then take it back (a GET \
    counted as a miss, then moved over to the hits), never reset a counter when it is read, \
    and never compute one as the difference of two others loaded at different moments \
    (misses = gets - hits).";

/// How many reads a watched storm of each kind must make while the storm runs.
const DIP_READS: usize = 500;
/// Two reads of the stats closer than this were made with no pause of the
/// watcher's between them (a thread that loses its core loses it for a time slice,
/// a millisecond or more).
const BACK_TO_BACK: Duration = Duration::from_micros(200);

/// What a watcher saw: how many reads it made, and how many of them the storm
/// made progress beside, on another core, since the read before.
struct Reads {
    all: usize,
    beside_the_storm: usize,
}

/// Reads the stats over and over on a thread of its own until `stop`: `Err` with
/// the first decrease seen and the number of the read that saw it, or `Ok`.
fn watch_for_dips<S: Subject>(
    subject: S,
    store: Arc<S::Store>,
    stop: Arc<AtomicBool>,
) -> sync::Worker<Result<Reads, (String, usize)>> {
    sync::spawn("stats watcher", move || {
        let operations = |stats: &Stats| stats.gets + stats.sets + stats.dels;
        let mut previous = subject.stats(&store);
        let mut previous_at = Instant::now();
        let mut reads = Reads {
            all: 1,
            beside_the_storm: 0,
        };
        loop {
            // Read `stop` first: the read after it sees every finished operation.
            let stopped = stop.load(Ordering::Acquire);
            let now = subject.stats(&store);
            let now_at = Instant::now();
            reads.all += 1;
            if let Some(decrease) = first_decrease(&previous, &now) {
                return Err((decrease, reads.all));
            }
            if operations(&now) != operations(&previous) && now_at - previous_at < BACK_TO_BACK {
                reads.beside_the_storm += 1;
            }
            (previous, previous_at) = (now, now_at);
            if stopped {
                return Ok(reads);
            }
        }
    })
}

/// Latencies on and around the bucket bounds, with the bucket each belongs in.
fn boundary_cases() -> Vec<(Duration, usize)> {
    let ns = Duration::from_nanos;
    let us = Duration::from_micros;
    vec![
        (Duration::ZERO, 0),
        (ns(1), 0),
        (ns(999), 0),
        (us(1), 0),
        (ns(1_001), 1),
        (us(2), 1),
        (ns(2_001), 2),
        (us(3), 2),
        (us(4), 2),
        (ns(4_001), 3),
        (us(100), 7),
        (us(128), 7),
        (us(1_500), 11),
        (us(1 << 20), 20),
        (us(1 << 20) + ns(1), 21),
        (Duration::from_secs(10), 21),
        // Past what 32 bits of microseconds hold (about 71 minutes), and the largest
        // latency there is: every one has its bucket, the last.
        (us(1 << 32), 21),
        (us((1 << 32) + 3), 21),
        (Duration::from_secs(1 << 40), 21),
        (Duration::MAX, 21),
    ]
}

fn bucket_name(index: usize) -> String {
    let bound = upper_bound(index).map_or("+Inf".into(), reference::format_seconds);
    format!("le=\"{bound}\" (bucket {index})")
}

fn show(latency: Option<Duration>) -> String {
    match latency {
        None => "None".into(),
        Some(Duration::MAX) => "Some(Duration::MAX), the +Inf bucket".into(),
        Some(latency) => format!("Some({latency:?})"),
    }
}

fn histogram_buckets<S: Subject>(subject: S, ctx: &Ctx) -> Verdict {
    for (latency, want) in boundary_cases() {
        ctx.progress(format_args!("recording one sample of {latency:?}"));
        let (snapshot, _) = subject.histogram(&[latency], &[]);
        let landed: Vec<usize> = (0..BUCKETS).filter(|&i| snapshot.buckets[i] > 0).collect();
        if landed != [want] || snapshot.count() != 1 {
            let seen = match landed.as_slice() {
                [] => "it is in no bucket at all".to_owned(),
                [index] if snapshot.count() == 1 => format!("it landed in {}", bucket_name(*index)),
                _ => format!("the buckets hold {:?}", snapshot.buckets),
            };
            return Err(Failure::new(
                format!("a sample of {latency:?} lands in {}", bucket_name(want)),
                seen,
            )
            .with_detail(
                "Bucket i holds the latencies above 2^(i-1) µs up to and including 2^i µs; \
                 the last bucket holds everything above 2^20 µs.",
            ));
        }
        // A sum past u64 nanoseconds (584 years) is the stub's to saturate or not.
        let Ok(nanos) = u64::try_from(latency.as_nanos()) else {
            continue;
        };
        ensure(
            snapshot.sum_nanos == nanos,
            format!("the histogram's sum is {nanos} ns after one sample of {latency:?}"),
            format!("{} ns", snapshot.sum_nanos),
        )?;
    }

    ctx.progress("recording 500 random samples");
    let mut rng = ctx.rng(7);
    let samples: Vec<Duration> = (0..500).map(|_| random_latency(&mut rng)).collect();
    let expected = reference_histogram(&samples);
    let (seen, _) = subject.histogram(&samples, &[]);
    if seen != expected {
        let index = (0..BUCKETS).find(|&i| seen.buckets[i] != expected.buckets[i]);
        let (want, got) = match index {
            Some(i) => (
                format!("{} holds {} samples", bucket_name(i), expected.buckets[i]),
                format!("it holds {}", seen.buckets[i]),
            ),
            None => (
                format!("the sum is {} ns", expected.sum_nanos),
                format!("{} ns", seen.sum_nanos),
            ),
        };
        return Err(Failure::new(want, got).with_detail(format!(
            "500 random latencies between 0 and 4 s (seed {})",
            ctx.seed()
        )));
    }

    ctx.progress("percentiles of a histogram with a known shape");
    let (empty, none) = subject.histogram(&[], &[0.5]);
    ensure(
        empty.count() == 0 && none == [None],
        "the median of an empty histogram is None",
        show(none[0]),
    )?;
    let us = Duration::from_micros;
    let shape = [
        (50, us(3)),
        (40, us(100)),
        (9, us(900)),
        (1, Duration::from_secs(5)),
    ];
    let samples: Vec<Duration> = shape
        .iter()
        .flat_map(|&(n, latency)| std::iter::repeat_n(latency, n))
        .collect();
    let cases = [
        (0.0, us(4)),
        (0.25, us(4)),
        (0.5, us(4)),
        (0.501, us(128)),
        (0.51, us(128)),
        (0.9, us(128)),
        (0.903, us(1024)),
        (0.91, us(1024)),
        (0.99, us(1024)),
        (0.995, Duration::MAX),
        (1.0, Duration::MAX),
    ];
    let quantiles: Vec<f64> = cases.iter().map(|&(q, _)| q).collect();
    let (_, percentiles) = subject.histogram(&samples, &quantiles);
    for ((q, want), seen) in cases.into_iter().zip(percentiles) {
        if seen != Some(want) {
            return Err(Failure::new(
                format!("percentile({q}) is {}", show(Some(want))),
                show(seen),
            )
            .with_detail(
                "100 samples: 50 of 3µs (bucket le=4µs), 40 of 100µs (le=128µs), 9 of 900µs \
                 (le=1024µs) and 1 of 5s (le=+Inf). The q-percentile is the bound of the \
                 first bucket whose running total reaches ceil(q * 100).",
            ));
        }
    }

    // A q finer than permille, exact in binary: 1 - 1/2048 of 2048 samples is rank
    // 2047, the last of the fast ones. Rounding q to three digits makes it 2048.
    ctx.progress("a percentile finer than a permille");
    let mut samples = vec![us(3); 2047];
    samples.push(Duration::from_secs(5));
    let q = 1.0 - 1.0 / 2048.0;
    let (_, fine) = subject.histogram(&samples, &[q]);
    ensure(
        fine == [Some(us(4))],
        format!(
            "percentile({q}) of 2047 samples of 3µs and 1 of 5s is Some(4µs): the rank \
             ceil(q * 2048) is 2047, with q used as given"
        ),
        show(fine[0]),
    )
}

fn reference_histogram(samples: &[Duration]) -> HistogramSnapshot {
    let histogram = reference::Histogram::new();
    for &sample in samples {
        histogram.record(sample);
    }
    histogram.snapshot()
}

/// The families every rendering has, with their types.
const FAMILIES: [(&str, &str); 5] = [
    ("kvlab_operations_total", "counter"),
    ("kvlab_get_hits_total", "counter"),
    ("kvlab_get_misses_total", "counter"),
    ("kvlab_errors_total", "counter"),
    ("kvlab_operation_duration_seconds", "histogram"),
];

/// Validates `text` and checks that it says what `stats` says.
fn check_rendering(text: &str, stats: &Stats, when: &str) -> Verdict {
    let excerpt = |line: usize| {
        let lines: Vec<&str> = text.lines().collect();
        let from = line.saturating_sub(3).max(1);
        let to = (line + 2).min(lines.len());
        (from..=to)
            .map(|n| {
                format!(
                    "{}{n:>3}  {}",
                    if n == line { ">" } else { " " },
                    lines[n - 1]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let parsed = exposition::validate(text).map_err(|malformed| {
        let failure = Failure::new(
            format!("valid exposition format {when}"),
            malformed.to_string(),
        );
        match malformed.line {
            0 => failure,
            line => failure.with_detail(excerpt(line)),
        }
    })?;
    for (family, kind) in FAMILIES {
        let seen = parsed.family_type(family);
        ensure(
            seen == Some(kind),
            format!("a `{family}` family of type {kind} {when}"),
            match seen {
                Some(other) => format!("its type is {other}"),
                None => "there is no such family".into(),
            },
        )?;
    }
    // (metric name, labels, the value stats() gives)
    type Expected<'a> = (String, Vec<(&'a str, &'a str)>, u64);
    let mut expected: Vec<Expected> = vec![
        ("kvlab_get_hits_total".into(), vec![], stats.hits),
        ("kvlab_get_misses_total".into(), vec![], stats.misses),
        ("kvlab_errors_total".into(), vec![], stats.errors),
    ];
    for op in Op::ALL {
        let label = vec![("op", op.label())];
        expected.push((
            "kvlab_operations_total".into(),
            label.clone(),
            stats.operations(op),
        ));
        let count = stats.latency(op).count();
        expected.push((
            "kvlab_operation_duration_seconds_count".into(),
            label,
            count,
        ));
    }
    for (name, labels, want) in expected {
        let series = format!(
            "{name}{{{}}}",
            labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let seen = parsed.value(&name, &labels);
        ensure(
            seen == Some(want as f64),
            format!("{series} is {want}, as stats() says, {when}"),
            seen.map_or("there is no such sample".into(), |v| format!("it is {v}")),
        )?;
    }
    for op in Op::ALL {
        let (label, histogram) = (op.label(), stats.latency(op));
        let buckets: Vec<&exposition::Sample> = parsed
            .samples
            .iter()
            .filter(|s| {
                s.name == "kvlab_operation_duration_seconds_bucket"
                    && s.labels.iter().any(|(k, v)| k == "op" && v == label)
            })
            .collect();
        ensure(
            buckets.len() == BUCKETS,
            format!(
                "{BUCKETS} buckets for op=\"{label}\", one per bucket of the histogram, {when}"
            ),
            format!("there are {}", buckets.len()),
        )?;
        let mut cumulative = 0;
        for (index, (bucket, samples)) in buckets.iter().zip(histogram.buckets).enumerate() {
            cumulative += samples;
            ensure(
                bucket.value == cumulative as f64,
                format!(
                    "the op=\"{label}\" bucket {} is {cumulative}, the samples at or below its \
                     bound, as stats() says, {when}",
                    bucket_name(index)
                ),
                format!("it is {}", bucket.text),
            )
            .map_err(|failure| {
                failure.with_hint(
                    "Each bucket line counts the samples of its own bucket and of every \
                     bucket below it: a running total over the histogram's buckets, in order.",
                )
            })?;
        }
        // The sum as written, not as a float: a float of seconds cannot hold every
        // nanosecond of a large sum.
        let series = format!("kvlab_operation_duration_seconds_sum{{op=\"{label}\"}}");
        let seen = parsed
            .sample("kvlab_operation_duration_seconds_sum", &[("op", label)])
            .map(|sample| sample.text.as_str());
        ensure(
            seen.and_then(exact_nanos) == Some(histogram.sum_nanos),
            format!(
                "{series} is {} (seconds, to the nanosecond), as stats() says, {when}",
                reference::format_seconds(histogram.sum())
            ),
            seen.map_or("there is no such sample".into(), |text| {
                format!("it is {text}")
            }),
        )
        .map_err(|failure| failure.with_hint(SUM_HINT))?;
    }
    Ok(())
}

const SUM_HINT: &str = "Write the sum with format_seconds(histogram.sum()), from whole \
                        nanoseconds: a float of seconds (as_secs_f64) keeps about 16 \
                        significant digits, so it loses nanoseconds once a sum is large.";

/// A decimal number of seconds as whole nanoseconds, if it is one exactly: digits,
/// then at most nine significant digits after the point (`2.5`, `0.000004`,
/// `1.500000000`, `.5`). `None` for anything else (`4e-6`, `0.0000000001`).
fn exact_nanos(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let (nanos, rest) = fraction.split_at(fraction.len().min(9));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let nanos: u64 = format!("{nanos:0<9}").parse().ok()?;
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    whole.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// The stats of a store that has served a trillion operations over months, read
/// while other threads were recording: each number is one its atomic held, so the
/// counts are a few apart (two GETs counted but not yet timed, a hit and a miss
/// not yet counted), and the GET latencies add up to about ten months, more
/// nanoseconds than a float of seconds holds exactly.
fn a_long_busy_life() -> Stats {
    let histogram = |buckets: &[(usize, u64)], sum_nanos: u64| {
        let mut snapshot = HistogramSnapshot {
            buckets: [0; BUCKETS],
            sum_nanos,
        };
        for &(index, samples) in buckets {
            snapshot.buckets[index] = samples;
        }
        snapshot
    };
    Stats {
        gets: 1_099_511_627_776,
        sets: 274_877_906_946,
        dels: 68_719_476_736,
        hits: 824_633_720_831,
        misses: 274_877_906_944,
        errors: 17,
        latency: [
            histogram(
                &[(3, 12_884_901_888), (5, 1_086_626_724_886), (21, 1_000)],
                26_297_460_123_456_789,
            ),
            histogram(
                &[(4, 137_438_953_472), (6, 137_438_953_472), (12, 1)],
                6_871_947_673_600_001,
            ),
            histogram(&[(2, 68_719_476_736)], 206_158_430_208),
        ],
    }
}

fn exposition_valid<S: Subject>(subject: S, ctx: &Ctx) -> Verdict {
    let rig = Rig::new();
    let store = subject.new_store(&rig);
    ctx.progress("rendering a store that has seen no operation yet");
    let text = subject.render(&store);
    check_rendering(&text, &subject.stats(&store), "for a new store (all zeros)")?;

    let mut rng = ctx.rng(30);
    ctx.progress("400 random operations on one thread");
    for _ in 0..400 {
        set_latency(random_latency(&mut rng));
        let _ = subject.execute(&store, random_command(&mut rng));
    }
    // Whatever the random ones did, every kind of operation gets a stall past the
    // last finite bound (so its +Inf bucket differs from the finite ones) and a
    // rejection (so its samples include one that never reached the state machine).
    for command in [
        Command::set("stall", "v"),
        Command::get("stall"),
        Command::del("stall"),
    ] {
        set_latency(Duration::from_secs(2));
        let _ = subject.execute(&store, command);
    }
    set_latency(Duration::ZERO);
    for command in [Command::get(""), Command::set("", "v"), Command::del("")] {
        let _ = subject.execute(&store, command);
    }
    ctx.progress("rendering after the random operations");
    let text = subject.render(&store);
    let when = format!(
        "after 400 random operations, then a stall and a rejection of each kind (seed {})",
        ctx.seed()
    );
    check_rendering(&text, &subject.stats(&store), &when)?;

    ctx.progress("rendering stats handed to Stats::render_prometheus as they are");
    let stats = a_long_busy_life();
    check_rendering(
        &subject.render_stats(&stats),
        &stats,
        "for the stats of a store that has served a trillion operations, read while \
         others were recording (so the operation counts and the histograms' counts are a \
         few apart), with GET latencies adding up to ten months",
    )
}

/// The rendering's expected output, maintained with insta (see the tests below).
const EXPOSITION_SNAP: &str = include_str!("../snapshots/exposition.snap");

/// A scripted session, each command with the time it spends in the state machine on
/// the fake clock: hits, misses, writes, a DEL of nothing, each kind of rejection,
/// samples on a bucket bound and just past it, and one stall past the last bound.
pub fn script() -> Vec<(Command, Duration)> {
    use Command as C;
    let ns = Duration::from_nanos;
    let us = Duration::from_micros;
    vec![
        (C::get("apple"), ns(800)),
        (C::set("apple", "red"), us(3)),
        (C::get("apple"), us(1)),
        (C::get("apple"), ns(1_001)),
        (C::set("pear", "yellow"), us(12)),
        (C::get("pear"), ns(450)),
        (C::del("pear"), us(40)),
        (C::del("pear"), us(2)),
        (C::get("pear"), ns(600)),
        // Rejected: they never reach the state machine, so they take no fake time.
        (C::get(""), Duration::ZERO),
        (
            C::set(&"k".repeat(reference::MAX_KEY_LEN + 1), "v"),
            Duration::ZERO,
        ),
        (
            C::set("plum", &"p".repeat(reference::MAX_VALUE_LEN + 1)),
            Duration::ZERO,
        ),
        (C::set("plum", "purple"), us(250)),
        (C::get("plum"), Duration::from_millis(3)),
        (C::set("apple", "green"), us(7)),
        (C::get("apple"), us(2)),
        (C::del("plum"), Duration::from_millis(2_500)),
        (C::get("plum"), us(16)),
    ]
}

/// Runs [`script`] on a new store and renders its stats.
pub fn render_script<S: Subject>(subject: S, ctx: Option<&Ctx>) -> String {
    let rig = Rig::new();
    let store = subject.new_store(&rig);
    for (step, (command, latency)) in script().into_iter().enumerate() {
        if let Some(ctx) = ctx {
            ctx.progress(format_args!("scripted step {}: {command}", step + 1));
        }
        set_latency(latency);
        let _ = subject.execute(&store, command);
    }
    set_latency(Duration::ZERO);
    if let Some(ctx) = ctx {
        ctx.progress("rendering the stats of the scripted workload");
    }
    subject.render(&store)
}

fn exposition_snapshot<S: Subject>(subject: S, ctx: &Ctx) -> Verdict {
    snapshot::compare(
        "exposition",
        EXPOSITION_SNAP,
        &render_script(subject, Some(ctx)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reference;

    /// The maintainers' side of the exposition snapshot: review changes with
    /// `cargo insta review`. The probe compares against the same file.
    #[test]
    fn reference_exposition() {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("exposition", render_script(Reference, None));
        });
    }

    #[test]
    fn the_snapshot_is_valid_and_covers_every_case() {
        let text = render_script(Reference, None);
        let parsed = exposition::validate(&text).unwrap();
        let value = |name: &str, labels: &[(&str, &str)]| parsed.value(name, labels).unwrap();
        assert_eq!(value("kvlab_errors_total", &[]), 3.0);
        assert!(value("kvlab_get_hits_total", &[]) > 0.0);
        assert!(value("kvlab_get_misses_total", &[]) > 0.0);
        let inf = [("op", "del"), ("le", "+Inf")];
        let last_finite = [("op", "del"), ("le", "1.048576")];
        assert!(
            value("kvlab_operation_duration_seconds_bucket", &inf)
                > value("kvlab_operation_duration_seconds_bucket", &last_finite)
        );
    }

    #[test]
    fn sums_are_read_exactly_to_the_nanosecond() {
        assert_eq!(exact_nanos("0"), Some(0));
        assert_eq!(exact_nanos("2.5"), Some(2_500_000_000));
        assert_eq!(exact_nanos("0.000004"), Some(4_000));
        assert_eq!(exact_nanos("1.500000000000"), Some(1_500_000_000));
        assert_eq!(
            exact_nanos("26297460.123456789"),
            Some(26_297_460_123_456_789)
        );
        assert_eq!(exact_nanos(".5"), Some(500_000_000));
        for inexact in ["4e-6", "0.0000000001", "-1", ".", "+Inf", ""] {
            assert_eq!(exact_nanos(inexact), None, "{inexact}");
        }
        // The long busy life's GET sum is one a float of seconds cannot write.
        let get_sum = a_long_busy_life().latency(Op::Get).sum();
        assert_ne!(
            exact_nanos(&get_sum.as_secs_f64().to_string()),
            Some(get_sum.as_nanos() as u64)
        );
    }

    #[test]
    fn the_boundary_cases_agree_with_the_reference() {
        for (latency, index) in boundary_cases() {
            assert_eq!(reference::bucket_index(latency), index, "{latency:?}");
        }
    }
}
