//! Deliberately broken stress tests, one flaw each.
//!
//! In this lesson the learner's code is the test, so the fixtures are tests: the
//! reference stress test with one mistake a learner plausibly makes, written the
//! way a learner would make it (a comparison the wrong way round, a loop over the
//! wrong threads, a check in the wrong place). The checker's own tests assert that
//! each is rejected by the criterion named next to it; for the `catches-*`
//! criteria that means the flawed test misses the planted bug, or catches it for
//! the wrong reason.

use std::collections::{BTreeMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use probe_kit::{Fixture, Probe};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reference::{Check, Command, KvStore, Response, StressConfig, StressReport, Violation};

use crate::{Subject, criteria};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    // plan-seeded
    /// Draws the operations from an unseeded generator.
    UnseededPlan,
    /// All threads draw their operations at run time from one shared generator:
    /// seeded, but which thread gets which operation depends on timing.
    SharedGenerator,
    /// Seeds each thread's generator with the thread's number only.
    IgnoresSeed,
    /// Seeds every thread's generator with the run's seed only: all writers get
    /// the same keys, all readers too.
    SeedOnly,
    /// Plans the readers with their number among the readers (`0..readers`), not
    /// among all threads, so readers are handed writers' plans.
    ReadersNumberedFromZero,
    /// Starts its threads with `thread::spawn`, nameless.
    UnnamedThreads,
    /// Mixes the thread's number into the seed with `seed << 8 | thread`: the
    /// seed's top 8 bits are shifted out, so seeds that differ only there replay
    /// the same operations. (Written by a tester from outside, as a learner would.)
    SeedShifted,

    // passes-on-correct-store
    /// Also checks that each key's SETs got versions 1, 2, 3, ...: forgets that a
    /// DEL is a write too, and takes a version.
    SetsCountVersions,
    /// Counts the writers' threads and operations only.
    CountsWritersOnly,
    /// A reader's versions of a key must go strictly up (`<=` for `<`): reading
    /// the same version twice, with no write in between, fails.
    VersionsStrictlyIncrease,
    /// Takes a NotFound for version 0 in the order check: a read after a DEL looks
    /// like the version went back.
    NotFoundIsVersionZero,
    /// Keeps one "last version seen" per key for all readers together, so two
    /// readers' reads are compared as if one thread made them.
    VersionsComparedAcrossReaders,
    /// Spawns the threads and reads their results without waiting for them.
    NeverWaits,
    /// Makes the starting gate but never waits at it: each thread begins as soon
    /// as it is started, while the next ones are still being started. (Written by
    /// a tester from outside, as a learner would.)
    NoStartingGate,
    /// Polls the channel (`try_recv`, then a 1 ms sleep) until the deadline,
    /// however early the threads are done.
    PollsUntilTheDeadline,
    /// Receives until `recv_timeout` times out, instead of once per thread: the
    /// channel stays open (the test still holds a sender), so every run waits for
    /// the whole deadline.
    ReceivesUntilTimeout,

    // report-shape
    /// Prints `invariants: OK` instead of `invariants: PASS`.
    ReportSlip,
    /// Prints the reads line before the invariants line.
    LinesOutOfOrder,
    /// Leaves out the time line.
    MissingTimeLine,

    // catches-lost-update
    /// Never calls `check_invariants`.
    NeverChecksInvariants,
    /// Runs one thread at a time: spawns it, waits for it, then the next.
    OneThreadAtATime,
    /// Checks the invariants right after starting the threads, before waiting.
    ChecksInvariantsEarly,
    /// Puts a lock of its own around every call of the store, "to be safe".
    SerialisedByALock,

    // catches-torn-write
    /// Never looks at what the readers saw.
    IgnoresReads,
    /// Calls a run that took over 20 ms a hang ("the store is too slow"): a timing
    /// threshold, which the planted store's bug-free twin, exactly as slow, trips.
    FlagsSlowRuns,
    /// Checks that each value read was written by some SET, not with which version.
    ReadsCheckValueOnly,
    /// Checks that each version read was acknowledged by some write of that key,
    /// not with which value.
    ReadsCheckVersionOnly,

    // catches-version-going-back
    /// Checks that reads were written by someone, but not their order.
    ReadsUnordered,
    /// Compares each read with the reader's first read of the key, never updating
    /// the version it remembered.
    ForgetsLastVersion,
    /// The order check loops over `0..config.readers`, which are writers' numbers.
    OrderCheckedOnWrongThreads,
    /// Forgets the last version of a key when a read finds it missing, as if the
    /// key started over: a version that went back across a NotFound passes.
    ForgetsVersionAfterNotFound,
    /// Names a reader by its number among the readers (`reader-0` for the first),
    /// not by `config.thread_name(t)`: the report points at another thread.
    ReaderNamedByRank,
    /// Fails with a text that names no reader and no key: the verdict is right, but
    /// nobody can find the read.
    ReadFailureNamesNothing,

    // catches-panic
    /// Joins its threads with `join().unwrap()`: a worker's panic becomes its own.
    LetsPanicsEscape,
    /// No `catch_unwind` in the worker: a panicked worker never sends its result,
    /// and is reported as not finished.
    PanicReportedAsHang,
    /// Reports a panicked thread as `failed`, without saying it panicked.
    PanicNotNamed,
    /// Reports `threads × ops_per_thread` operations whatever happened.
    FixedOperationCount,
    /// Formats the panic's payload with `{:?}`: `panicked: Any { .. }`.
    PanicPayloadDebugged,
    /// Keeps the last failed thread a loop over the results comes across.
    NamesLastFailedThread,
    /// Stops waiting at the first panic: something went wrong, why wait for more.
    StopsAtFirstPanic,
    /// Checks the invariants before looking at the threads' outcomes, and reports
    /// what they said whatever the outcomes were.
    InvariantsAlwaysChecked,
    /// When a thread did not finish, checks the reads of the threads that did.
    ChecksReadsOfFinishedThreads,

    // catches-deadlock
    /// Joins its threads with `join()`, which has no deadline.
    WaitsForever,
    /// Gives each `recv_timeout` the whole deadline, so stuck threads add up.
    DeadlinePerThread,
    /// Gives each `recv_timeout` the whole deadline, and stops at the first that
    /// times out: right when every late thread is stuck for good, but threads that
    /// finish one after another, each in less than the deadline, keep it waiting
    /// past it.
    DeadlinePerMessage,
    /// Writes the deadline as whole seconds (`within 0s` for 500 ms), not as
    /// `Duration`'s `Debug` prints it.
    DeadlineInWholeSeconds,
    /// Gives the run one deadline per thread (`deadline × threads`), as if each
    /// thread were owed a deadline of its own. (Written by a tester from outside,
    /// as a learner would.)
    DeadlineTimesThreads,
    /// Checks the invariants even when a thread did not finish.
    ChecksStoreAfterHang,
}

