//! Deliberately broken implementations of lesson 06, one mistake each, as a learner
//! plausibly makes it, planted into the otherwise sound parts of [`crate::planted`].
//! The checker's tests assert that each is rejected by the criterion named with it.

use probe_kit::Fixture;

use crate::criteria;
use probe_lesson02::Instrumented;
use reference::store::{Entry, Response};

use crate::planted::{
    LockCore, LockPlant, PlantedLock, QueueParts, QueuePlant, Sound, planted, reader_may_go_in,
};
use crate::{LockState, LockViolation};

pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "pop-waits-with-if",
        rejected_by: &criteria::QUEUE_MODEL,
        make: || planted(PopWaitsWithIf, Sound),
    },
    Fixture {
        name: "push-waits-with-if",
        rejected_by: &criteria::QUEUE_MODEL,
        make: || planted(PushWaitsWithIf, Sound),
    },
    Fixture {
        name: "one-condvar-notify-one",
        rejected_by: &criteria::QUEUE_MODEL,
        make: || planted(OneCondvarNotifyOne, Sound),
    },
    Fixture {
        name: "try-push-ignores-capacity",
        rejected_by: &criteria::QUEUE_FIFO,
        make: || planted(TryPushIgnoresCapacity, Sound),
    },
    Fixture {
        name: "pop-takes-the-newest",
        rejected_by: &criteria::QUEUE_FIFO,
        make: || planted(PopTakesTheNewest, Sound),
    },
    Fixture {
        name: "pop-spins",
        rejected_by: &criteria::QUEUE_WAITS,
        make: || planted(PopSpins, Sound),
    },
    Fixture {
        name: "push-drops-when-full",
        rejected_by: &criteria::QUEUE_WAITS,
        make: || planted(PushDropsWhenFull, Sound),
    },
    Fixture {
        name: "try-pop-wakes-nobody",
        rejected_by: &criteria::QUEUE_WAITS,
        make: || planted(TryPopWakesNobody, Sound),
    },
    Fixture {
        name: "push-checks-then-relocks",
        rejected_by: &criteria::QUEUE_CONCURRENT,
        make: || planted(PushChecksThenRelocks, Sound),
    },
    Fixture {
        name: "check-misses-one-reader",
        rejected_by: &criteria::LOCK_INVARIANTS,
        make: || planted(Sound, CheckMissesOneReader),
    },
    Fixture {
        name: "check-refuses-waiting-writers",
        rejected_by: &criteria::LOCK_INVARIANTS,
        make: || planted(Sound, CheckRefusesWaitingWriters),
    },
    Fixture {
        name: "check-forgets-the-turn",
        rejected_by: &criteria::LOCK_INVARIANTS,
        make: || planted(Sound, CheckForgetsTheTurn),
    },
    Fixture {
        name: "writer-ignores-readers",
        rejected_by: &criteria::WRITER_ALONE,
        make: || planted(Sound, WriterIgnoresReaders),
    },
    Fixture {
        name: "try-write-ignores-writer",
        rejected_by: &criteria::WRITER_ALONE,
        make: || planted(Sound, TryWriteIgnoresWriter),
    },
    Fixture {
        name: "reader-waits-for-readers",
        rejected_by: &criteria::READERS_TOGETHER,
        make: || planted(Sound, ReaderWaitsForReaders),
    },
    Fixture {
        name: "reader-ignores-waiting-writers",
        rejected_by: &criteria::WRITER_NOT_STARVED,
        make: || planted(Sound, ReaderIgnoresWaitingWriters),
    },
    Fixture {
        name: "writer-preferring",
        rejected_by: &criteria::READERS_NOT_STARVED,
        make: || planted(Sound, WriterPreferring),
    },
    Fixture {
        name: "notify-before-state-change",
        rejected_by: &criteria::LOCK_MODEL,
        make: || planted(Sound, NotifyBeforeStateChange),
    },
    Fixture {
        name: "last-reader-wakes-nobody",
        rejected_by: &criteria::LOCK_MODEL,
        make: || planted(Sound, LastReaderWakesNobody),
    },
    Fixture {
        name: "guard-keeps-lock-on-panic",
        rejected_by: &criteria::PANIC_SAFE,
        make: || planted(Sound, GuardKeepsLockOnPanic),
    },
    Fixture {
        name: "store-get-takes-write-side",
        rejected_by: &criteria::STORE_ON_LOCK,
        make: || planted(Sound, GetTakesWriteSide),
    },
    Fixture {
        name: "store-get-reads-twice",
        rejected_by: &criteria::STORE_ON_LOCK,
        make: || planted(Sound, GetReadsTwice),
    },
];

