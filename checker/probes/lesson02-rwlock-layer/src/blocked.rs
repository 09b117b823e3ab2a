//! Is a thread blocked, waiting for a lock?
//!
//! A criterion that wants an interleaving by construction holds one thread inside
//! the state machine (so it keeps the store's lock) until a second thread has come
//! up against that lock and is waiting for it. "Waiting" is read from the kernel:
//! a thread blocked on a lock (parking_lot's or std's, both park on a futex) is
//! asleep, state `S` in `/proc/self/task/<tid>/stat`, while a thread that is running
//! or spinning is `R`. The second thread says when it is about to call into the
//! store, so that only sleeps after that moment count, and a sleep counts only
//! once it has been seen on several polls in a row, so that a thread that merely
//! dozed off for a moment (a page fault, a busy allocator) is not taken for one
//! that waits.
//!
//! Where `/proc` cannot be read, the hold lasts a fixed pause instead, which makes
//! the interleaving likely rather than certain; the callers say what they do then.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// How often the holder looks at the other thread.
const POLL: Duration = Duration::from_micros(200);
/// How many polls in a row must see the thread asleep.
const ASLEEP_POLLS: u32 = 3;
/// The pause that stands in for the kernel's word where `/proc` is missing.
const FALLBACK_PAUSE: Duration = Duration::from_millis(50);

/// A thread that is about to call into the store, as another thread sees it.
#[derive(Default)]
pub struct Caller {
    tid: AtomicU32,
    calling: AtomicBool,
}

impl Caller {
    pub fn new() -> Self {
        Caller::default()
    }

    /// Says, from the thread itself, that it is calling into the store now.
    pub fn calling(&self) {
        self.tid.store(current_tid().unwrap_or(0), SeqCst);
        self.calling.store(true, SeqCst);
    }

    /// Whether the thread is asleep right now, after it said it was calling; `None`
    /// if that cannot be told. One look: callers that decide on it look again.
    pub fn asleep(&self) -> Option<bool> {
        if !self.calling.load(SeqCst) {
            return Some(false);
        }
        is_asleep(self.tid.load(SeqCst))
    }
}

/// How a wait for another thread ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// What the holder was waiting for happened (the other thread got in).
    Happened,
    /// The other thread is asleep after calling: it waits for a lock.
    Blocked,
    /// No `/proc`: the holder paused for a while instead, and nothing happened.
    Paused,
    /// Neither, by the deadline.
    TimedOut,
}

/// Waits until `happened()` is true, or `caller` is seen blocked, or `timeout`
/// passes.
pub fn until_blocked_or(caller: &Caller, happened: impl Fn() -> bool, timeout: Duration) -> Waited {
    let deadline = Instant::now() + timeout;
    let mut asleep_in_a_row = 0;
    loop {
        if happened() {
            return Waited::Happened;
        }
        if Instant::now() >= deadline {
            return Waited::TimedOut;
        }
        if caller.calling.load(SeqCst) {
            match is_asleep(caller.tid.load(SeqCst)) {
                Some(true) => asleep_in_a_row += 1,
                Some(false) => asleep_in_a_row = 0,
                None => {
                    std::thread::sleep(FALLBACK_PAUSE);
                    return if happened() {
                        Waited::Happened
                    } else {
                        Waited::Paused
                    };
                }
            }
            if asleep_in_a_row >= ASLEEP_POLLS {
                return if happened() {
                    Waited::Happened
                } else {
                    Waited::Blocked
                };
            }
        }
        std::thread::sleep(POLL);
    }
}

/// The calling thread's task id, from `/proc/thread-self` (`<pid>/task/<tid>`).
fn current_tid() -> Option<u32> {
    std::fs::read_link("/proc/thread-self")
        .ok()?
        .file_name()?
        .to_str()?
        .parse()
        .ok()
}

/// Whether task `tid` of this process is asleep; `None` if that cannot be told.
fn is_asleep(tid: u32) -> Option<bool> {
    if tid == 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The state follows the name, which is in parentheses and may hold any byte.
    let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    Some(matches!(state, 'S' | 'D'))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;

    #[test]
    fn a_thread_waiting_for_a_lock_is_seen_blocked() {
        let lock = Arc::new(Mutex::new(()));
        let caller = Arc::new(Caller::new());
        let held = lock.lock();
        let waiter = {
            let (lock, caller) = (lock.clone(), caller.clone());
            std::thread::spawn(move || {
                caller.calling();
                drop(lock.lock());
            })
        };
        let waited = until_blocked_or(&caller, || false, Duration::from_secs(10));
        assert!(
            matches!(waited, Waited::Blocked | Waited::Paused),
            "{waited:?}"
        );
        drop(held);
        waiter.join().unwrap();
    }

    #[test]
    fn a_running_thread_is_not_blocked() {
        let caller = Arc::new(Caller::new());
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = {
            let (caller, stop) = (caller.clone(), stop.clone());
            std::thread::spawn(move || {
                caller.calling();
                while !stop.load(SeqCst) {
                    std::hint::spin_loop();
                }
            })
        };
        let waited = until_blocked_or(&caller, || false, Duration::from_millis(50));
        assert!(
            matches!(waited, Waited::TimedOut | Waited::Paused),
            "{waited:?}"
        );
        stop.store(true, SeqCst);
        spinner.join().unwrap();
    }
}
