//! How long a writer stalls while a snapshot of 100,000 keys is saved, when the state
//! is copied under the lock and the file written outside it, against holding the lock
//! for the whole write. The numbers are in the book's lesson 04 chapter.
//!
//!     cargo run --release -p kvlab-bench --bin lesson04-snapshot-stall
//!
//! One writer thread writes as fast as it can and times every write; the main thread
//! saves one snapshot (temporary file, fsync, rename) meanwhile. The *stall* is the
//! longest single write that overlapped the save: how long one client waited. Each
//! policy runs several times and the median is reported.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use kvlab_bench::machine;
use parking_lot::{Mutex, RwLock};
use solution04_concurrency_policy as lesson04;
use state::Command;

const KEYS: usize = 100_000;
const RUNS: usize = 7;

/// The reference's write path and two ways to save a snapshot, on the same locks.
struct Twin {
    writer: Mutex<()>,
    state: RwLock<state::Store>,
}

impl Twin {
    fn write(&self, command: Command) {
        let _turnstile = self.writer.lock();
        self.state.write().apply(command);
    }

    /// The lesson's rule: the lock is held for the copy only.
    fn save_copy_then_write(&self, path: &Path) -> Seen {
        let state = self.state.read();
        let locked = Instant::now();
        let copy = state.clone();
        drop(state);
        let writing = Instant::now();
        write_file(path, &lesson04::encode(&copy));
        Seen {
            held: writing - locked,
            writing,
        }
    }

    /// The mistake: the read lock is held until the file is on disk.
    fn save_holding_the_lock(&self, path: &Path) -> Seen {
        let state = self.state.read();
        let writing = Instant::now();
        write_file(path, &lesson04::encode(&state));
        drop(state);
        Seen {
            held: writing.elapsed(),
            writing,
        }
    }
}

/// What a save can tell about itself: how long it held the lock, and when it
/// started to encode and write the file.
struct Seen {
    held: Duration,
    writing: Instant,
}

fn write_file(path: &Path, bytes: &[u8]) {
    let temp = lesson04::temp_path_for(path);
    let mut file = File::create(&temp).expect("create the temporary file");
    file.write_all(bytes).expect("write the snapshot");
    file.sync_all().expect("sync the snapshot");
    fs::rename(&temp, path).expect("rename the snapshot");
    lesson04::sync_dir_of(path).expect("sync the directory");
}

fn filled() -> state::Store {
    let log: Vec<Command> = (0..KEYS)
        .map(|i| {
            Command::set(
                &format!("key-{i:06}"),
                &format!("value-{i:06}-of-a-typical-size"),
            )
        })
        .collect();
    state::replay(&log).0
}

/// What one run measured.
#[derive(Clone, Copy)]
struct Run {
    /// The longest write that overlapped the save.
    stall: Duration,
    /// How long the save took in all.
    save: Duration,
    /// How long the save held the lock that writers need, when the bench can tell.
    held: Option<Duration>,
    /// Writes that completed while the file was encoded and written.
    writes_during_file: Option<u64>,
}

