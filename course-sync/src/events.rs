//! The steps a model run notes, for the timeline of a failing interleaving.

use std::cell::{Cell, RefCell};
use std::fmt;

/// One step of one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Lock(u32),
    Locked(u32),
    Unlock(u32),
    /// Waits on a condvar, letting a mutex go.
    Wait(u32, u32),
    /// Woke on a condvar, holding the mutex again.
    Woke(u32, u32),
    NotifyOne(u32),
    NotifyAll(u32),
    /// A step of the probe's own: an operation beginning or ending, a check.
    Note(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Lock(m) => write!(f, "asks for mutex {m}"),
            Step::Locked(m) => write!(f, "holds mutex {m}"),
            Step::Unlock(m) => write!(f, "lets mutex {m} go"),
            Step::Wait(c, m) => write!(f, "waits on condvar {c} (mutex {m} let go)"),
            Step::Woke(c, m) => write!(f, "wakes from condvar {c}, holds mutex {m} again"),
            Step::NotifyOne(c) => write!(f, "notify_one on condvar {c}"),
            Step::NotifyAll(c) => write!(f, "notify_all on condvar {c}"),
            Step::Note(text) => f.write_str(text),
        }
    }
}

/// A step and the thread that took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub thread: String,
    pub step: Step,
}

thread_local! {
    /// The steps of the current model iteration. The model checker runs every
    /// thread of a model on one OS thread, one at a time, so this orders them as
    /// they happened.
    static LOG: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
    static MUTEXES: Cell<u32> = const { Cell::new(0) };
    static CONDVARS: Cell<u32> = const { Cell::new(0) };
}

pub enum Object {
    Mutex,
    Condvar,
}

/// The next label of its kind: 1, 2, ... in the order the iteration creates them.
pub fn new_label(object: Object) -> u32 {
    let counter = match object {
        Object::Mutex => &MUTEXES,
        Object::Condvar => &CONDVARS,
    };
    let label = counter.get() + 1;
    counter.set(label);
    label
}

pub fn note(step: Step) {
    let thread = loom::thread::current().name().unwrap_or("main").to_owned();
    LOG.with_borrow_mut(|log| log.push(Event { thread, step }));
}

/// Starts a new iteration: no steps, labels from 1 again.
pub fn reset() {
    LOG.with_borrow_mut(Vec::clear);
    MUTEXES.set(0);
    CONDVARS.set(0);
}

pub fn take() -> Vec<Event> {
    LOG.take()
}
