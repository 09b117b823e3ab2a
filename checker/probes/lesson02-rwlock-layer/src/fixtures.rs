//! Deliberately broken implementations of lesson 02, one bug each.
//!
//! Each is a mistake a learner plausibly makes when putting a lock around the
//! state machine. The checker's tests assert that every fixture is rejected by the
//! criterion named next to it, so each criterion is shown to be able to fail.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;

use parking_lot::{Mutex, RecursiveRwLock, RwLock};
use probe_kit::{Fixture, Probe};
use reference::{Command, Entry, Response, Violation};

use crate::{Instrumented, Subject, criteria};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// Every operation behind one `Mutex`: correct, but readers wait for each other.
    MutexForEverything,
    /// GET takes the write side of the reader-writer lock.
    WriteLockForGet,
    /// SET and DEL apply the command to a copy taken under the read lock, then put
    /// the copy back under the write lock ("keep the exclusive section short").
    CopyApplySwap,
    /// GET reads the value under one read guard and the version under another.
    TornRead,
    /// A reader-preferring lock (parking_lot's `RecursiveRwLock`).
    ReaderPreferringLock,
    /// DEL checks the key with `self.get` while it holds the write lock.
    GetInsideDel,
    /// SET looks the key up under a read guard, then takes the write lock while
    /// still holding it.
    UpgradeInSet,
    /// GET asks a helper that takes the read lock again while it holds it.
    RecursiveRead,
}

pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "mutex-for-everything",
        rejected_by: &criteria::READERS_PARALLEL,
        make: || broken(Bug::MutexForEverything),
    },
    Fixture {
        name: "write-lock-for-get",
        rejected_by: &criteria::READERS_PARALLEL,
        make: || broken(Bug::WriteLockForGet),
    },
    Fixture {
        name: "copy-apply-swap",
        rejected_by: &criteria::WRITERS_EXCLUSIVE,
        make: || broken(Bug::CopyApplySwap),
    },
    Fixture {
        name: "torn-read",
        rejected_by: &criteria::LINEARIZABLE,
        make: || broken(Bug::TornRead),
    },
    Fixture {
        name: "reader-preferring-lock",
        rejected_by: &criteria::WRITER_NOT_STARVED,
        make: || broken(Bug::ReaderPreferringLock),
    },
    Fixture {
        name: "get-inside-del",
        rejected_by: &criteria::NO_DEADLOCK,
        make: || broken(Bug::GetInsideDel),
    },
    Fixture {
        name: "upgrade-in-set",
        rejected_by: &criteria::NO_DEADLOCK,
        make: || broken(Bug::UpgradeInSet),
    },
    Fixture {
        name: "recursive-read",
        rejected_by: &criteria::NO_DEADLOCK,
        make: || broken(Bug::RecursiveRead),
    },
];

fn broken(bug: Bug) -> Box<dyn Probe> {
    crate::probe(Broken(bug))
}

/// A store with one bug planted in it.
#[derive(Clone, Copy)]
pub struct Broken(pub Bug);

pub enum Lock {
    ReaderWriter(RwLock<Instrumented>),
    Mutex(Mutex<Instrumented>),
    ReaderPreferring(RecursiveRwLock<Instrumented>),
}

pub struct BrokenStore {
    bug: Bug,
    lock: Lock,
    /// SETs and DELs started and not yet returned.
    writers_in_flight: AtomicUsize,
    /// SETs and DELs returned so far.
    writes_done: AtomicUsize,
}

/// How many times a race window yields, at most, while it waits for company.
const LINGER: usize = 64;

/// Yields until `company` holds, at most [`LINGER`] times. A real race window is a
/// few instructions wide and is hit only when the scheduler happens to cooperate;
/// the fixtures' windows wait for the other thread instead, so that every run of
/// the checker's own tests sees the bug, on a loaded machine as on an idle one.
fn linger(company: impl Fn() -> bool) {
    for _ in 0..LINGER {
        if company() {
            return;
        }
        thread::yield_now();
    }
}

