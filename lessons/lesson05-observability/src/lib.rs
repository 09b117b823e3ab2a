//! Lesson 05: observability.
//!
//! Your task: fill in the nine functions that end in `todo!()`, step by step (steps 1
//! to 7; some steps have two). Everything else (the store and its lock, validation,
//! the clock, the types) is given. The book's chapter "Lesson 05: observability"
//! walks through every step, `just check lesson05` grades your work and says what to
//! fix next, and `just live` (or `cargo run --example live` in this folder) shows
//! your numbers moving while threads work on the store.
//!
//! Each doc comment below is a contract: what the function must do and what must stay
//! true while threads record and read. How to get there is yours to work out; `just
//! hint lesson05` gives one hint at a time when you are stuck, each closer to the code.
//!
//! A store that cannot say what it is doing cannot be run. This crate counts every
//! operation (GET, SET, DEL, hits, misses, errors) and keeps a latency histogram per
//! kind of operation, all in atomics that sit *beside* the store's lock, never behind
//! it: recording costs a few atomic additions, and reading the numbers never waits for
//! a writer. The numbers are read as a [`Stats`] view and rendered in the Prometheus
//! text exposition format.
//!
//! The store is the shape of lessons 02 and 04: lesson 01's state machine behind a
//! `parking_lot::RwLock`, GET under the shared lock, SET and DEL under the exclusive
//! one. The metrics would sit in front of lesson 04's store just the same.

// The stubs below ignore their arguments until you write them; without this line the
// compiler's warnings about them would bury the errors that matter.
#![allow(unused_variables)]

mod exposition;
mod histogram;
mod metrics;

use std::fmt;
use std::time::Instant;

use parking_lot::RwLock;

pub use exposition::format_seconds;
pub use histogram::{
    BUCKETS, FINITE_BUCKETS, Histogram, HistogramSnapshot, bucket_index, upper_bound,
};
pub use metrics::{Counters, Metrics, Stats};
pub use state::{Command, Response};

// ANCHOR: op
/// The three kinds of operation; each has its own counter and its own histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Get,
    Set,
    Del,
}
// ANCHOR_END: op

impl Op {
    pub const ALL: [Op; 3] = [Op::Get, Op::Set, Op::Del];

    pub fn of(command: &Command) -> Op {
        match command {
            Command::Get { .. } => Op::Get,
            Command::Set { .. } => Op::Set,
            Command::Del { .. } => Op::Del,
        }
    }

    /// Where this kind's numbers live in arrays indexed by kind.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The label value in the exposition format: `get`, `set`, `del`.
    pub fn label(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Del => "del",
        }
    }
}

/// The longest key the store accepts, in bytes.
pub const MAX_KEY_LEN: usize = 64;
/// The longest value the store accepts, in bytes.
pub const MAX_VALUE_LEN: usize = 1024;

// ANCHOR: rejected
/// Why the store refused a command before it reached the state machine. Each refusal
/// is an *error* in the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    EmptyKey,
    KeyTooLong { len: usize },
    ValueTooLong { len: usize },
}
// ANCHOR_END: rejected

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::EmptyKey => write!(f, "the key is empty"),
            Rejected::KeyTooLong { len } => {
                write!(f, "the key has {len} bytes, more than {MAX_KEY_LEN}")
            }
            Rejected::ValueTooLong { len } => {
                write!(f, "the value has {len} bytes, more than {MAX_VALUE_LEN}")
            }
        }
    }
}

impl std::error::Error for Rejected {}

/// Checks a command's key and value; nothing else can go wrong in this store.
pub fn validate(command: &Command) -> Result<(), Rejected> {
    let (key, value) = match command {
        Command::Get { key } | Command::Del { key } => (key, None),
        Command::Set { key, value } => (key, Some(value)),
    };
    if key.is_empty() {
        return Err(Rejected::EmptyKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Rejected::KeyTooLong { len: key.len() });
    }
    match value {
        Some(value) if value.len() > MAX_VALUE_LEN => {
            Err(Rejected::ValueTooLong { len: value.len() })
        }
        _ => Ok(()),
    }
}

