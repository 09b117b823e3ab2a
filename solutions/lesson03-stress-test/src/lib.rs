//! Lesson 03: the stress test.
//!
//! Writer and reader threads hammer one store with operations drawn from a seed;
//! afterwards the test checks that every thread finished, that the store's
//! invariants hold, and that what the readers saw is consistent with what the
//! writers did. The test is judged by what it catches: it must pass on a correct
//! store and fail on broken ones.

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
pub fn plan(config: &StressConfig, thread: usize) -> Vec<Command> {
    // One generator per thread, seeded from the run's seed and the thread's number:
    // a thread's operations depend on nothing else, not on the other threads, and
    // not on how the scheduler interleaves them.
    let stream = (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = StdRng::seed_from_u64(config.seed ^ stream);
    (0..config.ops_per_thread)
        .map(|i| {
            let key = key(rng.random_range(0..config.keys));
            if !config.is_writer(thread) {
                Command::Get { key }
            } else if rng.random_range(0..4) == 0 {
                Command::Del { key }
            } else {
                // A value no other write uses: a reader's value names its write.
                let value = format!("{}.{i}", config.thread_name(thread));
                Command::Set { key, value }
            }
        })
        .collect()
}
// ANCHOR_END: plan

// ANCHOR: perform
/// Step 2. Runs one thread's plan against the store, in order, and returns every
/// response.
pub fn perform(store: &dyn KvStore, plan: &[Command]) -> Vec<Response> {
    plan.iter()
        .map(|command| match command {
            Command::Get { key } => store.get(key),
            Command::Set { key, value } => store.set(key, value),
            Command::Del { key } => store.del(key),
        })
        .collect()
}
// ANCHOR_END: perform

// ANCHOR: run_threads
/// Step 3. Runs every plan on a thread of its own, all at once, and waits for them
/// until the configured deadline: one result per thread, `Err` saying why for a
/// thread that panicked or did not finish.
pub fn run_threads(
    store: Arc<dyn KvStore>,
    config: &StressConfig,
    plans: Vec<Vec<Command>>,
) -> Vec<Result<Vec<Response>, String>> {
    let (done, finished) = mpsc::channel();
    let threads = plans.len();
    // A starting gate: starting a thread takes longer than a thousand operations,
    // so without it the first threads could be done before the last ones start,
    // and the store would never see two threads at once.
    let gate = Arc::new(Barrier::new(threads));
    for (thread, plan) in plans.into_iter().enumerate() {
        let (store, done, gate) = (Arc::clone(&store), done.clone(), Arc::clone(&gate));
        // Detached on purpose: a thread stuck in the store can never be stopped,
        // only left behind, so nothing here may wait for it without a deadline.
        thread::Builder::new()
            .name(config.thread_name(thread))
            .spawn(move || {
                gate.wait();
                // A panic is an answer too: catch it and send it, so that the
                // test reports it instead of dying of it.
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| perform(&*store, &plan)));
                let _ = done.send((thread, outcome.map_err(|panic| panic_message(&*panic))));
            })
            .expect("the system can start a thread");
    }
    let deadline = config.deadline;
    let mut results: Vec<Result<Vec<Response>, String>> =
        vec![Err(format!("did not finish within {deadline:?}")); threads];
    // One deadline for all threads, not one each: the test always ends.
    let give_up = Instant::now() + deadline;
    for _ in 0..threads {
        match finished.recv_timeout(give_up.saturating_duration_since(Instant::now())) {
            Ok((thread, outcome)) => {
                results[thread] = outcome.map_err(|message| format!("panicked: {message}"));
            }
            Err(_) => break,
        }
    }
    results
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
/// 1. Every value a reader saw was written by some acknowledged write: the same
///    key, the same version, the same value.
/// 2. No reader saw a key's version go down.
pub fn check_reads(config: &StressConfig, plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Check {
    let mut written: HashSet<(&str, u64, &str)> = HashSet::new();
    for (plan, responses) in plans.iter().zip(seen) {
        for (command, response) in plan.iter().zip(responses) {
            if let (Command::Set { key, value }, Response::Stored { version, .. }) =
                (command, response)
            {
                written.insert((key, *version, value));
            }
        }
    }
    for (thread, (plan, responses)) in plans.iter().zip(seen).enumerate() {
        let mut newest: BTreeMap<&str, u64> = BTreeMap::new();
        for (command, response) in plan.iter().zip(responses) {
            let (Command::Get { key }, Response::Value { value, version }) = (command, response)
            else {
                continue;
            };
            let reader = config.thread_name(thread);
            if !written.contains(&(key.as_str(), *version, value.as_str())) {
                return Check::Fail(format!(
                    "{reader} read {key} = {value:?} at v{version}, which no write produced"
                ));
            }
            let last = newest.entry(key).or_insert(*version);
            if *version < *last {
                return Check::Fail(format!(
                    "{reader} read {key} at v{last}, then at v{version}: its version went back"
                ));
            }
            *last = *version;
        }
    }
    Check::Pass
}
// ANCHOR_END: check_reads

// ANCHOR: run_stress
/// Step 5. The stress test: plan, run, and check everything that can be checked.
pub fn run_stress(store: Arc<dyn KvStore>, config: &StressConfig) -> StressReport {
    let plans: Vec<Vec<Command>> = (0..config.threads()).map(|t| plan(config, t)).collect();
    let started = Instant::now();
    let results = run_threads(Arc::clone(&store), config, plans.clone());
    let elapsed = started.elapsed();

    let operations = results.iter().flatten().map(Vec::len).sum();
    let trouble = results.iter().enumerate().find_map(|(t, result)| {
        result
            .as_ref()
            .err()
            .map(|why| format!("{} {why}", config.thread_name(t)))
    });
    let (finished, invariants, reads) = match trouble {
        // A stuck thread may hold the store's lock: asking the store anything now
        // could wait forever, so the other checks do not run.
        Some(why) => {
            let skipped = || Check::Skipped("not every thread finished".into());
            (Check::Fail(why), skipped(), skipped())
        }
        None => {
            let seen: Vec<Vec<Response>> = results.into_iter().flatten().collect();
            let invariants = match store.check_invariants() {
                Ok(()) => Check::Pass,
                Err(violation) => Check::Fail(violation.to_string()),
            };
            (Check::Pass, invariants, check_reads(config, &plans, &seen))
        }
    };
    StressReport {
        threads: config.threads(),
        operations,
        finished,
        invariants,
        reads,
        elapsed,
    }
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

/// Step 6. The report, one line per fact.
impl fmt::Display for StressReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} threads, {} operations total",
            self.threads, self.operations
        )?;
        writeln!(f, "threads finished: {}", self.finished)?;
        writeln!(f, "invariants: {}", self.invariants)?;
        writeln!(f, "reads consistent: {}", self.reads)?;
        write!(f, "time: {:?}", self.elapsed)
    }
}
// ANCHOR_END: display

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correct_store_passes_with_the_default_configuration() {
        let config = StressConfig {
            seed: 7,
            ..StressConfig::default()
        };
        let report = run_stress(Arc::new(ConcurrentStore::new()), &config);
        assert!(report.passed(), "{report}");
        assert_eq!((report.threads, report.operations), (8, 8000));
    }

    #[test]
    fn the_same_seed_gives_the_same_plans() {
        let config = StressConfig::default();
        let other = StressConfig {
            seed: 1,
            ..config.clone()
        };
        assert_eq!(plan(&config, 2), plan(&config, 2));
        assert_ne!(plan(&config, 2), plan(&config, 3));
        assert_ne!(plan(&config, 2), plan(&other, 2));
    }

    #[test]
    fn a_value_no_write_produced_is_named() {
        let config = StressConfig {
            writers: 1,
            readers: 1,
            ..StressConfig::default()
        };
        let plans = vec![vec![Command::set("k0", "a")], vec![Command::get("k0")]];
        let seen = vec![
            vec![Response::Stored { version: 1, seq: 1 }],
            vec![Response::Value {
                value: "a".into(),
                version: 2,
            }],
        ];
        let check = check_reads(&config, &plans, &seen);
        assert_eq!(
            check,
            Check::Fail("reader-1 read k0 = \"a\" at v2, which no write produced".into())
        );
    }
}
