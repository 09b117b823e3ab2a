//! What lesson 06's own locks cost next to the ones a program would use instead.
//! Writes the table the book's lesson 06 chapter includes
//! (`book/src/generated/lesson06-locks.md`):
//!
//!     cargo run --release -p kvlab-bench --bin lesson06-locks
//!
//! Three reader-writer locks guard the same `u64`: the reference `RwLock` of lesson
//! 06 (a state mutex and two condition variables, from `kvlab_sync`, which are std's
//! outside the model checker), `parking_lot::RwLock` and `std::sync::RwLock`. The
//! critical section is as short as it gets and the same for all three: a read copies
//! the value out, a write adds one to it. So the table measures the locks themselves,
//! not the work under them.
//!
//! Each thread draws read-or-write for every operation from its own xorshift
//! generator, seeded by the thread's number and the round, so every lock sees the
//! same sequence. The locks take turns within each round (A B C A B C ...), so a
//! noisy moment on a shared machine lands on all three alike, and each cell is the
//! median of the rounds.
//!
//! One more line compares lesson 06's `BoundedQueue` with `std::sync::mpsc`'s
//! `sync_channel` of the same capacity: one producer, one consumer.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use kvlab_bench::{Report, grouped, load_average};
use solution06_own_locks::BoundedQueue;

const ROUNDS: usize = 7;
/// How long each measurement lets its threads run.
const WINDOW: Duration = Duration::from_millis(200);
const THREADS: [usize; 2] = [2, 4];
const READ_PERCENT: [u64; 4] = [50, 90, 99, 100];
/// Operations between two looks at the stop flag: the look is kept out of the
/// measured loop's way, and 64 operations take microseconds even on the slowest lock.
const BATCH: usize = 64;
const QUEUE_CAPACITY: usize = 64;

/// What the benchmark asks of a lock: the same two critical sections for each.
trait Lock: Send + Sync + 'static {
    fn new() -> Self;
    fn read(&self) -> u64;
    fn write(&self);
}

impl Lock for solution06_own_locks::RwLock<u64> {
    fn new() -> Self {
        Self::new(0)
    }
    fn read(&self) -> u64 {
        *Self::read(self)
    }
    fn write(&self) {
        *Self::write(self) += 1;
    }
}

impl Lock for parking_lot::RwLock<u64> {
    fn new() -> Self {
        Self::new(0)
    }
    fn read(&self) -> u64 {
        *Self::read(self)
    }
    fn write(&self) {
        *Self::write(self) += 1;
    }
}

impl Lock for std::sync::RwLock<u64> {
    fn new() -> Self {
        Self::new(0)
    }
    fn read(&self) -> u64 {
        *Self::read(self).unwrap()
    }
    fn write(&self) {
        *Self::write(self).unwrap() += 1;
    }
}

/// A xorshift64 generator: a few instructions per draw, so choosing the operation
/// costs next to nothing beside the lock.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Operations per second of `threads` threads on one fresh lock for one window.
/// Generic rather than `dyn`, so that each lock's calls are inlined alike.
fn run<L: Lock>(threads: usize, read_percent: u64, round: usize) -> f64 {
    let lock = Arc::new(L::new());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (lock, stop, start) = (Arc::clone(&lock), Arc::clone(&stop), Arc::clone(&start));
            // Distinct per thread and round, the same for every lock; never 0, which
            // xorshift would keep forever.
            let seed = ((round as u64) << 8) | (t as u64 + 1);
            let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            thread::spawn(move || {
                start.wait();
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..BATCH {
                        if rng.next() % 100 < read_percent {
                            black_box(lock.read());
                        } else {
                            lock.write();
                        }
                    }
                    done += BATCH as u64;
                }
                done
            })
        })
        .collect();
    // Timed from the threads' release to the last one's end, so the few operations
    // after the stop flag are counted in the time as well as in the count.
    start.wait();
    let began = Instant::now();
    thread::sleep(WINDOW);
    stop.store(true, Ordering::Relaxed);
    let done: u64 = workers
        .into_iter()
        .map(|w| w.join().expect("a worker panicked"))
        .sum();
    done as f64 / began.elapsed().as_secs_f64()
}

/// Items per second through a queue, one producer thread and one consumer thread:
/// the producer sends 0, 1, 2, ... until the window ends, then `u64::MAX` to say so.
fn pass_items(
    send: impl Fn(u64) + Send + 'static,
    receive: impl Fn() -> u64 + Send + 'static,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(3));
    let producer = {
        let (stop, start) = (Arc::clone(&stop), Arc::clone(&start));
        thread::spawn(move || {
            start.wait();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                send(n);
                n += 1;
            }
            send(u64::MAX);
        })
    };
    let consumer = {
        let start = Arc::clone(&start);
        thread::spawn(move || {
            start.wait();
            let mut received = 0u64;
            while receive() != u64::MAX {
                received += 1;
            }
            received
        })
    };
    start.wait();
    let began = Instant::now();
    thread::sleep(WINDOW);
    stop.store(true, Ordering::Relaxed);
    producer.join().expect("the producer panicked");
    let received = consumer.join().expect("the consumer panicked");
    received as f64 / began.elapsed().as_secs_f64()
}

