//! An auto-reset event: `set` lets exactly one waiter through, then the
//! event is closed again. The reader-writer lock of this chapter wakes its
//! writers the same way (`notify_one`), and the proof has to live with it.

use std::sync::{Condvar, Mutex};

#[derive(Debug, Default)]
struct EventState {
    set: bool,
    waiting: usize,
}

// ANCHOR: event
#[derive(Debug, Default)]
pub struct AutoResetEvent {
    state: Mutex<EventState>,
    changed: Condvar,
}

impl AutoResetEvent {
    pub fn wait(&self) {
        let mut state = self.state.lock().unwrap();
        state.waiting += 1;
        while !state.set {
            state = self.changed.wait(state).unwrap();
        }
        // The "auto" in auto-reset: the first waiter through closes the door
        // behind itself, so one `set` releases one waiter, however many wait.
        state.set = false;
        state.waiting -= 1;
    }

    pub fn set(&self) {
        self.state.lock().unwrap().set = true;
        self.changed.notify_one();
    }
    // ANCHOR_END: event

    /// `(is set, threads inside wait)`, for tests.
    pub fn peek(&self) -> (bool, usize) {
        let state = self.state.lock().unwrap();
        (state.set, state.waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::wait_until;
    use std::thread;

    // ANCHOR: one_set_one_waiter
    #[test]
    fn one_set_releases_exactly_one_of_two_waiters() {
        let event = AutoResetEvent::default();
        thread::scope(|s| {
            s.spawn(|| event.wait());
            s.spawn(|| event.wait());
            wait_until("both threads wait", || event.peek() == (false, 2));

            event.set();
            wait_until("one thread got through", || event.peek().1 == 1);
            // The event is closed again and one thread still waits: nothing
            // in the code can let it out except another `set`.
            assert_eq!(event.peek(), (false, 1));

            event.set();
        });
        assert_eq!(event.peek(), (false, 0));
    }
    // ANCHOR_END: one_set_one_waiter

    #[test]
    fn a_set_with_nobody_waiting_is_kept_for_the_next_waiter() {
        let event = AutoResetEvent::default();
        event.set();
        event.wait(); // returns at once: the event remembered the set
        assert_eq!(event.peek(), (false, 0));
    }
}
