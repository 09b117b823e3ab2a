//! Parts 2 and 3: a reader-writer lock in the monitor style. One mutex guards the
//! lock's state (who is inside, who waits); two condition variables are where
//! readers and writers wait for that state to change.
//!
//! The policy the checker grades is that nobody starves: once a writer waits,
//! readers who come after it wait behind it (a stream of readers cannot keep a
//! writer out), and readers who waited through a write go in before the next writer
//! (a stream of writers cannot keep readers out). The book's "The policy: nobody
//! starves" says why, with the times measured on lesson 02's store.

use std::fmt;
use std::ops::{Deref, DerefMut};

use kvlab_sync::{CellMut, CellRef, Condvar, Mutex, SharedCell};

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
    /// Whether the last writer out gave the readers waiting then their turn: they go
    /// in before any writer, and the turn ends when the last of them is in.
    pub readers_next: bool,
}

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
    /// Step 11. What must hold whenever nobody holds the state mutex: `Ok` for every
    /// state a correct lock can be in, and for each impossible one the violation
    /// that names it. Think about which states are merely busy (readers inside
    /// while writers wait, say) and which no sequence of correct entries and exits
    /// can reach.
    ///
    /// Book: "Part 2: the lock's state".
    pub fn check_invariants(&self) -> Result<(), LockViolation> {
        todo!("step 11: LockState::check_invariants")
    }
    // ANCHOR_END: check_invariants
}

/// A reader-writer lock around a `T`: any number of readers at once, or one writer.
pub struct RwLock<T> {
    /// The only record of who is inside and who waits. Every look at it and every
    /// change to it holds this mutex, and no change leaves it in a state that
    /// `check_invariants` refuses.
    state: Mutex<LockState>,
    /// Where readers wait for their way in.
    readers_may_enter: Condvar,
    /// Where writers wait for their way in.
    writer_may_enter: Condvar,
    /// The data. `SharedCell` counts who borrows it and panics the moment a writer
    /// borrows beside anyone: your state must make that impossible.
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
    /// Step 5. Waits until a reader may go in, then reads beside any other readers.
    /// What must stay true:
    ///
    /// - No reader is ever inside beside a writer.
    /// - A reader never keeps another reader out: with readers inside and no writer
    ///   waiting, a new reader goes straight in.
    /// - Once a writer waits, a reader arriving after it waits behind it, unless the
    ///   last writer out gave the waiting readers their turn.
    /// - While it waits it sleeps on a condition variable, without the state mutex,
    ///   and it looks at the state again every time it wakes.
    ///
    /// Build the guard with `ReadGuard::new(self)` once the state says this reader
    /// is inside. Book: "Part 3: entering and leaving".
    pub fn read(&self) -> ReadGuard<'_, T> {
        todo!("step 5: RwLock::read")
    }
    // ANCHOR_END: read

    /// Step 6. Reads now if a reader that called `read` would go straight in;
    /// `None` otherwise. Never waits.
    pub fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        todo!("step 6: RwLock::try_read")
    }

    // ANCHOR: write
    /// Step 7. Waits until nobody is inside, then writes alone. What must stay true:
    ///
    /// - A writer is inside only when no reader and no other writer is.
    /// - While it waits, the state shows it waiting, so that readers arriving later
    ///   queue behind it.
    /// - It does not go in while it is the readers' turn.
    ///
    /// Build the guard with `WriteGuard::new(self)` once the state says this writer
    /// is inside. Book: "Part 3: entering and leaving".
    pub fn write(&self) -> WriteGuard<'_, T> {
        todo!("step 7: RwLock::write")
    }
    // ANCHOR_END: write

    /// Step 8. Writes now if a writer that called `write` would go straight in;
    /// `None` otherwise. Never waits.
    pub fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        todo!("step 8: RwLock::try_write")
    }

    // ANCHOR: leave
    /// Step 9. A reader leaves (`ReadGuard`'s drop calls this, on a panic too).
    /// Whoever can go in now that it is out learns of it: no thread sleeps on while
    /// the state would let it in. Book: "Part 3: entering and leaving".
    fn leave_read(&self) {
        todo!("step 9: RwLock::leave_read")
    }

    /// Step 10. The writer leaves (`WriteGuard`'s drop calls this, on a panic too).
    /// Readers who waited through the write go next, before any writer; with no
    /// reader waiting, a waiting writer goes next. Whoever may go in learns of it.
    /// Book: "The policy: nobody starves".
    fn leave_write(&self) {
        todo!("step 10: RwLock::leave_write")
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
    // Runs on a panic too: unwinding drops every guard.
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
