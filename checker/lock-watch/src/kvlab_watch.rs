//! What a watched thread did with the watched `RwLock`s.
//!
//! All of it is thread-local: a thread is watched only while it runs
//! [`watching`], and notes only its own calls, so threads beside it are not slowed
//! and nothing here is shared. Only probes may use it (see the crate's comment).

use std::cell::{Cell, RefCell};

/// Which side of a lock a call asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// One watched `RwLock`, by address: the same for as long as the lock lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockId(usize);

/// One call that asked a lock for a side of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub lock: LockId,
    pub side: Side,
    pub how: How,
    pub granted: bool,
}

thread_local! {
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

/// Whether this thread is inside [`watching`].
pub fn watched() -> bool {
    WATCHED.get()
}

/// The watched locks this thread holds now, with the side it holds: empty unless
/// the thread is inside [`watching`].
pub fn held() -> Vec<(LockId, Side)> {
    HELD.with_borrow(Clone::clone)
}

fn id(lock: &crate::RawRwLock) -> LockId {
    LockId(std::ptr::from_ref(lock).addr())
}

/// Notes a request; returns its place in the log, if this thread is watched.
pub(crate) fn note_request(lock: &crate::RawRwLock, side: Side, how: How) -> Option<usize> {
    if !WATCHED.get() {
        return None;
    }
    REQUESTS.with_borrow_mut(|requests| {
        requests.push(Request {
            lock: id(lock),
            side,
            how,
            granted: false,
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

pub(crate) fn note_held(lock: &crate::RawRwLock, side: Side) {
    if WATCHED.get() {
        HELD.with_borrow_mut(|held| held.push((id(lock), side)));
    }
}

pub(crate) fn note_released(lock: &crate::RawRwLock, side: Side) {
    if !WATCHED.get() {
        return;
    }
    let released = (id(lock), side);
    HELD.with_borrow_mut(|held| {
        // A guard taken before the watch began is not in the list.
        if let Some(at) = held.iter().rposition(|entry| *entry == released) {
            held.remove(at);
        }
    });
}
