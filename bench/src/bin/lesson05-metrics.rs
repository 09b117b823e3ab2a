//! What the metrics of lesson 05 cost: store throughput with and without them. Writes
//! the table the book's lesson 05 chapter includes
//! (`book/src/generated/lesson05-metrics.md`):
//!
//!     cargo run --release -p kvlab-bench --bin lesson05-metrics
//!
//! Every variant is the same store (lesson 01's state machine behind a
//! `parking_lot::RwLock`, commands validated first) doing the same work: 80% GET and
//! 20% SET over 1024 keys, commands generated before the clock starts. Only what
//! happens around each operation differs:
//!
//! - `no metrics`: nothing;
//! - `counters only`: lesson 05's atomic counters, no clock, no histogram;
//! - `clock reads only`: the two reads of the clock that timing takes, nothing kept;
//! - `full metrics`: lesson 05's `Store::execute`: two clock reads, the counters and
//!   the latency histogram;
//! - `metrics in a mutex`: the same numbers kept in a `parking_lot::Mutex` instead of
//!   atomics, for comparison.
//!
//! Each cell is the median of 21 runs of 200,000 operations per thread; the variants
//! take turns, so that a noisy moment on a shared machine does not favour one of them.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use kvlab_bench::load_average;
use parking_lot::{Mutex, RwLock};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use solution05_observability::{
    BUCKETS, Command, Counters, Op, Rejected, Response, Store, bucket_index, validate,
};

const OPS_PER_THREAD: usize = 200_000;
const KEYS: usize = 1024;
const RUNS: usize = 21;

/// One way of running a command, shared by all threads of a run.
trait Variant: Send + Sync + 'static {
    fn execute(&self, command: Command) -> Result<Response, Rejected>;
}

/// The store with no metrics at all.
#[derive(Default)]
struct Bare {
    state: RwLock<state::Store>,
}

impl Bare {
    fn apply(&self, command: Command) -> Result<Response, Rejected> {
        validate(&command)?;
        Ok(match command {
            Command::Get { key } => self.state.read().get(&key),
            write => self.state.write().apply(write),
        })
    }
}

impl Variant for Bare {
    fn execute(&self, command: Command) -> Result<Response, Rejected> {
        self.apply(command)
    }
}

/// The bare store plus lesson 05's counters: the cost of the atomics alone.
#[derive(Default)]
struct CountersOnly {
    store: Bare,
    counters: Counters,
}

impl Variant for CountersOnly {
    fn execute(&self, command: Command) -> Result<Response, Rejected> {
        let op = Op::of(&command);
        let result = self.store.apply(command);
        self.counters.count(op, &result);
        result
    }
}

impl Variant for Store {
    fn execute(&self, command: Command) -> Result<Response, Rejected> {
        Store::execute(self, command)
    }
}

/// The bare store plus the two clock reads that timing needs, and nothing recorded.
#[derive(Default)]
struct ClockOnly {
    store: Bare,
}

impl Variant for ClockOnly {
    fn execute(&self, command: Command) -> Result<Response, Rejected> {
        let start = Instant::now();
        let result = self.store.apply(command);
        std::hint::black_box(start.elapsed());
        result
    }
}

/// The same numbers, kept under a mutex: every operation takes one more lock.
#[derive(Default)]
struct MutexMetrics {
    store: Bare,
    numbers: Mutex<([u64; 6], [[u64; BUCKETS]; 3])>,
}

impl Variant for MutexMetrics {
    fn execute(&self, command: Command) -> Result<Response, Rejected> {
        let op = Op::of(&command);
        let start = Instant::now();
        let result = self.store.apply(command);
        let latency = start.elapsed();
        let mut numbers = self.numbers.lock();
        numbers.0[op.index()] += 1;
        match &result {
            Err(_) => numbers.0[5] += 1,
            Ok(Response::Value { .. }) => numbers.0[3] += 1,
            Ok(_) if op == Op::Get => numbers.0[4] += 1,
            Ok(_) => {}
        }
        numbers.1[op.index()][bucket_index(latency)] += 1;
        result
    }
}

