//! Lesson 02: the reader-writer layer.
//!
//! Your task: fill in the four methods of `ConcurrentStore` that end in `todo!()`,
//! in order (steps 1 to 4). The trait, the struct, its constructors and the lesson 01
//! state machine are given. The book's chapter "Lesson 02: the reader-writer layer"
//! walks through every step, and `just check lesson02` grades your work.
//!
//! Each doc comment below is a contract: what the method must do and what must stay
//! true while many threads call it. How to get there is yours to work out; `just hint
//! lesson02` gives one hint at a time when you are stuck, each closer to the code.
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
    /// The only way to the machine, and all that protects it: every look at the
    /// machine happens while the lock is held on its shared side (any number of
    /// threads at once), every change while it is held on its exclusive side (one
    /// thread, and nobody else inside).
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
    /// Step 1. GET: answers what lesson 01's rules give for the machine's state at
    /// one moment, `Response::Value { value, version }` for a live key and
    /// `Response::NotFound` otherwise. What must stay true:
    ///
    /// - A GET changes nothing, and it never keeps another reader out: any number of
    ///   GETs (and invariant checks) are inside the machine at the same time.
    /// - It never sees a write halfway done: while it looks, no writer is inside.
    /// - The value and the version come from one look at one state, not from two
    ///   looks that a write could fall between.
    /// - The response owns what it carries: nothing borrowed from the machine
    ///   outlives the moment the lock protects it.
    /// - It waits for the lock at most once per call, and holds no other lock.
    ///
    /// Book: "Step 1: GET under the shared lock".
    pub fn get(&self, key: &str) -> Response {
        todo!("step 1: ConcurrentStore::get")
    }
    // ANCHOR_END: get

    // ANCHOR: set
    /// Step 2. SET: the machine itself applies `Command::set(key, value)`, and the
    /// SET answers exactly what the machine answers. What must stay true:
    ///
    /// - While the command is applied, no other thread is inside the machine, no
    ///   reader and no other writer, and the change is made to the one machine every
    ///   thread sees (never to a copy put back later).
    /// - A SET waiting for its turn waits in the lock's own queue: once it waits, new
    ///   readers queue behind it, so a steady stream of GETs cannot keep it out.
    /// - Others are kept out only as long as the state needs: work that needs no
    ///   protection happens outside the exclusive section.
    ///
    /// Book: "Step 2: SET under the exclusive lock".
    pub fn set(&self, key: &str, value: &str) -> Response {
        todo!("step 2: ConcurrentStore::set")
    }
    // ANCHOR_END: set

    // ANCHOR: del
    /// Step 3. DEL: the machine itself applies `Command::del(key)`, under every rule
    /// of SET, and the DEL answers exactly what the machine answers (`NotFound` for
    /// a key with no live value). What must stay true as well:
    ///
    /// - Deciding whether the key is live and writing its tombstone happen in one
    ///   exclusive section: no other thread gets in between the two.
    /// - A thread never asks for the lock while it already holds it: that request
    ///   would wait for itself forever.
    ///
    /// Book: "Step 3: DEL under the exclusive lock".
    pub fn del(&self, key: &str) -> Response {
        todo!("step 3: ConcurrentStore::del")
    }
    // ANCHOR_END: del

    // ANCHOR: check_invariants
    /// Step 4. The machine's own verdict on its invariants
    /// ([`StateMachine::check_invariants`]), for a state no writer is halfway through.
    /// It only reads: it runs side by side with GETs and with other checks, and keeps
    /// out only writers. Book: "Step 4: the invariants under the shared lock".
    pub fn check_invariants(&self) -> Result<(), Violation> {
        todo!("step 4: ConcurrentStore::check_invariants")
    }
    // ANCHOR_END: check_invariants
}
