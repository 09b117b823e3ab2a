//! Watch the metrics move: four threads work on one store while the main thread
//! prints, every half second, what happened since the last look (rates, hit rate,
//! errors, latency percentiles), then the Prometheus text once the threads stop.
//!
//!     just live [seconds]     (or, in this folder: cargo run --example live [seconds])
//!
//! It runs for 3 seconds unless told otherwise, and ends by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lesson05_observability::{Command, HistogramSnapshot, Op, Stats, Store};
use rand::{RngExt, SeedableRng, rngs::StdRng};

const THREADS: u64 = 4;
const KEYS: u64 = 1_000;
const REFRESH: Duration = Duration::from_millis(500);

fn main() {
    let seconds = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let run_for = Duration::from_secs_f64(seconds);
    let store = Arc::new(Store::new());
    // A stop flag publishes no data, only "stop": Relaxed is enough, the workers
    // see it soon enough, and join() below orders everything they did before ours.
    let stop = Arc::new(AtomicBool::new(false));

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
            thread::spawn(move || work(&store, &stop, t))
        })
        .collect();

    println!(
        "{THREADS} threads on one store for {seconds} s; stats every {} ms.\n",
        REFRESH.as_millis()
    );
    println!(
        "{:>6}  {:>9} {:>9} {:>9}  {:>6}  {:>7}  {:>22}  {:>22}",
        "time", "GET", "SET", "DEL", "hit %", "errors", "GET p50 / p99", "SET p50 / p99"
    );
    let started = Instant::now();
    let mut previous = store.stats();
    while started.elapsed() < run_for {
        thread::sleep(REFRESH);
        // Read while the workers run: no lock is taken, nobody waits for us.
        let now = store.stats();
        print_row(started.elapsed(), &previous, &now);
        previous = now;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("a worker panicked");
    }

    println!("\nThe same numbers as a Prometheus scrape would read them:\n");
    print!("{}", store.render_prometheus());
}

/// A random mix on a thousand keys: 70% GET, 20% SET, 9% DEL, 1% rejected.
fn work(store: &Store, stop: &AtomicBool, thread: u64) {
    let mut rng = StdRng::seed_from_u64(thread);
    while !stop.load(Ordering::Relaxed) {
        let key = format!("key{}", rng.random_range(0..KEYS));
        let command = match rng.random_range(0..100) {
            0 => Command::get(""),
            1..71 => Command::get(&key),
            71..91 => Command::set(&key, "value"),
            _ => Command::del(&key),
        };
        let _ = store.execute(command);
    }
}

/// One line: what happened between two reads of the stats. Counters and buckets only
/// ever grow, so the difference of two reads is exactly the work done in between:
/// the same subtraction a monitoring system does to turn totals into rates.
fn print_row(at: Duration, before: &Stats, now: &Stats) {
    let rate = |op: Op| {
        let done = now.operations(op) - before.operations(op);
        format!("{:>7}/s", (done as f64 / REFRESH.as_secs_f64()) as u64)
    };
    let (hits, misses) = (now.hits - before.hits, now.misses - before.misses);
    let hit_rate = 100.0 * hits as f64 / (hits + misses).max(1) as f64;
    let percentiles = |op: Op| {
        let recent = since(now.latency(op), before.latency(op));
        format!(
            "{} / {}",
            show(recent.percentile(0.5)),
            show(recent.percentile(0.99))
        )
    };
    println!(
        "{:>5.1}s  {} {} {}  {:>5.1}%  {:>7}  {:>22}  {:>22}",
        at.as_secs_f64(),
        rate(Op::Get),
        rate(Op::Set),
        rate(Op::Del),
        hit_rate,
        now.errors - before.errors,
        percentiles(Op::Get),
        percentiles(Op::Set),
    );
}

/// The samples recorded between two snapshots of one histogram.
fn since(now: &HistogramSnapshot, before: &HistogramSnapshot) -> HistogramSnapshot {
    HistogramSnapshot {
        buckets: std::array::from_fn(|i| now.buckets[i] - before.buckets[i]),
        sum_nanos: now.sum_nanos - before.sum_nanos,
    }
}

/// A percentile as "≤ bound", the most a bucketed histogram can say.
fn show(bound: Option<Duration>) -> String {
    match bound {
        None => "-".into(),
        Some(Duration::MAX) => "> 1s".into(),
        Some(bound) => format!("≤{bound:?}"),
    }
}
