//! A spin lock against sleeping locks when there are more threads than
//! cores. Run with `cargo run -p listings --release --example spin_vs_mutex`.
//!
//! CPU time is read from `/proc/self/stat` (Linux only; shown as "n/a"
//! elsewhere): it is the time the process *burned*, which is where a spin
//! lock loses when the holder is descheduled and its waiters keep spinning.

use listings::primitives::spin_lock::SpinLock;
use std::hint::black_box;
use std::thread;
use std::time::Instant;

const THREADS: usize = 8;
const PER_THREAD: usize = 200_000;

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

fn measure(name: &str, lock_and_work: impl Fn() + Sync) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| (0..PER_THREAD).for_each(|_| lock_and_work()));
        }
    });
    let wall = wall.elapsed().as_secs_f64();
    let cpu = match (cpu, cpu_seconds()) {
        (Some(before), Some(after)) => format!("{:>6.2} s", after - before),
        _ => "   n/a".into(),
    };
    println!("{name:<20} wall {wall:>6.2} s   cpu {cpu}");
}

fn main() {
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    println!("{THREADS} threads, {cores} cores, {PER_THREAD} locked sections each");
    let spin = SpinLock::new(0u64);
    measure("spin lock", || work(&mut spin.lock()));
    let pl = parking_lot::Mutex::new(0u64);
    measure("parking_lot::Mutex", || work(&mut pl.lock()));
    let std_mutex = std::sync::Mutex::new(0u64);
    measure("std::sync::Mutex", || work(&mut std_mutex.lock().unwrap()));
}
