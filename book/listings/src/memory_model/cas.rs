//! `compare_exchange` takes two orderings: one for when it succeeds (it read
//! the expected value and wrote the new one), one for when it fails (it only
//! read). Each must be what that path needs.

use super::Plain;
use crate::sync::atomic::AtomicPtr;
use crate::sync::atomic::Ordering::{self, Acquire, Relaxed, Release};
use crate::sync::{Arc, thread};
use std::ptr;

// ANCHOR: once_box
/// A value made on first use by whichever thread gets there first. Two
/// threads may both make one; the compare-exchange picks the winner, and the
/// loser throws its own away and uses the winner's.
pub struct OnceBox {
    slot: AtomicPtr<Plain>,
}

impl OnceBox {
    pub fn new() -> Self {
        Self {
            slot: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The value, made with `make` if there is none yet.
    pub fn get_or_init(&self, make: impl FnOnce() -> u64) -> u64 {
        self.get_or_init_with(make, Acquire)
    }

    fn get_or_init_with(&self, make: impl FnOnce() -> u64, on_failure: Ordering) -> u64 {
        let current = self.slot.load(Acquire); // pairs with the winner's Release
        if !current.is_null() {
            // SAFETY: published by a Release that this Acquire read.
            return unsafe { (*current).get() };
        }
        let ours = Box::into_raw(Box::new(Plain::new(0)));
        // SAFETY: nobody else can see `ours` yet.
        unsafe { (*ours).set(make()) };
        match self.slot.compare_exchange(
            ptr::null_mut(),
            ours,
            Release,    // success: publish what we wrote into `ours`
            on_failure, // failure: we read the winner's pointer and use it
        ) {
            // SAFETY: `ours` is in the slot now, freed only by `drop`.
            Ok(_) => unsafe { (*ours).get() },
            Err(winner) => {
                // SAFETY: `ours` was never published; it is still only ours.
                drop(unsafe { Box::from_raw(ours) });
                // SAFETY: only if `on_failure` is Acquire (see the tests).
                unsafe { (*winner).get() }
            }
        }
    }
}

impl Drop for OnceBox {
    fn drop(&mut self) {
        // `&mut self`: every other thread's access happens-before this, so
        // the load needs no ordering of its own.
        let current = self.slot.load(Relaxed);
        if !current.is_null() {
            // SAFETY: the slot owns the box it holds.
            drop(unsafe { Box::from_raw(current) });
        }
    }
}
// ANCHOR_END: once_box

impl Default for OnceBox {
    fn default() -> Self {
        Self::new()
    }
}

// ANCHOR: race_to_init
/// Two threads race to make the value, one with 1, one with 2. Returns what
/// each of them got: both must get the same, the winner's.
pub fn race_to_init(on_failure: Ordering) -> (u64, u64) {
    let once = Arc::new(OnceBox::new());
    let other = {
        let once = Arc::clone(&once);
        thread::spawn(move || once.get_or_init_with(|| 1, on_failure))
    };
    let mine = once.get_or_init_with(|| 2, on_failure);
    (other.join().unwrap(), mine)
}
// ANCHOR_END: race_to_init

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::outcomes_on_this_machine;
    use super::*;

    #[test]
    fn both_threads_get_the_winners_value() {
        for (a, b) in outcomes_on_this_machine(2_000, || race_to_init(Acquire)) {
            assert_eq!(a, b);
        }
        let once = OnceBox::new();
        assert_eq!(once.get_or_init(|| 7), 7);
        assert_eq!(once.get_or_init(|| 8), 7, "made once, then only read");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::testing::outcomes;

    // ANCHOR: loom_cas
    #[test]
    fn loom_acquire_on_failure_reads_the_winners_value() {
        let seen = outcomes("race to init, failure Acquire", || race_to_init(Acquire));
        assert_eq!(seen, [(1, 1), (2, 2)].into());
    }

    #[test]
    #[should_panic(expected = "Causality violation")]
    fn loom_relaxed_on_failure_is_a_data_race() {
        outcomes("race to init, failure Relaxed", || race_to_init(Relaxed));
    }
    // ANCHOR_END: loom_cas
}
