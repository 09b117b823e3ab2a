//! The primitives chapter: one module per primitive or pitfall.

pub mod barrier;
pub mod bounded_queue;
pub mod cas_counter;
pub mod lost_update;
pub mod mutex_guard;
pub mod reentrancy;
pub mod rwlock;
pub mod semaphore;
pub mod spin_lock;
pub mod transfer;