fn bounded_queue() -> f64 {
    let queue = Arc::new(BoundedQueue::new(QUEUE_CAPACITY));
    let producer_side = Arc::clone(&queue);
    pass_items(move |n| producer_side.push(n), move || queue.pop())
}

fn sync_channel() -> f64 {
    let (tx, rx) = mpsc::sync_channel(QUEUE_CAPACITY);
    pass_items(
        move |n| tx.send(n).expect("the consumer is alive"),
        move || rx.recv().expect("the producer sends its end mark"),
    )
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// A rate rounded to three significant figures, with thousands separators: more
/// digits than that would be noise.
fn rate(per_second: f64) -> String {
    let digits = per_second.abs().log10().floor() as i32;
    let step = 10f64.powi((digits - 2).max(0));
    grouped(((per_second / step).round() * step) as u64)
}

type Run = fn(usize, u64, usize) -> f64;

fn main() {
    let mut report = Report::new(
        "lesson06-locks",
        "cargo run --release -p kvlab-bench --bin lesson06-locks",
    );
    // parking_lot second: it is the column the others are compared with.
    let locks: [(&str, Run); 3] = [
        (
            "lesson 06 `RwLock`",
            run::<solution06_own_locks::RwLock<u64>>,
        ),
        ("`parking_lot::RwLock`", run::<parking_lot::RwLock<u64>>),
        ("`std::sync::RwLock`", run::<std::sync::RwLock<u64>>),
    ];
    let cells: Vec<(usize, u64)> = THREADS
        .iter()
        .flat_map(|&t| READ_PERCENT.iter().map(move |&r| (t, r)))
        .collect();
    // samples[cell][lock]: one rate per round.
    let mut samples = vec![vec![Vec::new(); locks.len()]; cells.len()];
    let mut queues = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        for (cell, &(threads, reads)) in cells.iter().enumerate() {
            for (lock, (_, run)) in locks.iter().enumerate() {
                samples[cell][lock].push(run(threads, reads, round));
            }
        }
        queues[0].push(bounded_queue());
        queues[1].push(sync_channel());
    }

    report.line(format!(
        "Operations per second, all threads together; in brackets, the ratio to \
         `parking_lot::RwLock` in the same row. Each cell is the median of {ROUNDS} \
         rounds of {} ms, the locks taking turns.",
        WINDOW.as_millis()
    ));
    report.line("");
    let names: Vec<&str> = locks.iter().map(|(name, _)| *name).collect();
    report.line(format!("| threads | reads | {} |", names.join(" | ")));
    report.line("|---:|---:|---:|---:|---:|");
    for (cell, &(threads, reads)) in cells.iter().enumerate() {
        let medians: Vec<f64> = samples[cell].drain(..).map(median).collect();
        let base = medians[1];
        let shown: Vec<String> = medians
            .iter()
            .enumerate()
            .map(|(i, &ops)| {
                if i == 1 {
                    rate(ops)
                } else {
                    format!("{} ({:.2}×)", rate(ops), ops / base)
                }
            })
            .collect();
        report.line(format!("| {threads} | {reads}% | {} |", shown.join(" | ")));
    }
    report.line("");
    let thread_counts: Vec<String> = THREADS.iter().map(ToString::to_string).collect();
    report.line(format!(
        "Each lock guards one `u64`: a read copies it out, a write adds one to it, and \
         nothing else happens inside the lock. Each of the {} threads chooses read or \
         write for every operation from its own seeded xorshift generator, the same \
         sequence for every lock; \"reads\" is the share of reads.",
        thread_counts.join(" or ")
    ));
    report.line("");
    let [queue, channel] = queues.map(median);
    report.line(format!(
        "One producer and one consumer passing `u64`s through a queue of capacity \
         {QUEUE_CAPACITY}, median of {ROUNDS} rounds of {} ms: lesson 06's `BoundedQueue` \
         {} items/s, `std::sync::mpsc::sync_channel` {} items/s ({:.2}× the queue's).",
        WINDOW.as_millis(),
        rate(queue),
        rate(channel),
        channel / queue
    ));
    // The lesson 06 lock's figures swing by an order of magnitude with other work on
    // the machine, so the load after the run is part of the result, as before it.
    report.line(format!("\nLoad average at the end: {}.", load_average()));
    report.write();
}
