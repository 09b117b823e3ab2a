//! A spin lock against sleeping locks when there are more threads than
//! cores. Writes the table the primitives chapter includes
//! (`book/src/generated/spin-vs-mutex.md`):
//! `cargo run -p listings --release --example spin_vs_mutex`.
//!
//! CPU time is read from `/proc/self/stat` (Linux only; shown as "n/a"
//! elsewhere): it is the time the process *burned*, which is where a spin
//! lock loses when the holder is descheduled and its waiters keep spinning.

mod report;

use listings::primitives::spin_lock::SpinLock;
use report::Report;
use std::hint::black_box;
use std::thread;
use std::time::Instant;

const THREADS: usize = 8;
const PER_THREAD: usize = 200_000;
const RUNS: usize = 3;

/// A little work inside the critical section, so holders are sometimes
/// preempted while holding the lock.
fn work(value: &mut u64) {
    for i in 0..50 {
        *value = black_box(value.wrapping_mul(31).wrapping_add(i));
    }
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the file, counted in clock
    // ticks of 1/100 s on Linux.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// One run: wall-clock seconds, and CPU seconds if the platform tells.
fn measure(lock_and_work: &(impl Fn() + Sync)) -> (f64, Option<f64>) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| (0..PER_THREAD).for_each(|_| lock_and_work()));
        }
    });
    let wall = wall.elapsed().as_secs_f64();
    let cpu = match (cpu, cpu_seconds()) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    (wall, cpu)
}

fn main() {
    let mut report = Report::new(
        "spin-vs-mutex",
        "cargo run -p listings --release --example spin_vs_mutex",
    );
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    report.line(format!(
        "{THREADS} threads on {cores} cores, each taking the lock {PER_THREAD} times around a \
         little work; {RUNS} runs of each lock, the locks taking turns. CPU time is the whole \
         process's, user and system.\n"
    ));
    report.line("| lock | run | wall time | CPU time |");
    report.line("|---|---:|---:|---:|");
    let spin = SpinLock::new(0u64);
    let pl = parking_lot::Mutex::new(0u64);
    let std_mutex = std::sync::Mutex::new(0u64);
    let mut rows: Vec<(&str, usize, f64, Option<f64>)> = Vec::new();
    for run in 1..=RUNS {
        let r = measure(&|| work(&mut spin.lock()));
        rows.push(("`SpinLock`", run, r.0, r.1));
        let r = measure(&|| work(&mut pl.lock()));
        rows.push(("`parking_lot::Mutex`", run, r.0, r.1));
        let r = measure(&|| work(&mut std_mutex.lock().unwrap()));
        rows.push(("`std::sync::Mutex`", run, r.0, r.1));
    }
    rows.sort_by_key(|(name, run, ..)| (*name != "`SpinLock`", *name, *run));
    for (name, run, wall, cpu) in rows {
        let cpu = cpu.map_or("n/a".into(), |c| format!("{c:.2} s"));
        report.line(format!("| {name} | {run} | {wall:.2} s | {cpu} |"));
    }
    report.write();
}