macro_rules! fixtures {
    ($($name:literal => $flaw:ident, $criterion:ident;)*) => {
        pub const FIXTURES: &[Fixture] = &[
            $(Fixture {
                name: $name,
                rejected_by: &criteria::$criterion,
                make: || broken(Flaw::$flaw),
            },)*
        ];
    };
}

fixtures! {
    "unseeded-plan" => UnseededPlan, PLAN_SEEDED;
    "shared-generator" => SharedGenerator, PLAN_SEEDED;
    "plan-ignores-seed" => IgnoresSeed, PLAN_SEEDED;
    "plan-seed-only" => SeedOnly, PLAN_SEEDED;
    "readers-numbered-from-zero" => ReadersNumberedFromZero, PLAN_SEEDED;
    "unnamed-threads" => UnnamedThreads, PLAN_SEEDED;
    "seed-shifted" => SeedShifted, PLAN_SEEDED;
    "sets-count-versions" => SetsCountVersions, PASSES_ON_CORRECT_STORE;
    "counts-writers-only" => CountsWritersOnly, PASSES_ON_CORRECT_STORE;
    "versions-strictly-increase" => VersionsStrictlyIncrease, PASSES_ON_CORRECT_STORE;
    "not-found-is-version-zero" => NotFoundIsVersionZero, PASSES_ON_CORRECT_STORE;
    "versions-compared-across-readers" => VersionsComparedAcrossReaders, PASSES_ON_CORRECT_STORE;
    "never-waits" => NeverWaits, PASSES_ON_CORRECT_STORE;
    "no-starting-gate" => NoStartingGate, PASSES_ON_CORRECT_STORE;
    "polls-until-the-deadline" => PollsUntilTheDeadline, PASSES_ON_CORRECT_STORE;
    "receives-until-timeout" => ReceivesUntilTimeout, PASSES_ON_CORRECT_STORE;
    "report-slip" => ReportSlip, REPORT_SHAPE;
    "lines-out-of-order" => LinesOutOfOrder, REPORT_SHAPE;
    "missing-time-line" => MissingTimeLine, REPORT_SHAPE;
    "never-checks-invariants" => NeverChecksInvariants, CATCHES_LOST_UPDATE;
    "one-thread-at-a-time" => OneThreadAtATime, CATCHES_LOST_UPDATE;
    "checks-invariants-early" => ChecksInvariantsEarly, CATCHES_LOST_UPDATE;
    "serialised-by-a-lock" => SerialisedByALock, CATCHES_LOST_UPDATE;
    "ignores-reads" => IgnoresReads, CATCHES_TORN_WRITE;
    "flags-slow-runs" => FlagsSlowRuns, CATCHES_TORN_WRITE;
    "reads-check-value-only" => ReadsCheckValueOnly, CATCHES_TORN_WRITE;
    "reads-check-version-only" => ReadsCheckVersionOnly, CATCHES_TORN_WRITE;
    "reads-unordered" => ReadsUnordered, CATCHES_VERSION_GOING_BACK;
    "forgets-last-version" => ForgetsLastVersion, CATCHES_VERSION_GOING_BACK;
    "order-checked-on-wrong-threads" => OrderCheckedOnWrongThreads, CATCHES_VERSION_GOING_BACK;
    "forgets-version-after-not-found" => ForgetsVersionAfterNotFound, CATCHES_VERSION_GOING_BACK;
    "reader-named-by-rank" => ReaderNamedByRank, CATCHES_TORN_WRITE;
    "read-failure-names-nothing" => ReadFailureNamesNothing, CATCHES_VERSION_GOING_BACK;
    "lets-panics-escape" => LetsPanicsEscape, CATCHES_PANIC;
    "panic-reported-as-hang" => PanicReportedAsHang, CATCHES_PANIC;
    "panic-not-named" => PanicNotNamed, CATCHES_PANIC;
    "fixed-operation-count" => FixedOperationCount, CATCHES_PANIC;
    "panic-payload-debugged" => PanicPayloadDebugged, CATCHES_PANIC;
    "names-last-failed-thread" => NamesLastFailedThread, CATCHES_PANIC;
    "stops-at-first-panic" => StopsAtFirstPanic, CATCHES_PANIC;
    "invariants-always-checked" => InvariantsAlwaysChecked, CATCHES_PANIC;
    "checks-reads-of-finished-threads" => ChecksReadsOfFinishedThreads, CATCHES_PANIC;
    "waits-forever" => WaitsForever, CATCHES_DEADLOCK;
    "deadline-per-thread" => DeadlinePerThread, CATCHES_DEADLOCK;
    "deadline-per-message" => DeadlinePerMessage, CATCHES_DEADLOCK;
    "deadline-in-whole-seconds" => DeadlineInWholeSeconds, CATCHES_DEADLOCK;
    "deadline-times-threads" => DeadlineTimesThreads, CATCHES_DEADLOCK;
    "checks-store-after-hang" => ChecksStoreAfterHang, CATCHES_DEADLOCK;
}

