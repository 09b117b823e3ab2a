//! Who waits, and for how long, under three reader-writer lock policies. Writes the
//! table the book's lesson 06 chapter includes in "The policy: nobody starves"
//! (`book/src/generated/lesson06-starvation.md`):
//!
//!     cargo run --release -p kvlab-bench --bin lesson06-starvation
//!
//! The three locks are lesson 06's reference `RwLock` (phase-fair), and two monitor
//! locks written the same way here, a writer-preferring one and a reader-preferring
//! one: each a std `Mutex` around who is inside and who waits, and two `Condvar`s.
//!
//! Two scenarios, each for a fixed window per lock:
//!
//! - a stream of writers: two threads write back to back (add one, then about a
//!   microsecond of work, inside the lock), and one reader asks to read again and
//!   again; what is measured is the reader's longest wait, from asking to getting in,
//!   and how many reads it got;
//! - a stream of readers: three threads read with overlapping sections (a few
//!   microseconds each, re-entering at once), and one writer asks to write again and
//!   again; measured, the writer's longest wait and how many writes it got.
//!
//! The measured thread asks for the first time once the stream is going. A request
//! still waiting when the window closes counts up to the deadline; if the thread never
//! got in at all, the table says so. At the deadline the stream stops, which lets
//! every waiter in, so even a policy that starves the measured thread ends; a
//! watchdog ends the program if any thread is still out several seconds later. The
//! locks take turns within each round, and each cell is the median of the rounds.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use kvlab_bench::{Report, grouped};

const ROUNDS: usize = 5;
/// How long each scenario runs, per lock and round.
const WINDOW: Duration = Duration::from_secs(1);
/// The work a write does inside the lock, besides adding one.
const WRITE_WORK: Duration = Duration::from_micros(1);
/// How long each reader of the stream of readers stays inside.
const READ_WORK: Duration = Duration::from_micros(5);
/// The measured thread's work outside the lock between two requests, so that the
/// stream it meets is the stream the scenario describes, not one it has crowded out.
const THINK: Duration = Duration::from_micros(10);
const STREAM_WRITERS: usize = 2;
const STREAM_READERS: usize = 3;
/// Once the stream is going, how long it runs before the measured thread asks.
const SETTLE: Duration = Duration::from_millis(10);
/// How long after the deadline every thread must be done, or the run is abandoned.
const GRACE: Duration = Duration::from_secs(5);

/// Busy for `d`: work that holds a core, as a critical section does.
fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A writer-preferring monitor lock: a waiting writer keeps new readers out, and a
/// writer leaving hands over to the next writer whenever one waits.
mod writer_preferring {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

    struct State {
        readers: u32,
        writer: bool,
        writers_waiting: u32,
    }

    pub struct RwLock<T> {
        state: Mutex<State>,
        /// Readers wait here while a writer is inside or waiting.
        readers_may_enter: Condvar,
        /// Writers wait here while anyone is inside.
        writer_may_enter: Condvar,
        value: UnsafeCell<T>,
    }

    // SAFETY: the state lets in readers only while no writer is inside, and a writer
    // only while nobody else is, so the value is shared (`T: Sync`) or handed to one
    // thread at a time (`T: Send`), as std's `RwLock` requires.
    unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

    impl<T> RwLock<T> {
        pub fn new(value: T) -> Self {
            RwLock {
                state: Mutex::new(State {
                    readers: 0,
                    writer: false,
                    writers_waiting: 0,
                }),
                readers_may_enter: Condvar::new(),
                writer_may_enter: Condvar::new(),
                value: UnsafeCell::new(value),
            }
        }

        fn state(&self) -> MutexGuard<'_, State> {
            // A thread that panicked holding the state mutex left the state whole:
            // every change to it is one step.
            self.state.lock().unwrap_or_else(PoisonError::into_inner)
        }

        pub fn read(&self) -> ReadGuard<'_, T> {
            let mut state = self.state();
            // Behind a waiting writer, not only an entered one: that is the
            // preference, and what lets a stream of writers starve the readers.
            while state.writer || state.writers_waiting > 0 {
                state = self
                    .readers_may_enter
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.readers += 1;
            ReadGuard { lock: self }
        }

        pub fn write(&self) -> WriteGuard<'_, T> {
            let mut state = self.state();
            // Counted while waiting, so that readers arriving now wait behind us.
            state.writers_waiting += 1;
            while state.writer || state.readers > 0 {
                state = self
                    .writer_may_enter
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.writers_waiting -= 1;
            state.writer = true;
            WriteGuard { lock: self }
        }

