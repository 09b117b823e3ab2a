//! Lesson 03: the stress test.
//!
//! Your task: write the stress test itself, in six steps that end in `todo!()`:
//! `plan`, `perform`, `run_threads`, `check_reads`, `run_stress` and `Display` for
//! `StressReport`. The store trait, the configuration, the report types and the
//! helpers are given. The book's chapter "Lesson 03: the stress test" walks through
//! every step; `just stress` (or `cargo run` in this folder) runs your test on
//! lesson 02's store, and `just check lesson03` grades it by what it catches.
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
/// Step 1. The operations of thread `thread`, drawn from the seed.
///
/// - Make one generator for this thread with `StdRng::seed_from_u64`, from
///   `config.seed` *and* `thread` (mix them, for example `config.seed ^ (thread as
///   u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)`), so that the same seed gives
///   the same operations and each thread gets its own. Never `rand::rng()`.
/// - Return `config.ops_per_thread` commands. Each picks its key with
///   `key(rng.random_range(0..config.keys))`.
/// - A reader (`!config.is_writer(thread)`) only GETs. A writer DELs one time in
///   four and SETs otherwise, with a value no other write uses: for operation `i`,
///   `format!("{}.{i}", config.thread_name(thread))`.
///
/// Book: "Step 1: plan each thread's operations from the seed".
pub fn plan(config: &StressConfig, thread: usize) -> Vec<Command> {
    todo!("step 1: plan")
}
// ANCHOR_END: plan

// ANCHOR: perform
/// Step 2. Runs one thread's plan against the store, in order, and returns every
/// response, in the same order: `Command::Get { key }` is `store.get(key)`, and so
/// on. Book: "Step 2: perform a plan".
pub fn perform(store: &dyn KvStore, plan: &[Command]) -> Vec<Response> {
    todo!("step 2: perform")
}
// ANCHOR_END: perform

// ANCHOR: run_threads
/// Step 3. Runs every plan on a thread of its own, all at once, and waits for them
/// until the configured deadline: one result per thread, `Err` saying why for a
/// thread that panicked or did not finish.
///
/// - Start *every* thread before waiting for any (name thread `t` with
///   `config.thread_name(t)` through `thread::Builder`). Each first waits at a
///   `Barrier` for all the threads (a starting gate: otherwise the first threads
///   may be done before the last ones start), then runs `perform` inside
///   `panic::catch_unwind`, then sends `(t, outcome)` on an `mpsc` channel.
/// - Do not keep the `JoinHandle`s: `join` cannot give up. Receive the outcomes with
///   `recv_timeout`, against one deadline `config.deadline` from now.
/// - A panicked thread's result is `Err(format!("panicked: {message}"))` (see
///   [`panic_message`]); a thread that did not send in time gets
///   `Err(format!("did not finish within {:?}", config.deadline))`.
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
/// `plans[t]` is what thread `t` did and `seen[t]` what it got back, in order.
/// 1. Every value a reader saw was written by some acknowledged write: collect the
///    `(key, version, value)` of every SET answered `Stored`; every GET answered
///    `Value` must match one. Otherwise fail with
///    `"{reader} read {key} = {value:?} at v{version}, which no write produced"`.
/// 2. No reader saw a key's version go down: remember, per reader and per key, the
///    last version read. Otherwise fail with
///    `"{reader} read {key} at v{last}, then at v{version}: its version went back"`.
///
/// `{reader}` is `config.thread_name(t)`. Book: "Step 4: check what the readers saw".
pub fn check_reads(config: &StressConfig, plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Check {
    todo!("step 4: check_reads")
}
// ANCHOR_END: check_reads

// ANCHOR: run_stress
/// Step 5. The stress test: plan, run, and check everything that can be checked.
///
/// - Plan every thread (`plan(config, t)` for `t` in `0..config.threads()`), then
///   time `run_threads` with `Instant::now()`.
/// - `operations` counts the responses of the threads that finished.
/// - If a thread failed, `finished` is `Check::Fail("{thread name} {why}")` for the
///   first one, and `invariants` and `reads` are both
///   `Check::Skipped("not every thread finished")`: a stuck thread may hold the
///   store's lock, so do not call the store again.
/// - Otherwise `finished` passes, `invariants` is the store's `check_invariants`
///   (`Check::Fail(violation.to_string())` on an error), and `reads` is
///   `check_reads`.
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

/// Step 6. The report, one line per fact, in this order:
///
/// ```text
/// 8 threads, 8000 operations total
/// threads finished: PASS
/// invariants: PASS
/// reads consistent: PASS
/// time: 12.345ms
/// ```
///
/// Each check prints as `Check`'s `Display` does (`PASS`, `FAIL (why)`,
/// `SKIPPED (why)`). The time is `elapsed` printed with `{:?}`; no newline after
/// the last line. Book: "Step 6: print the report".
impl fmt::Display for StressReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("step 6: Display for StressReport")
    }
}
// ANCHOR_END: display
