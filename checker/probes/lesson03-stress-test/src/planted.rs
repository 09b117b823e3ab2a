//! The stores the learner's stress test must judge in the `catches-*` criteria.
//!
//! There is one store type, [`Lab`], for all of them. A lab is built for one [`Bug`]
//! and is either *planted* (the bug is there) or its *twin* (the same code, the same
//! waits, the same locks, with the one faulty step done right). Which one a run gets
//! is a field the stress test cannot see, chosen by the criterion at run time, so a
//! test can only tell them apart by what the store answers: exactly what a stress
//! test is for. Each `catches-*` criterion runs the test on the twin too, with the
//! same configuration and seed, and a test that cries wolf there is rejected.
//!
//! A real race window is a few instructions wide, and whether a run hits it depends
//! on the scheduler. These stores make their window wait for company instead: the
//! faulty section *lingers* (pauses, a bounded number of times) until another
//! thread has done what makes the bug show, such as a second writer taking the
//! same sequence number, or a reader looking at a half-done write. The twin lingers
//! on the same condition, so the two cost the same per operation. As soon as a
//! stress test really runs threads at the same time (4 writers and 4 readers on 8
//! keys, with the loads of [`crate::criteria::catch_config`]), the planted bug
//! shows many times in every run, on a loaded machine as on an idle one. The bound keeps a
//! store used by one thread correct, and only a little slower.
//!
//! Each lab also counts how often its bug showed *in a way a correct stress test
//! sees*: a final state whose invariants are broken, a GET answered with a pair no
//! write produced, a reader served an older version than it had read before, a
//! panic in a worker, an operation stuck for good. That count is not given to the
//! stress test; the checker uses it to tell "your test missed the bug" from "the
//! bug never happened in your test" (threads that never overlap).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use reference::{Command, Entry, KvStore, Response, Store, Violation};

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
    pub const ALL: [Bug; 5] = [
        Bug::LostUpdate,
        Bug::TornWrite,
        Bug::VersionGoesBack,
        Bug::PanicsUnderContention,
        Bug::DeadlocksUnderContention,
    ];
}

/// One store type for every bug, planted or not.
pub struct Lab {
    planted: bool,
    kind: Kind,
}

enum Kind {
    LostUpdate(LostUpdate),
    TornWrite(TornWrite),
    VersionGoesBack(VersionGoesBack),
    Panics(PanicsUnderContention),
    Deadlocks(DeadlocksUnderContention),
}

impl Lab {
    /// A store built around `bug`: with the bug if `planted`, without it otherwise.
    pub fn new(bug: Bug, planted: bool) -> Lab {
        let kind = match bug {
            Bug::LostUpdate => Kind::LostUpdate(LostUpdate::default()),
            Bug::TornWrite => Kind::TornWrite(TornWrite::default()),
            Bug::VersionGoesBack => Kind::VersionGoesBack(VersionGoesBack::new()),
            Bug::PanicsUnderContention => Kind::Panics(PanicsUnderContention::default()),
            Bug::DeadlocksUnderContention => Kind::Deadlocks(DeadlocksUnderContention::default()),
        };
        Lab { planted, kind }
    }

    pub fn is_planted(&self) -> bool {
        self.planted
    }

    /// How many times the bug showed in a way a correct stress test sees; always 0
    /// for a twin. For a store that deadlocks, the operations stuck in it now.
    pub fn times_it_showed(&self) -> usize {
        if !self.planted {
            return 0;
        }
        match &self.kind {
            Kind::LostUpdate(s) => s.times_it_showed(),
            Kind::TornWrite(s) => s.torn_reads.load(SeqCst),
            Kind::VersionGoesBack(s) => s.regressions.load(SeqCst),
            Kind::Panics(s) => s.panics.load(SeqCst),
            Kind::Deadlocks(s) => s.in_flight.load(SeqCst),
        }
    }
}

impl KvStore for Lab {
    fn get(&self, key: &str) -> Response {
        match &self.kind {
            Kind::LostUpdate(s) => s.table.read().get(key),
            Kind::TornWrite(s) => s.get(key),
            Kind::VersionGoesBack(s) => s.get(key),
            Kind::Panics(s) => s.get(key),
            Kind::Deadlocks(s) => s.counted(|| s.machine.read().get(key)),
        }
    }

