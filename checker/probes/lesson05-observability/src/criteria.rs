//! The criteria of lesson 05. Each takes the subject and the run's context and either
//! passes or says what it expected and what it saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use probe_kit::sync::{self, Barrier, Stuck};
use probe_kit::{Criterion, Ctx, Failure, Info, Verdict, ensure, snapshot};
use rand::{Rng, RngExt};
use reference::{BUCKETS, HistogramSnapshot, Op, Rejected, Stats, upper_bound};
use state::{Command, Response};

use crate::exposition;
use crate::{Rig, Subject, set_latency};


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
};

pub const STATS_WHILE_WRITING: Info = Info {
    id: "stats-while-writing",
    title: "the stats can be read while a SET holds the store's write lock",
    hint: "stats() must not take the store's lock, not even a read lock for a 'consistent' \
           view, and the counters must not live inside the RwLock. Keep them in atomics \
           beside it, and read those.",
    book: "lesson05-observability.html#step-5-read-the-stats-without-the-lock",
    deadline_secs: 30,
};

pub const COUNTERS_MONOTONIC: Info = Info {
    id: "counters-monotonic",
    title: "no counter goes down between two reads, even with operations in flight",
    hint: "Read each atomic with a plain load. Never reset a counter when it is read, and \
           never compute one as the difference of two others loaded at different moments \
           (misses = gets - hits): count it in an atomic of its own.",
    book: "lesson05-observability.html#why-relaxed-is-enough",
    deadline_secs: 30,
};

pub const HISTOGRAM_BUCKETS: Info = Info {
    id: "histogram-buckets",
    title: "each latency lands in its log-scale bucket, and percentiles are bucket bounds",
    hint: "A bound belongs to its bucket: 1 µs goes in le=\"0.000001\", 1.001 µs in the \
           next one. The q-percentile is the bound of the first bucket whose running total \
           reaches ceil(q * count).",
    book: "lesson05-observability.html#step-2-choose-the-bucket",
    deadline_secs: 20,
};

pub const EXPOSITION_VALID: Info = Info {
    id: "exposition-valid",
    title: "the text rendering is valid Prometheus exposition format and agrees with the stats",
    hint: "The evidence names the line. Each family needs # HELP and # TYPE before its \
           samples; label values go in double quotes; buckets are cumulative, the last is \
           le=\"+Inf\" and it equals _count.",
    book: "lesson05-observability.html#the-exposition-format",
    deadline_secs: 20,
};

pub const EXPOSITION_SNAPSHOT: Info = Info {
    id: "exposition-snapshot",
    title: "the rendering of a scripted workload matches the expected text",
    hint: "Compare with the expected lines in the diff: metric and label names, label order \
           (op, then le), seconds written with format_seconds, and latencies measured with \
           the store's clock (self.clock), never with Instant::now().",
    book: "lesson05-observability.html#step-7-render-for-prometheus",
    deadline_secs: 20,
};

/// The lesson's criteria, in the order they run and are reported.
pub fn all<S: Subject>() -> Vec<Criterion<S>> {
    vec![
        Criterion::new(&TOTALS_EXACT, |subject, ctx| totals_exact(*subject, ctx)),
        Criterion::new(&STATS_WHILE_WRITING, |subject, ctx| stats_while_writing(*subject, ctx)),
        Criterion::new(&COUNTERS_MONOTONIC, |subject, ctx| counters_monotonic(*subject, ctx)),
        Criterion::new(&HISTOGRAM_BUCKETS, |subject, ctx| histogram_buckets(*subject, ctx)),
        Criterion::new(&EXPOSITION_VALID, |subject, ctx| exposition_valid(*subject, ctx)),
        Criterion::new(&EXPOSITION_SNAPSHOT, |subject, ctx| exposition_snapshot(*subject, ctx)),
    ]
}

/// How long threads may take to meet at a barrier, to enter a held operation, or to
/// finish: hang detectors, far above what a passing run needs.
const MEET: Duration = Duration::from_secs(10);
const FINISH: Duration = Duration::from_secs(15);
/// How long `stats()` may take while a writer holds the store's lock.
const STATS_WAIT: Duration = Duration::from_secs(3);
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
        50..80 => Command::set(key, &format!("v{}", rng.random_range(0..1000))),
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

