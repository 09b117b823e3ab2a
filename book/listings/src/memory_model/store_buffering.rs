//! Store buffering: each thread stores to one variable, then loads the other.
//! Release and acquire allow both loads to miss both stores; `SeqCst` does not.

use crate::sync::atomic::AtomicU64;
use crate::sync::atomic::Ordering::{self, Acquire, Relaxed, Release, SeqCst};
use crate::sync::atomic::fence;
use crate::sync::{Arc, thread};

// ANCHOR: acquire_release
/// Thread A: `x = 1`, then read `y`. Thread B: `y = 1`, then read `x`.
/// Returns (what A read, what B read).
pub fn acquire_release() -> (u64, u64) {
    store_buffering(Release, Acquire)
}
// ANCHOR_END: acquire_release

// ANCHOR: seq_cst
/// The same with every access `SeqCst`.
pub fn seq_cst() -> (u64, u64) {
    store_buffering(SeqCst, SeqCst)
}

fn store_buffering(store: Ordering, load: Ordering) -> (u64, u64) {
    let (x, y) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let a = {
        let (x, y) = (Arc::clone(&x), Arc::clone(&y));
        thread::spawn(move || {
            x.store(1, store);
            y.load(load)
        })
    };
    y.store(1, store);
    let b = x.load(load);
    (a.join().unwrap(), b)
}
// ANCHOR_END: seq_cst

// ANCHOR: seq_cst_fences
/// Relaxed accesses with a `SeqCst` fence between each thread's store and
/// its load: the fences take part in the single total order, so the
/// outcome (0, 0) is ruled out as it is with `SeqCst` accesses.
pub fn seq_cst_fences() -> (u64, u64) {
    let (x, y) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let a = {
        let (x, y) = (Arc::clone(&x), Arc::clone(&y));
        thread::spawn(move || {
            x.store(1, Relaxed);
            fence(SeqCst);
            y.load(Relaxed)
        })
    };
    y.store(1, Relaxed);
    fence(SeqCst);
    let b = x.load(Relaxed);
    (a.join().unwrap(), b)
}
// ANCHOR_END: seq_cst_fences

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::outcomes_on_this_machine;
    use super::*;

    #[test]
    fn seq_cst_never_lets_both_loads_miss() {
        assert!(!outcomes_on_this_machine(2_000, seq_cst).contains(&(0, 0)));
        assert!(!outcomes_on_this_machine(2_000, seq_cst_fences).contains(&(0, 0)));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::testing::outcomes;

    // ANCHOR: loom_store_buffering
    #[test]
    fn loom_acquire_release_lets_both_loads_miss() {
        let seen = outcomes("store buffering, release/acquire", acquire_release);
        assert_eq!(seen, [(0, 0), (0, 1), (1, 0), (1, 1)].into());
    }

    #[test]
    fn loom_seq_cst_fences_forbid_both_missing() {
        let seen = outcomes("store buffering, SeqCst fences", seq_cst_fences);
        assert_eq!(seen, [(0, 1), (1, 0), (1, 1)].into());
    }
    // ANCHOR_END: loom_store_buffering

    /// Loom treats `SeqCst` loads and stores as `AcqRel` (its documented
    /// limitation), so it reports (0, 0) here although the language forbids
    /// it. The book says so; if a loom release fixes it, this test fails and
    /// the chapter must change.
    #[test]
    fn loom_models_seq_cst_accesses_as_acq_rel() {
        let seen = outcomes(
            "store buffering, SeqCst accesses as loom models them",
            seq_cst,
        );
        assert_eq!(seen, [(0, 0), (0, 1), (1, 0), (1, 1)].into());
    }
}
