//! A store seen from the checker's side: every store the learner's stress test
//! runs on is wrapped in a [`Watched`], which keeps a ledger of what each thread
//! did with it (operations completed, an operation in flight, a panic inside the
//! store) and of every `check_invariants` call (how far the run had got, what it
//! answered). The stress test never sees the ledger; the criteria read it to tell
//! *why* a report is wrong: the test reported before its threads were done, it
//! checked the invariants half way through the run, it counted operations that
//! were never performed.
//!
//! The ledger costs a clock read and a few uncontended atomic operations per call:
//! each thread keeps its tally in a slot of its own, registered on its first call.
//!
//! At the store's very first operation the ledger also notes which threads of the
//! process exist (their names, from `/proc/self/task`): a test that holds its
//! threads at a starting gate has started all of them by then; one without a gate
//! lets the first thread begin while the rest are still being started.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reference::{KvStore, Response, Violation};

/// One thread's tally.
#[derive(Default)]
struct Slot {
    /// The thread's name, if it has one.
    name: Option<String>,
    completed: AtomicU64,
    /// When its last operation ended, in nanoseconds since the store was made.
    last_done_nanos: AtomicU64,
    in_flight: AtomicBool,
    panicked: AtomicBool,
}

/// One call of `check_invariants`.
#[derive(Debug, Clone, Copy)]
pub struct InvariantsCall {
    /// Operations completed when it was made.
    pub completed_before: u64,
    /// Operations in flight when it was made.
    pub in_flight: usize,
    /// Whether it answered `Ok` (`None` while it has not returned).
    pub ok: Option<bool>,
}

/// What the ledger says at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Threads that used the store.
    pub threads: usize,
    /// Operations completed, by every thread.
    pub completed: u64,
    /// Operations completed by threads that are neither stuck in the store nor
    /// died of a panic in it: the threads that finished, if every thread ran its
    /// whole plan.
    pub completed_by_finished: u64,
    /// Threads with an operation in flight.
    pub in_flight: usize,
    /// Threads that panicked inside the store.
    pub panicked: usize,
    /// When this tally was taken, since the store was made.
    pub at: Duration,
    /// When the last operation of any thread ended, since the store was made (zero
    /// before the first).
    pub last_done: Duration,
}

/// One thread's line of the ledger, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadLine {
    pub name: Option<String>,
    pub completed: u64,
    /// Inside the store at this moment: an operation that has not returned.
    pub in_flight: bool,
    pub panicked: bool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's slot, and the ledger it belongs to.
    static MY_SLOT: RefCell<Option<(u64, Arc<Slot>)>> = const { RefCell::new(None) };
}

pub struct Watched<S> {
    id: u64,
    born: Instant,
    store: S,
    slots: Mutex<Vec<Arc<Slot>>>,
    calls: Mutex<Vec<InvariantsCall>>,
    invariants_in_flight: AtomicUsize,
    /// The names of the process's threads when the first operation came, where the
    /// system tells (Linux does).
    alive_at_first_operation: OnceLock<Option<Vec<String>>>,
}

impl<S: KvStore> Watched<S> {
    pub fn new(store: S) -> Self {
        Watched {
            id: NEXT_ID.fetch_add(1, SeqCst),
            born: Instant::now(),
            store,
            slots: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            invariants_in_flight: AtomicUsize::new(0),
            alive_at_first_operation: OnceLock::new(),
        }
    }