    fn set(&self, key: &str, value: &str) -> Response {
        let planted = self.planted;
        match &self.kind {
            Kind::LostUpdate(s) => s.write(planted, key, Some(value)),
            Kind::TornWrite(s) => s.set(planted, key, value),
            Kind::VersionGoesBack(s) => s.write(planted, Command::set(key, value)),
            Kind::Panics(s) => s.write(planted, Command::set(key, value)),
            Kind::Deadlocks(s) => s.set(planted, key, value),
        }
    }

    fn del(&self, key: &str) -> Response {
        let planted = self.planted;
        match &self.kind {
            Kind::LostUpdate(s) => s.write(planted, key, None),
            Kind::TornWrite(s) => s.del(key),
            Kind::VersionGoesBack(s) => s.write(planted, Command::del(key)),
            Kind::Panics(s) => s.write(planted, Command::del(key)),
            Kind::Deadlocks(s) => s.del(planted, key),
        }
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        match &self.kind {
            Kind::LostUpdate(s) => s.table.read().check_invariants(),
            Kind::TornWrite(s) => s.table.read().check_invariants(),
            Kind::VersionGoesBack(s) => s.state.read().0.check_invariants(),
            Kind::Panics(s) => s.machine.read().check_invariants(),
            Kind::Deadlocks(s) => s.machine.read().check_invariants(),
        }
    }
}

/// How many times a race window pauses, at most, while it waits for company.
const LINGER: usize = 64;

/// How long one pause lasts. A pause sleeps rather than yields: a yield is cheap on
/// an idle machine, but on a busy one it hands the core to whatever else is running
/// for the rest of a time slice, milliseconds each (measured: the lesson's catch
/// runs went from 0.1 s to 10 s beside three busy loops, past the test's
/// deadline). A sleep frees the core for the very threads the window waits for,
/// and the scheduler wakes a sleeper promptly however busy it is (the same runs:
/// 0.4 s idle, 0.8 s beside the busy loops).
const PAUSE: Duration = Duration::from_micros(20);

/// How many pauses a window makes right after this thread's last window waited in
/// vain. Company that did not come is usually gone for good: the other threads are
/// done (a reader paced by writers that have finished, a writer waiting for readers
/// that have), and waiting the full bound at every operation left would only make
/// the run slower.
const LINGER_AFTER_A_MISS: usize = 2;

/// Pauses until `company` holds, at most [`LINGER`] times, or
/// [`LINGER_AFTER_A_MISS`] times right after this thread's last such window waited
/// in vain; a window that meets company restores the full bound. Returns whether
/// company came.
fn linger(company: impl Fn() -> bool) -> bool {
    thread_local! {
        static LAST_ONE_MISSED: Cell<bool> = const { Cell::new(false) };
    }
    let rounds = if LAST_ONE_MISSED.get() {
        LINGER_AFTER_A_MISS
    } else {
        LINGER
    };
    let met = linger_at_most(rounds, company);
    LAST_ONE_MISSED.set(!met);
    met
}

/// Pauses until `company` holds, at most `rounds` times, every time: the deadlocking
/// store's windows, whose company (one SET and one DEL meeting) is never gone for
/// good while writers run, and whose one planted run must see it (shortened after
/// a miss, they missed in 1 of 8 runs of the test suite).
fn linger_at_most(rounds: usize, company: impl Fn() -> bool) -> bool {
    let mut met = company();
    for _ in 0..rounds {
        if met {
            break;
        }
        thread::sleep(PAUSE);
        met = company();
    }
    met
}

/// Keeps readers in step with the writers. A GET first lingers until some write
/// has completed since this thread's previous GET. Plain GETs are so much faster
/// than the lingering writes that the readers would otherwise be done long before
/// the writers, and never see the bug; paced, their reads spread over the whole
/// time the writers work.
struct Pace {
    /// Tells this store's pace apart from another's in a thread's memory.
    id: u64,
    writes: AtomicU64,
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

impl Default for Pace {
    fn default() -> Self {
        Pace {
            id: NEXT_STORE_ID.fetch_add(1, SeqCst),
            writes: AtomicU64::new(0),
        }
    }
}

impl Pace {
    fn wrote(&self) {
        self.writes.fetch_add(1, SeqCst);
    }

