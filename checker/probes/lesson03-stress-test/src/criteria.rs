//! The criteria of lesson 03. The learner's stress test runs on the correct store
//! of lesson 02, on a recording store, and on each planted broken store; it is
//! graded by whether its verdict is right. It always runs on a thread of the
//! probe's with a deadline, so a stress test that waits forever is reported, not
//! waited on.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use probe_kit::{Criterion, Ctx, Failure, Info, Verdict, snapshot, sync};
use reference::{
    Check, Command, ConcurrentStore, KvStore, Response, StressConfig, StressReport, Violation,
};

use crate::Subject;
use crate::planted::{Bug, Planted};


pub const PLAN_SEEDED: Info = Info {
    id: "plan-seeded",
    title: "the same seed gives the same operations per thread, and each thread runs exactly its plan",
    hint: "Draw every random choice from a generator seeded with the config's seed and the \
           thread's number (StdRng::seed_from_u64), never from rand::rng() or one generator \
           shared by all threads, and have each thread perform exactly plan(config, t).",
    book: "lesson03-stress-test.html#step-1-plan-each-threads-operations-from-the-seed",
    deadline_secs: 30,
};

pub const PASSES_ON_CORRECT_STORE: Info = Info {
    id: "passes-on-correct-store",
    title: "on lesson 02's correct store the test passes, counting every thread and operation",
    hint: "On a correct store every check must pass: a read may see any version that was \
           current at some moment during the GET, not necessarily the latest one. Count \
           all threads (writers and readers) and every operation they completed.",
    book: "lesson03-stress-test.html#step-5-put-it-together",
    deadline_secs: 40,
};

pub const REPORT_SHAPE: Info = Info {
    id: "report-shape",
    title: "the report prints in the expected shape (time redacted)",
    hint: "Compare your lines with the expected ones in the diff: one line per fact, in \
           this order, with PASS, FAIL (why) or SKIPPED (why).",
    book: "lesson03-stress-test.html#step-6-print-the-report",
    deadline_secs: 30,
};

pub const CATCHES_LOST_UPDATE: Info = Info {
    id: "catches-lost-update",
    title: "the test reports FAIL on a store that loses updates",
    hint: "After every thread has finished, call check_invariants on the store and report \
           FAIL if it returns an error. The threads must run at the same time, or the bug \
           never happens.",
    book: "lesson03-stress-test.html#the-invariants-after-the-run",
    deadline_secs: 40,
};

pub const CATCHES_TORN_WRITE: Info = Info {
    id: "catches-torn-write",
    title: "the test reports FAIL on a store whose writes become visible in two steps",
    hint: "Check every value a reader saw: some write must have acknowledged exactly that \
           key, version and value (keep the writers' responses, not just the readers').",
    book: "lesson03-stress-test.html#step-4-check-what-the-readers-saw",
    deadline_secs: 40,
};

pub const CATCHES_VERSION_GOING_BACK: Info = Info {
    id: "catches-version-going-back",
    title: "the test reports FAIL on a store whose versions can go back",
    hint: "For each reader and each key, the versions it reads must never decrease: \
           remember the last version each reader saw of each key.",
    book: "lesson03-stress-test.html#step-4-check-what-the-readers-saw",
    deadline_secs: 40,
};

pub const CATCHES_PANIC: Info = Info {
    id: "catches-panic",
    title: "the test reports FAIL, without panicking itself, on a store that panics under contention",
    hint: "A worker thread's panic must become a FAIL line of the report: catch it with \
           catch_unwind in the thread (or inspect what join returns), never unwrap it.",
    book: "lesson03-stress-test.html#step-3-run-the-threads-with-a-deadline",
    deadline_secs: 40,
};

pub const CATCHES_DEADLOCK: Info = Info {
    id: "catches-deadlock",
    title: "the test reports FAIL within its deadline on a store that deadlocks under contention",
    hint: "Never wait for a thread without a deadline: collect the results through a channel \
           with recv_timeout until config.deadline, then report the threads that did not \
           finish, and do not ask the store anything more.",
    book: "lesson03-stress-test.html#step-3-run-the-threads-with-a-deadline",
    deadline_secs: 40,
};

