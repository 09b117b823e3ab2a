//! The mutex and condition variable lesson 06 builds its locks from.
//!
//! In a running program they are std's. Inside the checker's model checker
//! ([`probe_hooks::model`]) they are loom's, which lets the checker try every order
//! in which the threads' steps can interleave (within a bound), and note each step so
//! that a failing order can be shown as a timeline. Which one a lock is is decided
//! when it is created, so the same compiled crate serves both.
//!
//! The mutex does not poison: a thread that panics while holding it lets it go, and
//! the next `lock` succeeds (as parking_lot's does). Whether *your* lock stays
//! usable after a panic is then up to your lock.

mod cell;
mod events;
pub mod probe_hooks;

pub use cell::{CellMut, CellRef, SharedCell};

use std::ops::{Deref, DerefMut};

use events::Step;

/// A mutual-exclusion lock around a `T`.
pub struct Mutex<T> {
    inner: MutexInner<T>,
    /// Names the lock in a model's timeline ("mutex 1", in creation order).
    label: u32,
}

enum MutexInner<T> {
    Std(std::sync::Mutex<T>),
    Model(loom::sync::Mutex<T>),
}

/// Proof of holding a [`Mutex`]; dropping it lets the mutex go.
pub struct MutexGuard<'a, T> {
    // `None` only while `Condvar::wait` has handed the guard to the wait.
    inner: Option<GuardInner<'a, T>>,
    mutex: &'a Mutex<T>,
}

enum GuardInner<'a, T> {
    Std(std::sync::MutexGuard<'a, T>),
    Model(loom::sync::MutexGuard<'a, T>),
}

impl<T> Mutex<T> {
    pub fn new(value: T) -> Self {
        if probe_hooks::in_model() {
            Mutex {
                inner: MutexInner::Model(loom::sync::Mutex::new(value)),
                label: events::new_label(events::Object::Mutex),
            }
        } else {
            Mutex {
                inner: MutexInner::Std(std::sync::Mutex::new(value)),
                label: 0,
            }
        }
    }

    /// Waits until no other thread holds the mutex, then holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let inner = match &self.inner {
            MutexInner::Std(mutex) => {
                GuardInner::Std(mutex.lock().unwrap_or_else(|e| e.into_inner()))
            }
            MutexInner::Model(mutex) => {
                events::note(Step::Lock(self.label));
                let guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
                events::note(Step::Locked(self.label));
                GuardInner::Model(guard)
            }
        };
        MutexGuard {
            inner: Some(inner),
            mutex: self,
        }
    }

    /// The value, once nobody can hold the mutex any more.
    pub fn into_inner(self) -> T {
        match self.inner {
            MutexInner::Std(mutex) => mutex.into_inner().unwrap_or_else(|e| e.into_inner()),
            MutexInner::Model(mutex) => mutex.into_inner().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self
            .inner
            .as_ref()
            .expect("a guard outside a wait holds its lock")
        {
            GuardInner::Std(guard) => guard,
            GuardInner::Model(guard) => guard,
        }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match self
            .inner
            .as_mut()
            .expect("a guard outside a wait holds its lock")
        {
            GuardInner::Std(guard) => guard,
            GuardInner::Model(guard) => guard,
        }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if let Some(GuardInner::Model(_)) = self.inner {
            events::note(Step::Unlock(self.mutex.label));
        }
    }
}

/// A condition variable: a place where a thread holding a [`Mutex`] waits, with the
/// mutex let go, until another thread notifies it.
///
/// A wait can end without a notify meant for this waiter (another waiter may have
/// been woken by the same `notify_all`, or have taken what the notify announced
/// first), so wait in a loop that checks the condition again.
pub struct Condvar {
    inner: CondvarInner,
    label: u32,
}

enum CondvarInner {
    Std(std::sync::Condvar),
    Model(loom::sync::Condvar),
}

impl Condvar {
    pub fn new() -> Self {
        if probe_hooks::in_model() {
            Condvar {
                inner: CondvarInner::Model(loom::sync::Condvar::new()),
                label: events::new_label(events::Object::Condvar),
            }
        } else {
            Condvar {
                inner: CondvarInner::Std(std::sync::Condvar::new()),
                label: 0,
            }
        }
    }

    /// Lets the mutex go and sleeps until notified; holds the mutex again when it
    /// returns.
    pub fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let inner = guard
            .inner
            .take()
            .expect("a guard outside a wait holds its lock");
        let woken = match (&self.inner, inner) {
            (CondvarInner::Std(condvar), GuardInner::Std(held)) => {
                let _counted = probe_hooks::Waiting::begin();
                GuardInner::Std(condvar.wait(held).unwrap_or_else(|e| e.into_inner()))
            }
            (CondvarInner::Model(condvar), GuardInner::Model(held)) => {
                events::note(Step::Wait(self.label, guard.mutex.label));
                let held = condvar.wait(held).unwrap_or_else(|e| e.into_inner());
                events::note(Step::Woke(self.label, guard.mutex.label));
                GuardInner::Model(held)
            }
            _ => panic!("a condition variable and a mutex made in different worlds"),
        };
        guard.inner = Some(woken);
        guard
    }

    /// Wakes one thread waiting here, if any.
    pub fn notify_one(&self) {
        match &self.inner {
            CondvarInner::Std(condvar) => condvar.notify_one(),
            CondvarInner::Model(condvar) => {
                events::note(Step::NotifyOne(self.label));
                condvar.notify_one();
            }
        }
    }

    /// Wakes every thread waiting here.
    pub fn notify_all(&self) {
        match &self.inner {
            CondvarInner::Std(condvar) => condvar.notify_all(),
            CondvarInner::Model(condvar) => {
                events::note(Step::NotifyAll(self.label));
                condvar.notify_all();
            }
        }
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}
