//! Correct stress tests written differently from the reference: every criterion
//! must accept each of them, which shows that the criteria grade what a test
//! catches and why, not the reference's way of catching it.
//!
//! - [`Supervised`]: its own seeding (a SplitMix64 mix of seed and thread) and
//!   value format; scoped worker threads, run inside a supervisor thread of their
//!   own so that the waiting thread can give up on them (a scope joins its threads
//!   when it ends, deadline or not); a read check keyed by `(key, version)` with
//!   the last versions kept per key number; its own wording of every failure.
//! - [`Polled`]: workers spawned with their `JoinHandle`s kept and no
//!   `catch_unwind`: the waiting thread polls `is_finished` until the deadline and
//!   joins only the finished ones, reading a panic from what `join` returns; a read
//!   check over sorted triples.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use probe_kit::Variant;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reference::{Check, Command, KvStore, Response, StressConfig, StressReport, Violation};

use crate::Subject;

pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "supervised-scoped-threads",
        make: || crate::probe(Supervised),
    },
    Variant {
        name: "polled-join-handles",
        make: || crate::probe(Polled),
    },
];

type Outcome = Result<Vec<Response>, String>;

/// A read check, as each variant writes its own.
type CheckReads = fn(&StressConfig, &[Vec<Command>], &[Vec<Response>]) -> Check;

/// What both variants do once the threads are done: count, check, report.
fn report(
    store: &dyn KvStore,
    config: &StressConfig,
    plans: &[Vec<Command>],
    outcomes: Vec<Outcome>,
    elapsed: Duration,
    check_reads: CheckReads,
) -> StressReport {
    let mut operations = 0;
    let mut first_trouble = None;
    let mut seen = Vec::with_capacity(outcomes.len());
    for (thread, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(responses) => {
                operations += responses.len();
                seen.push(responses);
            }
            Err(why) => {
                first_trouble.get_or_insert(format!("{} {why}", config.thread_name(thread)));
                seen.push(Vec::new());
            }
        }
    }
    let (finished, invariants, reads) = match first_trouble {
        Some(why) => (
            Check::Fail(why),
            Check::Skipped("not every thread finished".into()),
            Check::Skipped("not every thread finished".into()),
        ),
        None => {
            let invariants = store
                .check_invariants()
                .map_or_else(|v: Violation| Check::Fail(v.to_string()), |()| Check::Pass);
            (Check::Pass, invariants, check_reads(config, plans, &seen))
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

fn run_plan(store: &dyn KvStore, plan: &[Command]) -> Vec<Response> {
    let mut responses = Vec::with_capacity(plan.len());
    for command in plan {
        responses.push(match command {
            Command::Get { key } => store.get(key),
            Command::Set { key, value } => store.set(key, value),
            Command::Del { key } => store.del(key),
        });
    }
    responses
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "no message".to_owned()
    }
}

/// The report, one fact per line, written line by line.
fn display(report: &StressReport) -> String {
    let lines = [
        format!(
            "{} threads, {} operations total",
            report.threads, report.operations
        ),
        format!("threads finished: {}", report.finished),
        format!("invariants: {}", report.invariants),
        format!("reads consistent: {}", report.reads),
        format!("time: {:?}", report.elapsed),
    ];
    lines.join("\n")
}

// ---------------------------------------------------------------------------
// Supervised

#[derive(Clone, Copy)]
pub struct Supervised;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn key_number(key: &str) -> usize {
    key.trim_start_matches('k').parse().unwrap_or(0)
}

fn supervised_reads(
    config: &StressConfig,
    plans: &[Vec<Command>],
    seen: &[Vec<Response>],
) -> Check {
    let mut acknowledged: HashMap<(&str, u64), &str> = HashMap::new();
    for (plan, responses) in plans.iter().zip(seen) {
        for (command, response) in plan.iter().zip(responses) {
            if let (Command::Set { key, value }, Response::Stored { version, .. }) =
                (command, response)
            {
                acknowledged.insert((key, *version), value);
            }
        }
    }
    for t in config.writers..config.threads().min(plans.len()) {
        let mut last = vec![0u64; config.keys.max(1)];
        for (n, (command, response)) in plans[t].iter().zip(&seen[t]).enumerate() {
            let (Command::Get { key }, Response::Value { value, version }) = (command, response)
            else {
                continue;
            };
            if acknowledged.get(&(key.as_str(), *version)) != Some(&value.as_str()) {
                return Check::Fail(format!(
                    "{}'s read number {} of {key} gave {value:?} at v{version}, a pair no \
                     SET was acknowledged with",
                    config.thread_name(t),
                    n + 1
                ));
            }
            let slot = &mut last[key_number(key).min(config.keys.max(1) - 1)];
            if *version < *slot {
                return Check::Fail(format!(
                    "{} saw {key} go back from v{} to v{version}",
                    config.thread_name(t),
                    *slot
                ));
            }
            *slot = *version;
        }
    }
    Check::Pass
}

impl Subject for Supervised {
    fn plan(&self, config: &StressConfig, thread: usize) -> Vec<Command> {
        let mut rng = StdRng::seed_from_u64(splitmix(config.seed ^ splitmix(thread as u64)));
        let writer = config.is_writer(thread);
        (0..config.ops_per_thread)
            .map(|i| {
                let key = format!("k{}", rng.random_range(0..config.keys));
                match (writer, rng.random_range(0..4)) {
                    (false, _) => Command::Get { key },
                    (true, 0) => Command::Del { key },
                    (true, _) => Command::Set {
                        key,
                        value: format!("w{thread}#{i}"),
                    },
                }
            })
            .collect()
    }

    fn check_reads(
        &self,
        config: &StressConfig,
        plans: &[Vec<Command>],
        seen: &[Vec<Response>],
    ) -> Check {
        supervised_reads(config, plans, seen)
    }

    fn run_stress(&self, store: Arc<dyn KvStore>, config: &StressConfig) -> StressReport {
        let plans: Vec<Vec<Command>> = (0..config.threads())
            .map(|t| self.plan(config, t))
            .collect();
        let started = Instant::now();
        let (sender, outcomes) = mpsc::channel::<(usize, Outcome)>();
        {
            let (store, plans, config) = (Arc::clone(&store), plans.clone(), config.clone());
            // The supervisor owns the scope; if a worker never returns, the scope
            // never ends, and only the supervisor is left waiting.
            thread::spawn(move || {
                let gate = Barrier::new(plans.len());
                thread::scope(|scope| {
                    for (t, plan) in plans.iter().enumerate() {
                        let (sender, gate, store) = (sender.clone(), &gate, &store);
                        thread::Builder::new()
                            .name(config.thread_name(t))
                            .spawn_scoped(scope, move || {
                                gate.wait();
                                let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                                    run_plan(&**store, plan)
                                }))
                                .map_err(|p| format!("panicked: {}", panic_text(&*p)));
                                let _ = sender.send((t, outcome));
                            })
                            .expect("a worker thread starts");
                    }
                });
            });
        }
        let deadline = started + config.deadline;
        let mut results: Vec<Outcome> =
            vec![Err(format!("did not finish within {:?}", config.deadline)); plans.len()];
        let mut received = 0;
        while received < plans.len() {
            let Ok((t, outcome)) =
                outcomes.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                break;
            };
            results[t] = outcome;
            received += 1;
        }
        let elapsed = started.elapsed();
        report(&*store, config, &plans, results, elapsed, supervised_reads)
    }

    fn render(&self, report: &StressReport) -> String {
        display(report)
    }
}