/// The lesson's criteria, in the order they run and are reported.
pub fn all<S: Subject>() -> Vec<Criterion<S>> {
    vec![
        Criterion::new(&PLAN_SEEDED, plan_seeded),
        Criterion::new(&PASSES_ON_CORRECT_STORE, passes_on_correct_store),
        Criterion::new(&REPORT_SHAPE, report_shape),
        Criterion::new(&CATCHES_LOST_UPDATE, |subject, ctx| catches(subject, ctx, Bug::LostUpdate)),
        Criterion::new(&CATCHES_TORN_WRITE, |subject, ctx| catches(subject, ctx, Bug::TornWrite)),
        Criterion::new(&CATCHES_VERSION_GOING_BACK, |subject, ctx| catches(subject, ctx, Bug::VersionGoesBack)),
        Criterion::new(&CATCHES_PANIC, |subject, ctx| catches(subject, ctx, Bug::PanicsUnderContention)),
        Criterion::new(&CATCHES_DEADLOCK, |subject, ctx| catches(subject, ctx, Bug::DeadlocksUnderContention)),
    ]
}

/// How much longer than its own deadline a stress test may take to report.
const SLACK: Duration = Duration::from_secs(10);

/// The lesson's default configuration, with the run's seed.
fn default_config(seed: u64) -> StressConfig {
    StressConfig {
        seed,
        ..StressConfig::default()
    }
}

/// How a run of the learner's stress test ended.
enum Ran {
    Report(StressReport),
    Panicked(String),
    Hung(Duration),
}

/// Runs the stress test on a thread of the probe's, and never waits for it past
/// its own deadline plus [`SLACK`].
fn run_guarded<S: Subject>(
    ctx: &Ctx,
    subject: &S,
    store: Arc<dyn KvStore>,
    config: &StressConfig,
    what: &str,
) -> Ran {
    ctx.progress(format_args!(
        "your stress test runs on {what} (seed {})",
        config.seed
    ));
    let (subject, config) = (subject.clone(), config.clone());
    let limit = config.deadline + SLACK;
    let worker = sync::spawn("stress-test", move || {
        panic::catch_unwind(AssertUnwindSafe(|| subject.run_stress(store, &config)))
            .map_err(|payload| reference::panic_message(&*payload))
    });
    match worker.join_by(Instant::now() + limit) {
        Ok(Ok(report)) => Ran::Report(report),
        Ok(Err(message)) => Ran::Panicked(message),
        Err(stuck) => Ran::Hung(stuck.waited),
    }
}

/// The report as evidence, one line per fact.
fn shown<S: Subject>(subject: &S, report: &StressReport) -> String {
    panic::catch_unwind(AssertUnwindSafe(|| subject.render(report)))
        .unwrap_or_else(|_| format!("{report:?}"))
}

fn hung(waited: Duration, what: &str, config: &StressConfig) -> Failure {
    Failure::new(
        format!(
            "a report soon after the config's deadline of {:?} (the checker waits {:?} more)",
            config.deadline, SLACK
        ),
        format!(
            "your stress test was still running after {waited:.0?} on {what}: wait for the \
             threads with a deadline (config.deadline is {:?}), and never call the store \
             again once a thread is stuck",
            config.deadline
        ),
    )
}

fn panicked(message: &str, what: &str) -> Failure {
    Failure::new(
        format!("a report, not a panic, on {what}"),
        format!("your stress test panicked: {message}"),
    )
}

// ---------------------------------------------------------------------------
// plan-seeded

/// A correct store that records which commands each thread performed.
struct Recording {
    store: ConcurrentStore,
    seen: Mutex<HashMap<ThreadId, Vec<Command>>>,
}

impl Recording {
    fn record(&self, command: Command) {
        self.seen
            .lock()
            .entry(thread::current().id())
            .or_default()
            .push(command);
    }
}

impl KvStore for Recording {
    fn get(&self, key: &str) -> Response {
        self.record(Command::get(key));
        self.store.get(key)
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.record(Command::set(key, value));
        self.store.set(key, value)
    }

    fn del(&self, key: &str) -> Response {
        self.record(Command::del(key));
        self.store.del(key)
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.store.check_invariants()
    }
}

