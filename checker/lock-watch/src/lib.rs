//! parking_lot, with every `Mutex` and `RwLock` watched.
//!
//! The checker builds a learner's crate against this crate under the name
//! `parking_lot`. Everything is parking_lot's own except `Mutex`, `RwLock`, their
//! guards and `Condvar`, which sit on raw locks that delegate every call to
//! parking_lot's and, on a thread the probe is [`watching`](kvlab_watch::watching),
//! note which lock was asked for, how, whether it was granted, and which locks the
//! thread held then and holds now; on a thread the probe is
//! [`stopping_at`](kvlab_watch::stopping_at), they also call the probe at each moment
//! (about to ask, about to wait, just let go). So a criterion can see what no answer
//! shows (a `stats()` that tries the store's lock, two paths that take two locks in
//! opposite orders) and hold a thread at a known point of its locking. A thread
//! nobody watches pays a thread-local read or two per lock call.
//!
//! Learner code cannot tell the difference: the same names, the same methods (they
//! are lock_api's, generic over the raw lock), the same blocking and fairness. The
//! notes are for the probe alone: the module's name is one no lesson has a reason
//! to write, and the checker refuses a crate whose sources name it.

pub use parking_lot::*;

pub mod kvlab_watch;

mod mutex;

pub use mutex::{Condvar, MappedMutexGuard, Mutex, MutexGuard, RawCondvar, RawMutex};

use kvlab_watch::{
    How, Kind, LockId, Moment, Side, note_granted, note_held, note_released, note_request, stop_at,
    stopping,
};

/// parking_lot's raw reader-writer lock, watched. Its name shadows parking_lot's,
/// so code that names `parking_lot::RawRwLock` gets the watched one too.
pub struct RawRwLock(parking_lot::RawRwLock);

/// The raw lock every call is delegated to.
type Real = parking_lot::RawRwLock;

pub type RwLock<T> = lock_api::RwLock<RawRwLock, T>;
pub type RwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawRwLock, T>;
pub type RwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawRwLock, T>;
pub type RwLockUpgradableReadGuard<'a, T> = lock_api::RwLockUpgradableReadGuard<'a, RawRwLock, T>;
pub type MappedRwLockReadGuard<'a, T> = lock_api::MappedRwLockReadGuard<'a, RawRwLock, T>;
pub type MappedRwLockWriteGuard<'a, T> = lock_api::MappedRwLockWriteGuard<'a, RawRwLock, T>;

type Shared = <Real as lock_api::RawRwLock>::SharedGuard;
type Exclusive = <Real as lock_api::RawRwLock>::ExclusiveGuard;
type Upgradable = <Real as lock_api::RawRwLockUpgrade>::UpgradableGuard;

impl RawRwLock {
    fn id(&self) -> LockId {
        kvlab_watch::id(self, Kind::RwLock)
    }

    /// A request for one side of this lock: noted, made, and its outcome noted.
    fn ask<G>(&self, side: Side, how: How, call: impl FnOnce(&Real) -> Option<G>) -> Option<G> {
        ask(self.id(), side, how, || call(&self.0))
    }

    /// A request that waits as long as it takes. On a thread with a stop installed it
    /// tries first, so that the stop hears [`Moment::MustWait`] before the wait.
    fn ask_waiting<G>(
        &self,
        side: Side,
        try_now: impl FnOnce(&Real) -> Option<G>,
        wait: impl FnOnce(&Real) -> G,
    ) -> G {
        ask_waiting(self.id(), side, || try_now(&self.0), || wait(&self.0))
    }

    /// A guard given back: the thread no longer holds this lock on that side.
    fn give_back<G>(&self, side: Side, guard: G, call: impl FnOnce(&Real, G)) {
        call(&self.0, guard);
        released(self.id(), side);
    }

    /// An upgrade that may fail: on success, held on the exclusive side now.
    fn upgraded(&self, result: Result<Exclusive, Upgradable>) -> Result<Exclusive, Upgradable> {
        if result.is_ok() {
            note_released(self.id(), Side::Upgradable);
            note_held(self.id(), Side::Exclusive);
        }
        result
    }

