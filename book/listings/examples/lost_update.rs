//! How many increments does the racy counter lose? Run with
//! `cargo run -p listings --release --example lost_update`.

use listings::primitives::lost_update::{AtomicCounter, MutexCounter, RacyCounter};
use std::thread;
use std::time::Instant;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 1_000_000;

fn run(name: &str, increment: impl Fn() + Sync, get: impl Fn() -> u64) {
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| (0..PER_THREAD).for_each(|_| increment()));
        }
    });
    let elapsed = start.elapsed();
    let expected = THREADS * PER_THREAD;
    let got = get();
    println!(
        "{name:<8} {got:>9} of {expected} ({:>5.1}% lost) in {:>6.1} ms",
        100.0 * (expected - got) as f64 / expected as f64,
        elapsed.as_secs_f64() * 1e3
    );
}

fn main() {
    println!(
        "{THREADS} threads x {PER_THREAD} increments, {} cores",
        thread::available_parallelism().map_or(0, |n| n.get())
    );
    let racy = RacyCounter::default();
    run("racy", || racy.increment(), || racy.get());
    let atomic = AtomicCounter::default();
    run("atomic", || atomic.increment(), || atomic.get());
    let mutex = MutexCounter::default();
    run("mutex", || mutex.increment(), || mutex.get());
}
