//! Deadline-bounded coordination for concurrency probes.
//!
//! Probes prove concurrency properties by making threads *meet* (two readers inside
//! the read-side critical section at once) rather than by sleeping and hoping. Every
//! wait here has a deadline, so a serialised or deadlocked implementation makes the
//! wait time out, which the criterion reports, instead of hanging the probe.

use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// A barrier for `parties` threads whose `wait` gives up at a deadline.
pub struct Barrier {
    parties: usize,
    state: Mutex<(usize, u64)>, // (arrived in this generation, generation)
    all_arrived: Condvar,
}

impl Barrier {
    pub fn new(parties: usize) -> Self {
        Barrier {
            parties,
            state: Mutex::new((0, 0)),
            all_arrived: Condvar::new(),
        }
    }

    /// Waits until `parties` threads have arrived, or `timeout` has passed.
    /// Returns whether everyone arrived. A timed-out thread still counts as arrived
    /// for this generation, so late threads do not wait again for it.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock();
        let generation = state.1;
        state.0 += 1;
        if state.0 == self.parties {
            *state = (0, generation + 1);
            self.all_arrived.notify_all();
            return true;
        }
        // A loop, not a single wait: parking_lot's Condvar has no spurious wake-ups,
        // but the loop keeps the barrier right on any condition variable.
        while state.1 == generation {
            if self
                .all_arrived
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                return state.1 != generation;
            }
        }
        true
    }
}

/// A one-way gate: closed until `open`, then open for good.
#[derive(Default)]
pub struct Latch {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Latch {
    pub fn new() -> Self {
        Latch::default()
    }

    pub fn open(&self) {
        *self.open.lock() = true;
        self.opened.notify_all();
    }

    pub fn is_open(&self) -> bool {
        *self.open.lock()
    }

    /// Waits until the latch is open or `timeout` passes; returns whether it opened.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut open = self.open.lock();
        while !*open {
            if self.opened.wait_until(&mut open, deadline).timed_out() {
                return *open;
            }
        }
        true
    }
}

/// A thread whose result can be awaited with a deadline (`JoinHandle::join` has none).
pub struct Worker<T> {
    name: String,
    done: mpsc::Receiver<thread::Result<T>>,
    /// What the thread says it is doing, for a worker started with [`spawn_doing`].
    doing: Option<Doing>,
}

/// What a worker is doing right now, so that a hang names the operation, not just
/// the thread.
#[derive(Clone, Default)]
pub struct Doing(Arc<Mutex<String>>);

impl Doing {
    pub fn set(&self, what: impl std::fmt::Display) {
        *self.0.lock() = what.to_string();
    }

    fn get(&self) -> String {
        self.0.lock().clone()
    }
}

/// Starts `f` on a named thread. A panic in it is recorded by the probe's panic hook
/// and re-raised by [`Worker::join`].
pub fn spawn<T: Send + 'static>(
    name: impl Into<String>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Worker<T> {
    let name = name.into();
    let (tx, done) = mpsc::channel();
    thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(result);
        })
        .expect("the probe can start threads");
    Worker {
        name,
        done,
        doing: None,
    }
}

/// Like [`spawn`], for a thread that says what it is doing as it goes.
pub fn spawn_doing<T: Send + 'static>(
    name: impl Into<String>,
    f: impl FnOnce(&Doing) -> T + Send + 'static,
) -> Worker<T> {
    let doing = Doing::default();
    doing.set("starting");
    let mine = doing.clone();
    let mut worker = spawn(name, move || f(&mine));
    worker.doing = Some(doing);
    worker
}

/// A worker that did not finish in time, and what it was doing if it said.
#[derive(Debug, Clone)]
pub struct Stuck {
    pub name: String,
    pub waited: Duration,
    pub doing: Option<String>,
}

impl std::fmt::Display for Stuck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.doing {
            Some(doing) => write!(f, "`{}` in {doing}", self.name),
            None => write!(
                f,
                "thread `{}` did not finish within {:.0?}",
                self.name, self.waited
            ),
        }
    }
}

impl<T> Worker<T> {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits for the result until `deadline`. A panic in the worker is re-raised here.
    pub fn join_by(self, deadline: Instant) -> Result<T, Stuck> {
        let waited_from = Instant::now();
        self.result_by(deadline)
            .ok_or_else(|| self.stuck(waited_from.elapsed()))
    }