    /// A guard exchanged for another side of the lock: held all along, on `to` now.
    fn exchange<G, H>(
        &self,
        from: Side,
        to: Side,
        guard: G,
        call: impl FnOnce(&Real, G) -> H,
    ) -> H {
        let changed = call(&self.0, guard);
        note_released(self.id(), from);
        note_held(self.id(), to);
        changed
    }
}

/// A request for one side of a watched lock: the stop hears of it, it is noted, made,
/// and its outcome noted.
fn ask<G>(lock: LockId, side: Side, how: How, call: impl FnOnce() -> Option<G>) -> Option<G> {
    stop_at(Moment::Asking(lock, side));
    let id = note_request(lock, side, how);
    let granted = call();
    if granted.is_some() {
        note_granted(id);
    }
    granted
}

/// A request that waits as long as it takes. On a thread with a stop installed it
/// tries first, so that the stop hears [`Moment::MustWait`] before the wait.
fn ask_waiting<G>(
    lock: LockId,
    side: Side,
    try_now: impl FnOnce() -> Option<G>,
    wait: impl FnOnce() -> G,
) -> G {
    ask(lock, side, How::Wait, || {
        if stopping() {
            if let Some(granted) = try_now() {
                return Some(granted);
            }
            stop_at(Moment::MustWait(lock, side));
        }
        Some(wait())
    })
    .expect("a blocking lock is always granted")
}

/// A side of a watched lock given back: noted, and the stop hears of it.
fn released(lock: LockId, side: Side) {
    note_released(lock, side);
    stop_at(Moment::Released(lock, side));
}

// SAFETY: every method delegates to parking_lot's raw lock with the guard it was
// given, so this lock keeps exactly the guarantees parking_lot's does; the notes are
// thread-local bookkeeping that never touches the lock.
unsafe impl lock_api::RawRwLock for RawRwLock {
    #[allow(clippy::declare_interior_mutable_const)] // as lock_api's own INIT
    const INIT: Self = RawRwLock(<Real as lock_api::RawRwLock>::INIT);
    type SharedGuard = Shared;
    type ExclusiveGuard = Exclusive;

    fn lock_shared(&self) -> Shared {
        self.ask_waiting(Side::Shared, Real::try_lock_shared, Real::lock_shared)
    }

    fn try_lock_shared(&self) -> Option<Shared> {
        self.ask(Side::Shared, How::Try, |real| real.try_lock_shared())
    }

    unsafe fn unlock_shared(&self, guard: Shared) {
        // SAFETY: the caller's guarantee, passed on.
        self.give_back(Side::Shared, guard, |real, guard| unsafe {
            real.unlock_shared(guard)
        });
    }

    fn lock_exclusive(&self) -> Exclusive {
        self.ask_waiting(
            Side::Exclusive,
            Real::try_lock_exclusive,
            Real::lock_exclusive,
        )
    }

    fn try_lock_exclusive(&self) -> Option<Exclusive> {
        self.ask(Side::Exclusive, How::Try, |real| real.try_lock_exclusive())
    }

    unsafe fn unlock_exclusive(&self, guard: Exclusive) {
        // SAFETY: the caller's guarantee, passed on.
        self.give_back(Side::Exclusive, guard, |real, guard| unsafe {
            real.unlock_exclusive(guard)
        });
    }

    fn is_locked(&self) -> bool {
        lock_api::RawRwLock::is_locked(&self.0)
    }

    fn is_locked_exclusive(&self) -> bool {
        lock_api::RawRwLock::is_locked_exclusive(&self.0)
    }
}

// SAFETY (this and the impls below): as for `RawRwLock`, pure delegation.
unsafe impl lock_api::RawRwLockFair for RawRwLock {
    unsafe fn unlock_shared_fair(&self, guard: Shared) {
        self.give_back(Side::Shared, guard, |real, guard| unsafe {
            real.unlock_shared_fair(guard)
        });
    }

    unsafe fn unlock_exclusive_fair(&self, guard: Exclusive) {
        self.give_back(Side::Exclusive, guard, |real, guard| unsafe {
            real.unlock_exclusive_fair(guard)
        });
    }
}

unsafe impl lock_api::RawRwLockDowngrade for RawRwLock {
    unsafe fn downgrade(&self, guard: Exclusive) -> Shared {
        self.exchange(Side::Exclusive, Side::Shared, guard, |real, guard| unsafe {
            real.downgrade(guard)
        })
    }
}

