//! Compare-and-swap loops are lock-free; a single `fetch_add` is wait-free.

use std::sync::atomic::{AtomicU64, Ordering};

// ANCHOR: cas
/// Increments with a compare-and-swap loop and returns how many attempts
/// failed. A failure that is not spurious means another thread's write got in
/// first, so the system as a whole makes progress (lock-free), but this
/// particular thread could in principle fail forever (not wait-free).
pub fn increment_cas(counter: &AtomicU64) -> u64 {
    let mut current = counter.load(Ordering::Relaxed);
    let mut failed = 0;
    loop {
        // "If it is still `current`, make it `current + 1`", as one step.
        // The weak form may also fail *spuriously*: the value was `current`
        // and the swap still did not happen. A loop retries either way, and
        // on processors with load-linked/store-conditional instructions the
        // weak form saves an inner retry loop.
        match counter.compare_exchange_weak(
            current,
            current + 1,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return failed,
            Err(actual) => {
                // Another thread changed it since we looked (retry from its
                // value), or the failure was spurious (`actual == current`).
                current = actual;
                failed += 1;
            }
        }
    }
}
// ANCHOR_END: cas

// ANCHOR: wait_free
/// One locked instruction on x86-64 (`lock xadd`, or `lock add` when the old
/// value is unused) that always completes in a bounded
/// number of steps, however many threads contend: wait-free.
pub fn increment_wait_free(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
// ANCHOR_END: wait_free

// ANCHOR: capped
/// What `fetch_add` cannot do: increment only while below `limit`. Any
/// read-decide-write rule fits in a CAS loop; `fetch_update` writes the loop
/// for us. Returns whether this call took a slot.
pub fn take_slot(taken: &AtomicU64, limit: u64) -> bool {
    taken
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
            (now < limit).then_some(now + 1)
        })
        .is_ok()
}
// ANCHOR_END: capped

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn a_stale_expectation_makes_the_swap_fail() {
        let counter = AtomicU64::new(5);
        let seen = counter.load(Ordering::Relaxed);
        counter.fetch_add(1, Ordering::Relaxed); // "another thread" got there first
        assert_eq!(
            counter.compare_exchange(seen, seen + 1, Ordering::Relaxed, Ordering::Relaxed),
            Err(6),
            "the swap fails and reports what is really there"
        );
    }

    #[test]
    fn cas_and_fetch_add_both_count_exactly() {
        let (cas, fetch_add) = (AtomicU64::new(0), AtomicU64::new(0));
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50_000 {
                        increment_cas(&cas);
                        increment_wait_free(&fetch_add);
                    }
                });
            }
        });
        assert_eq!(cas.load(Ordering::Relaxed), 200_000);
        assert_eq!(fetch_add.load(Ordering::Relaxed), 200_000);
    }

    #[test]
    fn capped_slots_never_exceed_the_limit() {
        let taken = AtomicU64::new(0);
        let granted: u64 = thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| (0..10_000).filter(|_| take_slot(&taken, 1_000)).count() as u64)
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(granted, 1_000);
        assert_eq!(taken.load(Ordering::Relaxed), 1_000);
    }
}
