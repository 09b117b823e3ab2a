//! Correct implementations written differently from the reference: every
//! criterion must pass them.

use probe_kit::Variant;

use crate::planted::{
    LockCore, LockPlant, QueueParts, QueuePlant, planted, reader_may_go_in, writer_may_go_in,
};

pub const VARIANTS: &[Variant] = &[Variant {
    name: "one-condvar-notify-all",
    make: || planted(OneCondvarNotifyAll, OneCondvarNotifyAll),
}];

/// One condition variable for every waiter, and every change announced to all of
/// them: more wake-ups than needed, but none lost.
#[derive(Clone, Copy, Default)]
struct OneCondvarNotifyAll;

impl QueuePlant for OneCondvarNotifyAll {
    fn push(&self, q: &QueueParts, item: u64) {
        let mut items = q.items.lock();
        while items.len() == q.capacity {
            items = q.not_empty.wait(items);
        }
        items.push_back(item);
        q.not_empty.notify_all();
    }
    fn pop(&self, q: &QueueParts) -> u64 {
        let mut items = q.items.lock();
        loop {
            if let Some(item) = items.pop_front() {
                q.not_empty.notify_all();
                return item;
            }
            items = q.not_empty.wait(items);
        }
    }
    fn try_push(&self, q: &QueueParts, item: u64) -> Result<(), u64> {
        let mut items = q.items.lock();
        if items.len() == q.capacity {
            return Err(item);
        }
        items.push_back(item);
        q.not_empty.notify_all();
        Ok(())
    }
    fn try_pop(&self, q: &QueueParts) -> Option<u64> {
        let item = q.items.lock().pop_front()?;
        q.not_empty.notify_all();
        Some(item)
    }
}

impl LockPlant for OneCondvarNotifyAll {
    fn enter_read(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.readers_waiting += 1;
        while !reader_may_go_in(&state) {
            state = l.readers_may_enter.wait(state);
        }
        state.readers_waiting -= 1;
        if state.readers_waiting == 0 {
            state.readers_next = false;
        }
        state.readers += 1;
    }
    fn enter_write(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.writers_waiting += 1;
        while !writer_may_go_in(&state) {
            state = l.readers_may_enter.wait(state);
        }
        state.writers_waiting -= 1;
        state.writer = true;
    }
    fn leave_read(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.readers -= 1;
        if state.readers == 0 {
            l.readers_may_enter.notify_all();
        }
    }
    fn leave_write(&self, l: &LockCore) {
        {
            let mut state = l.state.lock();
            state.writer = false;
            state.readers_next = state.readers_waiting > 0;
        }
        // After the mutex is let go: the waiters wake to a state that is already
        // changed, so this order is safe.
        l.readers_may_enter.notify_all();
    }
}
