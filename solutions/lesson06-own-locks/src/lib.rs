//! Lesson 06: your own locks.
//!
//! Two monitors built from [`kvlab_sync`]'s mutex and condition variables: a
//! [`BoundedQueue`] (the warm-up: wait in a loop, on the right condition variable)
//! and a reader-writer [`RwLock`] whose state, guarded by one mutex, says who is
//! inside and who waits. Then lesson 02's store, on that lock ([`store`]).

mod queue;
mod rwlock;
pub mod store;

pub use queue::BoundedQueue;
pub use rwlock::{LockState, LockViolation, ReadGuard, RwLock, WriteGuard};
