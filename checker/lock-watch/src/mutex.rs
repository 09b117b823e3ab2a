//! parking_lot's `Mutex`, watched like the `RwLock`, and a `Condvar` that waits on it.

use parking_lot::lock_api;

use crate::kvlab_watch::{self, How, Kind, LockId, Side, note_held, note_released};
use crate::{ask, ask_waiting, released};

/// parking_lot's raw mutex, watched.
pub struct RawMutex(parking_lot::RawMutex);

type Real = parking_lot::RawMutex;
type Guard = <Real as lock_api::RawMutex>::Guard;

pub type Mutex<T> = lock_api::Mutex<RawMutex, T>;
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex, T>;
pub type MappedMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, RawMutex, T>;

impl RawMutex {
    fn id(&self) -> LockId {
        kvlab_watch::id(self, Kind::Mutex)
    }
}

// SAFETY: every method delegates to parking_lot's raw mutex with the guard it was
// given, so this mutex keeps exactly the guarantees parking_lot's does; the notes are
// thread-local bookkeeping that never touches the lock.
unsafe impl lock_api::RawMutex for RawMutex {
    #[allow(clippy::declare_interior_mutable_const)] // as lock_api's own INIT
    const INIT: Self = RawMutex(<Real as lock_api::RawMutex>::INIT);
    type Guard = Guard;

    fn lock(&self) -> Guard {
        ask_waiting(
            self.id(),
            Side::Exclusive,
            || self.0.try_lock(),
            || self.0.lock(),
        )
    }

    fn try_lock(&self) -> Option<Guard> {
        ask(self.id(), Side::Exclusive, How::Try, || self.0.try_lock())
    }

    unsafe fn unlock(&self, guard: Guard) {
        // SAFETY: the caller's guarantee, passed on.
        unsafe { self.0.unlock(guard) };
        released(self.id(), Side::Exclusive);
    }

    fn is_locked(&self) -> bool {
        lock_api::RawMutex::is_locked(&self.0)
    }
}

// SAFETY (this and the impls below): as for `RawMutex`, pure delegation.
unsafe impl lock_api::RawMutexFair for RawMutex {
    unsafe fn unlock_fair(&self, guard: Guard) {
        // SAFETY: the caller's guarantee, passed on.
        unsafe { self.0.unlock_fair(guard) };
        released(self.id(), Side::Exclusive);
    }

    unsafe fn bump(&self, guard: &mut Guard) {
        // SAFETY: the caller's guarantee, passed on. The mutex is held again when
        // `bump` returns, so the notes do not change.
        unsafe { self.0.bump(guard) }
    }
}

unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = <Real as lock_api::RawMutexTimed>::Duration;
    type Instant = <Real as lock_api::RawMutexTimed>::Instant;

    fn try_lock_for(&self, timeout: Self::Duration) -> Option<Guard> {
        ask(self.id(), Side::Exclusive, How::TryWithTimeout, || {
            self.0.try_lock_for(timeout)
        })
    }

    fn try_lock_until(&self, timeout: Self::Instant) -> Option<Guard> {
        ask(self.id(), Side::Exclusive, How::TryWithTimeout, || {
            self.0.try_lock_until(timeout)
        })
    }
}

/// parking_lot's raw condition variable, over the watched mutex: while a thread waits
/// on it, it does not hold the mutex, and its notes say so.
pub struct RawCondvar(parking_lot::RawCondvar);

pub type Condvar = lock_api::Condvar<RawCondvar>;

/// While `wait` runs, the mutex is given back, and taken again before it returns.
fn waiting_without<T>(mutex: &RawMutex, wait: impl FnOnce() -> T) -> T {
    note_released(mutex.id(), Side::Exclusive);
    let woken = wait();
    note_held(mutex.id(), Side::Exclusive);
    woken
}

// SAFETY: pure delegation to parking_lot's condvar, on the raw mutex inside ours,
// with the very guard state the caller holds.
unsafe impl lock_api::RawCondvar for RawCondvar {
    #[allow(clippy::declare_interior_mutable_const)] // as lock_api's own INIT
    const INIT: Self = RawCondvar(<parking_lot::RawCondvar as lock_api::RawCondvar>::INIT);
    type RawMutex = RawMutex;

    unsafe fn wait(&self, mutex: &RawMutex, guard: &mut Guard) {
        // SAFETY: the caller's guarantee, passed on.
        waiting_without(mutex, || unsafe { self.0.wait(&mutex.0, guard) })
    }

    fn notify_one(&self) -> bool {
        self.0.notify_one()
    }

    fn notify_all(&self) -> usize {
        self.0.notify_all()
    }
}

unsafe impl lock_api::RawCondvarTimed for RawCondvar {
    fn checked_duration_to_instant(
        timeout: &<RawMutex as lock_api::RawMutexTimed>::Duration,
    ) -> Option<<RawMutex as lock_api::RawMutexTimed>::Instant> {
        <parking_lot::RawCondvar as lock_api::RawCondvarTimed>::checked_duration_to_instant(timeout)
    }

    unsafe fn wait_until(
        &self,
        mutex: &RawMutex,
        guard: &mut Guard,
        timeout: &<RawMutex as lock_api::RawMutexTimed>::Instant,
    ) -> bool {
        // SAFETY: the caller's guarantee, passed on.
        waiting_without(mutex, || unsafe {
            self.0.wait_until(&mutex.0, guard, timeout)
        })
    }

    unsafe fn wait_for(
        &self,
        mutex: &RawMutex,
        guard: &mut Guard,
        timeout: &<RawMutex as lock_api::RawMutexTimed>::Duration,
    ) -> bool {
        // SAFETY: the caller's guarantee, passed on.
        waiting_without(mutex, || unsafe {
            self.0.wait_for(&mutex.0, guard, timeout)
        })
    }
}