unsafe impl lock_api::RawRwLockTimed for RawRwLock {
    type Duration = <Real as lock_api::RawRwLockTimed>::Duration;
    type Instant = <Real as lock_api::RawRwLockTimed>::Instant;

    fn try_lock_shared_for(&self, timeout: Self::Duration) -> Option<Shared> {
        self.ask(Side::Shared, How::TryWithTimeout, |real| {
            real.try_lock_shared_for(timeout)
        })
    }

    fn try_lock_shared_until(&self, timeout: Self::Instant) -> Option<Shared> {
        self.ask(Side::Shared, How::TryWithTimeout, |real| {
            real.try_lock_shared_until(timeout)
        })
    }

    fn try_lock_exclusive_for(&self, timeout: Self::Duration) -> Option<Exclusive> {
        self.ask(Side::Exclusive, How::TryWithTimeout, |real| {
            real.try_lock_exclusive_for(timeout)
        })
    }

    fn try_lock_exclusive_until(&self, timeout: Self::Instant) -> Option<Exclusive> {
        self.ask(Side::Exclusive, How::TryWithTimeout, |real| {
            real.try_lock_exclusive_until(timeout)
        })
    }
}

unsafe impl lock_api::RawRwLockUpgrade for RawRwLock {
    type UpgradableGuard = Upgradable;

    fn lock_upgradable(&self) -> Upgradable {
        self.ask_waiting(
            Side::Upgradable,
            Real::try_lock_upgradable,
            Real::lock_upgradable,
        )
    }

    fn try_lock_upgradable(&self) -> Option<Upgradable> {
        self.ask(Side::Upgradable, How::Try, |real| {
            real.try_lock_upgradable()
        })
    }

    unsafe fn unlock_upgradable(&self, guard: Upgradable) {
        self.give_back(Side::Upgradable, guard, |real, guard| unsafe {
            real.unlock_upgradable(guard)
        });
    }

    unsafe fn upgrade(&self, guard: Upgradable) -> Exclusive {
        // Asking for the exclusive side, while keeping the upgradable one.
        stop_at(Moment::Asking(self.id(), Side::Exclusive));
        let mut guard = guard;
        if stopping() {
            // SAFETY: the caller's guarantee, passed on.
            match self.upgraded(unsafe { self.0.try_upgrade(guard) }) {
                Ok(exclusive) => return exclusive,
                Err(upgradable) => guard = upgradable,
            }
            stop_at(Moment::MustWait(self.id(), Side::Exclusive));
        }
        self.exchange(
            Side::Upgradable,
            Side::Exclusive,
            guard,
            |real, guard| unsafe { real.upgrade(guard) },
        )
    }

    unsafe fn try_upgrade(&self, guard: Upgradable) -> Result<Exclusive, Upgradable> {
        self.upgraded(unsafe { self.0.try_upgrade(guard) })
    }
}

unsafe impl lock_api::RawRwLockUpgradeFair for RawRwLock {
    unsafe fn unlock_upgradable_fair(&self, guard: Upgradable) {
        self.give_back(Side::Upgradable, guard, |real, guard| unsafe {
            real.unlock_upgradable_fair(guard)
        });
    }
}

unsafe impl lock_api::RawRwLockUpgradeDowngrade for RawRwLock {
    unsafe fn downgrade_upgradable(&self, guard: Upgradable) -> Shared {
        self.exchange(
            Side::Upgradable,
            Side::Shared,
            guard,
            |real, guard| unsafe { real.downgrade_upgradable(guard) },
        )
    }

    unsafe fn downgrade_to_upgradable(&self, guard: Exclusive) -> Upgradable {
        self.exchange(
            Side::Exclusive,
            Side::Upgradable,
            guard,
            |real, guard| unsafe { real.downgrade_to_upgradable(guard) },
        )
    }
}

unsafe impl lock_api::RawRwLockUpgradeTimed for RawRwLock {
    fn try_lock_upgradable_for(&self, timeout: Self::Duration) -> Option<Upgradable> {
        self.ask(Side::Upgradable, How::TryWithTimeout, |real| {
            real.try_lock_upgradable_for(timeout)
        })
    }

