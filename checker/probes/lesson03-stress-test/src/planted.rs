//! The broken stores the learner's stress test must catch.
//!
//! Each is a correct store with one concurrency bug planted in it, the kind a
//! stress test exists to find. Every one behaves correctly when one thread uses it
//! at a time, and goes wrong only when threads overlap.
//!
//! A real race window is a few instructions wide, and whether a run hits it depends
//! on the scheduler. These stores make their window wait for company instead: the
//! faulty section *lingers* (yields, a bounded number of times) until another
//! thread has done what makes the bug show, such as a second writer taking the
//! same sequence number, or a reader looking at a half-done write. So as soon as a
//! stress test really runs threads at the same time (the lesson's defaults: 4
//! writers, 4 readers, 1000 operations each, 8 keys), the bug shows many times in
//! every run, on a loaded machine as on an idle one. The bound keeps a store used
//! by one thread correct, and only a little slower.
//!
//! Each store also counts how often its bug actually showed. That count is not
//! given to the stress test; the checker uses it to tell "your test missed the
//! bug" from "the bug never happened in your test" (threads that never overlap).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::thread;

use parking_lot::{Mutex, RwLock};
use reference::{Command, Entry, KvStore, Response, Store, Violation};

/// A planted store, with the count of times its bug showed.
pub trait Planted: KvStore {
    fn times_it_showed(&self) -> usize;
}

/// Which bug, for the criteria and the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    LostUpdate,
    TornWrite,
    VersionGoesBack,
    PanicsUnderContention,
    DeadlocksUnderContention,
}

impl Bug {
    pub fn store(self) -> Box<dyn Planted> {
        match self {
            Bug::LostUpdate => Box::new(LostUpdate::default()),
            Bug::TornWrite => Box::new(TornWrite::default()),
            Bug::VersionGoesBack => Box::new(VersionGoesBack::default()),
            Bug::PanicsUnderContention => Box::new(PanicsUnderContention::default()),
            Bug::DeadlocksUnderContention => Box::new(DeadlocksUnderContention::default()),
        }
    }
}

/// How many times a race window yields, at most, while it waits for company.
const LINGER: usize = 64;

/// Yields until `company` holds, at most [`LINGER`] times; returns whether it did.
fn linger(company: impl Fn() -> bool) -> bool {
    for _ in 0..LINGER {
        if company() {
            return true;
        }
        thread::yield_now();
    }
    company()
}

/// Keeps readers in step with the writers. A GET first lingers until some write
/// has completed since this thread's previous GET. Plain GETs are so much faster
/// than the planted writes that the readers would otherwise be done long before
/// the writers, and never see the bug; paced, their reads spread over the whole
/// time the writers work.
#[derive(Default)]
struct Pace {
    writes: AtomicU64,
}

impl Pace {
    fn wrote(&self) {
        self.writes.fetch_add(1, SeqCst);
    }

    fn before_read(&self) {
        thread_local! {
            static WRITES_AT_LAST_READ: Cell<u64> = const { Cell::new(0) };
        }
        let last = WRITES_AT_LAST_READ.get();
        linger(|| self.writes.load(SeqCst) != last);
        WRITES_AT_LAST_READ.set(self.writes.load(SeqCst));
    }
}

/// A state machine's parts, for stores that bend its rules.
#[derive(Default)]
struct Table {
    entries: BTreeMap<String, Entry>,
    global_seq: u64,
}

impl Table {
    fn get(&self, key: &str) -> Response {
        match self.entries.get(key) {
            Some(Entry {
                value: Some(value),
                version,
                ..
            }) => Response::Value {
                value: value.clone(),
                version: *version,
            },
            _ => Response::NotFound,
        }
    }

    fn next_version(&self, key: &str) -> u64 {
        self.entries.get(key).map_or(1, |e| e.version + 1)
    }

    fn is_live(&self, key: &str) -> bool {
        self.entries.get(key).is_some_and(Entry::is_live)
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        Store::from_parts(self.entries.clone(), self.global_seq).check_invariants()
    }
}

/// The global sequence number is read under one lock acquisition and written back,
/// plus one, under another: a read-modify-write split in two. Two writers in
/// between take the same number, and the sequence falls behind the writes, so the
/// versions no longer add up to it. Versions and values stay right: only the
/// invariants give it away.
#[derive(Default)]
pub struct LostUpdate {
    table: RwLock<Table>,
    /// How many writers read each sequence number as their next one.
    takers: Mutex<BTreeMap<u64, usize>>,
    collisions: AtomicUsize,
}

