//! A reader-writer lock written as a monitor, with its invariants written
//! next to the code and checked every time the internal mutex is released.
//!
//! Writer-preferring, like the one in the primitives chapter, but built to be
//! *argued about*: all shared state sits in one struct behind one mutex, every
//! transition ends in [`CheckedRwLock::leave`] or [`CheckedRwLock::sleep`],
//! and both check the invariant before the mutex is let go.

use crate::sync::{Condvar, Mutex, MutexGuard};

// ANCHOR: state
/// Everything the internal mutex protects, and nothing else. Monitor
/// discipline: no field is read or written without holding that mutex.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// Threads holding shared access.
    pub readers: usize,
    /// Whether a thread holds exclusive access.
    pub writer: bool,
    /// Writers inside `write`'s wait loop.
    pub writers_waiting: usize,
    /// Readers inside `read`'s wait loop.
    pub readers_waiting: usize,
    /// A releaser has decided to wake one writer and no waiting writer has
    /// woken since: a wake-up is *on its way*.
    pub writer_woken: bool,
    /// Waiting readers woken by the last release that woke readers and not
    /// yet back from `wait`.
    pub readers_woken: usize,
}

impl State {
    pub fn is_free(&self) -> bool {
        !self.writer && self.readers == 0
    }

    fn reader_must_wait(&self) -> bool {
        // Writer preference: a queued writer holds back new readers.
        self.writer || self.writers_waiting > 0
    }
}
// ANCHOR_END: state

// ANCHOR: invariant
/// An invariant: `Ok` when `state` is one the lock may be left in.
pub type Invariant = fn(&State) -> Result<(), &'static str>;

/// Holds every time the internal mutex is free.
pub fn invariant(s: &State) -> Result<(), &'static str> {
    if s.writer && s.readers > 0 {
        return Err("a writer shares the lock with readers");
    }
    // Nobody sleeps for no reason: a waiting writer has a holder to wait
    // for, or a wake-up is on its way to one of the waiting writers...
    if s.writers_waiting > 0 && s.is_free() && !s.writer_woken {
        return Err("writers wait on a free lock and nobody will wake them");
    }
    // ...and a waiting reader has a writer ahead of it (holding or queued),
    // or a wake-up is on its way to it.
    if s.readers_waiting > 0 && !s.reader_must_wait() && s.readers_woken == 0 {
        return Err("readers wait with no writer ahead and nobody will wake them");
    }
    Ok(())
}
// ANCHOR_END: invariant

// ANCHOR: first_candidate
/// The first attempt, and it is too strong: "a writer waits only while the
/// lock is held". Broken by every release that leaves writers waiting on a
/// lock that has just become free, in the instant between unlocking the
/// mutex and the woken writer taking it.
pub fn first_candidate(s: &State) -> Result<(), &'static str> {
    if s.writer && s.readers > 0 {
        return Err("a writer shares the lock with readers");
    }
    if s.writers_waiting > 0 && s.is_free() {
        return Err("a writer waits on a free lock");
    }
    Ok(())
}
// ANCHOR_END: first_candidate

/// Whom a transition decided to wake, once the mutex is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Nobody,
    OneWriter,
    AllReaders,
}

pub struct CheckedRwLock {
    state: Mutex<State>,
    writer_may_enter: Condvar,
    readers_may_enter: Condvar,
    invariant: Invariant,
}

pub struct ReadGuard<'a> {
    lock: &'a CheckedRwLock,
}

pub struct WriteGuard<'a> {
    lock: &'a CheckedRwLock,
}

impl Default for CheckedRwLock {
    fn default() -> Self {
        Self::new()
    }
}

impl CheckedRwLock {
    pub fn new() -> Self {
        Self::checking(invariant)
    }

    /// The same lock, checking another candidate invariant (the chapter uses
    /// it to watch the first candidate fail).
    pub fn checking(invariant: Invariant) -> Self {
        Self {
            state: Mutex::new(State::default()),
            writer_may_enter: Condvar::new(),
            readers_may_enter: Condvar::new(),
            invariant,
        }
    }

    /// A copy of the state, for tests and for the curious.
    pub fn state(&self) -> State {
        *self.state.lock().unwrap()
    }