    fn try_lock_upgradable_until(&self, timeout: Self::Instant) -> Option<Upgradable> {
        self.ask(Side::Upgradable, How::TryWithTimeout, |real| {
            real.try_lock_upgradable_until(timeout)
        })
    }

    unsafe fn try_upgrade_for(
        &self,
        guard: Upgradable,
        timeout: Self::Duration,
    ) -> Result<Exclusive, Upgradable> {
        self.upgraded(unsafe { self.0.try_upgrade_for(guard, timeout) })
    }

    unsafe fn try_upgrade_until(
        &self,
        guard: Upgradable,
        timeout: Self::Instant,
    ) -> Result<Exclusive, Upgradable> {
        self.upgraded(unsafe { self.0.try_upgrade_until(guard, timeout) })
    }
}

#[cfg(test)]
mod tests {
    use super::kvlab_watch::{How, Side, held, watching};
    use super::*;

    #[test]
    fn a_watched_thread_notes_each_request_and_what_it_holds() {
        let lock = RwLock::new(1);
        let ((), requests) = watching(|| {
            let guard = lock.try_read().expect("the lock is free");
            assert_eq!(held().len(), 1);
            assert_eq!(held()[0].1, Side::Shared);
            drop(guard);
            assert!(held().is_empty());
            *lock.write() += 1;
        });
        let seen: Vec<_> = requests
            .iter()
            .map(|r| (r.side, r.how, r.granted))
            .collect();
        assert_eq!(
            seen,
            [
                (Side::Shared, How::Try, true),
                (Side::Exclusive, How::Wait, true)
            ]
        );
        assert_eq!(requests[0].lock, requests[1].lock);
    }

    #[test]
    fn a_refused_try_is_noted_as_not_granted() {
        let lock = RwLock::new(());
        let _writer = lock.write();
        let (refused, requests) = watching(|| lock.try_read().is_none());
        assert!(refused);
        assert_eq!(requests.len(), 1);
        assert!(!requests[0].granted);
        assert_eq!(requests[0].how, How::Try);
        assert!(held().is_empty(), "unwatched now");
    }

    #[test]
    fn an_upgrade_and_a_downgrade_move_the_held_side() {
        let lock = RwLock::new(0);
        watching(|| {
            let upgradable = lock.upgradable_read();
            let mut writer = RwLockUpgradableReadGuard::upgrade(upgradable);
            assert_eq!(held()[0].1, Side::Exclusive);
            *writer = 5;
            let reader = RwLockWriteGuard::downgrade(writer);
            assert_eq!(held()[0].1, Side::Shared);
            drop(reader);
            assert!(held().is_empty());
        });
    }

    #[test]
    fn a_watch_inside_another_hides_nothing_from_it() {
        let lock = RwLock::new(());
        let ((), outer) = watching(|| {
            let ((), inner) = watching(|| drop(lock.try_read()));
            assert_eq!(inner.len(), 1);
        });
        assert_eq!(
            outer.len(),
            1,
            "the outer watch saw the inner one's request"
        );
    }

    #[test]
    fn a_stop_hears_each_moment_and_a_wait_before_it_waits() {
        use std::sync::{Arc, mpsc};
        let lock = Arc::new(RwLock::new(()));
        let (moments, heard) = mpsc::channel();
        let guard = lock.read();
        let waiter = {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                let stop = move |moment| moments.send(moment).unwrap();
                kvlab_watch::stopping_at(stop, || drop(lock.write()));
            })
        };
        let asked = heard.recv().unwrap();
        let Moment::Asking(id, Side::Exclusive) = asked else {
            panic!("{asked:?}")
        };
        assert_eq!(id.kind(), kvlab_watch::Kind::RwLock);
        assert_eq!(heard.recv().unwrap(), Moment::MustWait(id, Side::Exclusive));
        drop(guard); // only now can the waiter get the lock
        waiter.join().unwrap();
        assert_eq!(heard.recv().unwrap(), Moment::Released(id, Side::Exclusive));
        // Outside `stopping_at`, nobody hears anything.
        drop(lock.read());
        assert!(heard.try_recv().is_err());
    }

    #[test]
    fn an_unwatched_thread_notes_nothing() {
        let lock = RwLock::new(());
        drop(lock.read());
        let ((), requests) = watching(|| ());
        assert!(requests.is_empty());
    }
}
