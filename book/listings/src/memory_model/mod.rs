//! The memory-model chapter: happens-before, what each ordering adds, why
//! `SeqCst` exists, fences, and the two orderings of `compare_exchange`.
//!
//! Every listing is a small function that runs two threads and returns what
//! one of them saw. The ordinary tests run each function many times and check
//! that it never returns an outcome the model forbids (which proves little:
//! a forbidden outcome may just be rare on this processor). With
//! `RUSTFLAGS="--cfg loom"`, the loom tests run each function in every
//! execution loom explores and check the *set* of outcomes exactly. Loom does
//! not model all of C11: it treats `SeqCst` loads and stores as `AcqRel` (so it
//! can show an outcome the language forbids; `store_buffering` pins that down)
//! and skips some load-buffering executions (so it can miss an allowed one).

pub mod cas;
pub mod fences;
pub mod happens_before;
pub mod message_passing;
pub mod store_buffering;

use crate::sync::UnsafeCell;

// ANCHOR: plain
/// A plain, non-atomic `u64` that several threads can reach. Every access is
/// `unsafe`: it is sound only if happens-before orders it against every
/// write by another thread. Under loom, each access is checked against that
/// rule, and one that is not ordered fails the test as a data race.
pub struct Plain(UnsafeCell<u64>);

// SAFETY: the accessors are `unsafe`; each caller promises the ordering.
unsafe impl Sync for Plain {}

impl Plain {
    pub fn new(value: u64) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// # Safety
    /// Every write by another thread happens-before this read.
    pub unsafe fn get(&self) -> u64 {
        self.0.with(|p| unsafe { *p })
    }

    /// # Safety
    /// Every other access by another thread happens-before this write.
    pub unsafe fn set(&self, value: u64) {
        self.0.with_mut(|p| unsafe { *p = value })
    }
}
// ANCHOR_END: plain

/// Runs `f` `runs` times on real threads and returns every distinct outcome.
#[cfg(all(test, not(loom)))]
pub(crate) fn outcomes_on_this_machine<T: Ord>(
    runs: usize,
    f: impl Fn() -> T,
) -> std::collections::BTreeSet<T> {
    (0..runs).map(|_| f()).collect()
}
