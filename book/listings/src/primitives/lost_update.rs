//! The lost update: a read-modify-write split in two, and two ways to fix it.
//!
//! Safe Rust will not let two threads touch a plain `u64` at once, so the
//! broken counter below uses an atomic for each half. Each half is atomic; the
//! pair is not, and that is the whole bug.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

// ANCHOR: racy
/// A counter whose increment reads, then writes, as two separate steps.
#[derive(Debug, Default)]
pub struct RacyCounter {
    value: AtomicU64,
}

impl RacyCounter {
    pub fn increment(&self) {
        self.increment_with(|| {});
    }

    /// `window` runs between the read and the write: the exact gap in which
    /// another thread can read the same old value. Tests put a barrier there
    /// to force the bad interleaving instead of waiting for luck to find it.
    pub fn increment_with(&self, window: impl FnOnce()) {
        // Relaxed is not the problem here: no ordering of these two accesses
        // can stop another thread's load from landing between them.
        let seen = self.value.load(Ordering::Relaxed);
        window();
        self.value.store(seen + 1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: racy

// ANCHOR: atomic
/// The fix with one indivisible instruction.
#[derive(Debug, Default)]
pub struct AtomicCounter {
    value: AtomicU64,
}

impl AtomicCounter {
    pub fn increment(&self) {
        // The read and the write are one step that no other thread can split.
        // Relaxed suffices: the count publishes no other data, so nothing
        // needs to be ordered before or after it. Joining the threads is what
        // makes the final total visible to whoever reads it.
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: atomic

// ANCHOR: mutex
/// The fix with a lock: the whole read-modify-write runs with the lock held,
/// so the window between reading and writing exists but nobody can enter it.
#[derive(Debug, Default)]
pub struct MutexCounter {
    value: Mutex<u64>,
}

impl MutexCounter {
    pub fn increment(&self) {
        // `unwrap` passes on a panic of a thread that died holding the lock
        // (the lock is then "poisoned"); the count may be wrong, so stop.
        let mut value = self.value.lock().unwrap();
        *value += 1;
    } // the guard drops here and releases the lock

    pub fn get(&self) -> u64 {
        *self.value.lock().unwrap()
    }
}
// ANCHOR_END: mutex

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::thread;

    // ANCHOR: forced_race
    #[test]
    fn two_increments_can_leave_the_count_at_one() {
        let counter = RacyCounter::default();
        // Both threads must have *read* before either may *write*.
        let both_have_read = Barrier::new(2);
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    counter.increment_with(|| {
                        both_have_read.wait();
                    })
                });
            }
        });
        // Two increments ran to completion; one of them was lost.
        assert_eq!(counter.get(), 1);
    }
    // ANCHOR_END: forced_race

    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 50_000;

    #[test]
    fn fetch_add_never_loses_an_increment() {
        let counter = AtomicCounter::default();
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| (0..PER_THREAD).for_each(|_| counter.increment()));
            }
        });
        assert_eq!(counter.get(), THREADS * PER_THREAD);
    }

    #[test]
    fn the_mutex_never_loses_an_increment() {
        let counter = MutexCounter::default();
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| (0..PER_THREAD).for_each(|_| counter.increment()));
            }
        });
        assert_eq!(counter.get(), THREADS * PER_THREAD);
    }

    #[test]
    fn a_racy_counter_never_counts_more_than_was_asked() {
        // The racy counter can lose increments but never invent them. How
        // many it loses depends on the schedule, so that is measured by the
        // `lost_update` example, not asserted here.
        let counter = RacyCounter::default();
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| (0..PER_THREAD).for_each(|_| counter.increment()));
            }
        });
        assert!(counter.get() <= THREADS * PER_THREAD);
        assert!(counter.get() > 0);
    }
}
