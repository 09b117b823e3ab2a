//! A spin lock: correct, tiny, and usually the wrong choice.

use std::cell::UnsafeCell;
use std::hint;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

// ANCHOR: spin
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: only one guard exists at a time, and it may live on any thread.
unsafe impl<T: Send> Sync for SpinLock<T> {}

pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    pub fn lock(&self) -> SpinGuard<'_, T> {
        // Acquire: what the previous holder wrote before releasing is
        // visible to us once we see the lock free and take it.
        while self.locked.swap(true, Ordering::Acquire) {
            // Spin on a plain load, not on `swap`: a load leaves the cache
            // line shared between cores, a swap would fight for it.
            while self.locked.load(Ordering::Relaxed) {
                hint::spin_loop();
            }
        }
        SpinGuard { lock: self }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        // Release: our writes to the value happen-before the next holder's
        // reads. There is nobody to wake; waiters are watching this flag.
        self.lock.locked.store(false, Ordering::Release);
    }
}
// ANCHOR_END: spin

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard's existence means `locked` is ours.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above.
        unsafe { &mut *self.lock.value.get() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn the_spin_lock_excludes() {
        let lock = SpinLock::new(0u64);
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..20_000 {
                        *lock.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*lock.lock(), 40_000);
    }

    #[test]
    fn dropping_the_guard_unlocks() {
        let lock = SpinLock::new(());
        drop(lock.lock());
        assert!(!lock.locked.load(Ordering::Relaxed));
        let _guard = lock.lock();
        assert!(lock.locked.load(Ordering::Relaxed));
    }
}
