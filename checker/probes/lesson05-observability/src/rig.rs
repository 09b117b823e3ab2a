//! The probe's hands inside a store: an instrumented state machine and a fake clock.
//!
//! Both plug into the lesson's seams (`Store::with_parts(machine, clock)`). The fake
//! clock only moves when the instrumented state machine says so, by the latency the
//! calling thread chose with [`set_latency`] (or, for a refused call, when the probe
//! armed [`refusal_takes`]), and each thread has a time of its own:
//! whatever the implementation does around the state machine, however often it
//! reads the clock, and however many threads run beside it, an operation's latency
//! is exactly the one the probe planted. So the latency sums are known exactly
//! under concurrency too, and a sum that loses an update is seen. A [`Hold`] stops a
//! chosen operation *inside* the state machine, where it holds the store's lock, for
//! as long as the probe likes; a [`Hold`] armed with [`Rig::hold_after`] stops it at
//! the first clock read after the state machine answered, where the implementation
//! times the answer (and should have let go of the lock).

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use parking_lot::kvlab_watch::{self as watch, LockId};
use probe_kit::sync::Latch;
use state::{Command, Response};

/// A held operation waits at most this long for its release, so a probe that gives
/// up early never leaves a thread stuck for good.
const HOLD_LIMIT: Duration = Duration::from_secs(60);

thread_local! {
    static LATENCY: Cell<Duration> = const { Cell::new(Duration::ZERO) };
    /// This thread's fake time: the latencies its operations have spent.
    static ELAPSED_NANOS: Cell<u64> = const { Cell::new(0) };
    /// Time this thread's next operation spends outside the state machine: see
    /// [`refusal_takes`].
    static OUTSIDE_NANOS: Cell<u64> = const { Cell::new(0) };
    /// A hold this thread meets at its next clock read, armed by [`Rig::hold_after`].
    static AT_NEXT_CLOCK_READ: RefCell<Option<Arc<Hold>>> = const { RefCell::new(None) };
    /// The watched locks this thread held when it last entered the state machine.
    static HELD_INSIDE: RefCell<Vec<LockId>> = const { RefCell::new(Vec::new()) };
    /// For each clock read of this thread while watched: the locks it held then.
    static HELD_AT_CLOCK_READS: RefCell<Vec<Vec<LockId>>> = const { RefCell::new(Vec::new()) };
}

/// For each clock read the calling thread made while
/// [`watching`](parking_lot::kvlab_watch::watching), in order, the watched locks it
/// held at that moment; the list starts afresh after each call.
pub fn held_at_clock_reads() -> Vec<Vec<LockId>> {
    HELD_AT_CLOCK_READS.take()
}

fn held_locks() -> Vec<LockId> {
    watch::held().into_iter().map(|(lock, _)| lock).collect()
}

/// The locks the calling thread held the last time it was inside the state machine
/// while [`watching`](parking_lot::kvlab_watch::watching): the store's lock, if it is a
/// watched one. Empty if none was (std's lock, say).
pub fn held_inside() -> Vec<LockId> {
    HELD_INSIDE.take()
}

/// How long each following operation of *this thread* spends in the state machine,
/// as the fake clock sees it.
pub fn set_latency(latency: Duration) {
    LATENCY.set(latency);
}

