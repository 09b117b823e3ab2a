//! Deliberately broken stress tests, one flaw each.
//!
//! In this lesson the learner's code is the test, so the fixtures are tests: the
//! reference stress test with one mistake a learner plausibly makes. The checker's
//! own tests assert that each is rejected by the criterion named next to it; for
//! the `catches-*` criteria that means the flawed test misses the planted bug its
//! missing check was there for.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use parking_lot::Mutex;
use probe_kit::{Fixture, Probe};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reference::{Check, Command, KvStore, Response, StressConfig, StressReport};

use crate::{criteria, Subject};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Draws the operations from an unseeded generator.
    UnseededPlan,
    /// All threads draw their operations at run time from one shared generator:
    /// seeded, but which thread gets which operation depends on timing.
    SharedGenerator,
    /// Also checks that each key's SETs got versions 1, 2, 3, ...: forgets that a
    /// DEL is a write too, and takes a version.
    SetsCountVersions,
    /// Counts the writers' threads and operations only.
    CountsWritersOnly,
    /// Prints `invariants: OK` instead of `invariants: PASS`.
    ReportSlip,
    /// Never calls `check_invariants`.
    NeverChecksInvariants,
    /// Runs one thread at a time: spawns it, waits for it, then the next.
    OneThreadAtATime,
    /// Never looks at what the readers saw.
    IgnoresReads,
    /// Checks that reads were written by someone, but not their order.
    ReadsUnordered,
    /// Joins its threads with `join().unwrap()`: a worker's panic becomes its own.
    LetsPanicsEscape,
    /// Joins its threads with `join()`, which has no deadline.
    WaitsForever,
}

pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "unseeded-plan",
        rejected_by: &criteria::PLAN_SEEDED,
        make: || broken(Flaw::UnseededPlan),
    },
    Fixture {
        name: "shared-generator",
        rejected_by: &criteria::PLAN_SEEDED,
        make: || broken(Flaw::SharedGenerator),
    },
    Fixture {
        name: "sets-count-versions",
        rejected_by: &criteria::PASSES_ON_CORRECT_STORE,
        make: || broken(Flaw::SetsCountVersions),
    },
    Fixture {
        name: "counts-writers-only",
        rejected_by: &criteria::PASSES_ON_CORRECT_STORE,
        make: || broken(Flaw::CountsWritersOnly),
    },
    Fixture {
        name: "report-slip",
        rejected_by: &criteria::REPORT_SHAPE,
        make: || broken(Flaw::ReportSlip),
    },
    Fixture {
        name: "never-checks-invariants",
        rejected_by: &criteria::CATCHES_LOST_UPDATE,
        make: || broken(Flaw::NeverChecksInvariants),
    },
    Fixture {
        name: "one-thread-at-a-time",
        rejected_by: &criteria::CATCHES_LOST_UPDATE,
        make: || broken(Flaw::OneThreadAtATime),
    },
    Fixture {
        name: "ignores-reads",
        rejected_by: &criteria::CATCHES_TORN_WRITE,
        make: || broken(Flaw::IgnoresReads),
    },
    Fixture {
        name: "reads-unordered",
        rejected_by: &criteria::CATCHES_VERSION_GOING_BACK,
        make: || broken(Flaw::ReadsUnordered),
    },
    Fixture {
        name: "lets-panics-escape",
        rejected_by: &criteria::CATCHES_PANIC,
        make: || broken(Flaw::LetsPanicsEscape),
    },
    Fixture {
        name: "waits-forever",
        rejected_by: &criteria::CATCHES_DEADLOCK,
        make: || broken(Flaw::WaitsForever),
    },
];

fn broken(flaw: Flaw) -> Box<dyn Probe> {
    crate::probe(Broken(flaw))
}

/// The reference stress test with one flaw.
#[derive(Clone, Copy)]
pub struct Broken(pub Flaw);

type Results = Vec<Result<Vec<Response>, String>>;

impl Broken {
    fn plans(&self, config: &StressConfig) -> Vec<Vec<Command>> {
        (0..config.threads())
            .map(|t| self.plan(config, t))
            .collect()
    }

    /// Runs the threads as the flaw dictates; the plans are what each thread did.
    fn run_threads(
        &self,
        store: &Arc<dyn KvStore>,
        config: &StressConfig,
    ) -> (Vec<Vec<Command>>, Results) {
        let plans = self.plans(config);
        let run = |store: &Arc<dyn KvStore>, plan: &Vec<Command>| {
            let (store, plan) = (Arc::clone(store), plan.clone());
            thread::spawn(move || reference::perform(&*store, &plan))
        };
        let results = match self.0 {
            Flaw::SharedGenerator => return shared_generator(store, config),
            Flaw::OneThreadAtATime => plans
                .iter()
                .map(|plan| run(store, plan).join().map_err(|_| "panicked".to_owned()))
                .collect(),
            Flaw::WaitsForever => {
                let threads: Vec<_> = plans.iter().map(|plan| run(store, plan)).collect();
                threads
                    .into_iter()
                    .map(|t| t.join().map_err(|_| "panicked".to_owned()))
                    .collect()
            }
            Flaw::LetsPanicsEscape => {
                let threads: Vec<_> = plans.iter().map(|plan| run(store, plan)).collect();
                threads.into_iter().map(|t| Ok(t.join().unwrap())).collect()
            }
            _ => reference::run_threads(Arc::clone(store), config, plans.clone()),
        };
        (plans, results)
    }