fn plan_seeded<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let config = default_config(ctx.seed());
    ctx.progress("calling plan(config, t) twice for every thread");
    let plans: Vec<Vec<Command>> = (0..config.threads())
        .map(|t| subject.plan(&config, t))
        .collect();
    for (t, first) in plans.iter().enumerate() {
        let again = subject.plan(&config, t);
        if again != *first {
            return Err(Failure::new(
                format!("plan(config, {t}) gives the same operations every time it is called"),
                format!("a second call differs: {}", first_difference(first, &again)),
            )
            .with_detail(format!("seed {}", config.seed)));
        }
        check_plan_shape(&config, t, first)?;
    }
    let values: Vec<&String> = plans
        .iter()
        .flatten()
        .filter_map(|c| match c {
            Command::Set { value, .. } => Some(value),
            _ => None,
        })
        .collect();
    let distinct: HashSet<&String> = values.iter().copied().collect();
    if distinct.len() != values.len() {
        return Err(Failure::new(
            "every SET writes a value no other SET uses (so a read names the write it saw)",
            format!(
                "{} SETs wrote only {} different values",
                values.len(),
                distinct.len()
            ),
        ));
    }
    let keys: BTreeSet<&str> = plans.iter().flatten().map(key_of).collect();
    if keys.len() != config.keys {
        return Err(Failure::new(
            format!(
                "the operations use all {} keys, k0 to k{}",
                config.keys,
                config.keys - 1
            ),
            format!("they use {} of them: {keys:?}", keys.len()),
        ));
    }
    for a in 0..plans.len() {
        for b in a + 1..plans.len() {
            if plans[a] == plans[b] {
                return Err(Failure::new(
                    "every thread gets operations of its own (seed the generator with the thread's number too)",
                    format!("threads {a} and {b} got exactly the same operations"),
                ));
            }
        }
    }
    let other = StressConfig {
        seed: config.seed.wrapping_add(1),
        ..config.clone()
    };
    if subject.plan(&other, 0) == plans[0] {
        return Err(Failure::new(
            "another seed gives other operations",
            format!(
                "seeds {} and {} gave thread 0 the same operations",
                config.seed, other.seed
            ),
        ));
    }
    performs_its_plan(subject, ctx)
}

fn key_of(command: &Command) -> &str {
    match command {
        Command::Get { key } | Command::Set { key, .. } | Command::Del { key } => key,
    }
}

fn first_difference(a: &[Command], b: &[Command]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("operation {} was `{}`, then `{}`", i + 1, a[i], b[i]),
        None => format!("{} operations, then {}", a.len(), b.len()),
    }
}

fn check_plan_shape(config: &StressConfig, t: usize, plan: &[Command]) -> Verdict {
    let name = config.thread_name(t);
    if plan.len() != config.ops_per_thread {
        return Err(Failure::new(
            format!(
                "{name} has ops_per_thread = {} operations",
                config.ops_per_thread
            ),
            format!("it has {}", plan.len()),
        ));
    }
    let keys: BTreeSet<String> = (0..config.keys).map(reference::key).collect();
    if let Some(c) = plan.iter().find(|c| !keys.contains(key_of(c))) {
        return Err(Failure::new(
            format!("every key is one of k0 to k{}", config.keys - 1),
            format!("{name} has `{c}`"),
        ));
    }
    let count = |f: fn(&Command) -> bool| plan.iter().filter(|c| f(c)).count();
    let sets = count(|c| matches!(c, Command::Set { .. }));
    let dels = count(|c| matches!(c, Command::Del { .. }));
    let gets = count(|c| matches!(c, Command::Get { .. }));
    if config.is_writer(t) && (gets > 0 || sets == 0 || dels == 0) {
        return Err(Failure::new(
            format!("{name}, a writer, mixes SETs and DELs, and nothing else"),
            format!("it has {sets} SETs, {dels} DELs and {gets} GETs"),
        ));
    }
    if !config.is_writer(t) && gets != plan.len() {
        return Err(Failure::new(
            format!("{name}, a reader, only GETs"),
            format!("it has {sets} SETs, {dels} DELs and {gets} GETs"),
        ));
    }
    Ok(())
}

