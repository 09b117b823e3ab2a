//! Rust's mutexes are not reentrant: locking twice on one thread waits for
//! yourself forever. Two ways out: lock once at the boundary, or use a
//! reentrant mutex and give up `&mut`.

use parking_lot::{Mutex, ReentrantMutex};
use std::cell::RefCell;

// ANCHOR: self_deadlock
/// A ledger whose `record` wants to report the new total.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Mutex<Vec<i64>>,
}

impl Ledger {
    pub fn total(&self) -> i64 {
        self.entries.lock().iter().sum()
    }

    // This compiles, and hangs on its first call:
    //
    //     pub fn record(&self, amount: i64) -> i64 {
    //         let mut entries = self.entries.lock();
    //         entries.push(amount);
    //         self.total() // locks `entries` again: waits for itself
    //     }
    //
    // The type system checks *who may touch* the data, not *in which order*
    // locks are taken, so a self-deadlock is not a compile error.
    // ANCHOR_END: self_deadlock

    // ANCHOR: lock_once
    /// Public methods lock; private helpers take the data already locked.
    pub fn record(&self, amount: i64) -> i64 {
        let mut entries = self.entries.lock();
        entries.push(amount);
        Self::sum(&entries)
    }

    fn sum(entries: &[i64]) -> i64 {
        entries.iter().sum()
    }
    // ANCHOR_END: lock_once
}

// ANCHOR: reentrant
/// The same ledger on a reentrant mutex: the owning thread may lock again.
#[derive(Debug, Default)]
pub struct ReentrantLedger {
    // Several guards can exist at once on the owning thread, so a guard only
    // hands out `&T`; mutation goes through the `RefCell`, which checks at
    // run time that no two of them borrow mutably at once.
    entries: ReentrantMutex<RefCell<Vec<i64>>>,
}

impl ReentrantLedger {
    pub fn total(&self) -> i64 {
        self.entries.lock().borrow().iter().sum()
    }

    pub fn record(&self, amount: i64) -> i64 {
        let entries = self.entries.lock();
        entries.borrow_mut().push(amount);
        // Still holding the lock: the nested `lock` in `total` just counts up.
        self.total()
    }
}
// ANCHOR_END: reentrant

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Duration;

    // ANCHOR: waits_for_itself
    #[test]
    fn a_second_lock_on_the_same_thread_cannot_succeed() {
        let lock = Mutex::new(());
        let _held = lock.lock();
        // `lock()` here would block forever; the timed version shows why:
        // the owner is this very thread, so no amount of waiting helps.
        assert!(lock.try_lock_for(Duration::from_millis(20)).is_none());
    }
    // ANCHOR_END: waits_for_itself

    #[test]
    fn lock_once_ledger_records_and_totals() {
        let ledger = Ledger::default();
        assert_eq!(ledger.record(5), 5);
        assert_eq!(ledger.record(-2), 3);
        assert_eq!(ledger.total(), 3);
    }

    #[test]
    fn reentrant_ledger_records_from_many_threads() {
        let ledger = ReentrantLedger::default();
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    (0..1000).for_each(|_| {
                        ledger.record(1);
                    })
                });
            }
        });
        assert_eq!(ledger.total(), 4000);
    }

    #[test]
    fn a_reentrant_lock_still_excludes_other_threads() {
        let ledger = ReentrantLedger::default();
        let _outer = ledger.entries.lock();
        let _inner = ledger.entries.lock();
        thread::scope(|s| {
            let other = s.spawn(|| ledger.entries.try_lock().is_none());
            assert!(other.join().unwrap(), "another thread got in");
        });
    }
}