#[derive(Clone, Copy)]
struct PopWaitsWithIf;
impl QueuePlant for PopWaitsWithIf {
    fn pop(&self, q: &QueueParts) -> u64 {
        let mut items = q.items.lock();
        // BUG: an `if`: woken, the popper takes for granted that the item is still
        // there, but another popper may have taken it first.
        if items.is_empty() {
            items = q.not_empty.wait(items);
        }
        let item = items.pop_front().expect("woken up, so there is an item");
        q.not_full.notify_one();
        item
    }
}

#[derive(Clone, Copy)]
struct PushWaitsWithIf;
impl QueuePlant for PushWaitsWithIf {
    fn push(&self, q: &QueueParts, item: u64) {
        let mut items = q.items.lock();
        // BUG: an `if`: another pusher may have filled the place first.
        if items.len() == q.capacity {
            items = q.not_full.wait(items);
        }
        items.push_back(item);
        q.not_empty.notify_one();
    }
}

/// Both sides wait on `not_empty`, and each notifies one waiter.
#[derive(Clone, Copy)]
struct OneCondvarNotifyOne;
impl QueuePlant for OneCondvarNotifyOne {
    fn push(&self, q: &QueueParts, item: u64) {
        let mut items = q.items.lock();
        while items.len() == q.capacity {
            items = q.not_empty.wait(items);
        }
        items.push_back(item);
        // BUG: pushers and poppers wait on the same condition variable, and
        // notify_one may wake a pusher when a popper was the one to wake.
        q.not_empty.notify_one();
    }
    fn pop(&self, q: &QueueParts) -> u64 {
        let mut items = q.items.lock();
        let item = loop {
            match items.pop_front() {
                Some(item) => break item,
                None => items = q.not_empty.wait(items),
            }
        };
        q.not_empty.notify_one();
        item
    }
}

