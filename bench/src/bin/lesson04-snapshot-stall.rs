//! How long a writer stalls while a snapshot of 100,000 keys is saved, when the state
//! is copied under the lock and the file written outside it, against holding the lock
//! for the whole write. It writes the table the book's lesson 04 chapter includes
//! (`book/src/generated/lesson04-snapshot-stall.md`) and its chart
//! (`book/src/img/lesson04-snapshot-stall.svg`):
//!
//!     cargo run --release -p kvlab-bench --bin lesson04-snapshot-stall
//!
//! One writer thread writes as fast as it can and times every write; the main thread
//! saves one snapshot (temporary file, fsync, rename) meanwhile. The *stall* is the
//! longest single write that overlapped the save: how long one client waited. The
//! policies and the parts of a save timed alone take turns, round after round, so
//! that a noisy moment on a shared machine lands on all of them alike; each figure
//! is the median of the rounds, with the fastest and slowest round beside it.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use kvlab_bench::{Report, grouped};
use parking_lot::{Mutex, RwLock};
use solution04_concurrency_policy as lesson04;
use state::Command;

const KEYS: usize = 100_000;
const RUNS: usize = 15;

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
    lesson04::Disk::sync_dir_of(&lesson04::OsDisk, path).expect("sync the directory");
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

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// "median (fastest to slowest)" of one column.
fn spread(values: Vec<Duration>) -> String {
    let (min, max) = (*values.iter().min().unwrap(), *values.iter().max().unwrap());
    format!("{} ({} to {})", ms(median(values)), ms(min), ms(max))
}

fn median_count(mut values: Vec<u64>) -> u64 {
    values.sort();
    values[values.len() / 2]
}

/// One policy's medians, for the table and the chart.
struct Row {
    name: &'static str,
    held: Option<Duration>,
    stall: Duration,
    save: Duration,
    during: Option<u64>,
}

fn row(name: &'static str, runs: &[Run]) -> (Row, String) {
    let held: Option<Vec<Duration>> = runs.iter().map(|r| r.held).collect();
    let during: Option<Vec<u64>> = runs.iter().map(|r| r.writes_during_file).collect();
    let stall: Vec<Duration> = runs.iter().map(|r| r.stall).collect();
    let save: Vec<Duration> = runs.iter().map(|r| r.save).collect();
    let line = format!(
        "| {name} | {} | {} | {} | {} |",
        held.clone().map_or("-".into(), spread),
        spread(stall.clone()),
        spread(save.clone()),
        during
            .clone()
            .map_or("-".into(), |d| grouped(median_count(d))),
    );
    let row = Row {
        name,
        held: held.map(median),
        stall: median(stall),
        save: median(save),
        during: during.map(median_count),
    };
    (row, line)
}

fn main() {
    let dir = kvlab_bench::workspace_root().join("target/kvlab-bench");
    fs::create_dir_all(&dir).expect("create the bench directory");
    let path = dir.join("lesson04-stall.snap");
    let state = filled();
    let file_size = lesson04::encode(&state).len();
    let mut report = Report::new(
        "lesson04-snapshot-stall",
        "cargo run --release -p kvlab-bench --bin lesson04-snapshot-stall",
    );
    let twin = Arc::new(Twin {
        writer: Mutex::new(()),
        state: RwLock::new(state.clone()),
    });
    let write_twin = |twin: &Arc<Twin>| -> Arc<dyn Fn(u64) + Send + Sync> {
        let twin = Arc::clone(twin);
        Arc::new(move |n| twin.write(Command::set(&format!("key-{:06}", n % KEYS as u64), "new")))
    };
    let store = Arc::new(lesson04::Store::from_parts(
        state,
        lesson04::NoHook,
        lesson04::OsDisk,
    ));
    let write_store: Arc<dyn Fn(u64) + Send + Sync> = {
        let store = Arc::clone(&store);
        Arc::new(move |n| {
            let _ = store.set(&format!("key-{:06}", n % KEYS as u64), "new");
        })
    };
    let bytes = lesson04::encode(&twin.state.read());

    let (mut copy_first, mut holding, mut reference) = (vec![], vec![], vec![]);
    let (mut copy, mut encode, mut file) = (vec![], vec![], vec![]);
    for _ in 0..RUNS {
        copy_first.push(measure(write_twin(&twin), || {
            Some(twin.save_copy_then_write(&path))
        }));
        holding.push(measure(write_twin(&twin), || {
            Some(twin.save_holding_the_lock(&path))
        }));
        reference.push(measure(Arc::clone(&write_store), || {
            store.save_snapshot(&path).expect("save the snapshot");
            None
        }));
        // The parts of a save with no writer competing, in the same round.
        copy.push({
            let started = Instant::now();
            let copy = twin.state.read().clone();
            let took = started.elapsed();
            drop(copy);
            took
        });
        encode.push({
            let state = twin.state.read();
            let started = Instant::now();
            let bytes = lesson04::encode(&state);
            let took = started.elapsed();
            drop(bytes);
            took
        });
        file.push({
            let started = Instant::now();
            write_file(&path, &bytes);
            started.elapsed()
        });
    }

    report.line(format!(
        "{KEYS} keys, a snapshot file of {:.1} MiB on the build directory's disk (fsync included), \
         one writer writing as fast as it can; {RUNS} rounds, each figure the median of the \
         rounds (fastest to slowest round in brackets).\n",
        file_size as f64 / (1 << 20) as f64
    ));
    report.line("| policy | lock held | stall | save | writes meanwhile |");
    report.line("|---|---:|---:|---:|---:|");
    let (first, line) = row("copy under the lock, write the file outside", &copy_first);
    report.line(line);
    let (second, line) = row("lock held for the whole write", &holding);
    report.line(line);
    let (third, line) = row("the reference's save_snapshot", &reference);
    report.line(line);
    report.line(format!(
        "\nThe parts of a save timed alone, no writer running, in the same rounds: clone the \
         state {}, encode it {}, write + fsync + rename + directory fsync {}.\n",
        spread(copy.clone()),
        spread(encode.clone()),
        spread(file.clone()),
    ));
    report.line(
        "*Lock held*: how long the save held the read lock, which keeps writers from applying. \
         *Stall*: the longest single write that overlapped the save. *Save*: the whole save, \
         waiting for the lock included. *Writes meanwhile*: writes that completed while the \
         file was encoded and written. The reference's save cannot be timed from inside, so \
         two of its columns say \"-\".",
    );
    report.write();
    let chart = chart(
        &[first, second, third],
        median(copy),
        median(encode),
        median(file),
    );
    let svg = kvlab_bench::workspace_root().join("book/src/img/lesson04-snapshot-stall.svg");
    fs::write(&svg, chart).expect("write the chart");
    println!("wrote {}", svg.display());
    let _ = fs::remove_file(&path);
}