        fn leave_read(&self) {
            let mut state = self.state();
            state.readers -= 1;
            // Notified with the state mutex held, so the writer cannot miss it.
            if state.readers == 0 && state.writers_waiting > 0 {
                self.writer_may_enter.notify_one();
            }
        }

        fn leave_write(&self) {
            let mut state = self.state();
            state.writer = false;
            if state.writers_waiting > 0 {
                // A writer first: readers could not go in past it anyway.
                self.writer_may_enter.notify_one();
            } else {
                self.readers_may_enter.notify_all();
            }
        }
    }

    /// Reading, beside other readers; dropping it leaves.
    pub struct ReadGuard<'a, T> {
        lock: &'a RwLock<T>,
    }

    impl<T> Deref for ReadGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: a reader is inside, so no writer is until this guard leaves.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> Drop for ReadGuard<'_, T> {
        // Runs on a panic too, so a reader that panics still leaves.
        fn drop(&mut self) {
            self.lock.leave_read();
        }
    }

    /// Writing, alone; dropping it leaves.
    pub struct WriteGuard<'a, T> {
        lock: &'a RwLock<T>,
    }

    impl<T> Deref for WriteGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: this writer is inside alone until the guard leaves.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for WriteGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as for `deref`; `&mut self` keeps this the only reference.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for WriteGuard<'_, T> {
        fn drop(&mut self) {
            self.lock.leave_write();
        }
    }
}

/// A reader-preferring monitor lock: readers go in whenever no writer is inside,
/// waiting writers or not; a writer waits until no reader is inside.
mod reader_preferring {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

    struct State {
        readers: u32,
        writer: bool,
        readers_waiting: u32,
        writers_waiting: u32,
    }

    pub struct RwLock<T> {
        state: Mutex<State>,
        /// Readers wait here while a writer is inside.
        readers_may_enter: Condvar,
        /// Writers wait here while anyone is inside.
        writer_may_enter: Condvar,
        value: UnsafeCell<T>,
    }

    // SAFETY: as for the writer-preferring lock: readers share the value only while
    // no writer is inside, and a writer has it alone.
    unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

    impl<T> RwLock<T> {
        pub fn new(value: T) -> Self {
            RwLock {
                state: Mutex::new(State {
                    readers: 0,
                    writer: false,
                    readers_waiting: 0,
                    writers_waiting: 0,
                }),
                readers_may_enter: Condvar::new(),
                writer_may_enter: Condvar::new(),
                value: UnsafeCell::new(value),
            }
        }

        fn state(&self) -> MutexGuard<'_, State> {
            // Every change to the state is one step, so a panic cannot leave it torn.
            self.state.lock().unwrap_or_else(PoisonError::into_inner)
        }

        pub fn read(&self) -> ReadGuard<'_, T> {
            let mut state = self.state();
            state.readers_waiting += 1;
            // Only an entered writer keeps a reader out: that is the preference, and
            // what lets overlapping readers starve a writer.
            while state.writer {
                state = self
                    .readers_may_enter
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.readers_waiting -= 1;
            state.readers += 1;
            ReadGuard { lock: self }
        }

        pub fn write(&self) -> WriteGuard<'_, T> {
            let mut state = self.state();
            state.writers_waiting += 1;
            while state.writer || state.readers > 0 {
                state = self
                    .writer_may_enter
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.writers_waiting -= 1;
            state.writer = true;
            WriteGuard { lock: self }
        }

        fn leave_read(&self) {
            let mut state = self.state();
            state.readers -= 1;
            // Notified with the state mutex held, so the writer cannot miss it.
            if state.readers == 0 && state.writers_waiting > 0 {
                self.writer_may_enter.notify_one();
            }
        }

        fn leave_write(&self) {
            let mut state = self.state();
            state.writer = false;
            // Both sides may go now. Readers need no turn; if they get in before the
            // writer, the writer waits again, and the last reader out wakes it.
            if state.readers_waiting > 0 {
                self.readers_may_enter.notify_all();
            }
            if state.writers_waiting > 0 {
                self.writer_may_enter.notify_one();
            }
        }
    }

    /// Reading, beside other readers; dropping it leaves.
    pub struct ReadGuard<'a, T> {
        lock: &'a RwLock<T>,
    }

    impl<T> Deref for ReadGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: a reader is inside, so no writer is until this guard leaves.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> Drop for ReadGuard<'_, T> {
        // Runs on a panic too, so a reader that panics still leaves.
        fn drop(&mut self) {
            self.lock.leave_read();
        }
    }

    /// Writing, alone; dropping it leaves.
    pub struct WriteGuard<'a, T> {
        lock: &'a RwLock<T>,
    }

    impl<T> Deref for WriteGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: this writer is inside alone until the guard leaves.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for WriteGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as for `deref`; `&mut self` keeps this the only reference.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for WriteGuard<'_, T> {
        fn drop(&mut self) {
            self.lock.leave_write();
        }
    }
}

