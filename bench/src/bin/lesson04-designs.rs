//! What each design of lesson 04 costs: the reference and the three other designs
//! the checker accepts (its variants), measured on the same work. It writes the table
//! the book's lesson 04 chapter includes (`book/src/generated/lesson04-designs.md`):
//!
//!     cargo run --release -p kvlab-bench --bin lesson04-designs
//!
//! Each design is the very source the checker grades, compiled here against the
//! plain parking_lot. Over a state of 10,000 keys, each round measures, per design:
//! writes per second with one writer alone; writes and reads per second with one
//! writer and one reader side by side (the machine's two cores); and the longest
//! single write while a snapshot is saved (temporary file, fsync, rename). The
//! designs take turns round after round, so that a noisy moment on a shared machine
//! lands on all of them alike; each figure is the median of the rounds.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use kvlab_bench::Report;
use solution04_concurrency_policy as reference;
use state::Command;

// The variants' sources, as the checker compiles them, over the lesson's given parts
// (each says `use super::given::*`).
mod given {
    pub use solution04_concurrency_policy::{
        Disk, SnapshotError, SnapshotInfo, StateMachine, WriteError, WriteHook, decode, encode,
        temp_path_for, validate,
    };
}
#[path = "../../../checker/probes/lesson04-concurrency-policy/src/variants/copy_on_write.rs"]
#[allow(dead_code)]
mod copy_on_write;
#[path = "../../../checker/probes/lesson04-concurrency-policy/src/variants/counted_turnstile.rs"]
#[allow(dead_code)]
mod counted_turnstile;
#[path = "../../../checker/probes/lesson04-concurrency-policy/src/variants/upgradable_turnstile.rs"]
#[allow(dead_code)]
mod upgradable_turnstile;

const KEYS: u64 = 10_000;
const ROUNDS: usize = 7;
const WINDOW: Duration = Duration::from_millis(300);

/// What the benchmark asks of a design.
trait Design: Send + Sync + 'static {
    fn write(&self, n: u64);
    fn read(&self, n: u64);
    fn save(&self, path: &Path);
}

/// Implements [`Design`] for a store with the lesson's API, over lesson 01's state.
macro_rules! design {
    ($store:ty) => {
        impl Design for $store {
            fn write(&self, n: u64) {
                let _ = self.write(Command::set(&key(n), "new"));
            }

            fn read(&self, n: u64) {
                std::hint::black_box(self.get(&key(n)));
            }

            fn save(&self, path: &Path) {
                self.save_snapshot(path).expect("the snapshot is saved");
            }
        }
    };
}

use reference::{NoHook, OsDisk};
design!(reference::Store<state::Store, NoHook, OsDisk>);
design!(upgradable_turnstile::Store<state::Store, NoHook, OsDisk>);
design!(copy_on_write::Store<state::Store, NoHook, OsDisk>);
design!(counted_turnstile::Store<state::Store, NoHook, OsDisk>);

fn key(n: u64) -> String {
    format!("key-{:05}", n % KEYS)
}

fn filled() -> state::Store {
    let mut state = state::Store::new();
    for n in 0..KEYS {
        state.apply(Command::set(&key(n), "a value of some thirty bytes..."));
    }
    state
}

/// Runs `work` on a thread of its own, as fast as it can, until `stop`; counts its calls.
fn flat_out(
    stop: &Arc<AtomicBool>,
    work: impl Fn(u64) + Send + 'static,
) -> thread::JoinHandle<u64> {
    let stop = Arc::clone(stop);
    thread::spawn(move || {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            work(n);
            n += 1;
        }
        n
    })
}

/// One round's figures for one design.
struct Round {
    writes_alone: f64,
    writes_beside_reader: f64,
    reads_beside_writer: f64,
    longest_write_in_save: Duration,
}

fn per_second(count: u64) -> f64 {
    count as f64 / WINDOW.as_secs_f64()
}

