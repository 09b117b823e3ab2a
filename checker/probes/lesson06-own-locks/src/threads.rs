//! Threads the criteria start and watch: each catches its own panic as evidence,
//! and can be seen finished, or waiting on a condition variable, without sleeping
//! and hoping.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kvlab_sync::probe_hooks;
use probe_kit::Failure;
use probe_kit::sync::Latch;

/// How often a watch looks again.
const POLL: Duration = Duration::from_millis(1);

/// A thread of the probe's, running learner code.
pub struct Task<T> {
    name: String,
    doing: String,
    done: Arc<Latch>,
    handle: JoinHandle<Result<T, String>>,
}

impl<T: Send + 'static> Task<T> {
    pub fn start(name: &str, doing: &str, f: impl FnOnce() -> T + Send + 'static) -> Task<T> {
        let done = Arc::new(Latch::new());
        let finished = Arc::clone(&done);
        let handle = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = caught(f);
                finished.open();
                result
            })
            .expect("the probe can start a thread");
        Task {
            name: name.to_owned(),
            doing: doing.to_owned(),
            done,
            handle,
        }
    }

    pub fn is_done(&self) -> bool {
        self.done.is_open()
    }

    /// The result, once the thread is done; a hang if it is not done `within`.
    pub fn join(self, within: Duration) -> Result<T, Failure> {
        if !self.done.wait(within) {
            return Err(Failure::new(
                format!("`{}` finishes {}", self.name, self.doing),
                format!(
                    "still waiting after {within:.0?}: `{}` in {}",
                    self.name, self.doing
                ),
            )
            .stuck());
        }
        let result = self
            .handle
            .join()
            .unwrap_or_else(|_| Err("panicked".into()));
        result.map_err(|message| {
            Failure::new(
                format!("`{}` finishes {}", self.name, self.doing),
                format!("it panicked: {message}"),
            )
        })
    }
}

/// What a watched thread did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Finished,
    /// As many threads as asked for were waiting on a condition variable.
    Waiting,
    /// Neither, within the time given: spinning, sleeping, or stuck elsewhere.
    Neither,
}

/// Waits until `task` is done, or `waiters` threads wait on a condition variable.
pub fn finished_or_waiting<T>(task: &Task<T>, waiters: usize, within: Duration) -> Seen {
    let deadline = Instant::now() + within;
    loop {
        if task.done.is_open() {
            return Seen::Finished;
        }
        if probe_hooks::waiting() >= waiters {
            return Seen::Waiting;
        }
        if Instant::now() >= deadline {
            return Seen::Neither;
        }
        thread::sleep(POLL);
    }
}

/// Runs `f`, turning its panic into the panic's message. A `todo!()` is left for the
/// harness to report as "not implemented yet"; any other panic is evidence, so the
/// harness is not told of it as well.
pub fn caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        probe_kit::forget_recorded_panic();
        panic_text(payload.as_ref())
    })
}

pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with no message".to_owned()
    }
}