fn broken(flaw: Flaw) -> Box<dyn Probe> {
    crate::probe(Broken(flaw))
}

/// The reference stress test with one flaw.
#[derive(Clone, Copy)]
pub struct Broken(pub Flaw);

type Results = Vec<Result<Vec<Response>, String>>;

impl Broken {
    fn plans(&self, config: &StressConfig) -> Vec<Vec<Command>> {
        match self.0 {
            Flaw::ReadersNumberedFromZero => {
                let writers = (0..config.writers).map(|w| self.plan(config, w));
                let readers = (0..config.readers).map(|r| self.plan(config, r));
                writers.chain(readers).collect()
            }
            _ => (0..config.threads())
                .map(|t| self.plan(config, t))
                .collect(),
        }
    }

    /// Runs the threads as the flaw dictates; the plans are what each thread did.
    /// `early` runs once every thread has been started, before any is waited for.
    fn run_threads(
        &self,
        store: &Arc<dyn KvStore>,
        config: &StressConfig,
        early: impl FnOnce(),
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
            Flaw::NeverWaits => never_waits(store, config, &plans),
            Flaw::SerialisedByALock => {
                let serialised: Arc<dyn KvStore> = Arc::new(Serialised {
                    store: Arc::clone(store),
                    lock: Mutex::new(()),
                });
                reference::run_threads(serialised, config, plans.clone())
            }
            _ => gated_threads(self.0, store, config, &plans, early),
        };
        (plans, results)
    }

    fn reads_check(
        &self,
        config: &StressConfig,
        plans: &[Vec<Command>],
        seen: &[Vec<Response>],
    ) -> Check {
        match self.0 {
            Flaw::IgnoresReads => Check::Pass,
            Flaw::ReadsUnordered => reads_were_written(config, plans, seen),
            Flaw::SetsCountVersions => match versions_count_sets(plans, seen) {
                Check::Pass => reference::check_reads(config, plans, seen),
                failed => failed,
            },
            Flaw::ReadsCheckValueOnly
            | Flaw::ReadsCheckVersionOnly
            | Flaw::VersionsStrictlyIncrease
            | Flaw::NotFoundIsVersionZero
            | Flaw::VersionsComparedAcrossReaders
            | Flaw::ForgetsLastVersion
            | Flaw::ForgetsVersionAfterNotFound
            | Flaw::OrderCheckedOnWrongThreads
            | Flaw::ReaderNamedByRank
            | Flaw::ReadFailureNamesNothing => flawed_read_check(self.0, config, plans, seen),
            _ => reference::check_reads(config, plans, seen),
        }
    }
}

