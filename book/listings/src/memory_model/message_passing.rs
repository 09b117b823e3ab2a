//! Message passing: data, then a flag. What each ordering lets a reader that
//! sees the flag see of the data.

use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::sync::atomic::{AtomicBool, AtomicU64};
use crate::sync::{Arc, thread};

// ANCHOR: relaxed
/// Writer: data, then flag, both relaxed. Reader: the data, if the flag is
/// up. Returns `None` if the reader did not see the flag, else the data.
pub fn relaxed() -> Option<u64> {
    let data = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(AtomicBool::new(false));
    let writer = {
        let (data, ready) = (Arc::clone(&data), Arc::clone(&ready));
        thread::spawn(move || {
            data.store(42, Relaxed);
            ready.store(true, Relaxed);
        })
    };
    let seen = ready.load(Relaxed).then(|| data.load(Relaxed));
    writer.join().unwrap();
    seen
}
// ANCHOR_END: relaxed

// ANCHOR: release_acquire
/// The same, with a release store of the flag and an acquire load of it.
pub fn release_acquire() -> Option<u64> {
    let data = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(AtomicBool::new(false));
    let writer = {
        let (data, ready) = (Arc::clone(&data), Arc::clone(&ready));
        thread::spawn(move || {
            data.store(42, Relaxed);
            ready.store(true, Release); // everything above is published with it
        })
    };
    // If this load reads the `true` stored above, the two synchronize.
    let seen = ready.load(Acquire).then(|| data.load(Relaxed));
    writer.join().unwrap();
    seen
}
// ANCHOR_END: release_acquire

// ANCHOR: coherence
/// One atomic, two relaxed stores, two relaxed loads on another thread.
/// Returns what the two loads read, in order.
pub fn coherence() -> (u64, u64) {
    let x = Arc::new(AtomicU64::new(0));
    let writer = {
        let x = Arc::clone(&x);
        thread::spawn(move || {
            x.store(1, Relaxed);
            x.store(2, Relaxed);
        })
    };
    let first = x.load(Relaxed);
    let second = x.load(Relaxed);
    writer.join().unwrap();
    (first, second)
}
// ANCHOR_END: coherence

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::outcomes_on_this_machine;
    use super::*;

    #[test]
    fn release_acquire_never_shows_the_flag_without_the_data() {
        let seen = outcomes_on_this_machine(2_000, release_acquire);
        assert!(!seen.contains(&Some(0)), "{seen:?}");
    }

    #[test]
    fn loads_of_one_atomic_never_go_back() {
        for (first, second) in outcomes_on_this_machine(2_000, coherence) {
            assert!(first <= second, "read {first} then {second}");
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::testing::outcomes;

    // ANCHOR: loom_relaxed
    #[test]
    fn loom_relaxed_can_show_the_flag_without_the_data() {
        let seen = outcomes("message passing, relaxed", relaxed);
        assert_eq!(seen, [None, Some(0), Some(42)].into());
    }
    // ANCHOR_END: loom_relaxed

    #[test]
    fn loom_release_acquire_shows_the_data_with_the_flag() {
        let seen = outcomes("message passing, release/acquire", release_acquire);
        assert_eq!(seen, [None, Some(42)].into());
    }

    #[test]
    fn loom_one_atomic_is_seen_in_one_order() {
        let seen = outcomes("coherence, relaxed", coherence);
        // Every pair except the ones that go back in time: (1, 0), (2, 0), (2, 1).
        assert_eq!(
            seen,
            [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)].into()
        );
    }
}