    /// The names of the threads that existed when the first operation reached the
    /// store: `None` before it, or where the system does not list its threads.
    pub fn alive_at_first_operation(&self) -> Option<&[String]> {
        self.alive_at_first_operation.get()?.as_deref()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn tally(&self) -> Tally {
        let slots = self.slots.lock();
        let mut tally = Tally {
            threads: slots.len(),
            at: self.born.elapsed(),
            ..Tally::default()
        };
        for slot in slots.iter() {
            let completed = slot.completed.load(SeqCst);
            let stuck = slot.in_flight.load(SeqCst);
            let panicked = slot.panicked.load(SeqCst);
            tally.completed += completed;
            tally.in_flight += usize::from(stuck && !panicked);
            tally.panicked += usize::from(panicked);
            let last_done = Duration::from_nanos(slot.last_done_nanos.load(SeqCst));
            tally.last_done = tally.last_done.max(last_done);
            if !stuck && !panicked {
                tally.completed_by_finished += completed;
            }
        }
        tally
    }

    /// Each thread's line, in the order they first used the store.
    pub fn threads(&self) -> Vec<ThreadLine> {
        self.slots
            .lock()
            .iter()
            .map(|slot| ThreadLine {
                name: slot.name.clone(),
                completed: slot.completed.load(SeqCst),
                in_flight: slot.in_flight.load(SeqCst),
                panicked: slot.panicked.load(SeqCst),
            })
            .collect()
    }

    /// Every `check_invariants` call so far, in order.
    pub fn invariants_calls(&self) -> Vec<InvariantsCall> {
        self.calls.lock().clone()
    }

    /// Whether a `check_invariants` call has not returned.
    pub fn invariants_call_stuck(&self) -> bool {
        self.invariants_in_flight.load(SeqCst) > 0
    }

    fn slot(&self) -> Arc<Slot> {
        MY_SLOT.with_borrow_mut(|mine| match mine {
            Some((id, slot)) if *id == self.id => Arc::clone(slot),
            _ => {
                let slot = Arc::new(Slot {
                    name: thread::current().name().map(str::to_owned),
                    ..Slot::default()
                });
                self.slots.lock().push(Arc::clone(&slot));
                *mine = Some((self.id, Arc::clone(&slot)));
                slot
            }
        })
    }

    fn operation(&self, body: impl FnOnce(&S) -> Response) -> Response {
        /// Marks the operation over, or the thread as panicked if it unwinds.
        struct Over(Arc<Slot>);
        impl Drop for Over {
            fn drop(&mut self) {
                if thread::panicking() {
                    self.0.panicked.store(true, SeqCst);
                }
                self.0.in_flight.store(false, SeqCst);
            }
        }
        // The first caller lists the threads; any other caller meanwhile waits for
        // the list, a fraction of a millisecond, once per run.
        self.alive_at_first_operation.get_or_init(thread_names);
        let slot = self.slot();
        slot.in_flight.store(true, SeqCst);
        let over = Over(slot);
        let response = body(&self.store);
        let now = u64::try_from(self.born.elapsed().as_nanos()).unwrap_or(u64::MAX);
        over.0.last_done_nanos.store(now, SeqCst);
        over.0.completed.fetch_add(1, SeqCst);
        drop(over);
        response
    }
}

/// The names of this process's threads, as Linux keeps them (at most 15 bytes).
fn thread_names() -> Option<Vec<String>> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let names = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|name| name.trim_end_matches('\n').to_owned())
        .collect();
    Some(names)
}

impl<S: KvStore> KvStore for Watched<S> {
    fn get(&self, key: &str) -> Response {
        self.operation(|s| s.get(key))
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.operation(|s| s.set(key, value))
    }

    fn del(&self, key: &str) -> Response {
        self.operation(|s| s.del(key))
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        let tally = self.tally();
        let index = {
            let mut calls = self.calls.lock();
            calls.push(InvariantsCall {
                completed_before: tally.completed,
                in_flight: tally.in_flight,
                ok: None,
            });
            calls.len() - 1
        };
        self.invariants_in_flight.fetch_add(1, SeqCst);
        let answer = self.store.check_invariants();
        self.invariants_in_flight.fetch_sub(1, SeqCst);
        self.calls.lock()[index].ok = Some(answer.is_ok());
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reference::ConcurrentStore;

    #[test]
    fn the_ledger_counts_per_thread_and_notes_each_check() {
        let store = Arc::new(Watched::new(ConcurrentStore::new()));
        store.set("a", "1");
        store.get("a");
        let other = Arc::clone(&store);
        thread::spawn(move || {
            other.del("a");
        })
        .join()
        .unwrap();
        assert_eq!(store.check_invariants(), Ok(()));
        let tally = store.tally();
        assert_eq!((tally.threads, tally.completed, tally.in_flight), (2, 3, 0));
        let calls = store.invariants_calls();
        assert_eq!(calls.len(), 1);
        assert_eq!((calls[0].completed_before, calls[0].ok), (3, Some(true)));
    }
}
