//! A writer-preferring reader-writer lock built from a mutex and two
//! condition variables, with guards like the real thing.
//!
//! Use `parking_lot::RwLock` in real code; this one exists to be read.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex};

// ANCHOR: state
#[derive(Debug, Default)]
struct State {
    /// Threads holding shared access right now.
    readers: usize,
    /// Whether a thread holds exclusive access.
    writer: bool,
    /// Writers blocked in `write`. While any exist, new readers queue up
    /// behind them: that is what "writer-preferring" means.
    writers_waiting: usize,
}

pub struct RwLock<T> {
    state: Mutex<State>,
    readers_may_enter: Condvar,
    writer_may_enter: Condvar,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&T` to many threads at once (so `T: Sync`) and
// `&mut T` to one thread at a time, possibly not the one that made it (so
// `T: Send`). The state machine below is what makes those two claims true.
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}
// ANCHOR_END: state

// ANCHOR: acquire
impl<T> RwLock<T> {
    pub fn new(value: T) -> Self {
        Self {
            state: Mutex::new(State::default()),
            readers_may_enter: Condvar::new(),
            writer_may_enter: Condvar::new(),
            value: UnsafeCell::new(value),
        }
    }

    pub fn read(&self) -> ReadGuard<'_, T> {
        let mut state = self.state.lock().unwrap();
        // A waiting writer blocks new readers even though readers could
        // share with the current ones; otherwise a steady stream of readers
        // would keep the writer out forever.
        while state.writer || state.writers_waiting > 0 {
            state = self.readers_may_enter.wait(state).unwrap();
        }
        state.readers += 1;
        ReadGuard { lock: self }
    }

    pub fn write(&self) -> WriteGuard<'_, T> {
        let mut state = self.state.lock().unwrap();
        state.writers_waiting += 1;
        while state.writer || state.readers > 0 {
            state = self.writer_may_enter.wait(state).unwrap();
        }
        state.writers_waiting -= 1;
        state.writer = true;
        WriteGuard { lock: self }
    }
    // ANCHOR_END: acquire

    pub fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        let mut state = self.state.lock().unwrap();
        if state.writer || state.writers_waiting > 0 {
            return None;
        }
        state.readers += 1;
        Some(ReadGuard { lock: self })
    }

    pub fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        let mut state = self.state.lock().unwrap();
        if state.writer || state.readers > 0 {
            return None;
        }
        state.writer = true;
        Some(WriteGuard { lock: self })
    }

    /// How many writers are blocked in `write` (for tests and curiosity).
    pub fn writers_waiting(&self) -> usize {
        self.state.lock().unwrap().writers_waiting
    }
}

// ANCHOR: release
pub struct ReadGuard<'a, T> {
    lock: &'a RwLock<T>,
}

pub struct WriteGuard<'a, T> {
    lock: &'a RwLock<T>,
}

impl<T> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.lock.state.lock().unwrap();
        state.readers -= 1;
        let last_reader_out = state.readers == 0 && state.writers_waiting > 0;
        drop(state);
        if last_reader_out {
            // Only one writer can enter, so waking one is enough.
            self.lock.writer_may_enter.notify_one();
        }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.lock.state.lock().unwrap();
        state.writer = false;
        let writers_next = state.writers_waiting > 0;
        drop(state);
        if writers_next {
            self.lock.writer_may_enter.notify_one();
        } else {
            // Every waiting reader can enter together.
            self.lock.readers_may_enter.notify_all();
        }
    }
}
// ANCHOR_END: release

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while a read guard lives, `writer` is false and stays
        // false, so nobody holds `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while the write guard lives, it is the only guard.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes this borrow unique too.
        unsafe { &mut *self.lock.value.get() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{finishes, wait_until};
    use std::sync::{Arc, Barrier};
    use std::thread;

    #[test]
    fn readers_share_and_writers_exclude() {
        let lock = RwLock::new(0);
        let first = lock.read();
        assert!(lock.try_read().is_some(), "a second reader gets in");
        assert!(lock.try_write().is_none(), "a writer does not");
        drop(first);
        let writer = lock.write();
        assert!(lock.try_read().is_none());
        assert!(lock.try_write().is_none());
        drop(writer);
    }

    #[test]
    fn two_readers_are_inside_at_the_same_time() {
        let lock = RwLock::new(5);
        // Each reader waits at the barrier *while holding* its guard: the
        // barrier only opens if both are inside together.
        let both_inside = Barrier::new(2);
        finishes("two overlapping readers", move || {
            thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        let value = lock.read();
                        both_inside.wait();
                        assert_eq!(*value, 5);
                    });
                }
            });
        });
    }

    // ANCHOR: writer_preference
    #[test]
    fn a_waiting_writer_holds_back_new_readers() {
        let lock = Arc::new(RwLock::new(Vec::new()));
        let reader = lock.read();
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.write().push("written"))
        };
        wait_until("the writer is queued", || lock.writers_waiting() == 1);
        // Only a reader holds the lock, yet a newcomer may not join it.
        assert!(lock.try_read().is_none());
        drop(reader);
        writer.join().unwrap();
        assert_eq!(*lock.read(), ["written"]);
    }
    // ANCHOR_END: writer_preference

    #[test]
    fn readers_never_see_a_half_done_write() {
        let lock = RwLock::new((0u64, 0u64));
        finishes("readers and writers", move || {
            thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..2_000 {
                            let mut pair = lock.write();
                            pair.0 += 1;
                            pair.1 += 1;
                        }
                    });
                }
                for _ in 0..3 {
                    s.spawn(|| {
                        for _ in 0..2_000 {
                            let pair = lock.read();
                            assert_eq!(pair.0, pair.1, "saw a write half done");
                        }
                    });
                }
            });
            assert_eq!(*lock.read(), (4_000, 4_000));
        });
    }
}