/// What the benchmark asks of a lock: run `f` inside, on the read or the write side.
trait Lock: Send + Sync + 'static {
    fn new() -> Self;
    fn with_read<R>(&self, f: impl FnOnce(&u64) -> R) -> R;
    fn with_write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R;
}

/// Implements [`Lock`] for a lock with `new`, `read` and `write`, as all three have.
macro_rules! lock {
    ($lock:ty) => {
        impl Lock for $lock {
            fn new() -> Self {
                <$lock>::new(0)
            }
            fn with_read<R>(&self, f: impl FnOnce(&u64) -> R) -> R {
                f(&self.read())
            }
            fn with_write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.write())
            }
        }
    };
}

lock!(solution06_own_locks::RwLock<u64>);
lock!(writer_preferring::RwLock<u64>);
lock!(reader_preferring::RwLock<u64>);

#[derive(Clone, Copy)]
enum Side {
    Read,
    Write,
}

/// Goes in on `side`, does the work inside, leaves; returns the moment it got in.
fn enter(lock: &impl Lock, side: Side) -> Instant {
    match side {
        Side::Read => lock.with_read(|value| {
            let got_in = Instant::now();
            black_box(*value);
            spin(READ_WORK);
            got_in
        }),
        Side::Write => lock.with_write(|value| {
            let got_in = Instant::now();
            *value += 1;
            spin(WRITE_WORK);
            got_in
        }),
    }
}

/// What the measured thread saw in one window.
#[derive(Clone, Copy)]
struct Outcome {
    /// The longest wait, an unfinished one counted up to the deadline.
    longest: Duration,
    /// How many times it got in before the deadline.
    got_in: u64,
}

#[derive(Clone, Copy)]
enum Scenario {
    /// Writers back to back; a reader measured.
    StreamOfWriters,
    /// Overlapping readers; a writer measured.
    StreamOfReaders,
}

/// Ends the program if `rx` has nothing by `by`: a thread is stuck in a lock.
fn recv_by<T>(rx: &mpsc::Receiver<T>, by: Instant, what: &str) -> T {
    let left = by.saturating_duration_since(Instant::now());
    rx.recv_timeout(left).unwrap_or_else(|_| {
        eprintln!("{what} did not finish in time: a lock hangs; giving up");
        std::process::exit(1);
    })
}

/// One window of `scenario` on a fresh lock `L`.
fn run<L: Lock>(scenario: Scenario) -> Outcome {
    let (stream_side, threads, measured_side) = match scenario {
        Scenario::StreamOfWriters => (Side::Write, STREAM_WRITERS, Side::Read),
        Scenario::StreamOfReaders => (Side::Read, STREAM_READERS, Side::Write),
    };
    let lock = Arc::new(L::new());
    let stop = Arc::new(AtomicBool::new(false));
    let going = Arc::new(AtomicUsize::new(0));
    let (stream_done, stream_finished) = mpsc::channel::<()>();
    let stream: Vec<_> = (0..threads)
        .map(|_| {
            let (lock, stop, going, done) = (
                Arc::clone(&lock),
                Arc::clone(&stop),
                Arc::clone(&going),
                stream_done.clone(),
            );
            thread::spawn(move || {
                enter(&*lock, stream_side);
                going.fetch_add(1, Ordering::Release);
                while !stop.load(Ordering::Relaxed) {
                    enter(&*lock, stream_side);
                }
                let _ = done.send(());
            })
        })
        .collect();

    let started = Instant::now();
    while going.load(Ordering::Acquire) < threads {
        if started.elapsed() > GRACE {
            eprintln!("the stream never got going: a lock hangs; giving up");
            std::process::exit(1);
        }
        thread::yield_now();
    }
    thread::sleep(SETTLE);

    let deadline = Instant::now() + WINDOW;
    let (measured_done, measured_finished) = mpsc::channel();
    let measured = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let mut outcome = Outcome {
                longest: Duration::ZERO,
                got_in: 0,
            };
            loop {
                let asked = Instant::now();
                if asked >= deadline {
                    break;
                }
                let got_in = enter(&*lock, measured_side);
                if got_in >= deadline {
                    // Let in only because the stream stopped: this wait did not end
                    // inside the window.
                    outcome.longest = outcome.longest.max(deadline - asked);
                    break;
                }
                outcome.longest = outcome.longest.max(got_in - asked);
                outcome.got_in += 1;
                spin(THINK);
            }
            let _ = measured_done.send(outcome);
        })
    };

    thread::sleep(deadline.saturating_duration_since(Instant::now()));
    // The stream stops after its current section; with nobody left to hand the lock
    // on to, every policy lets the measured thread in, so it ends too.
    stop.store(true, Ordering::Relaxed);
    let by = deadline + GRACE;
    let outcome = recv_by(&measured_finished, by, "the measured thread");
    for _ in 0..threads {
        recv_by(&stream_finished, by, "a thread of the stream");
    }
    measured.join().expect("the measured thread finishes");
    for thread in stream {
        thread.join().expect("the stream finishes");
    }
    outcome
}