impl Subject for Broken {
    fn plan(&self, config: &StressConfig, thread: usize) -> Vec<Command> {
        let seed = match self.0 {
            Flaw::UnseededPlan => return reseeded(config, thread, rand::rng().random()),
            Flaw::IgnoresSeed => thread as u64,
            Flaw::SeedOnly => config.seed,
            Flaw::SeedShifted => config.seed << 8 | thread as u64,
            _ => return reference::plan(config, thread),
        };
        reseeded(config, thread, seed)
    }

    fn check_reads(
        &self,
        config: &StressConfig,
        plans: &[Vec<Command>],
        seen: &[Vec<Response>],
    ) -> Check {
        self.reads_check(config, plans, seen)
    }

    fn run_stress(&self, store: Arc<dyn KvStore>, config: &StressConfig) -> StressReport {
        let started = Instant::now();
        let always_checked = (self.0 == Flaw::InvariantsAlwaysChecked).then(|| store.clone());
        let mut early_check = None;
        let (plans, results) = self.run_threads(&store, config, || {
            if self.0 == Flaw::ChecksInvariantsEarly {
                early_check = Some(store.check_invariants());
            }
        });
        let elapsed = started.elapsed();
        let counted = match self.0 {
            Flaw::CountsWritersOnly => config.writers,
            _ => config.threads(),
        };
        let operations = match self.0 {
            Flaw::FixedOperationCount => config.threads() * config.ops_per_thread,
            _ => results.iter().take(counted).flatten().map(Vec::len).sum(),
        };
        let mut trouble = results.iter().enumerate().find_map(|(t, r)| {
            r.as_ref()
                .err()
                .map(|why| format!("{} {why}", config.thread_name(t)))
        });
        if self.0 == Flaw::NamesLastFailedThread {
            for (t, result) in results.iter().enumerate() {
                if let Err(why) = result {
                    trouble = Some(format!("{} {why}", config.thread_name(t)));
                }
            }
        }
        if self.0 == Flaw::FlagsSlowRuns && elapsed > std::time::Duration::from_millis(20) {
            trouble.get_or_insert(format!(
                "the run took {elapsed:?}, more than 20ms: the store is too slow, something hangs"
            ));
        }
        let invariants = |answer: Result<(), Violation>| match answer {
            Ok(()) => Check::Pass,
            Err(violation) => Check::Fail(violation.to_string()),
        };
        let (finished, invariants, reads) = match trouble {
            Some(why) if self.0 == Flaw::ChecksStoreAfterHang => {
                let skipped = Check::Skipped("not every thread finished".into());
                (
                    Check::Fail(why),
                    invariants(store.check_invariants()),
                    skipped,
                )
            }
            Some(why) if self.0 == Flaw::ChecksReadsOfFinishedThreads => {
                let (plans, seen): (Vec<_>, Vec<_>) = plans
                    .into_iter()
                    .zip(results)
                    .filter_map(|(plan, result)| Some((plan, result.ok()?)))
                    .unzip();
                (
                    Check::Fail(why),
                    Check::Skipped("not every thread finished".into()),
                    reference::check_reads(config, &plans, &seen),
                )
            }
            Some(why) => {
                let skipped = || Check::Skipped("not every thread finished".into());
                let invariants = match &always_checked {
                    Some(store) => invariants(store.check_invariants()),
                    None => skipped(),
                };
                (Check::Fail(why), invariants, skipped())
            }
            None => {
                let seen: Vec<Vec<Response>> = results.into_iter().flatten().collect();
                let invariants = match self.0 {
                    Flaw::NeverChecksInvariants => Check::Pass,
                    Flaw::ChecksInvariantsEarly => {
                        invariants(early_check.expect("checked once the threads started"))
                    }
                    _ => invariants(store.check_invariants()),
                };
                (
                    Check::Pass,
                    invariants,
                    self.reads_check(config, &plans, &seen),
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
            Flaw::LinesOutOfOrder => format!(
                "{} threads, {} operations total\nthreads finished: {}\nreads consistent: {}\n\
                 invariants: {}\ntime: {:?}",
                report.threads,
                report.operations,
                report.finished,
                report.reads,
                report.invariants,
                report.elapsed
            ),
            Flaw::MissingTimeLine => format!(
                "{} threads, {} operations total\nthreads finished: {}\ninvariants: {}\n\
                 reads consistent: {}",
                report.threads, report.operations, report.finished, report.invariants, report.reads
            ),
            _ => text,
        }
    }
}

/// The reference's plan, drawn from a generator seeded with `seed` alone.
fn reseeded(config: &StressConfig, thread: usize, seed: u64) -> Vec<Command> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..config.ops_per_thread)
        .map(|i| {
            let key = reference::key(rng.random_range(0..config.keys));
            if !config.is_writer(thread) {
                Command::Get { key }
            } else if rng.random_range(0..4) == 0 {
                Command::Del { key }
            } else {
                let value = format!("{}.{i}", config.thread_name(thread));
                Command::Set { key, value }
            }
        })
        .collect()
}

