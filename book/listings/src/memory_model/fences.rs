//! Fences: the ordering moved off the atomic access and onto a separate
//! instruction, so that a reader pays for acquire only when it needs it.

use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::sync::atomic::{AtomicBool, AtomicU64, fence};
use crate::sync::{Arc, thread};

// ANCHOR: fenced
/// Message passing with relaxed accesses and two fences: a release fence
/// before the flag's store, an acquire fence after the flag's load, and only
/// when the flag was seen up.
pub fn message_passing_with_fences() -> Option<u64> {
    let data = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(AtomicBool::new(false));
    let writer = {
        let (data, ready) = (Arc::clone(&data), Arc::clone(&ready));
        thread::spawn(move || {
            data.store(42, Relaxed);
            fence(Release);
            ready.store(true, Relaxed);
        })
    };
    let seen = if ready.load(Relaxed) {
        fence(Acquire);
        Some(data.load(Relaxed))
    } else {
        None
    };
    writer.join().unwrap();
    seen
}
// ANCHOR_END: fenced

// ANCHOR: fence_too_late
/// BROKEN: the writer's fence comes *after* the flag's store. A release fence
/// orders what comes before it against stores after it; nothing is after it.
pub fn release_fence_after_the_flag() -> Option<u64> {
    let data = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(AtomicBool::new(false));
    let writer = {
        let (data, ready) = (Arc::clone(&data), Arc::clone(&ready));
        thread::spawn(move || {
            data.store(42, Relaxed);
            ready.store(true, Relaxed);
            fence(Release); // WRONG: too late to order the flag's store
        })
    };
    let seen = if ready.load(Relaxed) {
        fence(Acquire);
        Some(data.load(Relaxed))
    } else {
        None
    };
    writer.join().unwrap();
    seen
}
// ANCHOR_END: fence_too_late

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::outcomes_on_this_machine;
    use super::*;

    #[test]
    fn fences_publish_the_data_with_the_flag() {
        let seen = outcomes_on_this_machine(2_000, message_passing_with_fences);
        assert!(!seen.contains(&Some(0)), "{seen:?}");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::testing::outcomes;

    // ANCHOR: loom_fences
    #[test]
    fn loom_fences_publish_the_data_with_the_flag() {
        let seen = outcomes("message passing, fences", message_passing_with_fences);
        assert_eq!(seen, [None, Some(42)].into());
    }

    #[test]
    fn loom_a_release_fence_after_the_store_orders_nothing() {
        let seen = outcomes(
            "message passing, fence too late",
            release_fence_after_the_flag,
        );
        assert_eq!(seen, [None, Some(0), Some(42)].into());
    }
    // ANCHOR_END: loom_fences
}
