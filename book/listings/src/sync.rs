//! One import path for the synchronisation types a model checker must see.
//!
//! Code written against `crate::sync` runs on the standard library normally
//! and on loom's simulated threads, atomics and locks when compiled with
//! `RUSTFLAGS="--cfg loom"`. Only the modules whose correctness argument is
//! about interleavings or memory ordering use it; the rest use `std` and
//! `parking_lot` directly.

#[cfg(not(loom))]
pub use std::sync::{Arc, Condvar, Mutex, MutexGuard, atomic};
#[cfg(not(loom))]
pub use std::thread;

#[cfg(loom)]
pub use loom::cell::UnsafeCell;
#[cfg(loom)]
pub use loom::sync::{Arc, Condvar, Mutex, MutexGuard, atomic};
#[cfg(loom)]
pub use loom::thread;

/// `std::cell::UnsafeCell` behind the closure-based API of loom's cell.
///
/// Loom needs to see every access to shared non-atomic memory in order to
/// report one that is not ordered by happens-before, so accesses go through
/// [`with`](Self::with) and [`with_mut`](Self::with_mut) in both builds.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a unique pointer to the contents.
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
