//! For the checker's probes only (the checker refuses a learner crate that names
//! this module): run a model, note the probe's own steps, read a failing timeline.

use std::cell::Cell;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::events;
pub use crate::events::{Event, Step};
/// The model's threads: spawn these inside [`model`], not std's.
pub use loom::thread;

thread_local! {
    // The model checker runs every thread of a model on the OS thread that called
    // `model`, so a thread-local says "in a model" to all of them, and to nobody
    // else (two models may run side by side in two test threads).
    static IN_MODEL: Cell<bool> = const { Cell::new(false) };
}

/// Threads inside a `Condvar::wait` now (outside a model).
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// How many threads are waiting on a condition variable now: how a probe knows a
/// thread is blocked, not merely slow.
pub fn waiting() -> usize {
    WAITING.load(Ordering::SeqCst)
}

/// Counts a thread as waiting from `begin` until dropped.
pub(crate) struct Waiting;

impl Waiting {
    pub(crate) fn begin() -> Waiting {
        WAITING.fetch_add(1, Ordering::SeqCst);
        Waiting
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether locks created now are the model checker's.
pub fn in_model() -> bool {
    IN_MODEL.get()
}

/// How far the model checker looks.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// How many times a thread may be preempted (switched away from while it could
    /// go on) in one interleaving. Most concurrency bugs need only two or three.
    pub preemptions: usize,
    /// How many steps one interleaving may take: a thread that spins without end
    /// runs into it.
    pub max_branches: usize,
}

/// What a model run found.
#[derive(Debug)]
pub enum Outcome {
    /// Every interleaving within the bounds ran without a failure.
    AllPassed { interleavings: usize },
    /// One did not: what went wrong, and every step up to it.
    Failed {
        interleaving: usize,
        message: String,
        timeline: Vec<Event>,
    },
}

/// Runs `body` in every interleaving of its threads (loom's threads, spawned inside
/// it) within `bounds`. A panic in any thread, and a state in which every thread
/// waits (a deadlock or a lost wake-up), ends the run with that interleaving.
/// The bounds are set here, whatever the environment says.
pub fn model(bounds: Bounds, body: impl Fn() + Send + Sync + 'static) -> Outcome {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bounds.preemptions);
    builder.max_branches = bounds.max_branches;
    builder.max_permutations = None;
    builder.max_duration = None;
    builder.checkpoint_file = None;
    builder.log = false;
    builder.location = false;
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    IN_MODEL.set(true);
    let ran = panic::catch_unwind(AssertUnwindSafe(|| {
        builder.check(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            events::reset();
            body();
        })
    }));
    IN_MODEL.set(false);
    let interleavings = count.load(Ordering::Relaxed);
    match ran {
        Ok(()) => {
            events::reset();
            Outcome::AllPassed { interleavings }
        }
        Err(payload) => Outcome::Failed {
            interleaving: interleavings,
            message: panic_message(payload.as_ref()),
            timeline: events::take(),
        },
    }
}

/// Notes a step of the probe's own in the current interleaving's timeline.
pub fn note(text: impl Into<String>) {
    if in_model() {
        events::note(Step::Note(text.into()));
    }
}

/// The timeline as numbered lines, one thread per column of names:
/// `  3  consumer-1  waits on condvar 1 (mutex 1 let go)`.
pub fn render(timeline: &[Event]) -> String {
    let width = timeline.iter().map(|e| e.thread.len()).max().unwrap_or(0);
    let digits = timeline.len().to_string().len();
    let mut out = String::new();
    for (n, event) in timeline.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>digits$}  {:<width$}  {}",
            n + 1,
            event.thread,
            event.step
        );
    }
    out
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with no message".to_owned()
    }
}
