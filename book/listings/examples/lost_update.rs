//! How many increments does the racy counter lose? Writes the table the
//! primitives chapter includes (`book/src/generated/lost-update.md`):
//! `cargo run -p listings --release --example lost_update`.

mod report;

use listings::primitives::lost_update::{AtomicCounter, MutexCounter, RacyCounter};
use report::Report;
use std::thread;
use std::time::Instant;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 1_000_000;
const RUNS: usize = 3;

/// One counter under test: its name, how to increment it, how to read it.
type Counter<'a> = (&'a str, &'a (dyn Fn() + Sync), &'a dyn Fn() -> u64);

/// Runs the counter once; returns the final count and the time in milliseconds.
fn run(increment: &(impl Fn() + Sync), get: &impl Fn() -> u64) -> (u64, f64) {
    let before = get();
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| (0..PER_THREAD).for_each(|_| increment()));
        }
    });
    (get() - before, start.elapsed().as_secs_f64() * 1e3)
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let mut report = Report::new(
        "lost-update",
        "cargo run -p listings --release --example lost_update",
    );
    let expected = THREADS * PER_THREAD;
    report.line(format!(
        "{THREADS} threads, {} increments each, so {} increments in all; {RUNS} runs of each counter.\n",
        grouped(PER_THREAD),
        grouped(expected)
    ));
    report.line("| counter | run | final count | increments lost | time |");
    report.line("|---|---:|---:|---:|---:|");
    let racy = RacyCounter::default();
    let atomic = AtomicCounter::default();
    let mutex = MutexCounter::default();
    let counters: [Counter; 3] = [
        ("racy", &|| racy.increment(), &|| racy.get()),
        ("atomic", &|| atomic.increment(), &|| atomic.get()),
        ("mutex", &|| mutex.increment(), &|| mutex.get()),
    ];
    for (name, increment, get) in counters {
        for run_no in 1..=RUNS {
            let (counted, ms) = run(&increment, &get);
            let lost = expected - counted;
            report.line(format!(
                "| {name} | {run_no} | {} | {} ({:.1}%) | {ms:.1} ms |",
                grouped(counted),
                grouped(lost),
                100.0 * lost as f64 / expected as f64
            ));
        }
    }
    report.write();
}
