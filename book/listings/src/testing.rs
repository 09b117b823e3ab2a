//! Helpers the tests share: deadlines instead of sleeps.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a test waits for something that must happen before calling it a
/// hang. Generous on purpose: it is a deadline for a bug, not a performance
/// threshold, and a correct run never comes near it.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `condition` until it holds, failing the test with `what` if the
/// deadline passes first. Used to wait until another thread has *reached* a
/// known state (say, is registered as a waiter), never to hope it has.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting until {what}");
        thread::yield_now();
    }
}

/// Runs `work` on its own thread and returns its result, failing the test
/// (rather than hanging it) if the work does not finish before the deadline:
/// a deadlock becomes a readable failure.
pub fn finishes<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        // The receiver is gone only if the test already failed.
        let _ = done.send(work());
    });
    match result.recv_timeout(DEADLINE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {DEADLINE:?}, deadlocked?")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the worker panicked"),
    }
}

/// Runs `test` under loom in every interleaving it explores and reports how
/// many executions that was. `preemption_bound` caps the forced thread
/// switches per execution (`None`: loom's default, from
/// `LOOM_MAX_PREEMPTIONS` if set, else unbounded).
#[cfg(loom)]
pub fn explore(
    name: &str,
    preemption_bound: Option<usize>,
    test: impl Fn() + Sync + Send + 'static,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let executions = Arc::new(AtomicUsize::new(0));
    let mut builder = loom::model::Builder::new();
    if preemption_bound.is_some() {
        builder.preemption_bound = preemption_bound;
    }
    let counted = Arc::clone(&executions);
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        test();
    });
    eprintln!(
        "loom: {name}: {} executions, all passed",
        executions.load(Ordering::Relaxed)
    );
}

/// Runs `test` under loom in every execution it explores, collects what each
/// execution returned, prints the set with the number of executions, and
/// returns the set: the outcomes loom finds for this code, which are the ones
/// the memory model allows except where loom's documented gaps differ
/// (`SeqCst` accesses treated as `AcqRel`, some load buffering not explored).
#[cfg(loom)]
pub fn outcomes<T>(
    name: &str,
    test: impl Fn() -> T + Sync + Send + 'static,
) -> std::collections::BTreeSet<T>
where
    T: Ord + std::fmt::Debug + Send + 'static,
{
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    let seen = Arc::new(Mutex::new((0usize, BTreeSet::new())));
    let record = Arc::clone(&seen);
    loom::model(move || {
        let outcome = test();
        let mut seen = record.lock().unwrap();
        seen.0 += 1;
        seen.1.insert(outcome);
    });
    let (executions, outcomes) = std::mem::take(&mut *seen.lock().unwrap());
    eprintln!("loom: {name}: {executions} executions, outcomes {outcomes:?}");
    outcomes
}
