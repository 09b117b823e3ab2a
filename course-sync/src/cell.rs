//! A cell that threads share and whose borrows are counted: the data inside a lock
//! you build yourself, in safe Rust.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::probe_hooks;

/// Borrowed mutably: no other borrow may exist.
const WRITING: usize = usize::MAX;

/// The value a lock protects. A real lock keeps it in an `UnsafeCell` and promises,
/// in `unsafe` code, that its state machine never lets a writer in beside anyone.
/// This cell checks that promise instead: a shared borrow while a mutable one
/// exists, or a mutable one beside any other, panics with what the lock let happen.
/// So a broken lock is caught at the moment it breaks, and there is no `unsafe` in
/// your crate.
pub struct SharedCell<T> {
    value: UnsafeCell<T>,
    /// 0: free; n: n shared borrows; WRITING: one mutable borrow.
    borrows: AtomicUsize,
}

// SAFETY: the borrow count makes every access either shared (`&T`, needing
// `T: Sync` to hand across threads) or exclusive (`&mut T`, needing `T: Send`),
// exactly as `RwLock<T>` is shared.
unsafe impl<T: Send + Sync> Sync for SharedCell<T> {}
unsafe impl<T: Send> Send for SharedCell<T> {}

impl<T> SharedCell<T> {
    pub fn new(value: T) -> Self {
        SharedCell {
            value: UnsafeCell::new(value),
            borrows: AtomicUsize::new(0),
        }
    }

    /// Reads the value. Panics if a writer is inside.
    pub fn borrow(&self) -> CellRef<'_, T> {
        let mut now = self.borrows.load(Ordering::Acquire);
        loop {
            assert!(
                now != WRITING,
                "a reader got in while a writer was inside the lock"
            );
            match self.borrows.compare_exchange_weak(
                now,
                now + 1,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(seen) => now = seen,
            }
        }
        probe_hooks::note("reads the data");
        CellRef { cell: self }
    }

    /// Changes the value. Panics if anyone else is inside.
    pub fn borrow_mut(&self) -> CellMut<'_, T> {
        if let Err(seen) =
            self.borrows
                .compare_exchange(0, WRITING, Ordering::Acquire, Ordering::Acquire)
        {
            if seen == WRITING {
                panic!("a writer got in while another writer was inside the lock");
            }
            panic!("a writer got in while {seen} reader(s) were inside the lock");
        }
        probe_hooks::note("writes the data");
        CellMut { cell: self }
    }

    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

/// A shared borrow of a [`SharedCell`].
pub struct CellRef<'a, T> {
    cell: &'a SharedCell<T>,
}

/// The mutable borrow of a [`SharedCell`].
pub struct CellMut<'a, T> {
    cell: &'a SharedCell<T>,
}

impl<T> Deref for CellRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the count is above zero and below WRITING while this lives, so no
        // `&mut T` exists.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> Deref for CellMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the count is WRITING while this lives: this is the only borrow.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for CellMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes it unique here too.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for CellRef<'_, T> {
    fn drop(&mut self) {
        probe_hooks::note("stops reading the data");
        self.cell.borrows.fetch_sub(1, Ordering::Release);
    }
}

impl<T> Drop for CellMut<'_, T> {
    fn drop(&mut self) {
        probe_hooks::note("stops writing the data");
        self.cell.borrows.store(0, Ordering::Release);
    }
}