fn commands(seed: u64) -> Vec<Command> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..OPS_PER_THREAD)
        .map(|_| {
            let key = format!("key{}", rng.random_range(0..KEYS));
            if rng.random_range(0..100) < 80 {
                Command::get(&key)
            } else {
                Command::set(&key, "value")
            }
        })
        .collect()
}

/// One run: `threads` threads each run their own commands on one fresh store.
fn run<V: Variant>(make: &dyn Fn() -> V, threads: usize, seed: u64) -> Duration {
    let store = Arc::new(make());
    for i in 0..KEYS {
        let _ = store.execute(Command::set(&format!("key{i}"), "value"));
    }
    let batches: Vec<Vec<Command>> = (0..threads).map(|t| commands(seed + t as u64)).collect();
    let start = Arc::new(std::sync::Barrier::new(threads + 1));
    let workers: Vec<_> = batches
        .into_iter()
        .map(|batch| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for command in batch {
                    std::hint::black_box(store.execute(command)).ok();
                }
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
    began.elapsed()
}

/// Operations per second of one run.
fn measure<V: Variant>(make: fn() -> V, threads: usize, seed: u64) -> f64 {
    (threads * OPS_PER_THREAD) as f64 / run(&make, threads, seed).as_secs_f64()
}

fn main() {
    let mut report = kvlab_bench::Report::new(
        "lesson05-metrics",
        "cargo run --release -p kvlab-bench --bin lesson05-metrics",
    );
    report.line(format!(
        "80% GET / 20% SET over {KEYS} keys, {OPS_PER_THREAD} operations per thread; each \
         cell the median of {RUNS} runs, the variants taking turns. Percentages are against \
         \"no metrics\" in the same column; the time per operation is one thread's, \
         the inverse of its throughput.\n"
    ));
    // Each variant measures ops/s for (threads, seed).
    type Measure = fn(usize, u64) -> f64;
    let variants: [(&str, Measure); 5] = [
        ("no metrics", |t, seed| measure(Bare::default, t, seed)),
        ("counters only", |t, seed| {
            measure(CountersOnly::default, t, seed)
        }),
        ("clock reads only", |t, seed| {
            measure(ClockOnly::default, t, seed)
        }),
        ("full metrics", |t, seed| measure(Store::new, t, seed)),
        ("metrics in a mutex", |t, seed| {
            measure(MutexMetrics::default, t, seed)
        }),
    ];
    let thread_counts = [1, 2, 4];
    // rates[variant][thread count]: one sample per run. The variants take turns within
    // each round, so a noisy moment on a shared machine hits them all alike.
    let mut rates = vec![vec![Vec::new(); thread_counts.len()]; variants.len()];
    for round in 0..RUNS {
        for (column, &threads) in thread_counts.iter().enumerate() {
            for (row, (_, measure)) in variants.iter().enumerate() {
                let seed = (round * 100 + column * 10) as u64;
                rates[row][column].push(measure(threads, seed));
            }
        }
    }
    let median = |samples: &[f64]| {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let headers: Vec<String> = thread_counts
        .iter()
        .map(|t| format!("{t} thread{}", if *t > 1 { "s" } else { "" }))
        .collect();
    report.line(format!(
        "| variant | {} | time per operation, 1 thread |",
        headers.join(" | ")
    ));
    report.line(format!("|---|{}---:|", "---|".repeat(thread_counts.len())));
    let baseline: Vec<f64> = rates[0].iter().map(|samples| median(samples)).collect();
    for (row, (name, _)) in variants.iter().enumerate() {
        let mut cells = Vec::new();
        for (samples, base) in rates[row].iter().zip(&baseline) {
            let (ops, base) = (median(samples), *base);
            cells.push(if row == 0 {
                format!("{:.2} M op/s", ops / 1e6)
            } else {
                format!(
                    "{:.2} M op/s ({:+.0}%)",
                    ops / 1e6,
                    100.0 * (ops - base) / base
                )
            });
        }
        let per_op = 1e9 / median(&rates[row][0]);
        report.line(format!(
            "| {name} | {} | {per_op:.0} ns |",
            cells.join(" | ")
        ));
    }
    report.line(format!("\nLoad average at the end: {}.", load_average()));
    report.write();
}
