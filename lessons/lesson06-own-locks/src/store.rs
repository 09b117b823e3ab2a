//! Part 4: lesson 02's store on the lock of this lesson: the same API, the same
//! criteria, your lock in place of parking_lot's.

pub use layer::{Command, Entry, Response, StateMachine, Store, Violation};

use crate::RwLock;

/// Lesson 02's `ConcurrentStore`, with this lesson's [`RwLock`] in place of
/// parking_lot's.
pub struct ConcurrentStore<M = Store> {
    machine: RwLock<M>,
}

impl ConcurrentStore {
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
    pub fn with_machine(machine: M) -> Self {
        ConcurrentStore {
            machine: RwLock::new(machine),
        }
    }

    /// Step 12. GET, under every rule of lesson 02's step 1: one look at one state,
    /// on the read side of your lock, answering `Response::Value { value, version }`
    /// for a live key and `Response::NotFound` otherwise.
    /// Book: "Part 4: lesson 02's store on your lock".
    pub fn get(&self, key: &str) -> Response {
        todo!("step 12: ConcurrentStore::get")
    }

    /// Step 13. SET, under every rule of lesson 02's step 2: the machine applies
    /// `Command::set(key, value)` on the write side of your lock, and SET answers
    /// what the machine answers.
    pub fn set(&self, key: &str, value: &str) -> Response {
        todo!("step 13: ConcurrentStore::set")
    }

    /// Step 14. DEL, under every rule of lesson 02's step 3: the machine applies
    /// `Command::del(key)` on the write side, and DEL answers what it answers.
    pub fn del(&self, key: &str) -> Response {
        todo!("step 14: ConcurrentStore::del")
    }

    /// The machine's own verdict on its invariants, on the read side.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        self.machine.read().check_invariants()
    }
}