/// Two timelines of a save (the two policies), on one millisecond scale: the part
/// under the lock and the part outside it, with the stall and the writes that got
/// through. Drawn at the book's text width (750 px), so that 1 unit is 1 pixel.
fn chart(rows: &[Row], copy: Duration, encode: Duration, file: Duration) -> String {
    use std::fmt::Write as _;
    let (width, left, right) = (750.0, 20.0, 20.0);
    let plot = width - left - right;
    let longest = rows
        .iter()
        .take(2)
        .map(|r| r.save.as_secs_f64() * 1e3)
        .fold(0.0, f64::max);
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0]
        .into_iter()
        .find(|s| longest / s <= 8.0)
        .unwrap_or(100.0);
    let top_ms = (longest / step).ceil() * step;
    let x = |ms: f64| left + plot * ms / top_ms;
    let height = 330.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
         height=\"{height}\" role=\"img\" font-family=\"system-ui, sans-serif\" font-size=\"14\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">Saving a snapshot of 100,000 keys while one writer writes</text>\n\
         <text x=\"{left}\" y=\"44\" fill=\"#52606d\">medians; orange: the read lock is held, so writers wait; blue: no lock held</text>\n"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (i, r) in rows.iter().take(2).enumerate() {
        let y = 80.0 + i as f64 * 105.0;
        let save = ms(r.save);
        // The first policy lets the lock go after the copy; the second holds it to the end.
        let split = i == 0;
        let held = if split { r.held.map_or(0.0, ms) } else { save };
        let _ = writeln!(
            svg,
            "<text x=\"{left}\" y=\"{y}\" font-weight=\"bold\">{}</text>",
            r.name
        );
        let bar_y = y + 10.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{bar_y}\" width=\"{:.1}\" height=\"30\" fill=\"#f7c88f\" stroke=\"#c46a00\"/>",
            x(0.0),
            x(held) - x(0.0)
        );
        if split {
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{bar_y}\" width=\"{:.1}\" height=\"30\" fill=\"#e8f1fb\" stroke=\"#2f6fb3\"/>",
                x(held),
                x(save) - x(held)
            );
        }
        let inside = if split {
            "copy"
        } else {
            "copy + encode + file, all under the lock"
        };
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"13\">{inside}</text>",
            x(0.0) + 6.0,
            bar_y + 20.0
        );
        if split {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"13\">encode + file, no lock</text>",
                x(held) + 6.0,
                bar_y + 20.0
            );
        }
        let during = r.during.map_or("-".into(), grouped);
        let _ = writeln!(
            svg,
            "<text x=\"{left}\" y=\"{}\" fill=\"#3e4c59\">stall {:.1} ms; writes that completed while the file was written: {during}</text>",
            bar_y + 52.0,
            ms(r.stall)
        );
    }
    let axis_y = 285.0;
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{axis_y}\" y2=\"{axis_y}\" stroke=\"#9aa5b1\"/>",
        width - right
    );
    let mut tick = 0.0;
    while tick <= top_ms + 1e-9 {
        let _ = writeln!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{axis_y}\" y2=\"{1}\" stroke=\"#9aa5b1\"/><text x=\"{0:.1}\" y=\"{2}\" text-anchor=\"middle\" font-size=\"13\">{tick} ms</text>",
            x(tick),
            axis_y + 5.0,
            axis_y + 21.0
        );
        tick += step;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{left}\" y=\"{}\" font-size=\"13\" fill=\"#52606d\">timed alone: clone {:.1} ms, encode {:.1} ms, file {:.1} ms</text>",
        height - 6.0,
        ms(copy),
        ms(encode),
        ms(file)
    );
    svg + "</svg>\n"
}
