//! Grading lesson 06: your own locks.
//!
//! The criteria are written once, against [`Subject`], and run unchanged on the
//! learner's crate, the reference, the correct variants and the broken fixtures.
//! Two kinds of criteria: threads held at known points (a reader parked inside the
//! lock while the probe watches what a writer does), and the model checker, which
//! runs a small configuration in every interleaving within a bound and shows a
//! failing one as a timeline. The lock's data lives in `kvlab_sync::SharedCell`,
//! which panics the moment a writer is let in beside anyone, in either kind.

mod criteria;
pub mod fixtures;
pub mod hints;
mod model;
pub mod planted;
mod threads;
pub mod variants;

use probe_kit::{Graded, Probe};

#[doc(hidden)]
pub use probe_lesson02;
#[doc(hidden)]
pub use reference;
pub use reference::{LockState, LockViolation};

/// One implementation of lesson 06, seen through the reference's types. The queue
/// holds `u64`s and the lock guards a `u64`: what the criteria need to see.
pub trait Subject: Clone + Send + Sync + 'static {
    type Queue: Send + Sync + 'static;
    type Lock: Send + Sync + 'static;
    /// Lesson 02's store on this lesson's lock, as lesson 02's probe sees it.
    type Store: probe_lesson02::Subject;

    fn queue(&self, capacity: usize) -> Self::Queue;
    fn push(&self, queue: &Self::Queue, item: u64);
    fn pop(&self, queue: &Self::Queue) -> u64;
    fn try_push(&self, queue: &Self::Queue, item: u64) -> Result<(), u64>;
    fn try_pop(&self, queue: &Self::Queue) -> Option<u64>;
    fn len(&self, queue: &Self::Queue) -> usize;

    fn lock(&self, value: u64) -> Self::Lock;
    /// Runs `inside` while holding a read guard.
    fn read(&self, lock: &Self::Lock, inside: &mut dyn FnMut(u64));
    /// Runs `inside` while holding the write guard.
    fn write(&self, lock: &Self::Lock, inside: &mut dyn FnMut(&mut u64));
    fn try_read(&self, lock: &Self::Lock) -> Option<u64>;
    /// Stores `value` if the write guard is to be had now.
    fn try_write(&self, lock: &Self::Lock, value: u64) -> bool;
    fn state(&self, lock: &Self::Lock) -> LockState;
    /// The implementation's `LockState::check_invariants`, on `state`.
    fn check(&self, state: LockState) -> Result<(), LockViolation>;

    fn store(&self) -> Self::Store;
}

/// Implements [`Subject`] for a crate with lesson 06's public API. The learner's
/// crate and the reference both go through here.
#[macro_export]
macro_rules! adapt_crate {
    ($subject:ident, $krate:ident) => {
        #[derive(Clone, Copy)]
        pub struct $subject;

        /// Lesson 02's store of the crate, adapted by lesson 02's own adapter.
        mod store_adapter {
            pub use $krate::store as lesson_store;
            $crate::probe_lesson02::adapt_crate!(Store, lesson_store);
        }

        impl $crate::Subject for $subject {
            type Queue = $krate::BoundedQueue<u64>;
            type Lock = $krate::RwLock<u64>;
            type Store = store_adapter::Store;

            fn queue(&self, capacity: usize) -> Self::Queue {
                $krate::BoundedQueue::new(capacity)
            }
            fn push(&self, queue: &Self::Queue, item: u64) {
                queue.push(item)
            }
            fn pop(&self, queue: &Self::Queue) -> u64 {
                queue.pop()
            }
            fn try_push(&self, queue: &Self::Queue, item: u64) -> Result<(), u64> {
                queue.try_push(item)
            }
            fn try_pop(&self, queue: &Self::Queue) -> Option<u64> {
                queue.try_pop()
            }
            fn len(&self, queue: &Self::Queue) -> usize {
                queue.len()
            }

            fn lock(&self, value: u64) -> Self::Lock {
                $krate::RwLock::new(value)
            }
            fn read(&self, lock: &Self::Lock, inside: &mut dyn FnMut(u64)) {
                let guard = lock.read();
                inside(*guard);
            }
            fn write(&self, lock: &Self::Lock, inside: &mut dyn FnMut(&mut u64)) {
                let mut guard = lock.write();
                inside(&mut guard);
            }
            fn try_read(&self, lock: &Self::Lock) -> Option<u64> {
                lock.try_read().map(|guard| *guard)
            }
            fn try_write(&self, lock: &Self::Lock, value: u64) -> bool {
                match lock.try_write() {
                    Some(mut guard) => {
                        *guard = value;
                        true
                    }
                    None => false,
                }
            }
            fn state(&self, lock: &Self::Lock) -> $crate::LockState {
                let $krate::LockState {
                    readers,
                    writer,
                    writers_waiting,
                    readers_waiting,
                    readers_next,
                } = lock.state();
                $crate::LockState {
                    readers,
                    writer,
                    writers_waiting,
                    readers_waiting,
                    readers_next,
                }
            }
            fn check(&self, state: $crate::LockState) -> Result<(), $crate::LockViolation> {
                let state = $krate::LockState {
                    readers: state.readers,
                    writer: state.writer,
                    writers_waiting: state.writers_waiting,
                    readers_waiting: state.readers_waiting,
                    readers_next: state.readers_next,
                };
                state
                    .check_invariants()
                    .map_err(|violation| match violation {
                        $krate::LockViolation::WriterBesideReaders { readers } => {
                            $crate::LockViolation::WriterBesideReaders { readers }
                        }
                        $krate::LockViolation::TurnWithoutReaders => {
                            $crate::LockViolation::TurnWithoutReaders
                        }
                    })
            }

            fn store(&self) -> Self::Store {
                store_adapter::Store
            }
        }
    };
}

mod reference_adapter {
    crate::adapt_crate!(Reference, reference);
}
pub use reference_adapter::Reference;

/// The lesson's criteria bound to one implementation: what a probe process runs.
pub fn probe<S: Subject>(subject: S) -> Box<dyn Probe> {
    Box::new(Graded::new(subject, criteria::all()))
}

/// What the checker compiles in for lesson 06. A `static`: see [`probe_kit::Builtins`].
pub static BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    reference: || probe(Reference),
    fixtures: fixtures::FIXTURES,
    variants: variants::VARIANTS,
};