impl LostUpdate {
    fn write(&self, key: &str, value: Option<&str>) -> Response {
        let seq = self.table.read().global_seq + 1;
        *self.takers.lock().entry(seq).or_default() += 1;
        // The window: wait for another writer to read the same number.
        linger(|| self.takers.lock().get(&seq).is_some_and(|n| *n > 1));
        let mut table = self.table.write();
        if table.global_seq + 1 != seq {
            self.collisions.fetch_add(1, SeqCst);
        }
        if value.is_none() && !table.is_live(key) {
            return Response::NotFound;
        }
        let version = table.next_version(key);
        table.entries.insert(
            key.to_owned(),
            Entry {
                value: value.map(str::to_owned),
                version,
                seq,
            },
        );
        table.global_seq = seq;
        match value {
            Some(_) => Response::Stored { version, seq },
            None => Response::Deleted { version, seq },
        }
    }
}

impl KvStore for LostUpdate {
    fn get(&self, key: &str) -> Response {
        self.table.read().get(key)
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.write(key, Some(value))
    }

    fn del(&self, key: &str) -> Response {
        self.write(key, None)
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.table.read().check_invariants()
    }
}

impl Planted for LostUpdate {
    fn times_it_showed(&self) -> usize {
        self.collisions.load(SeqCst)
    }
}

/// An overwrite becomes visible in two steps: first the new value, under the old
/// version; then, under a second acquisition of the lock, the new version. A reader
/// in between sees a value with a version that no write gave it. The store is
/// consistent again after each write, so its invariants hold at the end.
#[derive(Default)]
pub struct TornWrite {
    table: RwLock<Table>,
    pace: Pace,
    /// Overwrites between their two steps, per key.
    half_done: Mutex<BTreeMap<String, usize>>,
    torn_reads: AtomicUsize,
}

impl KvStore for TornWrite {
    fn get(&self, key: &str) -> Response {
        self.pace.before_read();
        let table = self.table.read();
        let response = table.get(key);
        if self.half_done.lock().get(key).is_some_and(|n| *n > 0) {
            self.torn_reads.fetch_add(1, SeqCst);
        }
        response
    }

    fn set(&self, key: &str, value: &str) -> Response {
        {
            let mut table = self.table.write();
            let Some(entry) = table.entries.get_mut(key) else {
                // A first write is done in one step.
                let seq = table.global_seq + 1;
                table.global_seq = seq;
                let entry = Entry {
                    value: Some(value.to_owned()),
                    version: 1,
                    seq,
                };
                table.entries.insert(key.to_owned(), entry);
                self.pace.wrote();
                return Response::Stored { version: 1, seq };
            };
            entry.value = Some(value.to_owned());
            *self.half_done.lock().entry(key.to_owned()).or_default() += 1;
        }
        // The window: wait for a reader to look at the half-done write.
        let torn_before = self.torn_reads.load(SeqCst);
        linger(|| self.torn_reads.load(SeqCst) != torn_before);
        let mut table = self.table.write();
        let seq = table.global_seq + 1;
        table.global_seq = seq;
        let entry = table
            .entries
            .get_mut(key)
            .expect("entries are never removed");
        entry.value = Some(value.to_owned());
        entry.version += 1;
        entry.seq = seq;
        let version = entry.version;
        *self.half_done.lock().get_mut(key).expect("marked above") -= 1;
        self.pace.wrote();
        Response::Stored { version, seq }
    }

    fn del(&self, key: &str) -> Response {
        let mut table = self.table.write();
        if !table.is_live(key) {
            return Response::NotFound;
        }
        let (version, seq) = (table.next_version(key), table.global_seq + 1);
        table.global_seq = seq;
        let tombstone = Entry {
            value: None,
            version,
            seq,
        };
        table.entries.insert(key.to_owned(), tombstone);
        self.pace.wrote();
        Response::Deleted { version, seq }
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.table.read().check_invariants()
    }
}

impl Planted for TornWrite {
    fn times_it_showed(&self) -> usize {
        self.torn_reads.load(SeqCst)
    }
}