/// Makes the calling thread's next operation take `latency` although it never
/// reaches the state machine (a command the store refuses): the thread's clock
/// jumps by it right after its next read, the one that starts the operation, so
/// an implementation that times the refusal with its clock records `latency`.
/// `Duration::ZERO` disarms it, once the operation is over.
pub fn refusal_takes(latency: Duration) {
    OUTSIDE_NANOS.set(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
}

/// What an instrumented state machine and its fake clock share.
pub struct Rig {
    origin: Instant,
    /// Whether a hold is armed: without one, an operation inside the state machine
    /// touches nothing shared of the probe's (no lock, no write), so that threads
    /// hammering the store contend in the implementation's code, not in the rig's.
    armed: AtomicBool,
    hold: Mutex<Option<Arc<Hold>>>,
    /// Met at the first clock read after the state machine, not inside it.
    hold_after: Mutex<Option<Arc<Hold>>>,
}

/// An operation stopped inside the state machine.
pub struct Hold {
    key: String,
    /// Opens when the operation is where it is held: inside the state machine (and
    /// so inside the lock), or at its clock read after it.
    pub entered: Latch,
    /// The probe opens it to let the operation go on.
    pub release: Latch,
}

impl Rig {
    pub fn new() -> Arc<Rig> {
        Arc::new(Rig {
            origin: Instant::now(),
            armed: AtomicBool::new(false),
            hold: Mutex::new(None),
            hold_after: Mutex::new(None),
        })
    }

    /// The calling thread's fake time; only the instrumented state machine moves it,
    /// and a refusal's time armed with [`refusal_takes`].
    pub fn now(&self) -> Instant {
        if watch::watched() {
            HELD_AT_CLOCK_READS.with_borrow_mut(|reads| reads.push(held_locks()));
        }
        if let Some(hold) = AT_NEXT_CLOCK_READ.take() {
            hold.entered.open();
            hold.release.wait(HOLD_LIMIT);
        }
        let now = self.origin + Duration::from_nanos(ELAPSED_NANOS.get());
        let outside = OUTSIDE_NANOS.replace(0);
        ELAPSED_NANOS.set(ELAPSED_NANOS.get().saturating_add(outside));
        now
    }

    /// Stops the next operation on `key` inside the state machine until
    /// `release` opens.
    pub fn hold(&self, key: &str) -> Arc<Hold> {
        self.arm(&self.hold, key)
    }

    /// Stops the next operation on `key` at its first clock read after the state
    /// machine answered it, until `release` opens.
    pub fn hold_after(&self, key: &str) -> Arc<Hold> {
        self.arm(&self.hold_after, key)
    }

    fn arm(&self, slot: &Mutex<Option<Arc<Hold>>>, key: &str) -> Arc<Hold> {
        let hold = Arc::new(Hold {
            key: key.to_owned(),
            entered: Latch::new(),
            release: Latch::new(),
        });
        *slot.lock() = Some(Arc::clone(&hold));
        self.armed.store(true, SeqCst);
        hold
    }

    /// Called by the instrumented state machine at the start of every operation.
    fn inside(&self, key: &str) {
        if watch::watched() {
            HELD_INSIDE.set(held_locks());
        }
        let latency = u64::try_from(LATENCY.get().as_nanos()).unwrap_or(u64::MAX);
        ELAPSED_NANOS.set(ELAPSED_NANOS.get().saturating_add(latency));
        if !self.armed.load(SeqCst) {
            return;
        }
        let after = self.hold_after.lock().take_if(|hold| hold.key == key);
        if let Some(hold) = after {
            // Once: this thread meets it at its next clock read, after the machine.
            AT_NEXT_CLOCK_READ.set(Some(hold));
        }
        let hold = self.hold.lock().clone();
        if let Some(hold) = hold.filter(|hold| hold.key == key) {
            hold.entered.open();
            hold.release.wait(HOLD_LIMIT);
        }
    }
}

/// Lesson 01's state machine, reporting to a [`Rig`]. The adapter implements each
/// crate's `StateMachine` trait for it.
pub struct Instrumented {
    machine: state::Store,
    rig: Arc<Rig>,
}

impl Instrumented {
    pub fn new(rig: &Arc<Rig>) -> Self {
        Instrumented {
            machine: state::Store::new(),
            rig: Arc::clone(rig),
        }
    }

    pub fn read(&self, key: &str) -> Response {
        self.rig.inside(key);
        self.machine.get(key)
    }

    pub fn write(&mut self, command: Command) -> Response {
        self.rig.inside(key_of(&command));
        self.machine.apply(command)
    }
}

/// The rig's time; the adapter implements each crate's `Clock` trait for it.
#[derive(Clone)]
pub struct FakeClock(Arc<Rig>);

impl FakeClock {
    pub fn new(rig: &Arc<Rig>) -> Self {
        FakeClock(Arc::clone(rig))
    }

    pub fn now(&self) -> Instant {
        self.0.now()
    }
}

pub fn key_of(command: &Command) -> &str {
    match command {
        Command::Get { key } | Command::Set { key, .. } | Command::Del { key } => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_only_inside_the_machine() {
        let rig = Rig::new();
        let clock = FakeClock::new(&rig);
        let mut machine = Instrumented::new(&rig);
        let start = clock.now();
        set_latency(Duration::from_micros(7));
        assert_eq!(clock.now() - start, Duration::ZERO);
        machine.write(Command::set("a", "1"));
        machine.read("a");
        assert_eq!(clock.now() - start, Duration::from_micros(14));
        set_latency(Duration::ZERO);
    }
}