/// The reference's way of running the threads (a starting gate, outcomes sent on
/// a channel, one deadline), with the flaw's variation on it.
fn gated_threads(
    flaw: Flaw,
    store: &Arc<dyn KvStore>,
    config: &StressConfig,
    plans: &[Vec<Command>],
    early: impl FnOnce(),
) -> Results {
    let (done, finished) = mpsc::channel();
    let threads = plans.len();
    let gate = Arc::new(Barrier::new(threads));
    for (thread, plan) in plans.iter().cloned().enumerate() {
        let (store, done, gate) = (Arc::clone(store), done.clone(), Arc::clone(&gate));
        let worker = match flaw {
            Flaw::UnnamedThreads => thread::Builder::new(),
            _ => thread::Builder::new().name(config.thread_name(thread)),
        };
        worker
            .spawn(move || {
                if flaw != Flaw::NoStartingGate {
                    gate.wait();
                }
                if flaw == Flaw::PanicReportedAsHang {
                    // Nothing catches a panic here: the thread dies with it.
                    let responses = reference::perform(&*store, &plan);
                    let _ = done.send((thread, Ok(responses)));
                } else {
                    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                        reference::perform(&*store, &plan)
                    }));
                    let _ = done.send((
                        thread,
                        outcome.map_err(|p| match flaw {
                            Flaw::PanicPayloadDebugged => format!("{p:?}"),
                            _ => reference::panic_message(&*p),
                        }),
                    ));
                }
            })
            .expect("the system can start a thread");
    }
    early();
    let deadline = config.deadline;
    let late = match flaw {
        Flaw::DeadlineInWholeSeconds => format!("did not finish within {}s", deadline.as_secs()),
        _ => format!("did not finish within {deadline:?}"),
    };
    let mut results: Results = vec![Err(late); threads];
    let give_up = Instant::now()
        + match flaw {
            Flaw::DeadlineTimesThreads => deadline * threads as u32,
            _ => deadline,
        };
    let received = |results: &mut Results, (thread, outcome): (usize, Result<_, String>)| {
        results[thread] = outcome.map_err(|message| format!("panicked: {message}"));
    };
    match flaw {
        Flaw::PollsUntilTheDeadline => {
            while Instant::now() < give_up {
                while let Ok(message) = finished.try_recv() {
                    received(&mut results, message);
                }
                thread::sleep(Duration::from_millis(1));
            }
            return results;
        }
        Flaw::ReceivesUntilTimeout => {
            while let Ok(message) =
                finished.recv_timeout(give_up.saturating_duration_since(Instant::now()))
            {
                received(&mut results, message);
            }
            return results;
        }
        _ => {}
    }
    for _ in 0..threads {
        let wait = match flaw {
            // A fresh deadline for each message.
            Flaw::DeadlinePerThread | Flaw::DeadlinePerMessage => deadline,
            _ => give_up.saturating_duration_since(Instant::now()),
        };
        match finished.recv_timeout(wait) {
            Ok((thread, outcome)) => {
                let panicked = outcome.is_err();
                results[thread] = outcome.map_err(|message| match flaw {
                    Flaw::PanicNotNamed => "failed".to_owned(),
                    _ => format!("panicked: {message}"),
                });
                if panicked && flaw == Flaw::StopsAtFirstPanic {
                    break;
                }
            }
            Err(_) if flaw == Flaw::DeadlinePerThread => continue,
            Err(_) => break,
        }
    }
    results
}