impl BrokenStore {
    fn read<T>(&self, f: impl FnOnce(&Instrumented) -> T) -> T {
        match &self.lock {
            Lock::ReaderWriter(lock) => f(&lock.read()),
            Lock::Mutex(lock) => f(&lock.lock()),
            Lock::ReaderPreferring(lock) => f(&lock.read()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Instrumented) -> T) -> T {
        match &self.lock {
            Lock::ReaderWriter(lock) => f(&mut lock.write()),
            Lock::Mutex(lock) => f(&mut lock.lock()),
            Lock::ReaderPreferring(lock) => f(&mut lock.write()),
        }
    }

    fn rw(&self) -> &RwLock<Instrumented> {
        match &self.lock {
            Lock::ReaderWriter(lock) => lock,
            _ => unreachable!("this bug is planted in a reader-writer lock"),
        }
    }

    /// The helper `RecursiveRead` calls while it already holds a read guard.
    fn contains(&self, key: &str) -> bool {
        self.rw().read().lookup(key).is_some()
    }

    fn counted_write(&self, command: Command) -> Response {
        self.writers_in_flight.fetch_add(1, SeqCst);
        let response = self.write_command(command);
        self.writers_in_flight.fetch_sub(1, SeqCst);
        self.writes_done.fetch_add(1, SeqCst);
        response
    }

    fn write_command(&self, command: Command) -> Response {
        match self.bug {
            Bug::CopyApplySwap => {
                let mut copy = self.rw().read().clone();
                let response = copy.apply(command);
                *self.rw().write() = copy;
                response
            }
            Bug::UpgradeInSet if matches!(command, Command::Set { .. }) => {
                let machine = self.rw().read();
                let _seen_before = machine.lookup(command_key(&command)).is_some();
                // Waits for every reader to leave, this thread's own guard included.
                let response = self.rw().write().apply(command);
                drop(machine);
                response
            }
            Bug::GetInsideDel if matches!(command, Command::Del { .. }) => {
                let mut machine = self.rw().write();
                // `get` takes the read lock, which this thread holds for writing.
                if self.get(command_key(&command)) == Response::NotFound {
                    return Response::NotFound;
                }
                machine.apply(command)
            }
            _ => self.write(|machine| machine.apply(command)),
        }
    }

    fn get(&self, key: &str) -> Response {
        match self.bug {
            Bug::WriteLockForGet => answer(self.rw().write().lookup(key)),
            Bug::TornRead => {
                let value = self.rw().read().lookup(key).and_then(|e| e.value.clone());
                // The window: wait for a write to land between the two guards.
                let writes = self.writes_done.load(SeqCst);
                linger(|| self.writes_done.load(SeqCst) != writes);
                let version = self.rw().read().lookup(key).map(|e| e.version);
                match (value, version) {
                    (Some(value), Some(version)) => Response::Value { value, version },
                    _ => Response::NotFound,
                }
            }
            Bug::RecursiveRead => {
                let machine = self.rw().read();
                // The window: wait for a writer to queue up behind this guard (it
                // cannot get in while we hold it), then give it time to claim the
                // lock; the second `read()` then waits behind it.
                linger(|| self.writers_in_flight.load(SeqCst) > 0);
                for _ in 0..8 {
                    thread::yield_now();
                }
                if !self.contains(key) {
                    return Response::NotFound;
                }
                answer(machine.lookup(key))
            }
            _ => self.read(|machine| answer(machine.lookup(key))),
        }
    }
}

fn answer(entry: Option<&Entry>) -> Response {
    match entry {
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

fn command_key(command: &Command) -> &str {
    crate::history::key_of(command)
}

impl Subject for Broken {
    type Store = BrokenStore;

    fn new_store(&self, machine: Instrumented) -> BrokenStore {
        let lock = match self.0 {
            Bug::MutexForEverything => Lock::Mutex(Mutex::new(machine)),
            Bug::ReaderPreferringLock => Lock::ReaderPreferring(RecursiveRwLock::new(machine)),
            _ => Lock::ReaderWriter(RwLock::new(machine)),
        };
        BrokenStore {
            bug: self.0,
            lock,
            writers_in_flight: AtomicUsize::new(0),
            writes_done: AtomicUsize::new(0),
        }
    }

    fn get(&self, store: &BrokenStore, key: &str) -> Response {
        store.get(key)
    }

    fn set(&self, store: &BrokenStore, key: &str, value: &str) -> Response {
        store.counted_write(Command::set(key, value))
    }

    fn del(&self, store: &BrokenStore, key: &str) -> Response {
        store.counted_write(Command::del(key))
    }

    fn check_invariants(&self, store: &BrokenStore) -> Result<(), Violation> {
        store.read(|machine| machine.check_invariants())
    }
}
