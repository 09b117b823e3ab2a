//! The state machine the probe plugs into the store under test.
//!
//! [`Instrumented`] is the lesson 01 reference store with a [`Watch`] around every
//! call: it counts the threads inside a read section (`lookup`,
//! `check_invariants`) and a write section (`apply`), records the first time the
//! two overlap in a way a reader-writer lock forbids, and runs the criterion's
//! hook while the thread is inside. A hook makes the critical sections observable:
//! it can make a reader wait inside for a second reader (who only gets in through a
//! shared lock), or make a writer linger to see whether anyone joins it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use reference::{Command, Entry, Response, Store, Violation};

/// Which side of the lock a section of the machine needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Read,
    Write,
}

/// What runs inside every section: the side, the census, and this entry's ticket
/// (entries are numbered 1, 2, 3, ... across all threads).
pub type Hook = Box<dyn Fn(Side, &Census, u64) + Send + Sync>;

/// Who is inside the machine right now, and what has been seen so far.
#[derive(Default)]
pub struct Census {
    readers_inside: AtomicUsize,
    writers_inside: AtomicUsize,
    most_readers_inside: AtomicUsize,
    reads: AtomicUsize,
    writes: AtomicUsize,
    /// The first overlap a reader-writer lock forbids, in words.
    clash: Mutex<Option<String>>,
    /// How many sections have been entered; waited on by hooks.
    entries: Mutex<u64>,
    entered: Condvar,
    /// Ends every hook's waiting at once.
    halted: AtomicBool,
}

impl Census {
    fn enter(&self, side: Side) -> u64 {
        // SeqCst on both counters: of two threads entering at once, at least one
        // sees the other (each increments its own counter, then reads the other's).
        match side {
            Side::Read => {
                self.reads.fetch_add(1, SeqCst);
                let readers = self.readers_inside.fetch_add(1, SeqCst) + 1;
                self.most_readers_inside.fetch_max(readers, SeqCst);
                if self.writers_inside.load(SeqCst) > 0 {
                    self.clash(
                        "a reader entered the state machine while a writer was applying a command",
                    );
                }
            }
            Side::Write => {
                self.writes.fetch_add(1, SeqCst);
                if self.writers_inside.fetch_add(1, SeqCst) > 0 {
                    self.clash(
                        "two writers were applying commands to the state machine at the same time",
                    );
                } else if self.readers_inside.load(SeqCst) > 0 {
                    self.clash("a writer started applying a command while a reader was inside the state machine");
                }
            }
        }
        let mut entries = self.entries.lock();
        *entries += 1;
        self.entered.notify_all();
        *entries
    }

    fn leave(&self, side: Side) {
        match side {
            Side::Read => self.readers_inside.fetch_sub(1, SeqCst),
            Side::Write => self.writers_inside.fetch_sub(1, SeqCst),
        };
    }

    fn clash(&self, what: &str) {
        self.clash.lock().get_or_insert_with(|| what.to_owned());
    }

    /// The first forbidden overlap seen, if any.
    pub fn first_clash(&self) -> Option<String> {
        self.clash.lock().clone()
    }

    /// The most readers that were inside the machine at one time.
    pub fn most_readers_inside(&self) -> usize {
        self.most_readers_inside.load(SeqCst)
    }

    pub fn reads(&self) -> usize {
        self.reads.load(SeqCst)
    }

    pub fn writes(&self) -> usize {
        self.writes.load(SeqCst)
    }

    /// How many sections have been entered so far.
    pub fn entries(&self) -> u64 {
        *self.entries.lock()
    }

    /// Waits until some thread enters a section after entry number `ticket`, the
    /// census is halted, or `timeout` passes. Returns whether someone came in.
    pub fn wait_for_entry_after(&self, ticket: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut entries = self.entries.lock();
        while *entries <= ticket && !self.halted.load(SeqCst) {
            if self.entered.wait_until(&mut entries, deadline).timed_out() {
                break;
            }
        }
        *entries > ticket
    }

    /// Whether [`Census::halt`] was called.
    pub fn is_halted(&self) -> bool {
        self.halted.load(SeqCst)
    }

    /// Releases every hook that is waiting, now and later.
    pub fn halt(&self) {
        self.halted.store(true, SeqCst);
        let _entries = self.entries.lock();
        self.entered.notify_all();
    }
}

/// One entry into a section, as the trace keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub ticket: u64,
    pub side: Side,
    /// The name of the thread that came in.
    pub thread: String,
}

