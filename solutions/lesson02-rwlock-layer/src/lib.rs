//! Lesson 02: the reader-writer layer.
//!
//! One state machine, many threads. [`ConcurrentStore`] keeps the lesson 01 state
//! machine behind a reader-writer lock: any number of GETs read it at the same time
//! through the shared side of the lock, and a SET or a DEL changes it alone, through
//! the exclusive side. The store is `Send + Sync`, so threads share it through an
//! `Arc`.

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
    // A reader-writer lock rather than a mutex: GETs only read, so any number of
    // them may be inside at once; a SET or DEL must be alone. parking_lot's lock is
    // task-fair: once a writer waits, new readers queue behind it, so a steady
    // stream of GETs cannot starve a SET.
    machine: RwLock<M>,
}
// ANCHOR_END: concurrent_store

// ANCHOR: shareable
// The whole point of the layer: a `ConcurrentStore` can be shared between threads.
// If a field ever made it lose `Send` or `Sync`, this stops compiling, here.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<ConcurrentStore>();
};
// ANCHOR_END: shareable

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
    /// GET under the shared lock: many readers at once, each leaving with a copy.
    pub fn get(&self, key: &str) -> Response {
        let machine = self.machine.read();
        // `lookup` lends us the entry for as long as the guard lives, no longer.
        // Copy what the caller needs now, while the lock still protects it.
        match machine.lookup(key) {
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
        // The guard is dropped here, after the copy: the read lock is released.
    }
    // ANCHOR_END: get

    // ANCHOR: set
    /// SET under the exclusive lock: no reader and no other writer is inside.
    pub fn set(&self, key: &str, value: &str) -> Response {
        // Build the command before locking: the allocations need no lock, and the
        // shorter the exclusive section, the sooner readers get back in.
        let command = Command::set(key, value);
        // The guard is a temporary: the write lock is released at the end of this
        // statement, with the response already computed.
        self.machine.write().apply(command)
    }
    // ANCHOR_END: set

    // ANCHOR: del
    /// DEL under the exclusive lock.
    pub fn del(&self, key: &str) -> Response {
        let command = Command::del(key);
        // Deciding whether the key is live and writing the tombstone happen in one
        // exclusive section (inside `apply`). Checking with `get` first and then
        // deleting would be two sections with a gap between them, and calling
        // `get` while holding the write lock would wait for ourselves forever.
        self.machine.write().apply(command)
    }
    // ANCHOR_END: del

    // ANCHOR: check_invariants
    /// Checks the machine's invariants under the shared lock: a consistent
    /// picture, since no writer can be halfway through a command.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        self.machine.read().check_invariants()
    }
    // ANCHOR_END: check_invariants
}

/// What Rust refuses to compile, so that the C version's careful rules need no
/// care here. Each example is a `compile_fail` test: if it ever compiled (or
/// failed for another reason), `cargo test` would say so.
pub mod refused {
    /// A reference into the machine must not outlive the read guard.
    ///
    /// ```compile_fail,E0515
    #[doc = include_str!("../compile_fail/reference_outlives_guard.rs")]
    /// ```
    pub struct ReferenceOutlivesGuard;

    /// Two threads may not use one store without a lock: one `&mut` or many `&`.
    ///
    /// ```compile_fail,E0502
    #[doc = include_str!("../compile_fail/store_shared_without_lock.rs")]
    /// ```
    pub struct StoreSharedWithoutLock;

    /// A `RefCell` is not a lock: it cannot be shared between threads.
    ///
    /// ```compile_fail,E0277
    #[doc = include_str!("../compile_fail/refcell_across_threads.rs")]
    /// ```
    pub struct RefCellAcrossThreads;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[test]
    fn a_store_shared_by_threads_keeps_every_write() {
        let store = Arc::new(ConcurrentStore::new());
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let store = Arc::clone(&store);
                thread::spawn(move || {
                    for i in 0..100 {
                        store.set(&format!("k{}", i % 5), &format!("{t}-{i}"));
                        store.get("k0");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        assert_eq!(store.check_invariants(), Ok(()));
        // 400 writes spread over 5 keys, 80 each: the last write of k3 is version 80.
        assert!(matches!(
            store.get("k3"),
            Response::Value { version: 80, .. }
        ));
    }

    #[test]
    fn del_of_a_missing_key_is_not_a_write() {
        let store = ConcurrentStore::new();
        assert_eq!(store.del("apple"), Response::NotFound);
        assert_eq!(
            store.set("apple", "red"),
            Response::Stored { version: 1, seq: 1 }
        );
        assert_eq!(store.del("apple"), Response::Deleted { version: 2, seq: 2 });
        assert_eq!(store.get("apple"), Response::NotFound);
    }
}
