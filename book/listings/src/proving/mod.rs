//! The proving-a-lock chapter: a reader-writer lock written as a monitor,
//! with the invariants that make it correct checked at every transition.
//!
//! Model checking: with `RUSTFLAGS="--cfg loom"`, the tests of
//! [`checked_rwlock`] run the real lock under loom, which explores the
//! interleavings of a few threads and checks the invariants in each one.

pub mod checked_rwlock;
pub mod event;