/// The census and the criterion's hook, shared by a machine and its copies, and
/// what a criterion asked to be recorded.
pub struct Watch {
    pub census: Census,
    hook: Hook,
    /// Every command applied, with its response, when the criterion asked for it.
    journal: Option<Mutex<Vec<(Command, Response)>>>,
    /// Every entry into a section, when the criterion asked for it.
    trace: Option<Mutex<Vec<Visit>>>,
    /// What the machine's `check_invariants` answers instead of checking, if set.
    planted: Mutex<Option<Violation>>,
}

impl Watch {
    pub fn new(hook: impl Fn(Side, &Census, u64) + Send + Sync + 'static) -> Arc<Self> {
        Self::build(hook, false, false)
    }

    /// Counts, but does nothing inside the sections.
    pub fn counting() -> Arc<Self> {
        Self::new(|_, _, _| {})
    }

    /// Counts, and keeps every command applied to the machine with its response.
    pub fn journaled() -> Arc<Self> {
        Self::build(|_, _, _| {}, true, false)
    }

    /// Runs `hook` and keeps every entry into a section, with its thread's name.
    pub fn traced(hook: impl Fn(Side, &Census, u64) + Send + Sync + 'static) -> Arc<Self> {
        Self::build(hook, false, true)
    }

    fn build(
        hook: impl Fn(Side, &Census, u64) + Send + Sync + 'static,
        journal: bool,
        trace: bool,
    ) -> Arc<Self> {
        Arc::new(Watch {
            census: Census::default(),
            hook: Box::new(hook),
            journal: journal.then(Mutex::default),
            trace: trace.then(Mutex::default),
            planted: Mutex::new(None),
        })
    }

    /// The commands applied so far, with their responses (empty unless journaled).
    pub fn journal(&self) -> Vec<(Command, Response)> {
        self.journal
            .as_ref()
            .map_or_else(Vec::new, |j| j.lock().clone())
    }

    /// The entries into sections so far (empty unless traced).
    pub fn trace(&self) -> Vec<Visit> {
        self.trace
            .as_ref()
            .map_or_else(Vec::new, |t| t.lock().clone())
    }

    /// Makes the machine's `check_invariants` answer `violation` (or check again,
    /// for `None`), to see whether the layer passes the answer on.
    pub fn plant(&self, violation: Option<Violation>) {
        *self.planted.lock() = violation;
    }

    fn section<T>(&self, side: Side, body: impl FnOnce() -> T) -> T {
        let ticket = self.census.enter(side);
        if let Some(trace) = &self.trace {
            let thread = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_owned();
            trace.lock().push(Visit {
                ticket,
                side,
                thread,
            });
        }
        (self.hook)(side, &self.census, ticket);
        let out = body();
        self.census.leave(side);
        out
    }
}

/// The lesson 01 reference store, watched. `Clone` shares the watch, so a copy
/// made by a broken store is still seen.
#[derive(Clone)]
pub struct Instrumented {
    store: Store,
    watch: Arc<Watch>,
}

impl Instrumented {
    pub fn new(watch: &Arc<Watch>) -> Self {
        Instrumented {
            store: Store::new(),
            watch: Arc::clone(watch),
        }
    }

    pub fn lookup(&self, key: &str) -> Option<&Entry> {
        self.watch.section(Side::Read, || self.store.lookup(key))
    }

    pub fn apply(&mut self, command: Command) -> Response {
        let store = &mut self.store;
        let watch = &self.watch;
        watch.section(Side::Write, || {
            let kept = watch.journal.as_ref().map(|_| command.clone());
            let response = store.apply(command);
            if let (Some(journal), Some(command)) = (&watch.journal, kept) {
                journal.lock().push((command, response.clone()));
            }
            response
        })
    }

    pub fn check_invariants(&self) -> Result<(), Violation> {
        self.watch
            .section(Side::Read, || match self.watch.planted.lock().clone() {
                Some(violation) => Err(violation),
                None => self.store.check_invariants(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_sections_are_told_apart() {
        let watch = Watch::counting();
        let census = &watch.census;
        census.enter(Side::Read);
        census.enter(Side::Read);
        assert_eq!(census.first_clash(), None);
        assert_eq!(census.most_readers_inside(), 2);
        census.enter(Side::Write);
        assert!(census.first_clash().unwrap().contains("while a reader"));
    }

    #[test]
    fn waiting_for_company_ends_on_an_entry_or_a_halt() {
        let watch = Watch::counting();
        let ticket = watch.census.enter(Side::Read);
        assert!(
            !watch
                .census
                .wait_for_entry_after(ticket, Duration::from_millis(10))
        );
        watch.census.enter(Side::Read);
        assert!(
            watch
                .census
                .wait_for_entry_after(ticket, Duration::from_secs(10))
        );
        watch.census.halt();
        assert!(
            !watch
                .census
                .wait_for_entry_after(ticket + 5, Duration::from_secs(10))
        );
    }
}