#[derive(Clone, Copy)]
struct TryPushIgnoresCapacity;
impl QueuePlant for TryPushIgnoresCapacity {
    fn try_push(&self, q: &QueueParts, item: u64) -> Result<(), u64> {
        // BUG: no room check: "try" only means "do not wait".
        q.items.lock().push_back(item);
        q.not_empty.notify_one();
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct PopTakesTheNewest;
impl QueuePlant for PopTakesTheNewest {
    fn pop(&self, q: &QueueParts) -> u64 {
        let mut items = q.items.lock();
        let item = loop {
            // BUG: the back, not the front: a stack.
            match items.pop_back() {
                Some(item) => break item,
                None => items = q.not_empty.wait(items),
            }
        };
        q.not_full.notify_one();
        item
    }
    fn try_pop(&self, q: &QueueParts) -> Option<u64> {
        let item = q.items.lock().pop_back()?;
        q.not_full.notify_one();
        Some(item)
    }
}

#[derive(Clone, Copy)]
struct PopSpins;
impl QueuePlant for PopSpins {
    fn pop(&self, q: &QueueParts) -> u64 {
        // BUG: waits by trying again and again, awake, instead of sleeping on a
        // condition variable until a push says there is something.
        loop {
            if let Some(item) = q.items.lock().pop_front() {
                q.not_full.notify_one();
                return item;
            }
            std::thread::yield_now();
        }
    }
}

#[derive(Clone, Copy)]
struct PushDropsWhenFull;
impl QueuePlant for PushDropsWhenFull {
    fn push(&self, q: &QueueParts, item: u64) {
        let mut items = q.items.lock();
        // BUG: a full queue drops the item instead of waiting for room.
        if items.len() < q.capacity {
            items.push_back(item);
            q.not_empty.notify_one();
        }
    }
}

#[derive(Clone, Copy)]
struct TryPopWakesNobody;
impl QueuePlant for TryPopWakesNobody {
    fn try_pop(&self, q: &QueueParts) -> Option<u64> {
        // BUG: a place was freed, but a pusher waiting for one is not told.
        q.items.lock().pop_front()
    }
}

#[derive(Clone, Copy)]
struct PushChecksThenRelocks;
impl QueuePlant for PushChecksThenRelocks {
    fn push(&self, q: &QueueParts, item: u64) {
        {
            let mut items = q.items.lock();
            while items.len() == q.capacity {
                items = q.not_full.wait(items);
            }
        }
        // BUG: the room was checked under one hold of the mutex and is used under
        // another: a second pusher can take it in between.
        q.items.lock().push_back(item);
        q.not_empty.notify_one();
    }
}

#[derive(Clone, Copy, Default)]
struct CheckMissesOneReader;
impl LockPlant for CheckMissesOneReader {
    fn check(&self, state: &LockState) -> Result<(), LockViolation> {
        // BUG: `> 1`: a writer beside one reader passes.
        if state.writer && state.readers > 1 {
            return Err(LockViolation::WriterBesideReaders {
                readers: state.readers,
            });
        }
        if state.readers_next && state.readers_waiting == 0 {
            return Err(LockViolation::TurnWithoutReaders);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Default)]
struct CheckRefusesWaitingWriters;
impl LockPlant for CheckRefusesWaitingWriters {
    fn check(&self, state: &LockState) -> Result<(), LockViolation> {
        // BUG: readers inside while a writer waits is how the lock looks just before
        // the readers leave: possible, not broken.
        if (state.writer || state.writers_waiting > 0) && state.readers > 0 {
            return Err(LockViolation::WriterBesideReaders {
                readers: state.readers,
            });
        }
        Sound.check(state)
    }
}

#[derive(Clone, Copy, Default)]
struct CheckForgetsTheTurn;
impl LockPlant for CheckForgetsTheTurn {
    fn check(&self, state: &LockState) -> Result<(), LockViolation> {
        // BUG: only the writer's rule; a readers' turn nobody can take passes.
        if state.writer && state.readers > 0 {
            return Err(LockViolation::WriterBesideReaders {
                readers: state.readers,
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Default)]
struct WriterIgnoresReaders;
impl LockPlant for WriterIgnoresReaders {
    fn enter_write(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.writers_waiting += 1;
        // BUG: waits for the other writer only, not for the readers to leave.
        while state.writer || state.readers_next {
            state = l.writer_may_enter.wait(state);
        }
        state.writers_waiting -= 1;
        state.writer = true;
    }
    fn try_enter_write(&self, l: &LockCore) -> bool {
        let mut state = l.state.lock();
        if state.writer || state.readers_next {
            return false;
        }
        state.writer = true;
        true
    }
}

#[derive(Clone, Copy, Default)]
struct TryWriteIgnoresWriter;
impl LockPlant for TryWriteIgnoresWriter {
    fn try_enter_write(&self, l: &LockCore) -> bool {
        let mut state = l.state.lock();
        // BUG: checks for readers only: a second writer gets in beside the first.
        if state.readers > 0 || state.readers_next {
            return false;
        }
        state.writer = true;
        true
    }
}

/// A reader that waits for the readers inside too: a mutex with extra steps.
fn enter_read_alone(l: &LockCore) {
    let mut state = l.state.lock();
    state.readers_waiting += 1;
    // BUG: waits for the readers inside too.
    while !reader_may_go_in(&state) || state.readers > 0 {
        state = l.readers_may_enter.wait(state);
    }
    state.readers_waiting -= 1;
    if state.readers_waiting == 0 {
        state.readers_next = false;
    }
    state.readers += 1;
}

fn leave_read_alone(l: &LockCore) {
    let mut state = l.state.lock();
    state.readers -= 1;
    if state.readers == 0 {
        l.writer_may_enter.notify_one();
        l.readers_may_enter.notify_all();
    }
}

#[derive(Clone, Copy, Default)]
struct ReaderWaitsForReaders;
impl LockPlant for ReaderWaitsForReaders {
    fn enter_read(&self, l: &LockCore) {
        enter_read_alone(l);
    }
    fn try_enter_read(&self, l: &LockCore) -> bool {
        let mut state = l.state.lock();
        if !reader_may_go_in(&state) || state.readers > 0 {
            return false;
        }
        state.readers += 1;
        true
    }
    fn leave_read(&self, l: &LockCore) {
        leave_read_alone(l);
    }
}

#[derive(Clone, Copy, Default)]
struct ReaderIgnoresWaitingWriters;
impl LockPlant for ReaderIgnoresWaitingWriters {
    fn enter_read(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.readers_waiting += 1;
        // BUG: only a writer inside keeps readers out; a waiting one does not, so
        // readers who keep coming keep the writer waiting.
        while state.writer {
            state = l.readers_may_enter.wait(state);
        }
        state.readers_waiting -= 1;
        if state.readers_waiting == 0 {
            state.readers_next = false;
        }
        state.readers += 1;
    }
    fn try_enter_read(&self, l: &LockCore) -> bool {
        let mut state = l.state.lock();
        if state.writer {
            return false;
        }
        state.readers += 1;
        true
    }
}

/// The seed's writer-preferring lock: no readers' turn.
#[derive(Clone, Copy, Default)]
struct WriterPreferring;
impl LockPlant for WriterPreferring {
    fn enter_read(&self, l: &LockCore) {
        let mut state = l.state.lock();
        while state.writer || state.writers_waiting > 0 {
            state = l.readers_may_enter.wait(state);
        }
        state.readers += 1;
    }
    fn try_enter_read(&self, l: &LockCore) -> bool {
        let mut state = l.state.lock();
        if state.writer || state.writers_waiting > 0 {
            return false;
        }
        state.readers += 1;
        true
    }
    fn leave_write(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.writer = false;
        // BUG: a waiting writer always goes first, so while writers keep coming,
        // the readers never get in.
        if state.writers_waiting > 0 {
            l.writer_may_enter.notify_one();
        } else {
            l.readers_may_enter.notify_all();
        }
    }
}

#[derive(Clone, Copy, Default)]
struct NotifyBeforeStateChange;
impl LockPlant for NotifyBeforeStateChange {
    fn leave_write(&self, l: &LockCore) {
        // BUG: the waiters are woken before the state says the writer has gone, and
        // outside the mutex: one that wakes now sees `writer` still set and goes back
        // to sleep, and no notify comes after.
        l.readers_may_enter.notify_all();
        l.writer_may_enter.notify_one();
        let mut state = l.state.lock();
        state.writer = false;
        if state.readers_waiting > 0 {
            state.readers_next = true;
        }
    }
}

#[derive(Clone, Copy, Default)]
struct LastReaderWakesNobody;
impl LockPlant for LastReaderWakesNobody {
    fn leave_read(&self, l: &LockCore) {
        // BUG: the last reader out does not wake the writer waiting for it.
        l.state.lock().readers -= 1;
    }
}

#[derive(Clone, Copy, Default)]
struct GuardKeepsLockOnPanic;
impl LockPlant for GuardKeepsLockOnPanic {
    fn leave_write(&self, l: &LockCore) {
        // BUG: "a writer that panicked may have left the data half-changed, so keep
        // everyone out": the lock stays taken for good.
        if std::thread::panicking() {
            return;
        }
        Sound.leave_write(l);
    }
    fn leave_read(&self, l: &LockCore) {
        if std::thread::panicking() {
            return;
        }
        Sound.leave_read(l);
    }
}

/// GET on the write side: right answers, but GETs wait for each other, which
/// lesson 02's `readers-parallel` sees.
#[derive(Clone, Copy, Default)]
struct GetTakesWriteSide;
impl LockPlant for GetTakesWriteSide {
    fn get(&self, machine: &PlantedLock<Instrumented, Self>, key: &str) -> Response {
        // BUG: "write() is safe too": it is, but it lets one GET in at a time.
        match machine.write().lookup(key) {
            Some(Entry {
                value: Some(value),
                version,
                ..
            }) => Response::Value {
                value: value.clone(),
                version: *version,
            },
            _ => Response::NotFound,
        }
    }
}

/// GET takes the value under one read guard and the version under another: a SET
/// between the two pairs a value with another write's version, which lesson 02's
/// `linearizable` sees.
#[derive(Clone, Copy, Default)]
struct GetReadsTwice;
impl LockPlant for GetReadsTwice {
    fn get(&self, machine: &PlantedLock<Instrumented, Self>, key: &str) -> Response {
        // BUG: two looks at two states.
        let value = match machine.read().lookup(key) {
            Some(Entry {
                value: Some(value), ..
            }) => value.clone(),
            _ => return Response::NotFound,
        };
        match machine.read().lookup(key) {
            Some(entry) => Response::Value {
                value,
                version: entry.version,
            },
            None => Response::NotFound,
        }
    }
}