/// What a thread issued, counted from the answers it got.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    operations: [u64; 3],
    hits: u64,
    misses: u64,
    errors: u64,
}

impl Tally {
    fn add(&mut self, op: Op, result: &Result<Response, Rejected>) {
        self.operations[op.index()] += 1;
        match (op, result) {
            (_, Err(_)) => self.errors += 1,
            (Op::Get, Ok(Response::Value { .. })) => self.hits += 1,
            (Op::Get, Ok(_)) => self.misses += 1,
            _ => {}
        }
    }

    fn merge(mut self, other: Tally) -> Tally {
        for op in Op::ALL {
            self.operations[op.index()] += other.operations[op.index()];
        }
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
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
                let mut tally = Tally::default();
                for _ in 0..per_thread {
                    let command = random_command(&mut rng);
                    set_latency(random_latency(&mut rng));
                    let op = Op::of(&command);
                    let result = subject.execute(&store, command);
                    tally.add(op, &result);
                }
                tally
            })
        })
        .collect()
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Get => "GET",
        Op::Set => "SET",
        Op::Del => "DEL",
    }
}

fn totals_exact<S: Subject>(subject: S, ctx: &Ctx) -> Verdict {
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
    let stats = subject.stats(&store);
    let workload = || {
        format!(
            "{THREADS} threads, {PER_THREAD} random operations each, all started together (seed {})",
            ctx.seed()
        )
    };
    let counters = [
        ("GET count (gets)", issued.operations[0], stats.gets),
        ("SET count (sets)", issued.operations[1], stats.sets),
        ("DEL count (dels)", issued.operations[2], stats.dels),
        ("hits", issued.hits, stats.hits),
        ("misses", issued.misses, stats.misses),
        ("errors", issued.errors, stats.errors),
    ];
    for (name, want, seen) in counters {
        if want != seen {
            let gap = if seen < want {
                format!("{} lost", want - seen)
            } else {
                format!("{} too many", seen - want)
            };
            return Err(Failure::new(
                format!("{name} = {want}, as the threads' answers add up"),
                format!("{name} = {seen} ({gap})"),
            )
            .with_detail(workload()));
        }
    }
    for op in Op::ALL {
        let (want, histogram) = (issued.operations[op.index()], stats.latency(op));
        let seen = histogram.count();
        if seen != want {
            let slowest = histogram.buckets[BUCKETS - 1];
            return Err(Failure::new(
                format!(
                    "the {} latency histogram holds {want} samples, one per {} issued",
                    op_name(op),
                    op_name(op)
                ),
                format!(
                    "its buckets add up to {seen} ({slowest} in the le=\"+Inf\" bucket, \
                     although about 1 in 100 operations took over a second)"
                ),
            )
            .with_detail(workload()));
        }
    }
    read_storm(subject, &store, ctx)
}

