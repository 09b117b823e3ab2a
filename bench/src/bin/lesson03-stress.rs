//! How long lesson 03's stress test takes on lesson 02's store. Writes the table the
//! book's lesson 03 chapter includes (`book/src/generated/lesson03-stress.md`):
//!
//!     cargo run --release -p kvlab-bench --bin lesson03-stress
//!
//! The reference stress test with its default configuration (4 writers and 4
//! readers, 1000 operations each, 8 keys: 8 threads and 8000 operations, the
//! configuration the C version targets at under 50 ms), run again and again with
//! a new seed each time. The time is the report's `time:` line: from starting the
//! threads to the last one finishing (thread start-up included, the checks after
//! it not). Two stores take turns, so that a noisy moment on a shared machine
//! does not favour one of them:
//!
//! - `RwLock (lesson 02)`: the reference `ConcurrentStore`;
//! - `Mutex`: the same state machine behind a `parking_lot::Mutex`, for comparison;
//! - `threads only`: the same test with 0 operations per thread: what starting,
//!   gating and collecting 8 threads costs by itself.
//!
//! Every run must pass (both stores are correct); the table shows the median and
//! the spread of the times.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use solution03_stress_test::{
    ConcurrentStore, KvStore, Response, StressConfig, Violation, run_stress,
};

const RUNS: usize = 301;

/// Lesson 01's state machine behind a mutex: readers wait for each other.
#[derive(Default)]
struct MutexStore {
    machine: Mutex<state::Store>,
}

impl KvStore for MutexStore {
    fn get(&self, key: &str) -> Response {
        self.machine.lock().get(key)
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.machine.lock().apply(state::Command::set(key, value))
    }

    fn del(&self, key: &str) -> Response {
        self.machine.lock().apply(state::Command::del(key))
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.machine.lock().check_invariants()
    }
}

type NewStore = fn() -> Arc<dyn KvStore>;

fn main() {
    let stores: [(&str, NewStore, usize); 3] = [
        (
            "RwLock (lesson 02)",
            || Arc::new(ConcurrentStore::new()),
            1000,
        ),
        ("Mutex", || Arc::new(MutexStore::default()), 1000),
        ("threads only", || Arc::new(ConcurrentStore::new()), 0),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); stores.len()];
    for run in 0..RUNS {
        for (i, (name, new_store, ops_per_thread)) in stores.iter().enumerate() {
            let config = StressConfig {
                seed: run as u64,
                ops_per_thread: *ops_per_thread,
                ..StressConfig::default()
            };
            let report = run_stress(new_store(), &config);
            assert!(report.passed(), "{name}, seed {run}:\n{report}");
            assert_eq!((report.threads, report.operations), (8, 8 * ops_per_thread));
            times[i].push(report.elapsed);
        }
    }
    let mut report = kvlab_bench::Report::new(
        "lesson03-stress",
        "cargo run --release -p kvlab-bench --bin lesson03-stress",
    );
    report.line(format!(
        "The reference stress test, 8 threads and 8000 operations in all, {RUNS} runs per \
         store with a new seed each, the stores taking turns. The time is the report's \
         `time:` line.\n"
    ));
    report.line("| store | min | p10 | median | p90 | max |");
    report.line("|---|---:|---:|---:|---:|---:|");
    for ((name, _, _), mut runs) in stores.iter().zip(times) {
        runs.sort();
        let at = |q: f64| runs[((runs.len() - 1) as f64 * q).round() as usize];
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        report.line(format!(
            "| {name} | {} | {} | {} | {} | {} |",
            ms(runs[0]),
            ms(at(0.1)),
            ms(at(0.5)),
            ms(at(0.9)),
            ms(runs[runs.len() - 1])
        ));
    }
    report.write();
}