/// A write is applied to a copy of the state taken under the read lock, and the
/// copy is put back under the write lock. A writer that puts back a copy older
/// than the current state erases the writes made since, and a key a reader saw at
/// version 5 is back at version 4. Every state put back is a valid one, so the
/// invariants hold, and every value in it was written by someone: only the order
/// of what a reader saw gives it away.
#[derive(Default)]
pub struct VersionGoesBack {
    /// The state and its generation, which every write bumps.
    state: RwLock<(Store, u64)>,
    pace: Pace,
    /// The newest generation a GET has read.
    newest_read: AtomicU64,
    reverts: AtomicUsize,
}

impl VersionGoesBack {
    fn write(&self, command: Command) -> Response {
        let slow = matches!(command, Command::Del { .. });
        let (mut copy, generation) = self.state.read().clone();
        let response = copy.apply(command);
        // The window, for DELs only: wait until a reader has read a state newer
        // than our copy, which we are about to erase. (If every write waited,
        // almost every write would be erased, versions would hardly grow, and
        // there would be nothing to go back from.)
        if slow {
            linger(|| self.newest_read.load(SeqCst) > generation);
        }
        let mut state = self.state.write();
        if state.1 != generation {
            self.reverts.fetch_add(1, SeqCst);
        }
        *state = (copy, state.1 + 1);
        self.pace.wrote();
        response
    }
}

impl KvStore for VersionGoesBack {
    fn get(&self, key: &str) -> Response {
        self.pace.before_read();
        let state = self.state.read();
        self.newest_read.fetch_max(state.1, SeqCst);
        state.0.get(key)
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.write(Command::set(key, value))
    }

    fn del(&self, key: &str) -> Response {
        self.write(Command::del(key))
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.state.read().0.check_invariants()
    }
}

impl Planted for VersionGoesBack {
    fn times_it_showed(&self) -> usize {
        self.reverts.load(SeqCst)
    }
}

/// Writers take the lock with `try_write` and `expect` it to succeed, which it does
/// whenever nobody else is using the store.
#[derive(Default)]
pub struct PanicsUnderContention {
    machine: RwLock<Store>,
    panics: AtomicUsize,
}

impl PanicsUnderContention {
    fn write(&self, command: Command) -> Response {
        // The window: wait for the lock to be busy.
        linger(|| self.machine.is_locked());
        let Some(mut machine) = self.machine.try_write() else {
            self.panics.fetch_add(1, SeqCst);
            panic!("the store is busy: another thread holds its lock");
        };
        machine.apply(command)
    }
}

impl KvStore for PanicsUnderContention {
    fn get(&self, key: &str) -> Response {
        let machine = self.machine.read();
        // Readers linger a little inside, so writers find the lock taken.
        thread::yield_now();
        machine.get(key)
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.write(Command::set(key, value))
    }

    fn del(&self, key: &str) -> Response {
        self.write(Command::del(key))
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.machine.read().check_invariants()
    }
}

impl Planted for PanicsUnderContention {
    fn times_it_showed(&self) -> usize {
        self.panics.load(SeqCst)
    }
}

/// Every write is also recorded in a journal behind a lock of its own. SET takes
/// the store's lock, then the journal's; DEL takes them in the other order. A SET
/// and a DEL that overlap each hold what the other waits for, forever.
#[derive(Default)]
pub struct DeadlocksUnderContention {
    machine: RwLock<Store>,
    journal: Mutex<Vec<String>>,
    set_holds_machine: AtomicBool,
    del_holds_journal: AtomicBool,
    /// Operations that started and have not returned.
    in_flight: AtomicUsize,
}

impl DeadlocksUnderContention {
    fn counted<T>(&self, body: impl FnOnce() -> T) -> T {
        self.in_flight.fetch_add(1, SeqCst);
        let out = body();
        self.in_flight.fetch_sub(1, SeqCst);
        out
    }
}

impl KvStore for DeadlocksUnderContention {
    fn get(&self, key: &str) -> Response {
        self.counted(|| self.machine.read().get(key))
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.counted(|| {
            let mut machine = self.machine.write();
            self.set_holds_machine.store(true, SeqCst);
            // The window: wait for a DEL to hold the journal.
            linger(|| self.del_holds_journal.load(SeqCst));
            self.journal.lock().push(format!("SET {key}"));
            self.set_holds_machine.store(false, SeqCst);
            machine.apply(Command::set(key, value))
        })
    }