fn round(design: &Arc<dyn Design>, path: &Path) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let design = Arc::clone(design);
        flat_out(&stop, move |n| design.write(n))
    };
    thread::sleep(WINDOW);
    stop.store(true, Ordering::Relaxed);
    let writes_alone = per_second(writer.join().expect("the writer finishes"));

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let design = Arc::clone(design);
        flat_out(&stop, move |n| design.write(n))
    };
    let reader = {
        let design = Arc::clone(design);
        flat_out(&stop, move |n| design.read(n.wrapping_mul(7919)))
    };
    thread::sleep(WINDOW);
    stop.store(true, Ordering::Relaxed);
    let writes_beside_reader = per_second(writer.join().expect("the writer finishes"));
    let reads_beside_writer = per_second(reader.join().expect("the reader finishes"));

    // The longest write that overlapped the save: each write is timed, and one that
    // ended after the save began and began before it ended counts.
    let stop = Arc::new(AtomicBool::new(false));
    let (began, ended) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let origin = Instant::now();
    let longest = Arc::new(AtomicU64::new(0));
    let writer = {
        let (design, began, ended, longest) = (
            Arc::clone(design),
            Arc::clone(&began),
            Arc::clone(&ended),
            Arc::clone(&longest),
        );
        flat_out(&stop, move |n| {
            let start = Instant::now();
            design.write(n);
            let end = Instant::now();
            let (save_began, save_ended) =
                (began.load(Ordering::Acquire), ended.load(Ordering::Acquire));
            let (start_ns, end_ns) = (
                (start - origin).as_nanos() as u64,
                (end - origin).as_nanos() as u64,
            );
            let overlapped = save_began > 0
                && end_ns >= save_began
                && (save_ended == 0 || start_ns <= save_ended);
            if overlapped {
                longest.fetch_max((end - start).as_nanos() as u64, Ordering::Relaxed);
            }
        })
    };
    thread::sleep(Duration::from_millis(20));
    began.store(
        (Instant::now() - origin).as_nanos() as u64,
        Ordering::Release,
    );
    design.save(path);
    ended.store(
        (Instant::now() - origin).as_nanos() as u64,
        Ordering::Release,
    );
    thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("the writer finishes");
    Round {
        writes_alone,
        writes_beside_reader,
        reads_beside_writer,
        longest_write_in_save: Duration::from_nanos(longest.load(Ordering::Relaxed)),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Operations per second, rounded to three figures, with thousands separators.
fn rate(per_second: f64) -> String {
    let digits = per_second.abs().log10().floor() as i32;
    let step = 10f64.powi((digits - 2).max(0));
    kvlab_bench::grouped(((per_second / step).round() * step) as u64)
}

fn main() {
    let dir = kvlab_bench::workspace_root().join("target/kvlab-bench");
    fs::create_dir_all(&dir).expect("create the bench directory");
    let path = dir.join("lesson04-designs.snap");
    let state = filled();
    let designs: Vec<(&str, Arc<dyn Design>)> = vec![
        (
            "the reference: a writer `Mutex`, the state in an `RwLock`",
            Arc::new(reference::Store::from_parts(
                state.clone(),
                reference::NoHook,
                reference::OsDisk,
            )),
        ),
        (
            "the turnstile as an upgradable read",
            Arc::new(upgradable_turnstile::Store::from_parts(
                state.clone(),
                reference::NoHook,
                reference::OsDisk,
            )),
        ),
        (
            "a copy-on-write state behind an `Arc`",
            Arc::new(copy_on_write::Store::from_parts(
                state.clone(),
                reference::NoHook,
                reference::OsDisk,
            )),
        ),
        (
            "the number in the turnstile, a buffered save",
            Arc::new(counted_turnstile::Store::from_parts(
                state,
                reference::NoHook,
                reference::OsDisk,
            )),
        ),
    ];
    let mut report = Report::new(
        "lesson04-designs",
        "cargo run --release -p kvlab-bench --bin lesson04-designs",
    );
    let mut rounds: Vec<Vec<Round>> = designs.iter().map(|_| Vec::new()).collect();
    for _ in 0..ROUNDS {
        for ((_, design), seen) in designs.iter().zip(&mut rounds) {
            seen.push(round(design, &path));
        }
    }
    let _ = fs::remove_file(&path);
    report.line(format!(
        "A state of {} keys; {ROUNDS} rounds, the designs taking turns; each figure is the \
         median of the rounds. Operations per second are counted over {} ms windows; the \
         longest write is the slowest single write that overlapped a save.",
        rate(KEYS as f64),
        WINDOW.as_millis()
    ));
    report.line("");
    report.line(
        "| design | writes/s, writer alone | writes/s beside a reader | reads/s beside a writer | longest write during a save |",
    );
    report.line("|---|---:|---:|---:|---:|");
    for ((name, _), seen) in designs.iter().zip(rounds) {
        let column = |f: fn(&Round) -> f64| median(seen.iter().map(f).collect());
        report.line(format!(
            "| {name} | {} | {} | {} | {:.2} ms |",
            rate(column(|r| r.writes_alone)),
            rate(column(|r| r.writes_beside_reader)),
            rate(column(|r| r.reads_beside_writer)),
            column(|r| r.longest_write_in_save.as_secs_f64()) * 1e3,
        ));
    }
    report.write();
}
