//! What a watched thread did with the watched `RwLock`s, and where a probe can stop
//! it.
//!
//! All of it is thread-local: a thread is watched only while it runs [`watching`],
//! stopped only while it runs [`stopping_at`], and notes only its own calls, so
//! threads beside it are not slowed and nothing here is shared. Only probes may use
//! it (see the crate's comment).

use std::cell::{Cell, RefCell};

/// Which side of a lock a call asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Shared,
    Exclusive,
    Upgradable,
}

/// How a call asked: waiting as long as it takes (`read`, `write`), only trying
/// (`try_read`, ...), or waiting a while (`try_read_for`, `try_read_until`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Wait,
    Try,
    TryWithTimeout,
}

/// Which kind of lock a [`LockId`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Mutex,
    RwLock,
}

/// One watched lock, by address: the same for as long as the lock lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockId(usize, Kind);

impl LockId {
    pub fn kind(self) -> Kind {
        self.1
    }
}

/// One call that asked a lock for a side of it (a mutex has only the exclusive one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub lock: LockId,
    pub side: Side,
    pub how: How,
    pub granted: bool,
    /// The watched locks the thread held when it asked: one edge each of the order
    /// in which this thread takes locks.
    pub holding: Vec<(LockId, Side)>,
}

/// A moment in a thread's use of a watched lock at which a probe may stop it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// About to ask for a side of a lock (nothing asked yet).
    Asking(LockId, Side),
    /// Asked for a side that may be waited for, and it is not free: the thread is
    /// about to wait for another thread to let go.
    MustWait(LockId, Side),
    /// Has just let go of a side of a lock.
    Released(LockId, Side),
}

type Stop = Box<dyn FnMut(Moment)>;

thread_local! {
    static STOP: RefCell<Option<Stop>> = const { RefCell::new(None) };
    static WATCHED: Cell<bool> = const { Cell::new(false) };
    static REQUESTS: RefCell<Vec<Request>> = const { RefCell::new(Vec::new()) };
    static HELD: RefCell<Vec<(LockId, Side)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread watched, and returns what it returned with every
/// request it made of a watched lock, in order. A watch inside another hides
/// nothing from it: the outer one sees the inner one's requests and locks too.
pub fn watching<R>(f: impl FnOnce() -> R) -> (R, Vec<Request>) {
    /// Ends the watch even if `f` panics, and hands what it saw to an outer one.
    struct Watch {
        outer_watched: bool,
        outer_requests: Vec<Request>,
    }
    impl Drop for Watch {
        fn drop(&mut self) {
            WATCHED.set(self.outer_watched);
            let inner = REQUESTS.replace(std::mem::take(&mut self.outer_requests));
            if self.outer_watched {
                REQUESTS.with_borrow_mut(|requests| requests.extend(inner));
            } else {
                // Locks still held are no longer followed once nobody watches.
                HELD.take();
            }
        }
    }
    let watch = Watch {
        outer_watched: WATCHED.replace(true),
        outer_requests: REQUESTS.take(),
    };
    let value = f();
    let requests = REQUESTS.with_borrow(Clone::clone);
    drop(watch);
    (value, requests)
}

/// Runs `f` with `stop` called at every [`Moment`] of this thread's use of a watched
/// lock, so that a probe can hold the thread there (right after it lets go of a lock,
/// say) or learn that it is about to wait. `stop` runs with no lock of its own held
/// and is not called for the locks it takes itself.
pub fn stopping_at<R>(stop: impl FnMut(Moment) + 'static, f: impl FnOnce() -> R) -> R {
    /// Puts back the stop that was there before, even if `f` panics.
    struct Restore(Option<Stop>);
    impl Drop for Restore {
        fn drop(&mut self) {
            STOP.set(self.0.take());
        }
    }
    let _restore = Restore(STOP.replace(Some(Box::new(stop))));
    f()
}

/// Whether this thread has a stop installed: then a request that may wait first
/// tries, so that it can say [`Moment::MustWait`] before it waits.
pub(crate) fn stopping() -> bool {
    STOP.with_borrow(Option::is_some)
}

/// Calls this thread's stop, if any, at `moment`. The stop is taken out while it runs,
/// so the locks it takes itself do not call it again.
pub(crate) fn stop_at(moment: Moment) {
    let Some(mut stop) = STOP.take() else { return };
    stop(moment);
    STOP.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(stop);
        }
    });
}

/// Whether this thread is inside [`watching`].
pub fn watched() -> bool {
    WATCHED.get()
}

/// The watched locks this thread holds now, with the side it holds: empty unless
/// the thread is inside [`watching`].
pub fn held() -> Vec<(LockId, Side)> {
    HELD.with_borrow(Clone::clone)
}

pub(crate) fn id<L>(lock: &L, kind: Kind) -> LockId {
    LockId(std::ptr::from_ref(lock).addr(), kind)
}

/// Notes a request; returns its place in the log, if this thread is watched.
pub(crate) fn note_request(lock: LockId, side: Side, how: How) -> Option<usize> {
    if !WATCHED.get() {
        return None;
    }
    let holding = held();
    REQUESTS.with_borrow_mut(|requests| {
        requests.push(Request {
            lock,
            side,
            how,
            granted: false,
            holding,
        });
        Some(requests.len() - 1)
    })
}

pub(crate) fn note_granted(request: Option<usize>) {
    let Some(index) = request else { return };
    let granted = REQUESTS.with_borrow_mut(|requests| {
        let request = &mut requests[index];
        request.granted = true;
        (request.lock, request.side)
    });
    HELD.with_borrow_mut(|held| held.push(granted));
}

pub(crate) fn note_held(lock: LockId, side: Side) {
    if WATCHED.get() {
        HELD.with_borrow_mut(|held| held.push((lock, side)));
    }
}

pub(crate) fn note_released(lock: LockId, side: Side) {
    if !WATCHED.get() {
        return;
    }
    let released = (lock, side);
    HELD.with_borrow_mut(|held| {
        // A guard taken before the watch began is not in the list.
        if let Some(at) = held.iter().rposition(|entry| *entry == released) {
            held.remove(at);
        }
    });
}