/// Runs `save` while a writer writes, and measures what the writer went through.
fn measure(write: Arc<dyn Fn(u64) + Send + Sync>, save: impl FnOnce() -> Option<Seen>) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let warmed = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, warmed) = (Arc::clone(&stop), Arc::clone(&warmed));
        thread::spawn(move || {
            let mut writes = Vec::with_capacity(1 << 20);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                write(n);
                writes.push((started, started.elapsed()));
                n += 1;
                warmed.store(n, Ordering::Relaxed);
            }
            writes
        })
    };
    while warmed.load(Ordering::Relaxed) < 10_000 {
        thread::yield_now();
    }
    let started = Instant::now();
    let seen_by_save = save();
    let ended = Instant::now();
    // Let the writer finish the write it may be stuck in, then stop it.
    let seen = warmed.load(Ordering::Relaxed);
    while warmed.load(Ordering::Relaxed) < seen + 1_000 {
        thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().expect("the writer thread");
    let overlapping = writes
        .iter()
        .filter(|(start, took)| *start < ended && *start + *took > started);
    Run {
        stall: overlapping.map(|(_, took)| *took).max().unwrap_or_default(),
        save: ended - started,
        held: seen_by_save.as_ref().map(|s| s.held),
        writes_during_file: seen_by_save.map(|s| {
            let done = writes
                .iter()
                .filter(|(start, took)| *start >= s.writing && *start + *took <= ended);
            done.count() as u64
        }),
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn report(name: &str, runs: &[Run]) {
    let column = |field: fn(&Run) -> Duration| median(runs.iter().map(field).collect());
    // The reference's save cannot be timed from inside: those columns say "-".
    let held = match runs.iter().map(|r| r.held).collect::<Option<Vec<_>>>() {
        Some(held) => format!("{:.1?}", median(held)),
        None => "-".to_owned(),
    };
    let during = match runs
        .iter()
        .map(|r| r.writes_during_file)
        .collect::<Option<Vec<_>>>()
    {
        Some(mut during) => {
            during.sort();
            during[during.len() / 2].to_string()
        }
        None => "-".to_owned(),
    };
    println!(
        "| {name:<44} | {held:>9} | {:>9.1?} | {:>9.1?} | {during:>16} |",
        column(|r| r.stall),
        column(|r| r.save),
    );
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/kvlab-bench");
    fs::create_dir_all(&dir).expect("create the bench directory");
    let path = dir.join("lesson04-stall.snap");
    let state = filled();
    let file_size = lesson04::encode(&state).len();
    println!("{}", machine());
    println!(
        "{KEYS} keys, snapshot file {:.1} MiB on the build directory's disk (fsync included); \
         one writer writing as fast as it can; median of {RUNS} runs\n",
        file_size as f64 / (1 << 20) as f64
    );
    let twin = Arc::new(Twin {
        writer: Mutex::new(()),
        state: RwLock::new(state.clone()),
    });
    let write_twin = |twin: &Arc<Twin>| -> Arc<dyn Fn(u64) + Send + Sync> {
        let twin = Arc::clone(twin);
        Arc::new(move |n| twin.write(Command::set(&format!("key-{:06}", n % KEYS as u64), "new")))
    };
    let copy_first: Vec<Run> = (0..RUNS)
        .map(|_| measure(write_twin(&twin), || Some(twin.save_copy_then_write(&path))))
        .collect();
    let holding: Vec<Run> = (0..RUNS)
        .map(|_| {
            measure(write_twin(&twin), || {
                Some(twin.save_holding_the_lock(&path))
            })
        })
        .collect();

    // The reference itself, to show it behaves like the first policy.
    let store = Arc::new(lesson04::Store::from_parts(state, lesson04::NoHook));
    let write_store: Arc<dyn Fn(u64) + Send + Sync> = {
        let store = Arc::clone(&store);
        Arc::new(move |n| {
            let _ = store.set(&format!("key-{:06}", n % KEYS as u64), "new");
        })
    };
    let reference: Vec<Run> = (0..RUNS)
        .map(|_| {
            measure(Arc::clone(&write_store), || {
                store.save_snapshot(&path).expect("save the snapshot");
                None
            })
        })
        .collect();

    // Where the time goes, with no writer competing: the parts of a save.
    let part = |f: &dyn Fn() -> Duration| median((0..RUNS).map(|_| f()).collect());
    let copy = part(&|| {
        let started = Instant::now();
        let copy = twin.state.read().clone();
        let took = started.elapsed();
        drop(copy);
        took
    });
    let encode = part(&|| {
        let state = twin.state.read();
        let started = Instant::now();
        let bytes = lesson04::encode(&state);
        let took = started.elapsed();
        drop(bytes);
        took
    });
    let bytes = lesson04::encode(&twin.state.read());
    let file = part(&|| {
        let started = Instant::now();
        write_file(&path, &bytes);
        started.elapsed()
    });
    println!(
        "alone, no writer running: clone the state {copy:.1?}, encode it {encode:.1?}, \
         write + fsync + rename + directory fsync {file:.1?}\n"
    );
    println!(
        "| {:<44} | {:>9} | {:>9} | {:>9} | {:>16} |",
        "policy", "lock held", "stall", "save", "writes meanwhile"
    );
    println!(
        "|{:-<46}|{:->11}|{:->11}|{:->11}|{:->18}|",
        "", "", "", "", ""
    );
    report("copy under the lock, write the file outside", &copy_first);
    report("lock held for the whole write", &holding);
    report("the reference's save_snapshot", &reference);
    println!(
        "\nlock held: how long the save held the read lock, which keeps writers from applying; \
         stall: the longest single write that overlapped the save; save: the whole save, \
         waiting for the lock included; writes meanwhile: writes that completed while the \
         file was encoded and written."
    );
    let _ = fs::remove_file(&path);
}