    fn before_read(&self) {
        thread_local! {
            /// The pace this thread read by last, and its writes then.
            static WRITES_AT_LAST_READ: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let (id, last) = WRITES_AT_LAST_READ.get();
        let last = if id == self.id { last } else { 0 };
        linger(|| self.writes.load(SeqCst) != last);
        WRITES_AT_LAST_READ.set((self.id, self.writes.load(SeqCst)));
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

/// The global sequence number is read under one lock acquisition and, planted,
/// written back plus one under another: a read-modify-write split in two. A writer
/// that another write overtakes between the two takes a number already taken, and
/// the sequence falls behind the writes, so the versions no longer add up to it.
/// Versions and values stay right: only the invariants give it away. The twin reads
/// the number the same way, waits the same way, and then numbers its write from the
/// sequence it finds under the write lock.
#[derive(Default)]
struct LostUpdate {
    table: RwLock<Table>,
    /// How many times a writer has read the sequence number.
    seq_reads: AtomicU64,
    /// Writes that took a number another write had taken.
    collisions: AtomicUsize,
}

impl LostUpdate {
    fn write(&self, planted: bool, key: &str, value: Option<&str>) -> Response {
        let read = self.table.read().global_seq + 1;
        let mine = self.seq_reads.fetch_add(1, SeqCst) + 1;
        // The window: wait for another writer to read the sequence number too; of
        // the two, the one that writes second has a stale number.
        linger(|| self.seq_reads.load(SeqCst) > mine);
        let mut table = self.table.write();
        if value.is_none() && !table.is_live(key) {
            return Response::NotFound;
        }
        let current = table.global_seq + 1;
        let seq = if planted { read } else { current };
        if seq != current {
            self.collisions.fetch_add(1, SeqCst);
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

    /// The collisions, if they broke the final state's invariants (they always
    /// do, but the count stands for what a test can see: a broken state).
    fn times_it_showed(&self) -> usize {
        match self.table.read().check_invariants() {
            Ok(()) => 0,
            Err(_) => self.collisions.load(SeqCst).max(1),
        }
    }
}

/// Planted, an overwrite becomes visible in two steps: first the new value, under
/// the old version; then, under a second acquisition of the lock, the new version.
/// A reader in between sees a value with a version that no write gave it. The store
/// is consistent again after each write, so its invariants hold at the end. The
/// twin takes the same two steps, but its first one changes nothing a reader sees.
#[derive(Default)]
struct TornWrite {
    table: RwLock<Table>,
    pace: Pace,
    /// Overwrites between their two steps, per key.
    pending: Mutex<BTreeMap<String, usize>>,
    /// Keys whose entry shows a half-done pair: a new value, an old version.
    torn: Mutex<BTreeMap<String, bool>>,
    /// GETs of a key while an overwrite of it was between its steps.
    window_reads: AtomicUsize,
    /// GETs answered with a half-done pair.
    torn_reads: AtomicUsize,
}

impl TornWrite {
    fn get(&self, key: &str) -> Response {
        self.pace.before_read();
        let table = self.table.read();
        let response = table.get(key);
        if self.pending.lock().get(key).is_some_and(|n| *n > 0) {
            self.window_reads.fetch_add(1, SeqCst);
        }
        if self.torn.lock().get(key).copied().unwrap_or(false) {
            self.torn_reads.fetch_add(1, SeqCst);
        }
        response
    }

    fn set(&self, planted: bool, key: &str, value: &str) -> Response {
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
            if planted {
                entry.value = Some(value.to_owned());
                self.torn.lock().insert(key.to_owned(), true);
            }
            *self.pending.lock().entry(key.to_owned()).or_default() += 1;
        }
        // The window: wait for a reader to look at the key.
        let before = self.window_reads.load(SeqCst);
        linger(|| self.window_reads.load(SeqCst) != before);
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
        // Whatever was half done on this key, the entry now shows a whole write.
        self.torn.lock().insert(key.to_owned(), false);
        *self.pending.lock().get_mut(key).expect("marked above") -= 1;
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
        self.torn.lock().insert(key.to_owned(), false);
        self.pace.wrote();
        Response::Deleted { version, seq }
    }
}

/// A write is applied to a copy of the state taken under the read lock, and,
/// planted, the copy is put back under the write lock. A writer that puts back a
/// copy older than the current state erases the writes made since, and a key a
/// reader saw at version 5 is back at version 4. Every state put back is a valid
/// one, so the invariants hold, and every value in it was written by someone: only
/// the order of what a reader saw gives it away. The twin makes the same copy and
/// waits the same way, but applies the write to the current state when the copy
/// has gone stale.
struct VersionGoesBack {
    /// Tells this store's reads apart from another store's in a thread's memory.
    id: u64,
    /// The state and its generation, which every write bumps.
    state: RwLock<(Store, u64)>,
    pace: Pace,
    /// The newest generation a GET has read.
    newest_read: AtomicU64,
    /// GETs that answered a reader an older version of a key than its previous
    /// GET of that key did.
    regressions: AtomicUsize,
}

impl VersionGoesBack {
    fn new() -> Self {
        VersionGoesBack {
            id: NEXT_STORE_ID.fetch_add(1, SeqCst),
            state: RwLock::new((Store::new(), 0)),
            pace: Pace::default(),
            newest_read: AtomicU64::new(0),
            regressions: AtomicUsize::new(0),
        }
    }

    fn get(&self, key: &str) -> Response {
        self.pace.before_read();
        let response = {
            let state = self.state.read();
            self.newest_read.fetch_max(state.1, SeqCst);
            state.0.get(key)
        };
        if let Response::Value { version, .. } = &response {
            self.saw(key, *version);
        }
        response
    }

    /// Remembers, per reading thread, the last version it was given of each key.
    fn saw(&self, key: &str, version: u64) {
        thread_local! {
            static LAST_SEEN: RefCell<(u64, HashMap<String, u64>)> =
                RefCell::new((0, HashMap::new()));
        }
        LAST_SEEN.with_borrow_mut(|(store, seen)| {
            if *store != self.id {
                *store = self.id;
                seen.clear();
            }
            if let Some(last) = seen.insert(key.to_owned(), version)
                && version < last
            {
                self.regressions.fetch_add(1, SeqCst);
            }
        });
    }

    fn write(&self, planted: bool, command: Command) -> Response {
        let slow = matches!(command, Command::Del { .. });
        let (mut copy, generation) = self.state.read().clone();
        let response = copy.apply(command.clone());
        // The window, for DELs only: wait until a reader has read a state newer
        // than our copy, which we are about to erase. (If every write waited,
        // almost every write would be erased, versions would hardly grow, and
        // there would be nothing to go back from.)
        if slow {
            linger(|| self.newest_read.load(SeqCst) > generation);
        }
        let mut state = self.state.write();
        let next = state.1 + 1;
        let response = if planted || state.1 == generation {
            state.0 = copy;
            response
        } else {
            state.0.apply(command)
        };
        state.1 = next;
        self.pace.wrote();
        response
    }
}

/// Writers take the lock with `try_write`; planted, they `expect` it to succeed,
/// which it does whenever nobody else is using the store. The twin falls back to
/// waiting for the lock.
///
/// The planted writers panic in the order of [`PANIC_ORDER`], a writer whose turn
/// it is not waiting for the lock as the twin does: with the first panic in
/// thread order neither the first nor the last in time, and not the last in
/// thread order either, a report that names any thread but the first in thread
/// order is seen to be wrong by construction. (A writer under another name, in a
/// test that does not name its threads, panics whenever the lock is busy.)
#[derive(Default)]
struct PanicsUnderContention {
    machine: RwLock<Store>,
    panics: AtomicUsize,
}

/// Whose turn it is to panic: the lesson's default load has four writers.
pub const PANIC_ORDER: [&str; 4] = ["writer-2", "writer-0", "writer-3", "writer-1"];

/// What a planted writer's panic says.
pub const PANIC_MESSAGE: &str = "the store is busy: another thread holds its lock";

impl PanicsUnderContention {
    fn get(&self, key: &str) -> Response {
        let machine = self.machine.read();
        // Readers linger a little inside, so writers find the lock taken.
        thread::sleep(PAUSE);
        machine.get(key)
    }

    fn write(&self, planted: bool, command: Command) -> Response {
        // The window: wait for the lock to be busy.
        linger(|| self.machine.is_locked());
        let mut machine = match self.machine.try_write() {
            Some(machine) => machine,
            None if planted && self.my_turn_to_panic() => {
                self.panics.fetch_add(1, SeqCst);
                panic!("{PANIC_MESSAGE}");
            }
            None => self.machine.write(),
        };
        machine.apply(command)
    }

    /// Whether this thread panics now: it is next in [`PANIC_ORDER`], or not in it.
    fn my_turn_to_panic(&self) -> bool {
        let current = thread::current();
        let Some(place) = PANIC_ORDER.iter().position(|n| Some(*n) == current.name()) else {
            return true;
        };
        // Panics are counted before they happen, so the count is whose turn it is.
        self.panics.load(SeqCst) == place
    }
}

/// How long the deadlocking store's windows wait for company. Shorter than the
/// others': a SET waits in its window holding the store's lock, so every pause
/// there stalls every other thread; the deadlock needs only one SET and one DEL to
/// meet, which happens within the first few writes all the same.
const DEADLOCK_LINGER: usize = 16;

/// Every write is also recorded in a journal behind a lock of its own. SET takes
/// the store's lock, then the journal's; planted, DEL takes them in the other
/// order, and a SET and a DEL that overlap each hold what the other waits for,
/// forever. The twin's writes wait for the same company (a SET for a DEL, a DEL
/// for a SET), without holding a lock while they wait, then take the locks in one
/// order.
#[derive(Default)]
struct DeadlocksUnderContention {
    machine: RwLock<Store>,
    journal: Mutex<Vec<String>>,
    set_holds_machine: AtomicBool,
    del_holds_journal: AtomicBool,
    /// DELs that have started and not returned.
    dels_running: AtomicUsize,
    /// The twin's SETs waiting for a DEL.
    sets_waiting: AtomicUsize,
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

    fn set(&self, planted: bool, key: &str, value: &str) -> Response {
        self.counted(|| {
            if !planted {
                // The same wait for a DEL, but with no lock held: a twin that
                // waited holding the store's lock would stall every thread, and on
                // a busy machine outlast the test's deadline.
                self.sets_waiting.fetch_add(1, SeqCst);
                linger_at_most(DEADLOCK_LINGER, || self.dels_running.load(SeqCst) > 0);
                self.sets_waiting.fetch_sub(1, SeqCst);
            }
            let mut machine = self.machine.write();
            self.set_holds_machine.store(true, SeqCst);
            if planted {
                // The window: wait for a DEL to hold the journal.
                linger_at_most(DEADLOCK_LINGER, || self.del_holds_journal.load(SeqCst));
            }
            self.journal.lock().push(format!("SET {key}"));
            self.set_holds_machine.store(false, SeqCst);
            machine.apply(Command::set(key, value))
        })
    }

    fn del(&self, planted: bool, key: &str) -> Response {
        self.counted(|| {
            self.dels_running.fetch_add(1, SeqCst);
            let response = if planted {
                let mut journal = self.journal.lock();
                self.del_holds_journal.store(true, SeqCst);
                // The window: wait for a SET to hold the store's lock.
                linger_at_most(DEADLOCK_LINGER, || self.set_holds_machine.load(SeqCst));
                let response = self.machine.write().apply(Command::del(key));
                journal.push(format!("DEL {key}"));
                self.del_holds_journal.store(false, SeqCst);
                response
            } else {
                linger_at_most(DEADLOCK_LINGER, || {
                    self.set_holds_machine.load(SeqCst) || self.sets_waiting.load(SeqCst) > 0
                });
                let mut machine = self.machine.write();
                self.journal.lock().push(format!("DEL {key}"));
                machine.apply(Command::del(key))
            };
            self.dels_running.fetch_sub(1, SeqCst);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alone, every lab store behaves like the real one, planted or not.
    #[test]
    fn one_thread_at_a_time_every_store_is_correct() {
        for bug in Bug::ALL {
            for planted in [true, false] {
                let store = Lab::new(bug, planted);
                let real = reference::ConcurrentStore::new();
                for (key, value) in [("a", "1"), ("b", "2"), ("a", "3")] {
                    assert_eq!(store.set(key, value), real.set(key, value), "{bug:?}");
                }
                for key in ["a", "b", "a", "c"] {
                    assert_eq!(store.del(key), real.del(key), "{bug:?}");
                    assert_eq!(store.get(key), real.get(key), "{bug:?}");
                }
                assert_eq!(store.set("a", "4"), real.set("a", "4"), "{bug:?}");
                assert_eq!(store.get("a"), real.get("a"), "{bug:?}");
                assert_eq!(store.check_invariants(), Ok(()), "{bug:?}");
                assert_eq!(store.times_it_showed(), 0, "{bug:?}");
            }
        }
    }
}

/// The planted bugs are only useful if a reasonable stress test catches them every
/// time, and the twins only if it passes them every time: the reference must report
/// FAIL on each planted store, on every seed and for the right reason, and PASS on
/// each twin. (`cargo test -p probe-lesson03 -- --ignored` runs 100 seeds.)
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

    /// Runs the reference on every planted bug and every twin for every seed; fails
    /// unless the right line of every planted report fails and every twin passes.
    fn caught_every_time(seeds: std::ops::Range<u64>) {
        for (bug, line, why) in BUGS {
            let started = Instant::now();
            let mut least = usize::MAX;
            for seed in seeds.clone() {
                // The criteria's own load for each bug; a shorter wait for the
                // deadlock, a longer one for the rest (this test runs beside others).
                let deadline = match bug {
                    Bug::DeadlocksUnderContention => Duration::from_millis(500),
                    _ => Duration::from_secs(20),
                };
                let config = StressConfig {
                    deadline,
                    ..crate::criteria::catch_config(bug, seed)
                };
                let planted = Arc::new(Lab::new(bug, true));
                let report = run_stress(planted.clone(), &config);
                let check = line(&report).to_string();
                assert!(
                    check.contains(why),
                    "{bug:?} not caught as it should be, seed {seed}:\n{report}"
                );
                least = least.min(planted.times_it_showed());
                let twin = Arc::new(Lab::new(bug, false));
                let report = run_stress(twin, &config);
                assert!(
                    report.passed(),
                    "{bug:?}'s twin failed, seed {seed}:\n{report}"
                );
            }
            // Three panics at least, so that the first in thread order (writer-0,
            // second in time) is neither the first nor the last in time.
            if bug == Bug::PanicsUnderContention {
                assert!(least >= 3, "only {least} writers panicked in some run");
            }
            eprintln!(
                "{bug:?}: caught on all {} seeds, twin passed on all, in {:.1?}; the bug \
                 showed at least {least} times in a run",
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

    /// Prints what a run of the reference costs on each planted store and on its
    /// twin, for the claim that the two cost the same. Measures, asserts nothing:
    /// timings are for reading, never for passing or failing.
    #[test]
    #[ignore = "prints timings"]
    fn what_a_run_costs_on_each_store() {
        for bug in Bug::ALL {
            for planted in [true, false] {
                let mut times = Vec::new();
                for seed in 0..10 {
                    let config = StressConfig {
                        seed,
                        deadline: Duration::from_millis(500),
                        ..StressConfig::default()
                    };
                    let started = Instant::now();
                    let _ = run_stress(Arc::new(Lab::new(bug, planted)), &config);
                    times.push(started.elapsed());
                }
                times.sort();
                eprintln!(
                    "{bug:?} {}: median {:.1?}, slowest {:.1?}",
                    if planted { "planted" } else { "twin" },
                    times[times.len() / 2],
                    times[times.len() - 1]
                );
            }
        }
    }
}