    fn del(&self, key: &str) -> Response {
        self.counted(|| {
            let mut journal = self.journal.lock();
            self.del_holds_journal.store(true, SeqCst);
            // The window: wait for a SET to hold the store's lock.
            linger(|| self.set_holds_machine.load(SeqCst));
            let response = self.machine.write().apply(Command::del(key));
            journal.push(format!("DEL {key}"));
            self.del_holds_journal.store(false, SeqCst);
            response
        })
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.machine.read().check_invariants()
    }
}

impl Planted for DeadlocksUnderContention {
    /// Threads still inside the store: after the stress test has given up on
    /// them, these are the deadlocked ones.
    fn times_it_showed(&self) -> usize {
        self.in_flight.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alone, every planted store behaves like the real one.
    #[test]
    fn one_thread_at_a_time_every_store_is_correct() {
        for bug in [
            Bug::LostUpdate,
            Bug::TornWrite,
            Bug::VersionGoesBack,
            Bug::PanicsUnderContention,
            Bug::DeadlocksUnderContention,
        ] {
            let store = bug.store();
            let real = reference::ConcurrentStore::new();
            for (key, value) in [("a", "1"), ("b", "2"), ("a", "3")] {
                assert_eq!(store.set(key, value), real.set(key, value), "{bug:?}");
            }
            for key in ["a", "b", "a", "c"] {
                assert_eq!(store.del(key), real.del(key), "{bug:?}");
                assert_eq!(store.get(key), real.get(key), "{bug:?}");
            }
            assert_eq!(store.set("a", "4"), real.set("a", "4"), "{bug:?}");
            assert_eq!(store.check_invariants(), Ok(()), "{bug:?}");
            assert_eq!(store.times_it_showed(), 0, "{bug:?}");
        }
    }
}

/// The planted bugs are only useful if a reasonable stress test catches them every
/// time: the reference must report FAIL on each of them, on every seed, and for
/// the right reason. (`cargo test -p probe-lesson03 -- --ignored` runs 100 seeds.)
#[cfg(test)]
mod reliability {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use reference::{Check, StressConfig, StressReport, run_stress};

    use super::*;

    /// Which line of a report a bug must fail.
    type Line = fn(&StressReport) -> &Check;

    /// Each bug, the line of the report that must catch it, and what it must say.
    const BUGS: [(Bug, Line, &str); 5] = [
        (Bug::LostUpdate, |r| &r.invariants, "FAIL"),
        (Bug::TornWrite, |r| &r.reads, "which no write produced"),
        (Bug::VersionGoesBack, |r| &r.reads, "its version went back"),
        (
            Bug::PanicsUnderContention,
            |r| &r.finished,
            "panicked: the store is busy",
        ),
        (
            Bug::DeadlocksUnderContention,
            |r| &r.finished,
            "did not finish",
        ),
    ];

    /// Runs the reference on every planted bug for every seed; fails unless the
    /// right line of every report fails.
    fn caught_every_time(seeds: std::ops::Range<u64>) {
        for (bug, line, why) in BUGS {
            let started = Instant::now();
            let mut least = usize::MAX;
            for seed in seeds.clone() {
                let store: Arc<dyn Planted> = Arc::from(bug.store());
                let deadline = match bug {
                    Bug::DeadlocksUnderContention => Duration::from_millis(500),
                    _ => Duration::from_secs(20),
                };
                let config = StressConfig {
                    seed,
                    deadline,
                    ..StressConfig::default()
                };
                let report = run_stress(store.clone(), &config);
                let check = line(&report).to_string();
                assert!(
                    check.contains(why),
                    "{bug:?} not caught as it should be, seed {seed}:\n{report}"
                );
                least = least.min(store.times_it_showed());
            }
            eprintln!(
                "{bug:?}: caught on all {} seeds, in {:.1?}; the bug showed at least {least} times in a run",
                seeds.end - seeds.start,
                started.elapsed()
            );
        }
    }

    #[test]
    fn the_reference_catches_every_planted_bug_on_20_seeds() {
        caught_every_time(0..20);
    }

    #[test]
    #[ignore = "slow: 100 seeds per bug"]
    fn the_reference_catches_every_planted_bug_on_100_seeds() {
        caught_every_time(1000..1100);
    }
}