/// Runs the stress test on a recording store: each plan must be exactly what one
/// thread performed, in order.
fn performs_its_plan<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let config = StressConfig {
        writers: 2,
        readers: 2,
        ops_per_thread: 200,
        keys: 4,
        seed: ctx.seed(),
        deadline: Duration::from_secs(10),
    };
    let recording = Arc::new(Recording {
        store: ConcurrentStore::new(),
        seen: Mutex::new(HashMap::new()),
    });
    let what = "a store that records each thread's operations";
    match run_guarded(ctx, subject, recording.clone(), &config, what) {
        Ran::Report(_) => {}
        Ran::Panicked(message) => return Err(panicked(&message, what)),
        Ran::Hung(waited) => return Err(hung(waited, what, &config)),
    }
    let performed: Vec<Vec<Command>> = recording.seen.lock().values().cloned().collect();
    for t in 0..config.threads() {
        let plan = subject.plan(&config, t);
        if !performed.contains(&plan) {
            // The thread that followed this plan longest, to show where it strayed.
            let agreeing =
                |p: &Vec<Command>| p.iter().zip(&plan).take_while(|(a, b)| a == b).count();
            let closest = performed
                .iter()
                .max_by_key(|p| agreeing(p))
                .map(|p| {
                    let n = agreeing(p);
                    match (plan.get(n), p.get(n)) {
                        (Some(want), Some(did)) => format!(
                            "the closest one followed it for {n} operations, then did `{did}` \
                             where the plan says `{want}`"
                        ),
                        _ => format!(
                            "the closest one did {} operations of its {}",
                            p.len(),
                            plan.len()
                        ),
                    }
                })
                .unwrap_or_else(|| "no thread used the store".into());
            return Err(Failure::new(
                format!("one thread performs exactly plan(config, {t}), in order"),
                format!("no thread did; {closest}"),
            )
            .with_detail(format!(
                "2 writers, 2 readers, 200 operations each, seed {}; {} threads used the store",
                config.seed,
                performed.len()
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// passes-on-correct-store

fn passes_on_correct_store<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let configs = [
        default_config(ctx.seed()),
        StressConfig {
            writers: 3,
            readers: 2,
            ops_per_thread: 300,
            keys: 5,
            seed: ctx.seed().wrapping_add(1),
            deadline: Duration::from_secs(10),
        },
    ];
    for config in configs {
        let what = "lesson 02's correct store";
        let report = match run_guarded(
            ctx,
            subject,
            Arc::new(ConcurrentStore::new()),
            &config,
            what,
        ) {
            Ran::Report(report) => report,
            Ran::Panicked(message) => return Err(panicked(&message, what)),
            Ran::Hung(waited) => return Err(hung(waited, what, &config)),
        };
        let setting = format!(
            "{} writers, {} readers, {} operations each, {} keys, seed {}",
            config.writers, config.readers, config.ops_per_thread, config.keys, config.seed
        );
        let evidence = format!("{setting}; your report:\n{}", shown(subject, &report));
        if !report.passed() {
            let failing = [&report.finished, &report.invariants, &report.reads]
                .into_iter()
                .find(|c| **c != Check::Pass)
                .map_or(String::new(), ToString::to_string);
            return Err(Failure::new(
                "PASS on a correct store",
                format!("your stress test reported {failing}"),
            )
            .with_detail(evidence));
        }
        let want = (config.threads(), config.threads() * config.ops_per_thread);
        if (report.threads, report.operations) != want {
            return Err(Failure::new(
                format!("{} threads, {} operations total", want.0, want.1),
                format!(
                    "{} threads, {} operations total",
                    report.threads, report.operations
                ),
            )
            .with_detail(evidence));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// report-shape

/// The expected report, maintained with insta (see the tests below).
const REPORT_SNAPSHOT: &str = include_str!("../snapshots/report.snap");

/// Two reports made up to show every kind of line.
pub fn made_up_reports() -> [StressReport; 2] {
    [
        StressReport {
            threads: 5,
            operations: 3172,
            finished: Check::Fail("writer-1 panicked: the store is busy".into()),
            invariants: Check::Skipped("not every thread finished".into()),
            reads: Check::Skipped("not every thread finished".into()),
            elapsed: Duration::from_millis(1234),
        },
        StressReport {
            threads: 8,
            operations: 8000,
            finished: Check::Pass,
            invariants: Check::Fail(
                "versions add up to 4011 but the global sequence is 3998".into(),
            ),
            reads: Check::Fail(
                "reader-6 read k3 at v12, then at v11: its version went back".into(),
            ),
            elapsed: Duration::from_micros(25_300),
        },
    ]
}

/// A real run on the correct store, then the made-up reports, durations redacted.
pub fn render_reports(subject: &impl Subject, real: &StressReport) -> String {
    let mut blocks = vec![subject.render(real)];
    blocks.extend(made_up_reports().iter().map(|r| subject.render(r)));
    snapshot::redact_durations(&blocks.join("\n\n"))
}

fn report_shape<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let config = default_config(ctx.seed());
    let what = "lesson 02's correct store";
    let real = match run_guarded(
        ctx,
        subject,
        Arc::new(ConcurrentStore::new()),
        &config,
        what,
    ) {
        Ran::Report(report) => report,
        Ran::Panicked(message) => return Err(panicked(&message, what)),
        Ran::Hung(waited) => return Err(hung(waited, what, &config)),
    };
    ctx.progress("printing the reports");
    snapshot::compare("report", REPORT_SNAPSHOT, &render_reports(subject, &real))
}

// ---------------------------------------------------------------------------
// catches-*

/// How many runs a planted bug gets to show up before the test is told its
/// threads never ran at the same time.
const ATTEMPTS: u64 = 3;

struct Planting {
    name: &'static str,
    /// Why the learner's PASS was wrong, given how often the bug showed.
    missed: fn(usize) -> String,
}

fn planting(bug: Bug) -> Planting {
    match bug {
        Bug::LostUpdate => Planting {
            name: "a store that loses updates",
            missed: |n| {
                format!(
                    "{n} times two writers took the same sequence number, so the store's \
                     global sequence fell behind its writes and its invariants were broken \
                     at the end"
                )
            },
        },
        Bug::TornWrite => Planting {
            name: "a store whose writes become visible in two steps",
            missed: |n| {
                format!(
                    "{n} GETs were served a half-done write: a new value with its key's old \
                     version, a pair no write ever acknowledged"
                )
            },
        },
        Bug::VersionGoesBack => Planting {
            name: "a store whose versions can go back",
            missed: |n| {
                format!(
                    "{n} times a writer put back an older copy of the state, erasing newer \
                     writes, so a reader could read a key at v5 and later at v4"
                )
            },
        },
        Bug::PanicsUnderContention => Planting {
            name: "a store that panics under contention",
            missed: |n| format!("the store panicked {n} times in writer threads"),
        },
        Bug::DeadlocksUnderContention => Planting {
            name: "a store that deadlocks under contention",
            missed: |n| {
                format!("{n} operations were still stuck inside the store when your test reported")
            },
        },
    }
}

fn catches<S: Subject>(subject: &S, ctx: &Ctx, bug: Bug) -> Verdict {
    let planting = planting(bug);
    let mut seeds = Vec::new();
    for attempt in 0..ATTEMPTS {
        let mut config = default_config(ctx.seed().wrapping_add(attempt));
        if bug == Bug::DeadlocksUnderContention {
            // The run will hang; no need to wait long to find out.
            config.deadline = Duration::from_secs(3);
        }
        seeds.push(config.seed);
        let store: Arc<dyn Planted> = Arc::from(bug.store());
        let ran = run_guarded(ctx, subject, store.clone(), &config, planting.name);
        if bug == Bug::PanicsUnderContention {
            // Expected panics, provoked by the checker: not the stress test's.
            let _ = probe_kit::take_recorded_panic();
        }
        let report = match ran {
            Ran::Report(report) => report,
            // An unfinished step of the learner's: raise it again, so that it is
            // reported as "not implemented yet".
            Ran::Panicked(message) if message.starts_with("not yet implemented") => {
                panic!("{message}")
            }
            Ran::Panicked(message) => return Err(panicked(&message, planting.name)),
            Ran::Hung(waited) => return Err(hung(waited, planting.name, &config)),
        };
        if !report.passed() {
            return Ok(());
        }
        let showed = store.times_it_showed();
        if showed > 0 {
            return Err(Failure::new(
                format!("FAIL on {}", planting.name),
                format!(
                    "your stress test reported PASS, although {}",
                    (planting.missed)(showed)
                ),
            )
            .with_detail(format!(
                "seed {}; your report:\n{}",
                config.seed,
                shown(subject, &report)
            )));
        }
        // The bug did not happen in this run: not the test's fault yet. Try again.
    }
    Err(Failure::new(
        format!("FAIL on {}", planting.name),
        format!(
            "the planted bug never happened in {ATTEMPTS} runs of your stress test (seeds \
             {seeds:?}): it only shows when threads use the store at the same time, so \
             start every thread before waiting for any, and keep the default load (4 \
             writers, 4 readers, 1000 operations each, 8 keys)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reference;

    /// The maintainers' side of the report snapshot: review changes with
    /// `cargo insta review`. The probe compares against the same file.
    #[test]
    fn reference_report() {
        let config = default_config(7);
        let real = reference::run_stress(Arc::new(ConcurrentStore::new()), &config);
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("report", render_reports(&Reference, &real));
        });
    }
}
