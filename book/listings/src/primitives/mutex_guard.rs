//! The guard is the lock: holding it is being inside the critical section,
//! dropping it is leaving.

use parking_lot::Mutex;

// ANCHOR: short_section
/// A price list shared by many threads.
#[derive(Debug, Default)]
pub struct PriceList {
    prices: Mutex<Vec<u64>>,
}

impl PriceList {
    pub fn add(&self, price: u64) {
        self.prices.lock().push(price);
    }

    /// Copies what it needs under the lock, then does the slow part without it.
    pub fn report(&self) -> String {
        let prices = self.prices.lock();
        let snapshot = prices.clone();
        // Every other thread that wants the list is blocked until this line.
        drop(prices);
        // Formatting can take a while; nobody waits for it.
        snapshot.iter().map(|p| format!("{p:>8}\n")).collect()
    }
}
// ANCHOR_END: short_section

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    // ANCHOR: underscore
    #[test]
    // Clippy rejects the first `let _` below by default; that is the point.
    #[allow(clippy::let_underscore_lock)]
    fn an_underscore_pattern_releases_at_once() {
        let lock = Mutex::new(0);

        // `_` is not a variable: the guard is dropped on this very line.
        let _ = lock.lock();
        assert!(lock.try_lock().is_some(), "the lock is already free");

        // `_guard` is a variable: the lock is held until the end of scope.
        let _guard = lock.lock();
        assert!(lock.try_lock().is_none(), "the lock is still held");
    }
    // ANCHOR_END: underscore

    #[test]
    fn report_sees_everything_added() {
        let list = PriceList::default();
        list.add(7);
        list.add(1200);
        assert_eq!(list.report(), "       7\n    1200\n");
        // The report released the lock before formatting.
        assert!(list.prices.try_lock().is_some());
    }

    // ANCHOR: panic_unlocks
    #[test]
    fn a_panic_still_unlocks() {
        let std_lock = Arc::new(std::sync::Mutex::new(0));
        let pl_lock = Arc::new(Mutex::new(0));
        let (a, b) = (Arc::clone(&std_lock), Arc::clone(&pl_lock));
        let died = thread::spawn(move || {
            let _x = a.lock().unwrap();
            let _y = b.lock();
            panic!("a bug while holding both locks");
        })
        .join();
        assert!(died.is_err());

        // Unwinding ran both guards' destructors: neither lock is held.
        // The standard mutex also remembers the panic ("poisoned"), so the
        // next user can decide whether the data still makes sense.
        assert!(std_lock.is_poisoned());
        assert!(std_lock.lock().is_err());
        // parking_lot has no poisoning: the lock is simply free again.
        assert!(pl_lock.try_lock().is_some());
    }
    // ANCHOR_END: panic_unlocks
}
