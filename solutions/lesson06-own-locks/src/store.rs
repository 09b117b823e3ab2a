//! Lesson 02's store on the lock of this lesson: the same API, the same criteria.

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

// ANCHOR: store
impl<M: StateMachine> ConcurrentStore<M> {
    pub fn with_machine(machine: M) -> Self {
        ConcurrentStore {
            machine: RwLock::new(machine),
        }
    }

    pub fn get(&self, key: &str) -> Response {
        match self.machine.read().lookup(key) {
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

    pub fn set(&self, key: &str, value: &str) -> Response {
        let command = Command::set(key, value);
        self.machine.write().apply(command)
    }

    pub fn del(&self, key: &str) -> Response {
        let command = Command::del(key);
        self.machine.write().apply(command)
    }

    pub fn check_invariants(&self) -> Result<(), Violation> {
        self.machine.read().check_invariants()
    }
}
// ANCHOR_END: store