    /// The result, if it comes by `deadline`; the worker stays to be waited on again.
    fn result_by(&self, deadline: Instant) -> Option<T> {
        match self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(Ok(value)) => Some(value),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => None,
        }
    }

    fn stuck(&self, waited: Duration) -> Stuck {
        Stuck {
            name: self.name.clone(),
            waited,
            doing: self.doing.as_ref().map(Doing::get),
        }
    }
}

/// Threads of one criterion that say what they are doing, joined together, so that
/// a hang names every stuck thread and its operation.
pub struct Crew<T> {
    members: Vec<Worker<T>>,
}

impl<T: Send + 'static> Crew<T> {
    pub fn new() -> Self {
        Crew {
            members: Vec::new(),
        }
    }

    pub fn spawn(&mut self, name: impl Into<String>, f: impl FnOnce(&Doing) -> T + Send + 'static) {
        self.members.push(spawn_doing(name, f));
    }

    /// Every member's result, or every member still running at `deadline`. A panic
    /// in a member is raised here.
    pub fn join_by(self, deadline: Instant) -> Result<Vec<T>, Vec<Stuck>> {
        let mut results = Vec::new();
        let mut stuck = Vec::new();
        for worker in self.members {
            match worker.join_by(deadline) {
                Ok(result) => results.push(result),
                Err(s) => stuck.push(s),
            }
        }
        if stuck.is_empty() {
            Ok(results)
        } else {
            Err(stuck)
        }
    }
}

impl<T: Send + 'static> Default for Crew<T> {
    fn default() -> Self {
        Crew::new()
    }
}

/// Names the stuck threads in one line: "`writer-0` in set(...); `reader-1` in get(...)".
pub fn name_stuck(stuck: &[Stuck]) -> String {
    stuck
        .iter()
        .map(Stuck::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Joins every worker by one shared deadline; the first stuck one is reported, with
/// the time waited for them all.
pub fn join_all<T>(workers: Vec<Worker<T>>, timeout: Duration) -> Result<Vec<T>, Stuck> {
    let started = Instant::now();
    let deadline = started + timeout;
    workers
        .into_iter()
        .map(|w| w.join_by(deadline))
        .collect::<Result<_, _>>()
        .map_err(|stuck| Stuck {
            waited: started.elapsed(),
            ..stuck
        })
}

/// Joins every worker for as long as the work moves: `moved` counts what the workers
/// have done, and they are stuck once it stands still for `quiet`, or at `limit`
/// whatever it does. A machine busy with other work slows threads down without
/// stopping them; a deadlock stops them. So a hang is named by a standstill, not
/// by how long the whole took.
pub fn join_all_while_moving<T>(
    workers: Vec<Worker<T>>,
    moved: impl Fn() -> u64,
    quiet: Duration,
    limit: Duration,
) -> Result<Vec<T>, Stuck> {
    let started = Instant::now();
    let limit = started + limit;
    let mut results = Vec::new();
    let (mut last, mut last_change) = (moved(), started);
    for worker in workers {
        loop {
            if let Some(result) = worker.result_by((last_change + quiet).min(limit)) {
                results.push(result);
                break;
            }
            let now = moved();
            if now == last || Instant::now() >= limit {
                return Err(worker.stuck(started.elapsed()));
            }
            (last, last_change) = (now, Instant::now());
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_barrier_releases_when_all_arrive_and_times_out_when_not() {
        let barrier = Arc::new(Barrier::new(2));
        let other = Arc::clone(&barrier);
        let worker = spawn("other", move || other.wait(Duration::from_secs(10)));
        assert!(barrier.wait(Duration::from_secs(10)));
        assert!(
            worker
                .join_by(Instant::now() + Duration::from_secs(10))
                .unwrap()
        );
        let alone = Barrier::new(2);
        assert!(!alone.wait(Duration::from_millis(20)));
    }

    #[test]
    fn a_stuck_worker_is_named() {
        let latch = Arc::new(Latch::new());
        let held = Arc::clone(&latch);
        let worker = spawn("waiter", move || held.wait(Duration::from_secs(30)));
        let stuck = join_all(vec![worker], Duration::from_millis(20)).unwrap_err();
        assert_eq!(stuck.name, "waiter");
        latch.open();
    }
}