    fn check_reads(
        &self,
        config: &StressConfig,
        plans: &[Vec<Command>],
        seen: &[Vec<Response>],
    ) -> Check {
        match self.0 {
            Flaw::IgnoresReads => Check::Pass,
            Flaw::ReadsUnordered => reads_were_written(plans, seen),
            Flaw::SetsCountVersions => match versions_count_sets(plans, seen) {
                Check::Pass => reference::check_reads(config, plans, seen),
                failed => failed,
            },
            _ => reference::check_reads(config, plans, seen),
        }
    }
}

impl Subject for Broken {
    fn plan(&self, config: &StressConfig, thread: usize) -> Vec<Command> {
        match self.0 {
            Flaw::UnseededPlan => {
                let config = StressConfig {
                    seed: rand::rng().random(),
                    ..config.clone()
                };
                reference::plan(&config, thread)
            }
            _ => reference::plan(config, thread),
        }
    }

    fn run_stress(&self, store: Arc<dyn KvStore>, config: &StressConfig) -> StressReport {
        let started = Instant::now();
        let (plans, results) = self.run_threads(&store, config);
        let elapsed = started.elapsed();
        let counted = match self.0 {
            Flaw::CountsWritersOnly => config.writers,
            _ => config.threads(),
        };
        let operations = results.iter().take(counted).flatten().map(Vec::len).sum();
        let trouble = results.iter().enumerate().find_map(|(t, r)| {
            r.as_ref()
                .err()
                .map(|why| format!("{} {why}", config.thread_name(t)))
        });
        let (finished, invariants, reads) = match trouble {
            Some(why) => {
                let skipped = || Check::Skipped("not every thread finished".into());
                (Check::Fail(why), skipped(), skipped())
            }
            None => {
                let seen: Vec<Vec<Response>> = results.into_iter().flatten().collect();
                let invariants = match (self.0, store.check_invariants()) {
                    (Flaw::NeverChecksInvariants, _) | (_, Ok(())) => Check::Pass,
                    (_, Err(violation)) => Check::Fail(violation.to_string()),
                };
                (
                    Check::Pass,
                    invariants,
                    self.check_reads(config, &plans, &seen),
                )
            }
        };
        StressReport {
            threads: counted,
            operations,
            finished,
            invariants,
            reads,
            elapsed,
        }
    }

    fn render(&self, report: &StressReport) -> String {
        let text = report.to_string();
        match self.0 {
            Flaw::ReportSlip => text.replace("invariants: PASS", "invariants: OK"),
            _ => text,
        }
    }
}

/// Each thread draws its next operation from one generator shared by all threads:
/// the run as a whole is seeded, but which thread gets which operation is not.
fn shared_generator(
    store: &Arc<dyn KvStore>,
    config: &StressConfig,
) -> (Vec<Vec<Command>>, Results) {
    let generator = Arc::new(Mutex::new(StdRng::seed_from_u64(config.seed)));
    let threads: Vec<_> = (0..config.threads())
        .map(|t| {
            let (store, generator, config) = (Arc::clone(store), generator.clone(), config.clone());
            thread::spawn(move || {
                (0..config.ops_per_thread)
                    .map(|i| {
                        let key = reference::key(generator.lock().random_range(0..config.keys));
                        let command = if !config.is_writer(t) {
                            Command::Get { key }
                        } else if generator.lock().random_range(0..4) == 0 {
                            Command::Del { key }
                        } else {
                            let value = format!("{}.{i}", config.thread_name(t));
                            Command::Set { key, value }
                        };
                        let response = reference::perform(&*store, std::slice::from_ref(&command));
                        (command, response[0].clone())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut plans = Vec::new();
    let mut results = Vec::new();
    for thread in threads {
        match thread.join() {
            Ok(done) => {
                let (commands, responses) = done.into_iter().unzip();
                plans.push(commands);
                results.push(Ok(responses));
            }
            Err(payload) => {
                plans.push(Vec::new());
                results.push(Err(reference::panic_message(&*payload)));
            }
        }
    }
    (plans, results)
}

fn writes(plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    for (plan, responses) in plans.iter().zip(seen) {
        for (command, response) in plan.iter().zip(responses) {
            if let (Command::Set { key, value }, Response::Stored { version, .. }) =
                (command, response)
            {
                out.push((key.clone(), *version, value.clone()));
            }
        }
    }
    out
}

fn reads(plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    for (plan, responses) in plans.iter().zip(seen) {
        for (command, response) in plan.iter().zip(responses) {
            if let (Command::Get { key }, Response::Value { value, version }) = (command, response)
            {
                out.push((key.clone(), *version, value.clone()));
            }
        }
    }
    out
}

/// The reference's first check without its second: no look at the order.
fn reads_were_written(plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Check {
    let written: HashSet<(String, u64, String)> = writes(plans, seen).into_iter().collect();
    match reads(plans, seen)
        .into_iter()
        .find(|read| !written.contains(read))
    {
        None => Check::Pass,
        Some((key, version, value)) => Check::Fail(format!(
            "read {key} = {value:?} at v{version}, which no write produced"
        )),
    }
}

/// Wrong: each key's SETs must have got versions 1, 2, 3, ... (a DEL takes one too).
fn versions_count_sets(plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Check {
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (key, version, _) in writes(plans, seen) {
        versions.entry(key).or_default().push(version);
    }
    for (key, mut got) in versions {
        got.sort_unstable();
        if let Some(gap) = got.iter().zip(1..).find(|(v, n)| **v != *n) {
            return Check::Fail(format!("{key}'s SETs skipped version {}", gap.1));
        }
    }
    Check::Pass
}