    // ANCHOR: acquire
    pub fn read(&self) -> ReadGuard<'_> {
        let mut s = self.state.lock().unwrap();
        if s.reader_must_wait() {
            s.readers_waiting += 1;
            loop {
                s = self.sleep(s, &self.readers_may_enter, "read: going to sleep");
                s.readers_woken = s.readers_woken.saturating_sub(1);
                if !s.reader_must_wait() {
                    break;
                }
            }
            s.readers_waiting -= 1;
        }
        s.readers += 1;
        self.leave(s, Wake::Nobody, "read: entered");
        ReadGuard { lock: self }
    }

    pub fn write(&self) -> WriteGuard<'_> {
        let mut s = self.state.lock().unwrap();
        if !s.is_free() {
            s.writers_waiting += 1;
            loop {
                s = self.sleep(s, &self.writer_may_enter, "write: going to sleep");
                // Whoever wakes first takes up the promised wake-up, whether
                // it was the one notified or not: either way a waiting writer
                // is now awake and about to look at the lock.
                s.writer_woken = false;
                if s.is_free() {
                    break;
                }
            }
            s.writers_waiting -= 1;
        }
        s.writer = true;
        self.leave(s, Wake::Nobody, "write: entered");
        WriteGuard { lock: self }
    }
    // ANCHOR_END: acquire

    // ANCHOR: release
    fn release_read(&self) {
        let mut s = self.state.lock().unwrap();
        s.readers -= 1;
        // No reader is ever woken here. By the invariant, a waiting reader
        // either has a writer ahead of it (who will wake it when done) or is
        // already being woken.
        let wake = if s.readers == 0 && s.writers_waiting > 0 {
            s.writer_woken = true;
            Wake::OneWriter
        } else {
            Wake::Nobody
        };
        self.leave(s, wake, "read: released");
    }

    fn release_write(&self) {
        let mut s = self.state.lock().unwrap();
        s.writer = false;
        let wake = if s.writers_waiting > 0 {
            s.writer_woken = true;
            Wake::OneWriter
        } else if s.readers_waiting > 0 {
            s.readers_woken = s.readers_waiting;
            Wake::AllReaders
        } else {
            Wake::Nobody
        };
        self.leave(s, wake, "write: released");
    }
    // ANCHOR_END: release

    // ANCHOR: leave
    /// Every transition ends here: check, unlock, and only then wake.
    fn leave(&self, s: MutexGuard<'_, State>, wake: Wake, transition: &str) {
        // Checked while the state cannot change, i.e. still under the mutex.
        let verdict = self.check_invariant(&s);
        drop(s);
        // Waking after unlocking: a thread woken while we still held the
        // mutex would run straight into it and go back to sleep.
        match wake {
            Wake::Nobody => {}
            Wake::OneWriter => self.writer_may_enter.notify_one(),
            Wake::AllReaders => self.readers_may_enter.notify_all(),
        }
        // Report a broken invariant only now, so the lock is not left wedged
        // (mutex poisoned, wake-up never sent) for the other threads.
        if let Err(broken) = verdict {
            panic!("invariant broken after {transition}: {broken}");
        }
    }

    /// `wait` releases the mutex, so the invariant must hold here too.
    fn sleep<'a>(
        &self,
        s: MutexGuard<'a, State>,
        on: &Condvar,
        transition: &str,
    ) -> MutexGuard<'a, State> {
        if let Err(broken) = self.check_invariant(&s) {
            panic!("invariant broken at {transition}: {broken}");
        }
        on.wait(s).unwrap()
    }

    fn check_invariant(&self, s: &State) -> Result<(), String> {
        // Checked in debug builds (so in `cargo test`) and under the model
        // checker; a release build skips it.
        if cfg!(any(debug_assertions, loom)) {
            (self.invariant)(s).map_err(|broken| format!("{broken} in {s:?}"))
        } else {
            Ok(())
        }
    }
    // ANCHOR_END: leave
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        self.lock.release_read();
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.lock.release_write();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::testing::{finishes, wait_until};
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Barrier};
    use std::thread;

    #[test]
    fn two_readers_are_inside_together() {
        let lock = CheckedRwLock::new();
        let both_inside = Barrier::new(2);
        finishes("two overlapping readers", move || {
            thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        let _reading = lock.read();
                        both_inside.wait();
                    });
                }
            });
        });
    }

    #[test]
    fn a_queued_writer_goes_before_a_later_reader() {
        let lock = Arc::new(CheckedRwLock::new());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let first_reader = lock.read();
        let spawn = |name: &'static str, write: bool| {
            let (lock, order) = (Arc::clone(&lock), Arc::clone(&order));
            thread::spawn(move || {
                let _guard = if write {
                    (None, Some(lock.write()))
                } else {
                    (Some(lock.read()), None)
                };
                order.lock().unwrap().push(name);
            })
        };
        let writer = spawn("writer", true);
        wait_until("the writer is queued", || lock.state().writers_waiting == 1);
        let reader = spawn("late reader", false);
        wait_until("the late reader is queued", || {
            lock.state().readers_waiting == 1
        });
        drop(first_reader);
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["writer", "late reader"]);
        assert_eq!(
            lock.state(),
            State::default(),
            "everything released and accounted for"
        );
    }

    #[test]
    fn a_leaving_writer_wakes_every_queued_reader() {
        let lock = Arc::new(CheckedRwLock::new());
        let writing = lock.write();
        let both_inside = Arc::new(Barrier::new(2));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (lock, both_inside) = (Arc::clone(&lock), Arc::clone(&both_inside));
                // Each reader waits at the barrier while holding its guard: the
                // barrier opens only if one release let both in together.
                thread::spawn(move || {
                    let _reading = lock.read();
                    both_inside.wait();
                })
            })
            .collect();
        wait_until("both readers are queued", || {
            lock.state().readers_waiting == 2
        });
        drop(writing);
        finishes("both readers admitted by one release", move || {
            readers.into_iter().for_each(|r| r.join().unwrap());
        });
        assert_eq!(lock.state(), State::default());
    }

    // ANCHOR: first_candidate_fails
    #[test]
    fn the_first_candidate_breaks_when_the_last_reader_leaves() {
        let lock = Arc::new(CheckedRwLock::checking(first_candidate));
        let reading = lock.read();
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || drop(lock.write()))
        };
        wait_until("the writer is waiting", || {
            lock.state().writers_waiting == 1
        });

        // Releasing the read lock frees the lock while a writer still sleeps:
        // exactly the state the first candidate forbids.
        let released = panic::catch_unwind(AssertUnwindSafe(|| drop(reading)));
        let message = *released.unwrap_err().downcast::<String>().unwrap();
        assert_eq!(
            message,
            "invariant broken after read: released: a writer waits on a free lock in State { \
             readers: 0, writer: false, writers_waiting: 1, readers_waiting: 0, \
             writer_woken: true, readers_woken: 0 }"
        );
        // The wake-up was still sent, so the writer got in and out.
        writer.join().unwrap();
    }
    // ANCHOR_END: first_candidate_fails

    #[test]
    fn the_real_invariant_holds_in_the_same_scenario() {
        let lock = Arc::new(CheckedRwLock::new());
        let reading = lock.read();
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || drop(lock.write()))
        };
        wait_until("the writer is waiting", || {
            lock.state().writers_waiting == 1
        });
        drop(reading);
        writer.join().unwrap();
        assert_eq!(lock.state(), State::default());
    }

    // ANCHOR: stress
    #[test]
    fn invariants_hold_under_a_mixed_load() {
        // Who is inside, counted outside the lock's own state: an
        // independent witness of exclusion.
        let lock = Arc::new(CheckedRwLock::new());
        let (readers_in, writers_in) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        finishes("mixed readers and writers", {
            let lock = Arc::clone(&lock);
            move || {
                thread::scope(|s| {
                    for id in 0..6 {
                        let (lock, readers_in, writers_in) = (&lock, &readers_in, &writers_in);
                        s.spawn(move || {
                            for i in 0..1_500 {
                                if (id + i) % 4 == 0 {
                                    let _w = lock.write();
                                    assert_eq!(
                                        writers_in.fetch_add(1, SeqCst),
                                        0,
                                        "two writers inside"
                                    );
                                    assert_eq!(
                                        readers_in.load(SeqCst),
                                        0,
                                        "a reader inside with a writer"
                                    );
                                    writers_in.fetch_sub(1, SeqCst);
                                } else {
                                    let _r = lock.read();
                                    readers_in.fetch_add(1, SeqCst);
                                    assert_eq!(
                                        writers_in.load(SeqCst),
                                        0,
                                        "a writer inside with a reader"
                                    );
                                    readers_in.fetch_sub(1, SeqCst);
                                }
                            }
                        });
                    }
                });
            }
        });
        // Every transition above ran the invariant check; the end state is
        // the initial state.
        assert_eq!(lock.state(), State::default());
    }
    // ANCHOR_END: stress
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::{Arc, UnsafeCell, thread};
    use crate::testing::explore;

    /// Loom's own bound on forced thread switches per execution, if any.
    const BOUND: Option<usize> = None;

    // ANCHOR: loom_model
    #[test]
    fn loom_two_writers_and_a_reader() {
        explore("two writers and a reader", BOUND, || {
            let lock = Arc::new(CheckedRwLock::new());
            // Loom reports any access to this cell that is not ordered by
            // the lock: a broken exclusion would show up as a data race.
            let data = Arc::new(UnsafeCell::new(0u32));
            let writers: Vec<_> = (0..2)
                .map(|_| {
                    let (lock, data) = (Arc::clone(&lock), Arc::clone(&data));
                    thread::spawn(move || {
                        let _w = lock.write();
                        data.with_mut(|p| unsafe { *p += 1 });
                    })
                })
                .collect();
            {
                let _r = lock.read();
                let seen = data.with(|p| unsafe { *p });
                assert!(seen <= 2);
            }
            for writer in writers {
                writer.join().unwrap();
            }
            assert_eq!(data.with(|p| unsafe { *p }), 2);
            assert_eq!(lock.state(), State::default());
        });
    }
    // ANCHOR_END: loom_model

    #[test]
    fn loom_two_readers_and_a_writer() {
        explore("two readers and a writer", BOUND, || {
            let lock = Arc::new(CheckedRwLock::new());
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let lock = Arc::clone(&lock);
                    thread::spawn(move || drop(lock.read()))
                })
                .collect();
            drop(lock.write());
            for reader in readers {
                reader.join().unwrap();
            }
            assert_eq!(lock.state(), State::default());
        });
    }

    #[test]
    #[should_panic(expected = "a writer waits on a free lock")]
    fn loom_finds_the_first_candidate_broken() {
        explore("the first candidate", BOUND, || {
            let lock = Arc::new(CheckedRwLock::checking(first_candidate));
            let writer = {
                let lock = Arc::clone(&lock);
                thread::spawn(move || drop(lock.write()))
            };
            drop(lock.read());
            writer.join().unwrap();
        });
    }
}
