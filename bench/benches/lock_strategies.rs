//! Throughput of the lock strategies in `kvlab_bench::strategies` on a mixed
//! workload, across read ratios and thread counts.
//!
//! One iteration = every thread runs its share of `OPS` operations on random keys
//! (drawn in advance from a fixed seed), all starting together at a barrier. The
//! time runs from the first thread leaving the barrier to the last one finishing
//! its share; starting and joining the threads is not timed. Run with
//! `just bench-locks`, which also draws the book's chart.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kvlab_bench::strategies::{self, SharedStore};
use rand::{RngExt, SeedableRng, rngs::StdRng};

const KEYS: usize = 1024;
const OPS: usize = 20_000;
pub const READ_PERCENTS: [u32; 3] = [50, 90, 99];
pub const THREADS: [usize; 3] = [1, 2, 4];

/// Each thread's operations: `Some(value)` for a SET, `None` for a GET.
type Plan = Vec<Vec<(usize, Option<String>)>>;

fn plan(threads: usize, read_percent: u32) -> Plan {
    let mut rng = StdRng::seed_from_u64(42);
    (0..threads)
        .map(|_| {
            (0..OPS / threads)
                .map(|_| {
                    let key = rng.random_range(0..KEYS);
                    let write = rng.random_range(0..100) >= read_percent;
                    (
                        key,
                        write.then(|| format!("v{}", rng.random_range(0..1000))),
                    )
                })
                .collect()
        })
        .collect()
}

/// One iteration: every thread runs its share after a common barrier. The time is
/// from the first thread leaving the barrier to the last one finishing, as the
/// threads themselves saw it, so that the main thread being descheduled after the
/// barrier (likely with more threads than cores) cannot hide work from the clock.
fn run_once(store: &Arc<dyn SharedStore>, keys: &Arc<Vec<String>>, plan: &Arc<Plan>) -> Duration {
    let start = Arc::new(Barrier::new(plan.len()));
    let workers: Vec<_> = (0..plan.len())
        .map(|t| {
            let (store, keys, plan, start) =
                (store.clone(), keys.clone(), plan.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let began = Instant::now();
                for (key, value) in &plan[t] {
                    let response = match value {
                        Some(value) => store.set(&keys[*key], value),
                        None => store.get(&keys[*key]),
                    };
                    std::hint::black_box(response);
                }
                (began, Instant::now())
            })
        })
        .collect();
    let spans: Vec<(Instant, Instant)> = workers
        .into_iter()
        .map(|w| w.join().expect("benchmark threads do not panic"))
        .collect();
    let first = spans.iter().map(|s| s.0).min().unwrap();
    let last = spans.iter().map(|s| s.1).max().unwrap();
    last - first
}

fn lock_strategies(c: &mut Criterion) {
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|k| format!("key{k}")).collect());
    for read_percent in READ_PERCENTS {
        let mut group = c.benchmark_group(format!("reads{read_percent}"));
        group.throughput(Throughput::Elements(OPS as u64));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for threads in THREADS {
            let plan = Arc::new(plan(threads, read_percent));
            for (name, make) in strategies::all() {
                let store = make();
                for key in keys.iter() {
                    store.set(key, "initial");
                }
                group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, _| {
                    b.iter_custom(|iters| (0..iters).map(|_| run_once(&store, &keys, &plan)).sum())
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, lock_strategies);
criterion_main!(benches);