// ANCHOR: clock
/// Where the store reads the time. [`SystemClock`] is the real one; the checker plugs
/// in a fake clock, so that a scripted workload records the same latencies, and
/// renders the same text, on every machine.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The monotonic clock of the operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
// ANCHOR_END: clock

// ANCHOR: state_machine
/// What the store keeps behind its lock. Lesson 01's state machine is the real one;
/// the checker plugs in an instrumented one that can stop in the middle of a write,
/// while the store's write lock is held.
pub trait StateMachine: Send + Sync {
    /// Answers a GET. Runs under the shared lock.
    fn read(&self, key: &str) -> Response;
    /// Applies a SET or a DEL. Runs under the exclusive lock.
    fn write(&mut self, command: Command) -> Response;
}

impl StateMachine for state::Store {
    fn read(&self, key: &str) -> Response {
        self.get(key)
    }

    fn write(&mut self, command: Command) -> Response {
        self.apply(command)
    }
}
// ANCHOR_END: state_machine

// ANCHOR: store
/// The store: a state machine behind a reader-writer lock, and its metrics beside it.
#[allow(dead_code)] // the fields are used by your code in steps 4 and 5
pub struct Store<M = state::Store, C = SystemClock> {
    /// The state, behind the store's lock (as in lessons 02 and 04).
    state: RwLock<M>,
    /// Beside the lock, not behind it: recording and reading never touch `state`.
    metrics: Metrics,
    clock: C,
}
// ANCHOR_END: store

impl Store {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Store::with_parts(state::Store::new(), SystemClock)
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl<M: StateMachine, C: Clock> Store<M, C> {
    pub fn with_parts(machine: M, clock: C) -> Self {
        Store {
            state: RwLock::new(machine),
            metrics: Metrics::new(),
            clock,
        }
    }

    pub fn get(&self, key: &str) -> Result<Response, Rejected> {
        self.execute(Command::get(key))
    }

    pub fn set(&self, key: &str, value: &str) -> Result<Response, Rejected> {
        self.execute(Command::set(key, value))
    }

    pub fn del(&self, key: &str) -> Result<Response, Rejected> {
        self.execute(Command::del(key))
    }

    // ANCHOR: execute
    /// Step 4. Runs one command and records it in the metrics.
    ///
    /// - A command [`validate`] refuses never reaches the state machine: the answer is
    ///   `Err` with the reason. Any other command is answered by the state machine,
    ///   under the store's lock as `apply_locked` takes it.
    /// - Every call is recorded exactly once, refused ones included: its kind, its
    ///   outcome and its latency.
    /// - The latency is the time from the call to its answer, the wait for the lock
    ///   included, as the store's own clock (`self.clock`) tells it: the checker runs
    ///   the store on a fake clock, so any other clock records other latencies.
    /// - The lock is held only while the state machine works: the answer is timed
    ///   and recorded once the guard is gone. The lock protects the state, not the
    ///   metrics.
    ///
    /// Book: "Step 4: time each operation".
    pub fn execute(&self, command: Command) -> Result<Response, Rejected> {
        todo!("step 4: Store::execute")
    }
    // ANCHOR_END: execute

    // ANCHOR: apply_locked
    /// GET under the shared lock, SET and DEL under the exclusive one. The guard is a
    /// temporary, dropped before this returns: the response is an owned copy.
    #[allow(dead_code)] // used by your code in step 4
    fn apply_locked(&self, command: Command) -> Response {
        match command {
            Command::Get { key } => self.state.read().read(&key),
            write => self.state.write().write(write),
        }
    }
    // ANCHOR_END: apply_locked

    // ANCHOR: store_stats
    /// Step 5. The store's metrics as they are now, as a plain [`Stats`].
    ///
    /// It answers at once even while a writer holds the store's lock: it never takes
    /// that lock, not even its shared side, and waits for nothing. Any number of
    /// threads may call it while others work on the store.
    /// Book: "Step 5: read the stats without the lock".
    pub fn stats(&self) -> Stats {
        todo!("step 5: Store::stats")
    }
    // ANCHOR_END: store_stats

    /// The stats as Prometheus text exposition format.
    pub fn render_prometheus(&self) -> String {
        self.stats().render_prometheus()
    }
}
