//! A reader-writer lock in the monitor style: one mutex guards the lock's state, and
//! two condition variables are where readers and writers wait for it to change.
//!
//! The policy is phase-fair: once a writer waits, readers who come after it wait
//! behind it, so a stream of readers cannot starve a writer; and a writer who leaves
//! hands the lock to the readers waiting then, before the next writer, so a stream
//! of writers cannot starve the readers either. (The chapter compares it with
//! writer-preferring and reader-preferring locks, each of which starves one side.)

use std::fmt;
use std::ops::{Deref, DerefMut};

use kvlab_sync::{CellMut, CellRef, Condvar, Mutex, SharedCell};

// ANCHOR: state
/// Who is inside the lock and who waits for it, as the state mutex guards it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockState {
    /// Readers inside now.
    pub readers: u32,
    /// Whether a writer is inside now.
    pub writer: bool,
    /// Writers waiting to get in.
    pub writers_waiting: u32,
    /// Readers waiting to get in.
    pub readers_waiting: u32,
    /// Whether the last writer out handed the lock to the readers waiting then:
    /// they go in before any writer.
    pub readers_next: bool,
}
// ANCHOR_END: state

/// A state no correct lock is ever in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockViolation {
    /// A writer inside while readers are inside too.
    WriterBesideReaders { readers: u32 },
    /// The readers' turn, with no reader waiting to take it: no writer could ever
    /// get in again.
    TurnWithoutReaders,
}

impl fmt::Display for LockViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockViolation::WriterBesideReaders { readers } => {
                write!(f, "a writer is inside beside {readers} reader(s)")
            }
            LockViolation::TurnWithoutReaders => {
                write!(f, "it is the readers' turn, but no reader is waiting")
            }
        }
    }
}

impl LockState {
    // ANCHOR: check_invariants
    /// What must hold whenever nobody holds the state mutex.
    pub fn check_invariants(&self) -> Result<(), LockViolation> {
        // A writer is alone: not beside readers (and, since `writer` is one flag,
        // not beside another writer). Readers inside while writers wait is fine:
        // the readers came first, and the writers go next.
        if self.writer && self.readers > 0 {
            return Err(LockViolation::WriterBesideReaders {
                readers: self.readers,
            });
        }
        // The turn ends when the last reader it was given to goes in; one left over
        // would keep every writer out for good.
        if self.readers_next && self.readers_waiting == 0 {
            return Err(LockViolation::TurnWithoutReaders);
        }
        Ok(())
    }
    // ANCHOR_END: check_invariants
}

/// A reader-writer lock around a `T`: any number of readers at once, or one writer.
pub struct RwLock<T> {
    state: Mutex<LockState>,
    /// Readers wait here while a writer is inside or waiting.
    readers_may_enter: Condvar,
    /// Writers wait here while anyone is inside.
    writer_may_enter: Condvar,
    value: SharedCell<T>,
}

impl<T> RwLock<T> {
    pub fn new(value: T) -> Self {
        RwLock {
            state: Mutex::new(LockState::default()),
            readers_may_enter: Condvar::new(),
            writer_may_enter: Condvar::new(),
            value: SharedCell::new(value),
        }
    }

    // ANCHOR: read
    /// Waits until no writer is inside, and none waits unless it is the readers'
    /// turn, then reads beside other readers.
    pub fn read(&self) -> ReadGuard<'_, T> {
        let mut state = self.state.lock();
        state.readers_waiting += 1;
        while !reader_may_go_in(&state) {
            state = self.readers_may_enter.wait(state);
        }
        state.readers_waiting -= 1;
        if state.readers_waiting == 0 {
            // Every reader the turn was given to is in.
            state.readers_next = false;
        }
        state.readers += 1;
        drop(state);
        ReadGuard::new(self)
    }
    // ANCHOR_END: read

    /// Reads now if no writer is inside or waiting.
    pub fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        let mut state = self.state.lock();
        if !reader_may_go_in(&state) {
            return None;
        }
        state.readers += 1;
        drop(state);
        Some(ReadGuard::new(self))
    }

    // ANCHOR: write
    /// Waits until nobody is inside, then writes alone.
    pub fn write(&self) -> WriteGuard<'_, T> {
        let mut state = self.state.lock();
        // Counted while waiting, so that readers arriving now wait behind us.
        state.writers_waiting += 1;
        while !writer_may_go_in(&state) {
            state = self.writer_may_enter.wait(state);
        }
        state.writers_waiting -= 1;
        state.writer = true;
        drop(state);
        WriteGuard::new(self)
    }
    // ANCHOR_END: write

    /// Writes now if nobody is inside.
    pub fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        let mut state = self.state.lock();
        if !writer_may_go_in(&state) {
            return None;
        }
        state.writer = true;
        drop(state);
        Some(WriteGuard::new(self))
    }

    // ANCHOR: leave
    /// A reader leaves (called by `ReadGuard`'s drop).
    fn leave_read(&self) {
        let mut state = self.state.lock();
        state.readers -= 1;
        // The last reader out lets a waiting writer in. Notified while the state
        // mutex is held, so the writer cannot miss it: it either has not checked
        // the state yet, or is already waiting.
        if state.readers == 0 && state.writers_waiting > 0 {
            self.writer_may_enter.notify_one();
        }
    }

    /// The writer leaves (called by `WriteGuard`'s drop).
    fn leave_write(&self) {
        let mut state = self.state.lock();
        state.writer = false;
        if state.readers_waiting > 0 {
            // The readers who waited through this write go next, all together,
            // even if writers wait too: that is what keeps writers from starving
            // them.
            state.readers_next = true;
            self.readers_may_enter.notify_all();
        } else if state.writers_waiting > 0 {
            self.writer_may_enter.notify_one();
        }
    }
    // ANCHOR_END: leave

    /// The state as it is now, for tests and for the checker.
    pub fn state(&self) -> LockState {
        *self.state.lock()
    }

    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

// ANCHOR: rules
/// Whether a reader may go in now.
fn reader_may_go_in(state: &LockState) -> bool {
    // A waiting writer keeps new readers out, unless the last writer out gave the
    // readers their turn.
    !state.writer && (state.writers_waiting == 0 || state.readers_next)
}

/// Whether a writer may go in now.
fn writer_may_go_in(state: &LockState) -> bool {
    !state.writer && state.readers == 0 && !state.readers_next
}
// ANCHOR_END: rules

/// Reading, beside other readers; dropping it leaves.
pub struct ReadGuard<'a, T> {
    lock: &'a RwLock<T>,
    /// Let go of before the guard leaves the lock: after it leaves, a writer may
    /// come in at once.
    data: Option<CellRef<'a, T>>,
}

impl<'a, T> ReadGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> Self {
        ReadGuard {
            lock,
            data: Some(lock.value.borrow()),
        }
    }
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data.as_ref().expect("a live guard holds its borrow")
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    // Runs on a panic too (unwinding drops every guard), so a reader that panics
    // still leaves.
    fn drop(&mut self) {
        self.data.take();
        self.lock.leave_read();
    }
}

/// Writing, alone; dropping it leaves.
pub struct WriteGuard<'a, T> {
    lock: &'a RwLock<T>,
    data: Option<CellMut<'a, T>>,
}

impl<'a, T> WriteGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> Self {
        WriteGuard {
            lock,
            data: Some(lock.value.borrow_mut()),
        }
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data.as_ref().expect("a live guard holds its borrow")
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data.as_mut().expect("a live guard holds its borrow")
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        self.data.take();
        self.lock.leave_write();
    }
}
