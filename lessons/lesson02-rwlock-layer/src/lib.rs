//! Lesson 02: the reader-writer layer.
//!
//! Your task: fill in the four methods of `ConcurrentStore` that end in `todo!()`,
//! in order (steps 1 to 4). The trait, the struct, its constructors and the lesson 01
//! state machine are given. The book's chapter "Lesson 02: the reader-writer layer"
//! walks through every step, and `just check lesson02` grades your work.
//!
//! One state machine, many threads. [`ConcurrentStore`] keeps the lesson 01 state
//! machine behind a reader-writer lock: any number of GETs read it at the same time
//! through the shared side of the lock, and a SET or a DEL changes it alone, through
//! the exclusive side. The store is `Send + Sync`, so threads share it through an
//! `Arc`.

// The stubs below ignore their arguments (and the lock) until you write them; without
// this line the compiler's warnings about them would bury the errors that matter.
#![allow(unused_variables, dead_code)]

use parking_lot::RwLock;

pub use state::{Command, Entry, Response, Store, Violation};

// ANCHOR: state_machine
/// What the lock layer needs from the machine it protects.
///
/// The lesson 01 [`Store`] is the machine the course uses. The layer is generic so
/// that the checker can plug in a machine of its own, one that notices which
/// threads are inside it at the same time.
pub trait StateMachine {
    /// The live entry for `key`, *borrowed* from the machine.
    fn lookup(&self, key: &str) -> Option<&Entry>;
    /// Applies one command; the only way the state changes.
    fn apply(&mut self, command: Command) -> Response;
    /// The invariants of lesson 01.
    fn check_invariants(&self) -> Result<(), Violation>;
}
// ANCHOR_END: state_machine

impl StateMachine for Store {
    fn lookup(&self, key: &str) -> Option<&Entry> {
        Store::lookup(self, key)
    }

    fn apply(&mut self, command: Command) -> Response {
        Store::apply(self, command)
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        Store::check_invariants(self)
    }
}

// ANCHOR: concurrent_store
/// The state machine behind a reader-writer lock, ready to be shared by threads.
pub struct ConcurrentStore<M = Store> {
    /// The only way to the machine: `self.machine.read()` gives a shared guard
    /// (`&M` through it), `self.machine.write()` an exclusive one (`&mut M`).
    machine: RwLock<M>,
}
// ANCHOR_END: concurrent_store

// The whole point of the layer: a `ConcurrentStore` can be shared between threads.
// If a field ever made it lose `Send` or `Sync`, this stops compiling, here.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<ConcurrentStore>();
};

impl ConcurrentStore {
    /// An empty store around the lesson 01 state machine.
    pub fn new() -> Self {
        Self::with_machine(Store::new())
    }
}

impl Default for ConcurrentStore {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: StateMachine> ConcurrentStore<M> {
    /// Puts `machine` behind the lock.
    pub fn with_machine(machine: M) -> Self {
        ConcurrentStore {
            machine: RwLock::new(machine),
        }
    }

    // ANCHOR: get
    /// Step 1. GET under the shared lock.
    ///
    /// Take the *read* side of the lock, so that any number of GETs can be inside
    /// at the same time, and look the key up with [`StateMachine::lookup`]. It lends
    /// you the entry only while the guard lives: build the answer from a *copy*
    /// before the guard goes away. Answer `Response::Value { value, version }` for a
    /// live key and `Response::NotFound` otherwise. Do not take the write side, and
    /// do not go through `apply` (it needs `&mut`, that is, the write side).
    /// Book: "Step 1: GET under the shared lock".
    pub fn get(&self, key: &str) -> Response {
        todo!("step 1: ConcurrentStore::get")
    }
    // ANCHOR_END: get

    // ANCHOR: set
    /// Step 2. SET under the exclusive lock.
    ///
    /// Take the *write* side of the lock and apply `Command::set(key, value)` to the
    /// machine; answer what `apply` answers. While you hold the write guard no
    /// reader and no other writer is inside, so keep the section short: build the
    /// command before you lock. Book: "Step 2: SET under the exclusive lock".
    pub fn set(&self, key: &str, value: &str) -> Response {
        todo!("step 2: ConcurrentStore::set")
    }
    // ANCHOR_END: set

    // ANCHOR: del
    /// Step 3. DEL under the exclusive lock.
    ///
    /// Like `set`, with `Command::del(key)`. `apply` already decides whether the key
    /// is live and answers `NotFound` if not: do not check with `self.get` first
    /// (while you hold the write lock, `get` would wait for you forever).
    /// Book: "Step 3: DEL under the exclusive lock".
    pub fn del(&self, key: &str) -> Response {
        todo!("step 3: ConcurrentStore::del")
    }
    // ANCHOR_END: del

    // ANCHOR: check_invariants
    /// Step 4. Checks the machine's invariants under the shared lock, with
    /// [`StateMachine::check_invariants`]: no writer can be halfway through a
    /// command while you look. Book: "Step 4: the invariants under the shared lock".
    pub fn check_invariants(&self) -> Result<(), Violation> {
        todo!("step 4: ConcurrentStore::check_invariants")
    }
    // ANCHOR_END: check_invariants
}