/// Many threads read one key at once: every GET counts in `gets`, `hits` and the GET
/// histogram at the same moment on every core, where a split increment (a load, then
/// a store) loses counts most often.
fn read_storm<S: Subject>(subject: S, store: &Arc<S::Store>, ctx: &Ctx) -> Verdict {
    const THREADS: usize = 4;
    const PER_THREAD: u64 = 20_000;
    let _ = subject.execute(store, Command::set("storm", "v"));
    let before = subject.stats(store);
    ctx.progress(format_args!(
        "{THREADS} threads read one key {PER_THREAD} times each, all at once"
    ));
    set_latency(Duration::ZERO);
    let start = Arc::new(Barrier::new(THREADS));
    let readers = (0..THREADS)
        .map(|t| {
            let (store, start) = (Arc::clone(store), Arc::clone(&start));
            sync::spawn(format!("reader {t}"), move || {
                start.wait(MEET);
                for _ in 0..PER_THREAD {
                    let _ = subject.execute(&store, Command::get("storm"));
                }
            })
        })
        .collect();
    sync::join_all(readers, FINISH).map_err(|s| hang(s, "the reads"))?;
    let after = subject.stats(store);
    let want = THREADS as u64 * PER_THREAD;
    let (get_latency_before, get_latency_after) = (before.latency(Op::Get), after.latency(Op::Get));
    let grown = [
        ("gets", after.gets.saturating_sub(before.gets)),
        ("hits", after.hits.saturating_sub(before.hits)),
        (
            "the GET histogram's count",
            get_latency_after
                .count()
                .saturating_sub(get_latency_before.count()),
        ),
    ];
    for (name, seen) in grown {
        ensure(
            seen == want,
            format!("{name} grows by {want}, one per GET"),
            format!("it grew by {seen} ({} lost)", want.saturating_sub(seen)),
        )
        .map_err(|f| {
            f.with_detail(format!(
                "{THREADS} threads each read one live key {PER_THREAD} times, all started \
                 together, after the random workload (seed {})",
                ctx.seed()
            ))
        })?;
    }
    Ok(())
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
    let reader = {
        let store = Arc::clone(&store);
        sync::spawn("stats reader", move || subject.stats(&store))
    };
    let read = reader.join_by(Instant::now() + STATS_WAIT);
    hold.release.open();
    ctx.progress("waiting for the held SET to finish after its release");
    let answer = writer
        .join_by(Instant::now() + FINISH)
        .map_err(|s| hang(s, "the held SET"))?;
    ensure(
        matches!(answer, Ok(Response::Stored { .. })),
        format!("the held SET of `{HELD_KEY}` answers STORED once released"),
        format!("{answer:?}"),
    )?;
    let stats = read.map_err(|_| {
        Failure::new(
            "stats() returns while a writer holds the store's lock",
            format!("it was still waiting after {STATS_WAIT:?}: it waits for the store's lock"),
        )
        .with_detail(
            "A dashboard that polls the stats would freeze behind every slow write, and a \
             stuck writer would hide the very numbers that could explain it. Keep the \
             metrics in atomics beside the RwLock and read them without locking.",
        )
    })?;
    ensure(
        stats.gets == 2 && stats.errors == 1 && (2..=3).contains(&stats.sets),
        "the stats read during the held SET count the four operations finished before it \
         (gets 2, errors 1, sets 2, or 3 if the held SET is counted on arrival)",
        format!(
            "gets {}, sets {}, errors {}",
            stats.gets, stats.sets, stats.errors
        ),
    )
}

/// Every number of a stats view that must never go down, with a name a learner knows.
fn monotonic_values(stats: &Stats) -> Vec<(String, u64)> {
    let mut values = vec![
        ("gets".to_owned(), stats.gets),
        ("sets".to_owned(), stats.sets),
        ("dels".to_owned(), stats.dels),
        ("hits".to_owned(), stats.hits),
        ("misses".to_owned(), stats.misses),
        ("errors".to_owned(), stats.errors),
    ];
    for op in Op::ALL {
        let histogram = stats.latency(op);
        let name = op_name(op);
        values.push((format!("{name} histogram count"), histogram.count()));
        values.push((format!("{name} histogram sum (ns)"), histogram.sum_nanos));
        for (index, &samples) in histogram.buckets.iter().enumerate() {
            let bound = upper_bound(index).map_or("+Inf".into(), reference::format_seconds);
            values.push((format!("{name} bucket le=\"{bound}\""), samples));
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
    let start = Arc::new(Barrier::new(THREADS + 1));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (store, start, done) = (Arc::clone(&store), Arc::clone(&start), Arc::clone(&done));
        sync::spawn("stats watcher", move || {
            start.wait(MEET);
            let mut previous = subject.stats(&store);
            let mut reads = 1;
            loop {
                // Read `done` first: the read after it sees every finished operation.
                let finished = done.load(Ordering::Acquire);
                let now = subject.stats(&store);
                reads += 1;
                if let Some(decrease) = first_decrease(&previous, &now) {
                    return Err((decrease, reads));
                }
                previous = now;
                if finished {
                    return Ok(reads);
                }
            }
        })
    };
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
    Ok(())
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
        let nanos = latency.as_nanos() as u64;
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
        (0.51, us(128)),
        (0.9, us(128)),
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
    Ok(())
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
    Ok(())
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
    set_latency(Duration::ZERO);
    ctx.progress("rendering after the random operations");
    let text = subject.render(&store);
    let when = format!("after 400 random operations (seed {})", ctx.seed());
    check_rendering(&text, &subject.stats(&store), &when)
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
    fn the_boundary_cases_agree_with_the_reference() {
        for (latency, index) in boundary_cases() {
            assert_eq!(reference::bucket_index(latency), index, "{latency:?}");
        }
    }
}
