//! Lesson 03: the stress test.
//!
//! Your task: write the stress test itself, in six steps that end in `todo!()`:
//! `plan`, `perform`, `run_threads`, `check_reads`, `run_stress` and `Display` for
//! `StressReport`. The store trait, the configuration, the report types and the
//! helpers are given. The book's chapter "Lesson 03: the stress test" walks through
//! every step; `just stress` (or `cargo run` in this folder) runs your test on
//! lesson 02's store, and `just check lesson03` grades it by what it catches.
//!
//! Each doc comment below is a contract: what the function must do, what must stay
//! true and what the report must say. How to get there is yours to work out; `just
//! hint lesson03` gives one hint at a time when you are stuck, each closer to the code.
//!
//! Writer and reader threads hammer one store with operations drawn from a seed;
//! afterwards the test checks that every thread finished, that the store's
//! invariants hold, and that what the readers saw is consistent with what the
//! writers did. The test is judged by what it catches: it must pass on a correct
//! store and fail on broken ones.

// The stubs below ignore their arguments until you write them; without this line the
// compiler's warnings about them would bury the errors that matter.
#![allow(unused_variables, unused_imports)]

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

pub use rwlock::{Command, ConcurrentStore, Entry, Response, StateMachine, Store, Violation};

// ANCHOR: kv_store
/// The store under test, as the stress test sees it: shared by threads, answering
/// the three commands, and able to check its own invariants.
pub trait KvStore: Send + Sync {
    fn get(&self, key: &str) -> Response;
    fn set(&self, key: &str, value: &str) -> Response;
    fn del(&self, key: &str) -> Response;
    fn check_invariants(&self) -> Result<(), Violation>;
}
// ANCHOR_END: kv_store

/// Lesson 02's store is one. (The checker brings broken ones.)
impl<M: StateMachine + Send + Sync> KvStore for ConcurrentStore<M> {
    fn get(&self, key: &str) -> Response {
        ConcurrentStore::get(self, key)
    }

    fn set(&self, key: &str, value: &str) -> Response {
        ConcurrentStore::set(self, key, value)
    }

    fn del(&self, key: &str) -> Response {
        ConcurrentStore::del(self, key)
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        ConcurrentStore::check_invariants(self)
    }
}

// ANCHOR: config
/// How hard to hammer, and with which seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StressConfig {
    /// Threads that SET and DEL; they are threads `0..writers`.
    pub writers: usize,
    /// Threads that GET; they are threads `writers..writers + readers`.
    pub readers: usize,
    pub ops_per_thread: usize,
    /// Operations pick their key among `k0`, `k1`, ..., `k{keys - 1}`.
    pub keys: usize,
    /// Every random choice comes from it: the same seed, the same operations.
    pub seed: u64,
    /// How long the threads may take before the test gives up on them and
    /// reports a hang instead of waiting forever.
    pub deadline: Duration,
}

impl Default for StressConfig {
    fn default() -> Self {
        StressConfig {
            writers: 4,
            readers: 4,
            ops_per_thread: 1000,
            keys: 8,
            seed: 0,
            deadline: Duration::from_secs(10),
        }
    }
}
// ANCHOR_END: config

impl StressConfig {
    pub fn threads(&self) -> usize {
        self.writers + self.readers
    }

    pub fn is_writer(&self, thread: usize) -> bool {
        thread < self.writers
    }

    /// `writer-2` or `reader-5`: threads are numbered across both kinds.
    pub fn thread_name(&self, thread: usize) -> String {
        let kind = if self.is_writer(thread) {
            "writer"
        } else {
            "reader"
        };
        format!("{kind}-{thread}")
    }
}

/// The name of key number `n`.
pub fn key(n: usize) -> String {
    format!("k{n}")
}

// ANCHOR: report
/// The outcome of one check of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Pass,
    /// The check failed; the text says what was seen.
    Fail(String),
    /// The check could not run; the text says why.
    Skipped(String),
}

/// What one run of the stress test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StressReport {
    pub threads: usize,
    /// Operations completed by the threads that finished.
    pub operations: usize,
    /// Every thread finished before the deadline, and none panicked.
    pub finished: Check,
    /// The store's invariants hold once every thread is done.
    pub invariants: Check,
    /// What the readers saw is consistent with what the writers did.
    pub reads: Check,
    pub elapsed: Duration,
}
// ANCHOR_END: report

impl StressReport {
    /// The verdict: every check passed.
    pub fn passed(&self) -> bool {
        [&self.finished, &self.invariants, &self.reads]
            .iter()
            .all(|check| **check == Check::Pass)
    }
}

// ANCHOR: plan
/// Step 1. The operations thread `thread` will perform, decided by the seed alone.
///
/// - Replayable: the same `config` and `thread` give the same operations on every
///   call and in every run, whatever the other threads or the scheduler do.
/// - Each thread gets operations of its own, and every bit of the seed counts:
///   another seed gives every thread other operations.
/// - Exactly `config.ops_per_thread` commands, each on a key drawn at random among
///   `key(0)` to `key(config.keys - 1)`, so that over a run every key is used.
/// - A reader only GETs. A writer only SETs and DELs, about one DEL in four.
/// - Every SET of the whole run writes a value no other SET writes (naming the
///   thread and the operation's place in its plan, say), so that a value a reader
///   sees names the one write that produced it.
///
/// Book: "Step 1: plan each thread's operations from the seed".
pub fn plan(config: &StressConfig, thread: usize) -> Vec<Command> {
    todo!("step 1: plan")
}
// ANCHOR_END: plan