/// A wait as the table prints it: µs below a millisecond, ms below a second.
fn time(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.1} µs")
    } else if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else if us < 1e6 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// The cell for one lock and scenario: the median longest wait over the rounds, the
/// largest in brackets, or that the measured thread never got in.
fn wait_cell(outcomes: &[Outcome]) -> String {
    let never = |o: &Outcome| o.got_in == 0;
    let never_rounds = outcomes.iter().filter(|o| never(o)).count();
    // A round where it never got in sorts after every round where it did.
    let mut sorted = outcomes.to_vec();
    sorted.sort_by_key(|o| (never(o), o.longest));
    let median = sorted[sorted.len() / 2];
    let max = sorted[sorted.len() - 1];
    let never_text = format!(
        "never got in in {} s ({never_rounds} of {} rounds)",
        WINDOW.as_secs(),
        outcomes.len()
    );
    if never(&median) {
        never_text
    } else if never(&max) {
        format!("{} (max: {never_text})", time(median.longest))
    } else {
        format!("{} (max {})", time(median.longest), time(max.longest))
    }
}

fn count_cell(outcomes: &[Outcome]) -> String {
    let mut counts: Vec<u64> = outcomes.iter().map(|o| o.got_in).collect();
    counts.sort();
    grouped(counts[counts.len() / 2])
}

/// One window of a scenario on a fresh lock of one policy.
type Runner = fn(Scenario) -> Outcome;

fn main() {
    let mut report = Report::new(
        "lesson06-starvation",
        "cargo run --release -p kvlab-bench --bin lesson06-starvation",
    );
    let locks: [(&str, Runner); 3] = [
        (
            "the reference, phase-fair",
            run::<solution06_own_locks::RwLock<u64>>,
        ),
        ("writer-preferring", run::<writer_preferring::RwLock<u64>>),
        ("reader-preferring", run::<reader_preferring::RwLock<u64>>),
    ];
    let scenarios = [Scenario::StreamOfWriters, Scenario::StreamOfReaders];
    // seen[lock][scenario]: one outcome per round.
    let mut seen = vec![vec![Vec::new(); scenarios.len()]; locks.len()];
    for round in 1..=ROUNDS {
        eprintln!("round {round} of {ROUNDS}");
        for (s, &scenario) in scenarios.iter().enumerate() {
            for (l, (_, run)) in locks.iter().enumerate() {
                seen[l][s].push(run(scenario));
            }
        }
    }

    report.line(format!(
        "Stream of writers: {STREAM_WRITERS} threads write back to back (add one, then \
         {} µs of work inside), beside one reader. Stream of readers: {STREAM_READERS} \
         threads hold the read side {} µs each and re-enter at once, beside one writer. \
         The measured thread asks again {} µs after it leaves. {} s per lock and \
         scenario, {ROUNDS} rounds, the locks taking turns.",
        WRITE_WORK.as_micros(),
        READ_WORK.as_micros(),
        THINK.as_micros(),
        WINDOW.as_secs(),
    ));
    report.line("");
    report.line(
        "| policy | stream of writers: the reader's longest wait | reads | \
         stream of readers: the writer's longest wait | writes |",
    );
    report.line("|---|---:|---:|---:|---:|");
    for ((name, _), outcomes) in locks.iter().zip(&seen) {
        report.line(format!(
            "| {name} | {} | {} | {} | {} |",
            wait_cell(&outcomes[0]),
            count_cell(&outcomes[0]),
            wait_cell(&outcomes[1]),
            count_cell(&outcomes[1]),
        ));
    }
    report.line("");
    report.line(format!(
        "Each wait is the longest time the one reader (or the one writer) spent between \
         asking for the lock and getting in during a {} s window, a request still waiting \
         at the deadline counted up to it; the cell is the median over {ROUNDS} rounds, \
         the largest in brackets, and reads and writes are the median number of times it \
         got in.",
        WINDOW.as_secs()
    ));
    report.write();
}