/// Starts every thread and collects what they have put in a shared list so far,
/// forgetting to wait for them.
fn never_waits(store: &Arc<dyn KvStore>, config: &StressConfig, plans: &[Vec<Command>]) -> Results {
    let slots: Arc<Mutex<Vec<Option<Vec<Response>>>>> =
        Arc::new(Mutex::new(vec![None; plans.len()]));
    let gate = Arc::new(Barrier::new(plans.len()));
    for (thread, plan) in plans.iter().cloned().enumerate() {
        let (store, slots, gate) = (Arc::clone(store), Arc::clone(&slots), Arc::clone(&gate));
        thread::spawn(move || {
            gate.wait();
            let responses = reference::perform(&*store, &plan);
            slots.lock()[thread] = Some(responses);
        });
    }
    let deadline = config.deadline;
    let slots = slots.lock();
    slots
        .iter()
        .map(|slot| {
            slot.clone()
                .ok_or_else(|| format!("did not finish within {deadline:?}"))
        })
        .collect()
}

/// The store behind a lock of the test's own: one call at a time.
struct Serialised {
    store: Arc<dyn KvStore>,
    lock: Mutex<()>,
}

impl KvStore for Serialised {
    fn get(&self, key: &str) -> Response {
        let _one_at_a_time = self.lock.lock();
        self.store.get(key)
    }

    fn set(&self, key: &str, value: &str) -> Response {
        let _one_at_a_time = self.lock.lock();
        self.store.set(key, value)
    }