// ANCHOR: perform
/// Step 2. Performs `plan` on `store` from the calling thread: each command, in plan
/// order, through the store operation of the same kind with the command's own key
/// (and value), and nothing else. Returns one response per command, in the same
/// order, each exactly as the store gave it. Book: "Step 2: perform a plan".
pub fn perform(store: &dyn KvStore, plan: &[Command]) -> Vec<Response> {
    todo!("step 2: perform")
}
// ANCHOR_END: perform

// ANCHOR: run_threads
/// Step 3. Performs `plans[t]` on a thread of its own for every `t`, all at the same
/// time, and returns one result per plan, in plan order: `Ok` with what that
/// thread's [`perform`] returned, or `Err` saying why there is none.
///
/// - Thread `t` is named `config.thread_name(t)`, and calls the store directly: the
///   test adds no lock of its own around the calls.
/// - The threads really overlap: none begins its operations before all of them
///   exist, so the first cannot be done before the last has started.
/// - It always returns, about `config.deadline` after it was called at the latest,
///   whatever the store does: one deadline for the whole run (not one per thread),
///   and a thread stuck in the store is left behind, never waited for past it.
/// - Before the deadline it returns only once every thread has reported its
///   outcome, and as soon as they all have: a thread whose result is `Ok` is done
///   with the store, and only a thread that is stuck makes it wait for the deadline.
/// - A thread's panic never reaches the caller. That thread's result is
///   `Err("panicked: {message}")`, the message as [`panic_message`] gives it; a
///   thread with no outcome by the deadline gets `Err("did not finish within
///   {deadline:?}")`, the deadline printed as `Duration`'s `Debug` prints it.
///
/// Book: "Step 3: run the threads, with a deadline".
pub fn run_threads(
    store: Arc<dyn KvStore>,
    config: &StressConfig,
    plans: Vec<Vec<Command>>,
) -> Vec<Result<Vec<Response>, String>> {
    todo!("step 3: run_threads")
}
// ANCHOR_END: run_threads

/// The text of a panic's payload, as `panic!` and `expect` give it.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(text), _) => (*text).to_owned(),
        (_, Some(text)) => text.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

// ANCHOR: check_reads
/// Step 4. Is what the readers saw consistent with what the writers did?
///
/// `plans[t]` is what thread `t` did and `seen[t]` what it got back, in order. The
/// answer is `Check::Pass` exactly when both rules hold, and otherwise `Check::Fail`
/// naming the first broken read (never `Skipped`: this check can always run):
///
/// 1. Every value a reader saw was written: for each GET answered `Value`, some SET
///    of that same key with that same value was answered `Stored` at that same
///    version. Otherwise the text is
///    `"{reader} read {key} = {value:?} at v{version}, which no write produced"`.
/// 2. No reader saw a key's version go down: within one reader's own reads, in its
///    order, the versions it read of one key never decrease. Otherwise the text is
///    `"{reader} read {key} at v{last}, then at v{version}: its version went back"`.
///
/// A correct store must pass. A read may show any version that was current at some
/// moment during the GET, not only the newest; reading a version twice is fine; a
/// DEL takes a version too, so a key's versions have gaps; and an answer with no
/// version (`NotFound`) says nothing about versions. `{reader}` is
/// `config.thread_name(t)`. Book: "Step 4: check what the readers saw".
pub fn check_reads(config: &StressConfig, plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Check {
    todo!("step 4: check_reads")
}
// ANCHOR_END: check_reads

// ANCHOR: run_stress
/// Step 5. The stress test: every thread performs [`plan`]`(config, t)` through
/// [`run_threads`], and the report says what can be known about the run.
///
/// - `threads` counts every thread of the run, writers and readers; `operations`
///   the responses of the threads that finished; `elapsed` how long the threads ran.
/// - `finished` is `Pass` when every thread finished, and otherwise
///   `Fail("{thread name} {why}")` for the first thread, in thread order, that did
///   not, with the reason its result gives.
/// - When a thread did not finish, the store is not called again (a stuck thread
///   may hold its lock, and any call could wait forever): `invariants` and `reads`
///   are both `Skipped("not every thread finished")`.
/// - Otherwise `invariants` is the store's own verdict, asked once every thread is
///   done (`Fail` with the violation's text on an error), and `reads` is what
///   [`check_reads`] says of the plans and of what the threads got back.
///
/// Book: "Step 5: put it together".
pub fn run_stress(store: Arc<dyn KvStore>, config: &StressConfig) -> StressReport {
    todo!("step 5: run_stress")
}
// ANCHOR_END: run_stress

// ANCHOR: display
impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Pass => write!(f, "PASS"),
            Check::Fail(why) => write!(f, "FAIL ({why})"),
            Check::Skipped(why) => write!(f, "SKIPPED ({why})"),
        }
    }
}

/// Step 6. The report as five lines, one per fact, exactly in this shape and order:
///
/// ```text
/// 8 threads, 8000 operations total
/// threads finished: PASS
/// invariants: PASS
/// reads consistent: PASS
/// time: 12.345ms
/// ```
///
/// Each check reads as `Check`'s `Display` shows it (`PASS`, `FAIL (why)`,
/// `SKIPPED (why)`), the time as `Duration`'s `Debug` shows `elapsed`. No newline
/// follows the last line. Book: "Step 6: print the report".
impl fmt::Display for StressReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("step 6: Display for StressReport")
    }
}
// ANCHOR_END: display