// ---------------------------------------------------------------------------
// Polled

#[derive(Clone, Copy)]
pub struct Polled;

fn polled_reads(config: &StressConfig, plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Check {
    let written: BTreeSet<(String, u64, String)> = plans
        .iter()
        .zip(seen)
        .flat_map(|(plan, responses)| plan.iter().zip(responses))
        .filter_map(|pair| match pair {
            (Command::Set { key, value }, Response::Stored { version, .. }) => {
                Some((key.clone(), *version, value.clone()))
            }
            _ => None,
        })
        .collect();
    for (t, (plan, responses)) in plans.iter().zip(seen).enumerate() {
        if config.is_writer(t) {
            continue;
        }
        let mut newest: HashMap<&str, u64> = HashMap::new();
        for pair in plan.iter().zip(responses) {
            if let (Command::Get { key }, Response::Value { value, version }) = pair {
                if !written.contains(&(key.clone(), *version, value.clone())) {
                    let mut why = String::new();
                    let _ = write!(
                        why,
                        "{}: {key}@v{version}={value:?} was never written",
                        config.thread_name(t)
                    );
                    return Check::Fail(why);
                }
                match newest.insert(key, *version) {
                    Some(before) if before > *version => {
                        return Check::Fail(format!(
                            "{}: {key} was at v{before}, then back at v{version}",
                            config.thread_name(t)
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    Check::Pass
}

impl Subject for Polled {
    fn plan(&self, config: &StressConfig, thread: usize) -> Vec<Command> {
        let seed =
            config.seed.rotate_left(17) ^ (thread as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut plan = Vec::with_capacity(config.ops_per_thread);
        for i in 0..config.ops_per_thread {
            let key = reference::key(rng.random_range(0..config.keys));
            let delete = rng.random_range(0..4) == 0;
            plan.push(if !config.is_writer(thread) {
                Command::get(&key)
            } else if delete {
                Command::del(&key)
            } else {
                Command::set(&key, &format!("t{thread}-op{i}"))
            });
        }
        plan
    }

    fn check_reads(
        &self,
        config: &StressConfig,
        plans: &[Vec<Command>],
        seen: &[Vec<Response>],
    ) -> Check {
        polled_reads(config, plans, seen)
    }

    fn run_stress(&self, store: Arc<dyn KvStore>, config: &StressConfig) -> StressReport {
        let plans: Vec<Vec<Command>> = (0..config.threads())
            .map(|t| self.plan(config, t))
            .collect();
        let started = Instant::now();
        let gate = Arc::new(Barrier::new(plans.len()));
        let mut handles: Vec<Option<thread::JoinHandle<Vec<Response>>>> = plans
            .iter()
            .cloned()
            .enumerate()
            .map(|(t, plan)| {
                let (store, gate) = (Arc::clone(&store), Arc::clone(&gate));
                let worker = thread::Builder::new().name(config.thread_name(t));
                Some(
                    worker
                        .spawn(move || {
                            gate.wait();
                            run_plan(&*store, &plan)
                        })
                        .expect("a thread starts"),
                )
            })
            .collect();
        let mut results: Vec<Outcome> =
            vec![Err(format!("did not finish within {:?}", config.deadline)); plans.len()];
        let deadline = started + config.deadline;
        loop {
            for (t, slot) in handles.iter_mut().enumerate() {
                if slot.as_ref().is_some_and(|h| h.is_finished()) {
                    let handle = slot.take().expect("checked above");
                    results[t] = handle
                        .join()
                        .map_err(|p| format!("panicked: {}", panic_text(&*p)));
                }
            }
            if handles.iter().all(Option::is_none) || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        // Whatever is still running is left behind, never joined.
        drop(handles);
        let elapsed = started.elapsed();
        report(&*store, config, &plans, results, elapsed, polled_reads)
    }

    fn render(&self, report: &StressReport) -> String {
        display(report)
    }
}