    fn del(&self, key: &str) -> Response {
        let _one_at_a_time = self.lock.lock();
        self.store.del(key)
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        let _one_at_a_time = self.lock.lock();
        self.store.check_invariants()
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

/// Every read that found a value: (thread, key, version, value).
fn reads(plans: &[Vec<Command>], seen: &[Vec<Response>]) -> Vec<(usize, String, u64, String)> {
    let mut out = Vec::new();
    for (t, (plan, responses)) in plans.iter().zip(seen).enumerate() {
        for (command, response) in plan.iter().zip(responses) {
            if let (Command::Get { key }, Response::Value { value, version }) = (command, response)
            {
                out.push((t, key.clone(), *version, value.clone()));
            }
        }
    }
    out
}

/// The reference's first check without its second: no look at the order.
fn reads_were_written(
    config: &StressConfig,
    plans: &[Vec<Command>],
    seen: &[Vec<Response>],
) -> Check {
    let written: HashSet<(String, u64, String)> = writes(plans, seen).into_iter().collect();
    match reads(plans, seen)
        .into_iter()
        .find(|(_, key, version, value)| !written.contains(&(key.clone(), *version, value.clone())))
    {
        None => Check::Pass,
        Some((t, key, version, value)) => Check::Fail(format!(
            "{} read {key} = {value:?} at v{version}, which no write produced",
            config.thread_name(t)
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

/// The reference's read check as a learner might write it, with the flaw's one
/// mistake in it.
fn flawed_read_check(
    flaw: Flaw,
    config: &StressConfig,
    plans: &[Vec<Command>],
    seen: &[Vec<Response>],
) -> Check {
    // Part 1: was each read written?
    let values: HashSet<(String, String)> = writes(plans, seen)
        .into_iter()
        .map(|(key, _, value)| (key, value))
        .collect();
    let mut versions: HashSet<(String, u64)> = HashSet::new();
    for (plan, responses) in plans.iter().zip(seen) {
        for (command, response) in plan.iter().zip(responses) {
            match (command, response) {
                (Command::Set { key, .. }, Response::Stored { version, .. })
                | (Command::Del { key }, Response::Deleted { version, .. }) => {
                    versions.insert((key.clone(), *version));
                }
                _ => {}
            }
        }
    }
    let name = |t: usize| match flaw {
        Flaw::ReaderNamedByRank => format!("reader-{}", t - config.writers),
        _ => config.thread_name(t),
    };
    let fail = |why: String| match flaw {
        Flaw::ReadFailureNamesNothing => Check::Fail("a reader saw an inconsistent read".into()),
        _ => Check::Fail(why),
    };
    let triples: HashSet<(String, u64, String)> = writes(plans, seen).into_iter().collect();
    for (t, key, version, value) in reads(plans, seen) {
        let written = match flaw {
            Flaw::ReadsCheckValueOnly => values.contains(&(key.clone(), value.clone())),
            Flaw::ReadsCheckVersionOnly => versions.contains(&(key.clone(), version)),
            _ => triples.contains(&(key.clone(), version, value.clone())),
        };
        if !written {
            return fail(format!(
                "{} read {key} = {value:?} at v{version}, which no write produced",
                name(t)
            ));
        }
    }
    // Part 2: did a reader see a version go back?
    let readers: Vec<usize> = match flaw {
        Flaw::OrderCheckedOnWrongThreads => (0..config.readers).collect(),
        _ => (config.writers..config.threads()).collect(),
    };
    let mut shared: BTreeMap<String, u64> = BTreeMap::new();
    for t in readers {
        let mut own: BTreeMap<String, u64> = BTreeMap::new();
        let last_seen = if flaw == Flaw::VersionsComparedAcrossReaders {
            &mut shared
        } else {
            &mut own
        };
        for (command, response) in plans[t].iter().zip(&seen[t]) {
            let Command::Get { key } = command else {
                continue;
            };
            let version = match response {
                Response::Value { version, .. } => *version,
                _ if flaw == Flaw::NotFoundIsVersionZero => 0,
                _ if flaw == Flaw::ForgetsVersionAfterNotFound => {
                    last_seen.remove(key);
                    continue;
                }
                _ => continue,
            };
            let reader = name(t);
            match last_seen.get(key).copied() {
                Some(last)
                    if version < last
                        || (flaw == Flaw::VersionsStrictlyIncrease && version == last) =>
                {
                    return fail(format!(
                        "{reader} read {key} at v{last}, then at v{version}: its version went back"
                    ));
                }
                Some(_) if flaw == Flaw::ForgetsLastVersion => {}
                _ => {
                    last_seen.insert(key.clone(), version);
                }
            }
        }
    }
    Check::Pass
}
