//! The criteria of lesson 03. The learner's stress test runs on the correct store
//! of lesson 02, on a recording store, and on the lab stores of [`planted`] (each
//! bug planted, and its twin without the bug); it is graded by whether its verdict
//! is right *and* right for the right reason. It always runs on a thread of the
//! probe's with a deadline, so a stress test that waits forever is reported, not
//! waited on. Every store it gets is [`Watched`], so that a wrong report can be
//! explained by what the test really did with the store.
//!
//! [`planted`]: crate::planted

use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use probe_kit::{Criterion, Ctx, Failure, Info, Verdict, snapshot, sync};
use rand::RngExt;
use rand::rngs::StdRng;
use reference::{
    Check, Command, ConcurrentStore, KvStore, Response, StressConfig, StressReport, Violation,
};

use crate::Subject;
use crate::planted::{Bug, Lab, PANIC_MESSAGE};
use crate::watched::{Tally, Watched};

/// How long the checker gives one criterion before it calls the probe hung: room
/// for each of its runs to be tried again with a longer deadline (see [`run_on`]).
/// A stress test that hangs is caught sooner, by the probe, within [`patience`].
const BUDGET_SECS: u64 = 90;

pub const PLAN_SEEDED: Info = Info {
    id: "plan-seeded",
    title: "the same seed gives the same operations per thread, and thread t, named \
            config.thread_name(t), runs exactly its plan",
    hint: "Draw every random choice from a generator seeded with the config's seed and the \
           thread's number (StdRng::seed_from_u64), never from rand::rng() or one generator \
           shared by all threads, and have each thread perform exactly plan(config, t).",
    book: "lesson03-stress-test.html#step-1-plan-each-threads-operations-from-the-seed",
    deadline_secs: BUDGET_SECS,
    graded: true,
    steps: &[1, 3],
};

pub const PASSES_ON_CORRECT_STORE: Info = Info {
    id: "passes-on-correct-store",
    title: "on lesson 02's correct store the test passes, counting every thread and operation",
    hint: "On a correct store every check must pass: a read may see any version that was \
           current at some moment during the GET, not necessarily the latest one. Count \
           all threads (writers and readers) and every operation they completed.",
    book: "lesson03-stress-test.html#step-5-put-it-together",
    deadline_secs: BUDGET_SECS,
    graded: true,
    steps: &[2, 3, 4, 5],
};

pub const REPORT_SHAPE: Info = Info {
    id: "report-shape",
    title: "the report prints in the expected shape (time redacted)",
    hint: "Compare your lines with the expected ones in the diff: one line per fact, in \
           this order, with PASS, FAIL (why) or SKIPPED (why).",
    book: "lesson03-stress-test.html#step-6-print-the-report",
    deadline_secs: BUDGET_SECS,
    graded: true,
    steps: &[6],
};

pub const CATCHES_LOST_UPDATE: Info = Info {
    id: "catches-lost-update",
    title: "the test fails the invariants line on a store that loses updates, and passes the \
            same store without the bug",
    hint: "After every thread has finished, call check_invariants on the store and report \
           FAIL if it returns an error. The threads must run at the same time, or the bug \
           never happens.",
    book: "lesson03-stress-test.html#the-invariants-after-the-run",
    deadline_secs: BUDGET_SECS,
    graded: true,
    steps: &[3, 5],
};

pub const CATCHES_TORN_WRITE: Info = Info {
    id: "catches-torn-write",
    title: "the test fails the reads line on a store whose writes become visible in two \
            steps, and passes the same store without the bug",
    hint: "Check every value a reader saw: some write must have acknowledged exactly that \
           key, version and value (keep the writers' responses, not just the readers').",
    book: "lesson03-stress-test.html#step-4-check-what-the-readers-saw",
    deadline_secs: BUDGET_SECS,
    graded: true,
    steps: &[4, 5],
};

pub const CATCHES_VERSION_GOING_BACK: Info = Info {
    id: "catches-version-going-back",
    title: "the test fails the reads line on a store whose versions can go back, and passes \
            the same store without the bug",
    hint: "For each reader and each key, the versions it reads must never decrease: \
           remember the last version each reader saw of each key, and update it after \
           every read.",
    book: "lesson03-stress-test.html#step-4-check-what-the-readers-saw",
    deadline_secs: BUDGET_SECS,
    graded: true,
    steps: &[4, 5],
};

pub const CATCHES_PANIC: Info = Info {
    id: "catches-panic",
    title: "the test reports a panic, without panicking itself, on a store that panics under \
            contention, and counts only the threads that finished",
    hint: "A worker thread's panic must become a FAIL line of the report that says it \
           panicked: catch it with catch_unwind in the thread (or inspect what join \
           returns), never unwrap it.",
    book: "lesson03-stress-test.html#step-3-run-the-threads-with-a-deadline",
    deadline_secs: BUDGET_SECS,
    graded: true,
    steps: &[3, 5],
};

pub const CATCHES_DEADLOCK: Info = Info {
    id: "catches-deadlock",
    title: "the test reports a hang within its deadline on a store that deadlocks under \
            contention",
    hint: "Never wait for a thread without a deadline: collect the results through a channel \
           with recv_timeout until one deadline, config.deadline from the start, then report \
           the threads that did not finish, and do not ask the store anything more.",
    book: "lesson03-stress-test.html#step-3-run-the-threads-with-a-deadline",
    deadline_secs: BUDGET_SECS,
    graded: true,
    steps: &[3, 5],
};

/// The lesson's criteria, in the order they run and are reported.
pub fn all<S: Subject>() -> Vec<Criterion<S>> {
    vec![
        Criterion::new(&PLAN_SEEDED, plan_seeded),
        Criterion::new(&PASSES_ON_CORRECT_STORE, passes_on_correct_store),
        Criterion::new(&REPORT_SHAPE, report_shape),
        Criterion::new(&CATCHES_LOST_UPDATE, |subject, ctx| {
            catches(subject, ctx, Bug::LostUpdate)
        }),
        Criterion::new(&CATCHES_TORN_WRITE, |subject, ctx| {
            catches(subject, ctx, Bug::TornWrite)
        }),
        Criterion::new(&CATCHES_VERSION_GOING_BACK, |subject, ctx| {
            catches(subject, ctx, Bug::VersionGoesBack)
        }),
        Criterion::new(&CATCHES_PANIC, |subject, ctx| {
            catches(subject, ctx, Bug::PanicsUnderContention)
        }),
        Criterion::new(&CATCHES_DEADLOCK, |subject, ctx| {
            catches(subject, ctx, Bug::DeadlocksUnderContention)?;
            one_deadline_for_the_run(subject, ctx)
        }),
    ]
}

/// The deadline given to the stress test on the deadlocking store and its twin.
/// Every correct test waits it out there, twice (see [`one_deadline_for_the_run`]),
/// so it is short; the twin is over in about 30 ms on an idle machine, and a busy
/// one gets [`BUSY_MACHINE_FACTOR`] times as long. Not a whole number of seconds,
/// so that a reason that prints it another way than `Duration`'s `Debug` (`150ms`)
/// is seen.
const DEADLOCK_DEADLINE: Duration = Duration::from_millis(150);

/// The deadline given to the stress test on the panicking store and its twin. A
/// correct test never waits it out (a panicking thread still sends its outcome),
/// so it can be long, which the twin needs: its readers pause inside the lock, and
/// on a machine busy with the whole test suite its run once took over a second.
const PANIC_DEADLINE: Duration = Duration::from_millis(1500);

/// How long the checker waits for a report: the test's own deadline, then as long
/// again (at least 2 s) for whatever the test does after it. A correct test does
/// nothing slow after its deadline (it no longer calls the store), so this only
/// catches tests that wait past their deadline: `join()`, a fresh timeout per
/// thread, a call to a store whose lock a stuck thread holds.
fn patience(config: &StressConfig) -> Duration {
    config.deadline + config.deadline.max(Duration::from_secs(2))
}

/// The lesson's default configuration, with the run's seed.
fn default_config(seed: u64) -> StressConfig {
    StressConfig {
        seed,
        ..StressConfig::default()
    }
}

/// `4 writers, 4 readers, 1000 operations each, 8 keys, seed 7`
fn setting(config: &StressConfig) -> String {
    format!(
        "{} writers, {} readers, {} operations each, {} keys, seed {}",
        config.writers, config.readers, config.ops_per_thread, config.keys, config.seed
    )
}

fn expected_operations(config: &StressConfig) -> u64 {
    (config.threads() * config.ops_per_thread) as u64
}

/// How a run of the learner's stress test ended.
enum Ran {
    /// The report, and the store's ledger the moment it came back.
    Report(StressReport, Tally),
    Panicked(String),
    Hung(Duration),
}

/// One run of the learner's stress test, after [`run_on`]: the store it used, how
/// it ended, and the configuration it ran with in the end.
struct Run<K> {
    store: Arc<Watched<K>>,
    ran: Ran,
    config: StressConfig,
    /// The test gave up at its deadline, twice, on a store that never hangs and was
    /// still serving its threads.
    out_of_time: bool,
}

/// How much longer the deadline is when a run is tried again; see [`run_on`].
const BUSY_MACHINE_FACTOR: u32 = 3;

/// Runs the stress test on a fresh store from `new_store`. A store that cannot hang
/// can still be slow, on a machine busy with other work; a test that gave up at
/// its deadline while such a store was still serving its threads did right, and
/// the run says nothing about it. So that run is tried once more, on a fresh
/// store, with a deadline [`BUSY_MACHINE_FACTOR`] times as long, once the first
/// run's threads are done. `may_hang` is for the one store built to hang.
fn run_on<S: Subject, K: KvStore + 'static>(
    ctx: &Ctx,
    subject: &S,
    config: &StressConfig,
    what: &str,
    may_hang: bool,
    new_store: impl Fn() -> K,
) -> Run<K> {
    let mut config = config.clone();
    let mut tries = 0;
    loop {
        tries += 1;
        let store = Arc::new(Watched::new(new_store()));
        let started = Instant::now();
        let ran = run_guarded(ctx, subject, &store, &config, what);
        let out_of_time = !may_hang && ran_out_of_time(&ran, started.elapsed(), &store, &config);
        if !out_of_time || tries == 2 {
            return Run {
                store,
                ran,
                config,
                out_of_time,
            };
        }
        ctx.progress(format_args!(
            "the store was still serving your test's threads at its deadline of {:?}:              the machine is busy; once more, with {:?}",
            config.deadline,
            config.deadline * BUSY_MACHINE_FACTOR
        ));
        wait_for_threads(&store, patience(&config));
        config.deadline *= BUSY_MACHINE_FACTOR;
    }
}

/// Whether the test gave up at its deadline, saying a thread did not finish, while
/// the store was still at work for its threads.
fn ran_out_of_time<K: KvStore>(
    ran: &Ran,
    elapsed: Duration,
    store: &Watched<K>,
    config: &StressConfig,
) -> bool {
    let Ran::Report(report, at_return) = ran else {
        return false;
    };
    let gave_up = matches!(&report.finished, Check::Fail(why) if says_it_hung(why));
    if !gave_up || elapsed < config.deadline {
        return false;
    }
    // Threads between two operations are not inside the store: see whether any
    // goes on.
    thread::sleep(Duration::from_millis(50));
    at_return.in_flight > 0 || store.tally().completed > at_return.completed
}

/// Waits, at most `limit`, until no thread is inside the store and none goes on.
fn wait_for_threads<K: KvStore>(store: &Watched<K>, limit: Duration) {
    let until = Instant::now() + limit;
    let mut before = store.tally();
    while Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
        let now = store.tally();
        if now.in_flight == 0 && now.completed == before.completed {
            return;
        }
        before = now;
    }
}

/// Runs the stress test on a thread of the probe's, and never waits for it past
/// [`patience`].
fn run_guarded<S: Subject, K: KvStore + 'static>(
    ctx: &Ctx,
    subject: &S,
    store: &Arc<Watched<K>>,
    config: &StressConfig,
    what: &str,
) -> Ran {
    ctx.progress(format_args!(
        "your stress test runs on {what} (seed {})",
        config.seed
    ));
    let (subject, config, store) = (subject.clone(), config.clone(), Arc::clone(store));
    let limit = patience(&config);
    let worker = sync::spawn("stress-test", move || {
        panic::catch_unwind(AssertUnwindSafe(|| {
            let report = subject.run_stress(store.clone() as Arc<dyn KvStore>, &config);
            (report, store.tally())
        }))
        .map_err(|payload| reference::panic_message(&*payload))
    });
    match worker.join_by(Instant::now() + limit) {
        Ok(Ok((report, tally))) => Ran::Report(report, tally),
        Ok(Err(message)) => Ran::Panicked(message),
        Err(stuck) => Ran::Hung(stuck.waited),
    }
}

/// A report, or the failure that stands for a panic or a hang of the test itself,
/// or for a run that ran out of time even with the longer deadline.
fn report_of<K: KvStore>(run: Run<K>, what: &str) -> Result<Finished<K>, Failure> {
    let Run {
        store,
        ran,
        config,
        out_of_time,
    } = run;
    match ran {
        Ran::Report(report, at_return) if out_of_time => Err(Failure::new(
            format!("a run that ends within the deadline on {what}"),
            format!(
                "your test gave up at its deadline of {:?} while the store was still                  serving its threads ({} of {} operations done, {} threads inside), and                  did so again with a deadline {BUSY_MACHINE_FACTOR} times as long; this                  store never hangs",
                config.deadline,
                at_return.completed,
                expected_operations(&config),
                at_return.in_flight
            ),
        )
        .with_hint(
            "If this machine is busy with other work, run the check again when it is              not. Otherwise your threads are slow: each should call the store directly,              with no sleep and no lock of the test's own around the calls.",
        )
        .with_detail(format!("{}; your report:\n{report:?}", setting(&config)))),
        Ran::Report(report, at_return) => Ok(Finished {
            store,
            report,
            at_return,
            config,
        }),
        // An unfinished step of the learner's: raise it again, so that it is
        // reported as "not implemented yet".
        Ran::Panicked(message) if message.starts_with("not yet implemented") => {
            panic!("{message}")
        }
        Ran::Panicked(message) => Err(panicked(&message, what)),
        Ran::Hung(waited) => Err(hung(waited, what, &config, &store)),
    }
}

/// A run that ended with a report.
struct Finished<K> {
    store: Arc<Watched<K>>,
    report: StressReport,
    /// The store's ledger the moment the report came back.
    at_return: Tally,
    config: StressConfig,
}

/// The report as evidence, one line per fact.
fn shown<S: Subject>(subject: &S, report: &StressReport) -> String {
    panic::catch_unwind(AssertUnwindSafe(|| subject.render(report)))
        .unwrap_or_else(|_| format!("{report:?}"))
}

fn evidence<S: Subject>(subject: &S, config: &StressConfig, report: &StressReport) -> String {
    format!(
        "{}; your report:\n{}",
        setting(config),
        shown(subject, report)
    )
}

fn hung<K: KvStore>(
    waited: Duration,
    what: &str,
    config: &StressConfig,
    store: &Watched<K>,
) -> Failure {
    let tally = store.tally();
    let expected = format!(
        "a report within the config's deadline of {:?} (the checker waits {:?} in all)",
        config.deadline,
        patience(config)
    );
    let failure = if store.invariants_call_stuck() {
        Failure::new(
            expected,
            format!(
                "your stress test was still running after {waited:.0?} on {what}, inside a \
                 call of check_invariants: {} threads were stuck in the store, and the call \
                 waits for the lock one of them holds",
                tally.in_flight
            ),
        )
        .with_hint(
            "When a thread did not finish, report it and skip the checks that use the \
             store (invariants: SKIPPED): a stuck thread may hold the store's lock, so \
             any call of the store can wait forever.",
        )
    } else if tally.in_flight > 0 {
        Failure::new(
            expected,
            format!(
                "your stress test was still running after {waited:.0?} on {what}: {} of its \
                 threads were stuck in the store, and it went on waiting for them past its \
                 deadline",
                tally.in_flight
            ),
        )
        .with_hint(
            "Wait for the threads against one deadline for the whole run, config.deadline \
             from the start: recv_timeout with the time that is left, never join() (it \
             cannot give up) and never a fresh timeout for each thread (eight threads, \
             eight deadlines).",
        )
    } else {
        Failure::new(
            expected,
            format!(
                "your stress test was still running after {waited:.0?} on {what}, although \
                 no thread was inside the store ({} operations done): it waits for \
                 something that never comes",
                tally.completed
            ),
        )
        .with_hint(
            "Stop waiting once every thread has reported: count the outcomes received, \
             and keep a sender of the channel only in the threads (a sender the main \
             thread keeps means recv never sees the channel close).",
        )
    };
    // The test's thread never came back: the checker treats it as a hang it saw.
    failure.with_detail(setting(config)).stuck()
}

fn panicked(message: &str, what: &str) -> Failure {
    Failure::new(
        format!("a report, not a panic, on {what}"),
        format!("your stress test panicked: {message}"),
    )
}

// ---------------------------------------------------------------------------
// plan-seeded

/// A correct store that records which commands each thread performed, and the
/// thread's name.
struct Recording {
    store: ConcurrentStore,
    seen: Mutex<HashMap<ThreadId, Performed>>,
}

/// A thread's name, and the commands it performed.
type Performed = (Option<String>, Vec<Command>);

impl Recording {
    fn record(&self, command: Command) {
        let current = thread::current();
        self.seen
            .lock()
            .entry(current.id())
            .or_insert_with(|| (current.name().map(str::to_owned), Vec::new()))
            .1
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
    // Every thread's plan must follow every bit of the seed: a mix that drops the
    // seed for one thread (`seed * thread` for thread 0) gives that thread the same
    // plan on every run, and one that shifts the seed (`seed << 8 | thread`) or
    // multiplies it by an even number loses its top bits. So each of the 64 seeds
    // one bit away must change every thread's plan.
    let others = (0..u64::BITS).map(|bit| config.seed ^ (1 << bit));
    for other_seed in others {
        let other = StressConfig {
            seed: other_seed,
            ..config.clone()
        };
        if let Some(t) = (0..config.threads()).find(|&t| subject.plan(&other, t) == plans[t]) {
            return Err(Failure::new(
                "another seed gives every thread other operations",
                format!(
                    "seeds {} and {other_seed}, one bit apart (bit {}), gave {} the same \
                     operations",
                    config.seed,
                    (config.seed ^ other_seed).trailing_zeros(),
                    config.thread_name(t)
                ),
            )
            .with_hint(
                "Mix the thread's number into the seed without losing any of the seed's bits \
                 (seed ^ t, or seed.wrapping_add(t)): a shift, a multiplication by an even \
                 number or a cut to fewer bits makes some seeds replay another seed's run.",
            ));
        }
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
    let what = "a store that records each thread's operations";
    let run = run_on(ctx, subject, &config, what, false, || Recording {
        store: ConcurrentStore::new(),
        seen: Mutex::new(HashMap::new()),
    });
    let Finished {
        store: recording,
        at_return,
        config,
        ..
    } = report_of(run, what)?;
    still_running(&recording, at_return, &config)?;
    let (names, performed): (Vec<Option<String>>, Vec<Vec<Command>>) =
        recording.store().seen.lock().values().cloned().unzip();
    for t in 0..config.threads() {
        let plan = subject.plan(&config, t);
        let name = config.thread_name(t);
        if let Some(thread) = performed.iter().position(|p| *p == plan) {
            // A report names threads, and so do the checker's findings: by name.
            if names[thread].as_deref() != Some(name.as_str()) {
                let called = match &names[thread] {
                    Some(other) => format!("named {other:?}"),
                    None => "not named".to_owned(),
                };
                return Err(Failure::new(
                    format!("the thread that performs plan(config, {t}) is named {name:?}"),
                    format!("it was {called}"),
                )
                .with_hint(
                    "Start thread t with thread::Builder::new().name(config.thread_name(t)), \
                     so that a panic message, a debugger and the checker's findings name it \
                     as the report does.",
                ));
            }
            continue;
        }
        // The thread that followed this plan longest, to show where it strayed.
        let agreeing = |p: &Vec<Command>| p.iter().zip(&plan).take_while(|(a, b)| a == b).count();
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
    Ok(())
}

/// Fails if the report came back while the test's threads were still at work:
/// operations in flight then, or more operations done since. This reads the
/// ledger rather than forcing anything: a test that does not wait is caught
/// whenever its threads are not all done the moment it reports, which, with 8
/// threads of 1000 operations behind a starting gate, is every time (measured:
/// the `never-waits` fixture, 100 of 100 runs; a run whose threads happened to be
/// done is still rejected by its report, which has their outcomes missing).
fn still_running<K: KvStore>(
    store: &Watched<K>,
    at_return: Tally,
    config: &StressConfig,
) -> Verdict {
    let mut later = store.tally();
    if at_return.in_flight == 0 && at_return.completed < expected_operations(config) {
        // Fewer operations than the plans hold, and none running: either the plans
        // are short (plan-seeded's business) or the threads have not got going yet.
        // Only a failing run gets here, so it may wait a little to see which.
        let until = Instant::now() + Duration::from_secs(1);
        while later.completed == at_return.completed && Instant::now() < until {
            thread::sleep(Duration::from_millis(5));
            later = store.tally();
        }
    }
    if at_return.in_flight == 0 && later.completed == at_return.completed {
        return Ok(());
    }
    Err(Failure::new(
        "a report once every thread has finished",
        format!(
            "your report came back when the store had served {} of the {} operations \
             ({} threads still inside it); the threads went on after it",
            at_return.completed,
            expected_operations(config),
            at_return.in_flight
        ),
    )
    .with_hint(
        "Wait for every thread's outcome before checking anything: receive one message per \
         thread (recv_timeout, until the deadline), and only then count, check the \
         invariants and check the reads.",
    )
    .with_detail(setting(config)))
}

/// A test returns once its threads are done, not when its deadline is up: one
/// that waits the deadline out anyway (polling until it passes, a sleep of the
/// deadline) makes every run as slow as a hang. Judged with slack no busy machine
/// needs: on a store that never hangs, the report came at the deadline or later,
/// and half a deadline or more after the last operation ended.
fn returned_when_done(at_return: Tally, config: &StressConfig) -> Verdict {
    let idle = at_return.at.saturating_sub(at_return.last_done);
    if at_return.at < config.deadline || idle < config.deadline / 2 {
        return Ok(());
    }
    let planned = expected_operations(config);
    if at_return.completed < planned {
        // No thread in the store, and operations left undone: threads that never
        // got to them, such as threads still waiting at a gate that never opens.
        return Err(Failure::new(
            "every thread does its whole plan, and the report comes soon after",
            format!(
                "your report came {:?} into the run, past the deadline of {:?}, and only \
                 {} of the {planned} operations were done, none in progress: some threads \
                 never got to their operations",
                at_return.at, config.deadline, at_return.completed
            ),
        )
        .with_hint(
            "Every thread must reach its operations: a starting gate is a Barrier for all \
             config.threads() threads (writers and readers), and each thread waits at it \
             once, right before its first operation.",
        )
        .with_detail(setting(config)));
    }
    Err(Failure::new(
        "a report soon after the last thread is done",
        format!(
            "the last operation ended {:?} into the run, and your report came {:?} into \
             it, past the deadline of {:?}, with every thread long done",
            at_return.last_done, at_return.at, config.deadline
        ),
    )
    .with_hint(
        "run_threads waits for the threads' outcomes, not for the clock: block on the \
         channel (recv_timeout, with what is left of the deadline) and return as soon as \
         every thread has reported. Only a stuck thread makes it wait until the deadline.",
    )
    .with_detail(setting(config)))
}

// ---------------------------------------------------------------------------
// passes-on-correct-store

fn passes_on_correct_store<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    // First one operation at a time, deterministically: a read check that fails
    // a correct history is named as such, whatever the scheduler does later.
    let config = default_config(ctx.seed());
    let (plans, seen) = serial_history(&config, &mut ctx.rng(0x5E71A1));
    ctx.progress("check_reads on a history lesson 02's store gave, one operation at a time");
    passes_a_correct_history(subject, &config, &plans, &seen)?;
    let mut configs = vec![
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
    // Whether a run began before all its threads were started is up to the
    // scheduler (see [`started_behind_a_gate`]): short runs, each a few
    // milliseconds, give it many more chances to show.
    configs.extend((0..GATE_RUNS).map(|k| StressConfig {
        ops_per_thread: 20,
        seed: ctx.seed().wrapping_add(2 + k),
        ..default_config(ctx.seed())
    }));
    for config in configs {
        let what = "lesson 02's correct store";
        let run = run_on(ctx, subject, &config, what, false, ConcurrentStore::new);
        let Finished {
            store,
            report,
            at_return,
            config,
        } = report_of(run, what)?;
        judge_correct_run(subject, &report, at_return, &store, &config, what)?;
        started_behind_a_gate(&store, &config)?;
    }
    Ok(())
}

/// How many short runs [`passes_on_correct_store`] adds for [`started_behind_a_gate`].
const GATE_RUNS: u64 = 10;

/// Every thread exists before any begins its operations: when the first operation
/// reached the store, a thread of every name `config.thread_name(t)` was alive. A
/// test without a starting gate lets the first thread it starts begin while it is
/// still starting the others, and the threads overlap less than the load asks for.
/// Whether a given run shows it is up to the scheduler, so every run of the
/// criterion is looked at (measured on an outside tester's crate with the gate left
/// out: with the two long runs alone it was caught in 99 of 100 checks; with the
/// [`GATE_RUNS`] short ones as well, in 1000 of 1000 idle and 100 of 100 beside four
/// busy loops, and the correct tests passed 100 of 100 both ways). Nothing is judged
/// where the system does not list a process's threads.
fn started_behind_a_gate<K: KvStore>(store: &Watched<K>, config: &StressConfig) -> Verdict {
    let Some(alive) = store.alive_at_first_operation() else {
        return Ok(());
    };
    // Linux keeps a thread's name to 15 bytes.
    let short = |name: String| name.chars().take(15).collect::<String>();
    let missing: Vec<String> = (0..config.threads())
        .map(|t| config.thread_name(t))
        .filter(|name| !alive.contains(&short(name.clone())))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        "every thread started before any begins its operations (a starting gate)",
        format!(
            "when the first operation reached the store, {} of the {} threads had not been \
             started yet: {}",
            missing.len(),
            config.threads(),
            missing.join(", ")
        ),
    )
    .with_hint(
        "Start every thread first and hold each at a starting gate (one Barrier for all \
         config.threads() threads, waited on right before a thread's first operation), so \
         that they begin together: a thread that begins as soon as it is started runs \
         while the next ones are still being started.",
    )
    .with_detail(setting(config)))
}

/// What must hold of any run on a correct store: the test waited for its threads,
/// passed every check, and counted every thread and operation.
fn judge_correct_run<S: Subject, K: KvStore>(
    subject: &S,
    report: &StressReport,
    at_return: Tally,
    store: &Watched<K>,
    config: &StressConfig,
    what: &str,
) -> Verdict {
    still_running(store, at_return, config)?;
    returned_when_done(at_return, config)?;
    let evidence = || evidence(subject, config, report);
    if !report.passed() {
        let (line, check) = [
            ("threads finished", &report.finished),
            ("invariants", &report.invariants),
            ("reads consistent", &report.reads),
        ]
        .into_iter()
        .find(|(_, c)| **c != Check::Pass)
        .expect("a report that did not pass has a line that did not");
        let calls = store.invariants_calls();
        let hint = match (line, check) {
            ("threads finished", _) => format!(
                "All {} threads finished well within the deadline and none panicked, so \
                 the line is wrong about them: check how each thread's outcome is received \
                 and matched to its number, and that the deadline is config.deadline.",
                config.threads()
            ),
            (_, Check::Skipped(_)) => {
                "Skip a check only when a thread did not finish; here every thread did.".into()
            }
            ("invariants", _) if calls.is_empty() => {
                "Your report failed the invariants without calling check_invariants: the \
                 line must be what check_invariants answers, after the threads are done."
                    .into()
            }
            ("invariants", _) => {
                "check_invariants answered Ok on this correct store: report PASS for Ok and \
                 FAIL with the violation for Err."
                    .into()
            }
            (_, Check::Fail(why)) if why.contains("back") => {
                "Versions go back only if one reader reads one key at a version lower than \
                 it read that same key at before: keep the last version per reader and per \
                 key, compare only within one reader's own reads in its order, and skip \
                 answers with no version (NotFound)."
                    .into()
            }
            _ => "A read is right if some SET was acknowledged with exactly that key, version \
                  and value (a DEL takes a version too, so a key's versions have gaps), and a \
                  read may see any version current at some moment during the GET, not only \
                  the newest."
                .into(),
        };
        return Err(Failure::new(
            format!("PASS on {what}"),
            format!("your stress test reported {line}: {check}"),
        )
        .with_hint(hint)
        .with_detail(evidence()));
    }
    let want = (config.threads(), expected_operations(config) as usize);
    if (report.threads, report.operations) != want {
        let hint = if report.threads != want.0 {
            "threads counts every thread the test started, writers and readers alike."
        } else {
            "operations counts the responses the threads got back: every operation of \
             every thread that finished."
        };
        return Err(Failure::new(
            format!("{} threads, {} operations total", want.0, want.1),
            format!(
                "{} threads, {} operations total",
                report.threads, report.operations
            ),
        )
        .with_hint(hint)
        .with_detail(evidence()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// check_reads on histories made one operation at a time

/// The reference's plans run on lesson 02's store one operation at a time, the
/// threads taking turns in a seeded random order: a history a correct store can
/// give, made without threads, in which the readers see keys change, vanish and
/// come back between their reads, read one version twice, and read the keys in
/// every order relative to one another. Whatever the scheduler would have done,
/// every case a read check must accept is in it.
fn serial_history(
    config: &StressConfig,
    rng: &mut StdRng,
) -> (Vec<Vec<Command>>, Vec<Vec<Response>>) {
    let plans: Vec<Vec<Command>> = (0..config.threads())
        .map(|t| reference::plan(config, t))
        .collect();
    let store = ConcurrentStore::new();
    let mut next = vec![0; plans.len()];
    let mut seen = vec![Vec::new(); plans.len()];
    let mut running: Vec<usize> = (0..plans.len()).collect();
    while !running.is_empty() {
        let i = rng.random_range(0..running.len());
        let t = running[i];
        seen[t].extend(reference::perform(&store, &plans[t][next[t]..=next[t]]));
        next[t] += 1;
        if next[t] == plans[t].len() {
            running.swap_remove(i);
        }
    }
    (plans, seen)
}

fn history_setting(config: &StressConfig) -> String {
    format!(
        "the reference's plans for {}, run on lesson 02's store one operation at a \
         time, the threads taking turns in a random order",
        setting(config)
    )
}

/// The hint for a read check that failed a correct history, by what it said.
fn false_alarm_hint(check: &Check) -> String {
    match check {
        Check::Fail(why) if why.contains("back") => {
            "Versions go back only if one reader reads one key at a version lower than it \
             read that same key at before: keep the last version per reader and per key, \
             compare only within one reader's own reads, in their order, equal versions \
             included, and skip answers with no version (NotFound)."
                .into()
        }
        Check::Fail(_) => "A read is right if some SET was acknowledged with exactly that key, \
                           version and value (a DEL takes a version too, so a key's versions \
                           have gaps), and a read may see any version current at some moment \
                           during the GET, not only the newest."
            .into(),
        _ => "check_reads answers Pass or Fail: Skipped is for checks that could not run.".into(),
    }
}

/// check_reads must pass a history a correct store gave.
fn passes_a_correct_history<S: Subject>(
    subject: &S,
    config: &StressConfig,
    plans: &[Vec<Command>],
    seen: &[Vec<Response>],
) -> Verdict {
    match subject.check_reads(config, plans, seen) {
        Check::Pass => Ok(()),
        other => Err(Failure::new(
            "check_reads answers Pass for what a correct store answered",
            format!("it answered {other}"),
        )
        .with_hint(false_alarm_hint(&other))
        .with_detail(history_setting(config))),
    }
}

/// A history with one read changed, which a read check must fail, naming that read.
struct Changed {
    seen: Vec<Vec<Response>>,
    /// What was changed, for the evidence.
    what: String,
    /// The reader and the key of the one read that breaks a rule.
    reader: String,
    key: String,
}

/// The same history with one read changed the way `bug` changes it: a torn read
/// (a new value under its key's old version), or a reader's two reads of one key
/// swapped so that the later shows the older version. `None` if the history has
/// no read to change (never, with the lesson's default load).
fn tampered(
    bug: Bug,
    config: &StressConfig,
    plans: &[Vec<Command>],
    seen: &[Vec<Response>],
) -> Option<Changed> {
    let mut seen = seen.to_vec();
    // (key, version) -> value, for every acknowledged SET
    let mut stored: HashMap<(&str, u64), &str> = HashMap::new();
    for (plan, responses) in plans.iter().zip(&seen) {
        for (command, response) in plan.iter().zip(responses) {
            if let (Command::Set { key, value }, Response::Stored { version, .. }) =
                (command, response)
            {
                stored.insert((key, *version), value);
            }
        }
    }
    let stored: HashMap<(String, u64), String> = stored
        .into_iter()
        .map(|((k, v), value)| ((k.to_owned(), v), value.to_owned()))
        .collect();
    for t in config.writers..config.threads() {
        let reader = config.thread_name(t);
        // The reads of each key by this reader: (position, version).
        let mut by_key: HashMap<&str, Vec<(usize, u64)>> = HashMap::new();
        for (i, (command, response)) in plans[t].iter().zip(&seen[t]).enumerate() {
            if let (Command::Get { key }, Response::Value { version, .. }) = (command, response) {
                by_key.entry(key).or_default().push((i, *version));
            }
        }
        let mut keys: Vec<&str> = by_key.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let reads = &by_key[key];
            match bug {
                Bug::TornWrite => {
                    // The last read whose version was later overwritten by a SET.
                    let Some((i, version, value)) = reads.iter().rev().find_map(|&(i, v)| {
                        stored
                            .get(&(key.to_owned(), v + 1))
                            .map(|value| (i, v, value.clone()))
                    }) else {
                        continue;
                    };
                    seen[t][i] = Response::Value {
                        value: value.clone(),
                        version,
                    };
                    let what = format!(
                        "{reader}'s GET {key} (operation {}) answered {value:?} at v{version}: \
                         the value of the SET that made v{}, with the version before it",
                        i + 1,
                        version + 1
                    );
                    return Some(Changed {
                        seen,
                        what,
                        reader,
                        key: key.to_owned(),
                    });
                }
                _ => {
                    // The last two reads of the key, at two versions, after a first
                    // read of it: swapped, the later shows the older version, a step
                    // back, as a writer putting back a stale copy makes it.
                    let Some(w) = (2..reads.len())
                        .rev()
                        .find(|&j| reads[j - 1].1 < reads[j].1)
                    else {
                        continue;
                    };
                    let ((a, older), (b, newer)) = (reads[w - 1], reads[w]);
                    seen[t].swap(a, b);
                    let what = format!(
                        "{reader} read {key} at v{newer} (operation {}), then at v{older} \
                         (operation {}): both pairs were written, in the other order",
                        a + 1,
                        b + 1
                    );
                    return Some(Changed {
                        seen,
                        what,
                        reader,
                        key: key.to_owned(),
                    });
                }
            }
        }
    }
    None
}

/// check_reads must pass a correct history and fail it with one read changed as
/// `bug` changes it: the read check, taken on its own, sees the bug by
/// construction, not when a run happens to show it.
fn check_reads_sees<S: Subject>(subject: &S, ctx: &Ctx, bug: Bug) -> Verdict {
    let config = default_config(ctx.seed());
    let (plans, seen) = serial_history(&config, &mut ctx.rng(0x5E71A1));
    ctx.progress("check_reads on a history lesson 02's store gave, one operation at a time");
    passes_a_correct_history(subject, &config, &plans, &seen)?;
    let mut changes = vec![tampered(bug, &config, &plans, &seen)];
    if bug == Bug::VersionGoesBack {
        changes.push(back_across_not_found(&config, &plans, &seen));
    }
    for change in changes {
        let Changed {
            seen: changed,
            what,
            reader,
            key,
        } = change.expect("the lesson's default load gives every reader reads to change");
        ctx.progress("check_reads on the same history with one read changed");
        match subject.check_reads(&config, &plans, &changed) {
            Check::Fail(why) => {
                if !names(&why, &reader) || !names(&why, &key) {
                    return Err(Failure::new(
                        format!(
                            "check_reads's Fail names the one read that breaks a rule: \
                             {reader}'s read of {key}"
                        ),
                        format!("it said {why:?}, although {what}"),
                    )
                    .with_hint(
                        "Say which reader read which key, as the stub's texts do, so that \
                         whoever reads the report can find the read: the reader of plans[t] \
                         is config.thread_name(t), and thread numbers count the writers \
                         first, then the readers.",
                    )
                    .with_detail(history_setting(&config)));
                }
            }
            other => {
                return Err(Failure::new(
                    "check_reads answers Fail when one read is changed as the bug changes it",
                    format!("it answered {other}, although {what}"),
                )
                .with_hint(if bug == Bug::TornWrite {
                    CATCHES_TORN_WRITE.hint
                } else {
                    CATCHES_VERSION_GOING_BACK.hint
                })
                .with_detail(history_setting(&config)));
            }
        }
    }
    Ok(())
}

/// Whether `why` names `name` (a key or a thread) whole: `k1`, not the start of
/// `k10` or the end of `bk1`.
fn names(why: &str, name: &str) -> bool {
    why.match_indices(name).any(|(at, _)| {
        !why[..at].ends_with(|c: char| c.is_ascii_alphanumeric())
            && !why[at + name.len()..].starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The history with a step back that only a NotFound stands between: a reader's
/// last read of a key before a NotFound and its first read after it, swapped. A
/// read check that forgets what it last saw of a key when the key is missing (a
/// NotFound says nothing about versions, and forgets nothing either) passes it.
fn back_across_not_found(
    config: &StressConfig,
    plans: &[Vec<Command>],
    seen: &[Vec<Response>],
) -> Option<Changed> {
    let version = |response: &Response| match response {
        Response::Value { version, .. } => Some(*version),
        _ => None,
    };
    for t in config.writers..config.threads() {
        // The reads of each key by this reader, in order: (position, version).
        let mut by_key: HashMap<&str, Vec<(usize, Option<u64>)>> = HashMap::new();
        for (i, (command, response)) in plans[t].iter().zip(&seen[t]).enumerate() {
            if let Command::Get { key } = command {
                by_key.entry(key).or_default().push((i, version(response)));
            }
        }
        let mut keys: Vec<&str> = by_key.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let reads = &by_key[key];
            // A value, one or more NotFounds, then a value at a higher version.
            for (at, &(before, older)) in reads.iter().enumerate() {
                let Some(older) = older else { continue };
                let missing = reads[at + 1..]
                    .iter()
                    .take_while(|(_, v)| v.is_none())
                    .count();
                let Some(&(after, Some(newer))) = reads.get(at + 1 + missing) else {
                    continue;
                };
                if missing == 0 || newer <= older {
                    continue;
                }
                let mut seen = seen.to_vec();
                seen[t].swap(before, after);
                let reader = config.thread_name(t);
                let what = format!(
                    "{reader} read {key} at v{newer} (operation {}), found it missing, then \
                     read it at v{older} (operation {})",
                    before + 1,
                    after + 1
                );
                return Some(Changed {
                    seen,
                    what,
                    reader,
                    key: key.to_owned(),
                });
            }
        }
    }
    None
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
    let run = run_on(ctx, subject, &config, what, false, ConcurrentStore::new);
    let real = report_of(run, what)?.report;
    ctx.progress("printing the reports");
    snapshot::compare("report", REPORT_SNAPSHOT, &render_reports(subject, &real))
}

// ---------------------------------------------------------------------------
// catches-*

/// How many runs on the planted store a race bug gets. The bug shows many times in
/// every run of a test whose threads overlap (see [`crate::planted`]),
/// and a correct test catches it in every run where it showed, so the test must
/// catch it in each of them; the second run is there so that a run in which the
/// bug did not show at all is not the only one. (A read check that only sometimes
/// sees the bug is caught before these runs, on a history made one operation at a
/// time: see [`check_reads_sees`].) Panics and deadlocks are caught or not by the
/// test's structure, never by luck, so one run each is enough; and each of those
/// runs may wait out a deadline.
fn planted_runs(bug: Bug) -> usize {
    match bug {
        Bug::LostUpdate | Bug::TornWrite | Bug::VersionGoesBack => 2,
        Bug::PanicsUnderContention | Bug::DeadlocksUnderContention => 1,
    }
}

/// The configuration of a `catches-*` run, planted or twin alike: the lesson's
/// defaults with a lighter load, so that a passing check of the lesson stays under
/// a second. Every load is the smallest at which the bug still shows many times in
/// every run (the fewest times in a run on 100 seeds, measured with the ignored
/// test in `planted::reliability`: lost updates over 600 at 250 operations per
/// thread, torn reads over 90 at 100, versions going back 11 at 150, 4 panics, 4
/// stuck operations). Where a thread may never
/// finish, the test gets a deadline of its own ([`DEADLOCK_DEADLINE`],
/// [`PANIC_DEADLINE`]); the deadlock shows within the first few writes, so 25
/// operations per thread are enough, and keep the twin's run well inside the
/// deadline.
pub(crate) fn catch_config(bug: Bug, seed: u64) -> StressConfig {
    let ops_per_thread = match bug {
        Bug::LostUpdate => 250,
        Bug::TornWrite => 100,
        Bug::VersionGoesBack => 150,
        Bug::PanicsUnderContention => 100,
        Bug::DeadlocksUnderContention => 25,
    };
    let deadline = match bug {
        Bug::PanicsUnderContention => PANIC_DEADLINE,
        Bug::DeadlocksUnderContention => DEADLOCK_DEADLINE,
        _ => StressConfig::default().deadline,
    };
    StressConfig {
        seed,
        deadline,
        ops_per_thread,
        ..StressConfig::default()
    }
}

fn store_name(bug: Bug) -> &'static str {
    match bug {
        Bug::LostUpdate => "a store that loses updates",
        Bug::TornWrite => "a store whose writes become visible in two steps",
        Bug::VersionGoesBack => "a store whose versions can go back",
        Bug::PanicsUnderContention => "a store that panics under contention",
        Bug::DeadlocksUnderContention => "a store that deadlocks under contention",
    }
}

fn catches<S: Subject>(subject: &S, ctx: &Ctx, bug: Bug) -> Verdict {
    if matches!(bug, Bug::TornWrite | Bug::VersionGoesBack) {
        check_reads_sees(subject, ctx, bug)?;
    }
    let runs = planted_runs(bug);
    // The twin runs with the first planted run's seed and configuration, at a place
    // among the planted runs the test cannot predict: nothing but the store's
    // behaviour tells the two apart.
    let twin_at = ctx.rng(0x7717).random_range(0..=runs);
    let mut seeds = Vec::new();
    let mut showed_in_some_run = false;
    for run in 0..=runs {
        let planted = run != twin_at;
        let attempt = if planted {
            run - usize::from(run > twin_at)
        } else {
            0
        };
        let config = catch_config(bug, ctx.seed().wrapping_add(attempt as u64));
        let what = if planted {
            store_name(bug).to_owned()
        } else {
            format!(
                "the same kind of store as {}, without the bug",
                store_name(bug)
            )
        };
        let may_hang = planted && bug == Bug::DeadlocksUnderContention;
        let run = run_on(ctx, subject, &config, &what, may_hang, || {
            Lab::new(bug, planted)
        });
        if bug == Bug::PanicsUnderContention {
            // Expected panics, provoked by the checker: not the stress test's.
            let _ = probe_kit::take_recorded_panic();
        }
        let Finished {
            store,
            report,
            at_return,
            config,
        } = report_of(run, &what)?;
        if !planted {
            judge_correct_run(subject, &report, at_return, &store, &config, &what)
                .map_err(about_the_twin)?;
            if bug == Bug::LostUpdate {
                invariants_checked_at_the_end(subject, &report, &store, &config, &what)?;
            }
            continue;
        }
        seeds.push(config.seed);
        let showed = store.store().times_it_showed();
        if showed == 0 {
            // The bug did not happen in this run: not the test's fault yet.
            continue;
        }
        showed_in_some_run = true;
        judge_planted_run(subject, bug, showed, &report, at_return, &store, &config)?;
    }
    if showed_in_some_run {
        return Ok(());
    }
    Err(Failure::new(
        format!("FAIL on {}", store_name(bug)),
        format!(
            "the planted bug never happened in {runs} run(s) of your stress test (seeds \
             {seeds:?}): it only shows when threads use the store at the same time"
        ),
    )
    .with_hint(
        "Start every thread before waiting for any, hold them at a starting gate (a \
         Barrier) so that they begin together, let them call the store directly (no \
         lock of the test's own around the calls), and run exactly the load the \
         config asks for.",
    ))
}

/// Says that a failure on the twin is a false alarm.
fn about_the_twin(failure: Failure) -> Failure {
    let seen = format!(
        "{} (this store is the one the bug is planted in, with the bug taken out: the \
         same code, the same waits, the same answers a correct store gives)",
        failure.seen
    );
    Failure { seen, ..failure }
}

/// The last `check_invariants` call must come after every operation: a check made
/// while threads run sees a state the rest of the run can still break. The ledger
/// notes how far the run had got at each call, so a check made too early is seen
/// whether or not the state it saw was already broken (measured: the
/// `checks-invariants-early` fixture, 100 of 100 runs).
fn invariants_checked_at_the_end<S: Subject, K: KvStore>(
    subject: &S,
    report: &StressReport,
    store: &Watched<K>,
    config: &StressConfig,
    what: &str,
) -> Verdict {
    let Some(last) = store.invariants_calls().last().copied() else {
        return Ok(());
    };
    let done = store.tally().completed;
    if last.completed_before == done && last.in_flight == 0 {
        return Ok(());
    }
    Err(Failure::new(
        format!("the invariants checked once every thread has finished, on {what}"),
        format!(
            "your test's last call of check_invariants came when {} of the {done} \
             operations had been done, {} threads still at work",
            last.completed_before, last.in_flight
        ),
    )
    .with_hint(
        "Call check_invariants after every thread's outcome has been received: a check \
         made while the threads run passes or fails by the luck of timing, and misses \
         every update lost after it.",
    )
    .with_detail(evidence(subject, config, report)))
}

/// Words that say a thread hung rather than failed some other way.
fn says_it_hung(why: &str) -> bool {
    let why = why.to_lowercase();
    !why.contains("panic")
        && [
            "finish", "time", "deadline", "hang", "hung", "stuck", "running", "complete", "within",
            "respond", "wait", "block",
        ]
        .iter()
        .any(|word| why.contains(word))
}

fn says_it_panicked(why: &str) -> bool {
    why.to_lowercase().contains("panic")
}

fn judge_planted_run<S: Subject>(
    subject: &S,
    bug: Bug,
    showed: usize,
    report: &StressReport,
    at_return: Tally,
    store: &Watched<Lab>,
    config: &StressConfig,
) -> Verdict {
    let name = store_name(bug);
    let evidence = || {
        format!(
            "{}; your report:\n{}",
            setting(config),
            shown(subject, report)
        )
    };
    let fail = |expected: String, seen: String, hint: &str| {
        Err(Failure::new(expected, seen)
            .with_hint(hint)
            .with_detail(evidence()))
    };
    let detailed = |failure: Failure| failure.with_detail(evidence());
    match bug {
        Bug::LostUpdate => {
            let expected = format!("invariants: FAIL on {name}");
            let calls = store.invariants_calls();
            let done = store.tally().completed;
            let at_end = calls
                .last()
                .filter(|c| c.completed_before == done && c.in_flight == 0);
            match (&report.invariants, calls.last(), at_end) {
                (Check::Fail(_), Some(_), Some(_)) => Ok(()),
                (Check::Fail(_), None, _) => fail(
                    expected,
                    "your report failed the invariants without calling check_invariants".into(),
                    "The invariants line must be what check_invariants answers once every \
                     thread is done.",
                ),
                (Check::Pass, None, _) => fail(
                    expected,
                    format!(
                        "your report says invariants: PASS, but your test never called \
                         check_invariants; {showed} writes took a sequence number another \
                         write had taken, and the final state's invariants were broken"
                    ),
                    CATCHES_LOST_UPDATE.hint,
                ),
                (_, Some(last), None) => fail(
                    format!("{expected}, from a check made once every thread has finished"),
                    format!(
                        "your test's last call of check_invariants came when {} of the \
                         {done} operations had been done ({} threads still at work); \
                         {showed} updates were lost in the run, and the final state's \
                         invariants were broken",
                        last.completed_before, last.in_flight
                    ),
                    "Call check_invariants after every thread's outcome has been received: \
                     a check made while the threads run passes or fails by the luck of \
                     timing, and misses every update lost after it.",
                ),
                (Check::Pass, Some(_), Some(_)) => fail(
                    expected,
                    "check_invariants answered an error once the threads were done, but \
                     your report says invariants: PASS"
                        .into(),
                    "Report FAIL with the violation (violation.to_string()) whenever \
                     check_invariants answers Err.",
                ),
                (Check::Skipped(why), _, _) => fail(
                    expected,
                    format!(
                        "your report skipped the invariants ({why}), although every thread \
                         finished (threads finished: {})",
                        report.finished
                    ),
                    "Skip the store's checks only when a thread did not finish.",
                ),
            }
        }
        Bug::TornWrite | Bug::VersionGoesBack => {
            let what_happened = if bug == Bug::TornWrite {
                format!(
                    "{showed} GETs were served a half-done write: a new value with its key's \
                     old version, a pair no write ever acknowledged"
                )
            } else {
                format!(
                    "{showed} times a GET gave a reader an older version of a key than that \
                     reader had read before, because a writer put back a stale copy of the \
                     state"
                )
            };
            let hint = if bug == Bug::TornWrite {
                CATCHES_TORN_WRITE.hint
            } else {
                CATCHES_VERSION_GOING_BACK.hint
            };
            match &report.reads {
                Check::Fail(_) => Ok(()),
                Check::Pass => fail(
                    format!("reads consistent: FAIL on {name}"),
                    format!(
                        "your stress test reported reads consistent: PASS, although {what_happened}"
                    ),
                    hint,
                ),
                Check::Skipped(why) => fail(
                    format!("reads consistent: FAIL on {name}"),
                    format!(
                        "your report skipped the reads ({why}), although every thread \
                         finished (threads finished: {}) and {what_happened}",
                        report.finished
                    ),
                    "Skip the reads check only when a thread did not finish.",
                ),
            }
        }
        Bug::PanicsUnderContention => {
            let expected = format!("threads finished: FAIL, naming a panic, on {name}");
            let workers = match showed {
                1 => "1 worker".to_owned(),
                n => format!("{n} workers"),
            };
            if matches!(report.finished, Check::Fail(_)) {
                waited_for_the_others(report, at_return, config, name).map_err(detailed)?;
            }
            match &report.finished {
                Check::Fail(why) if says_it_panicked(why) => {
                    if !why.contains(PANIC_MESSAGE) {
                        return fail(
                            format!("{expected}, with its message ({PANIC_MESSAGE:?})"),
                            format!("your report says `{why}`"),
                            "Give the panic's own words: the payload is a Box<dyn Any>, whose \
                             Debug shows nothing of it; turn it into text with panic_message \
                             and report Err(format!(\"panicked: {message}\")).",
                        );
                    }
                    after_a_thread_that_did_not_finish(subject, bug, report, store, config)?;
                    counts_what_finished(subject, report, at_return, config, name)
                }
                Check::Fail(why) if says_it_hung(why) => fail(
                    expected,
                    format!(
                        "your report calls it a hang (`{why}`), but {workers} \
                         panicked inside the store"
                    ),
                    "A worker that panics never sends its outcome, so the test waited out \
                     its deadline and called it a hang. Catch the panic inside the worker \
                     (catch_unwind around perform) and send it, as \
                     Err(format!(\"panicked: {message}\")).",
                ),
                Check::Fail(why) => fail(
                    expected,
                    format!(
                        "your report does not say that a thread panicked: `{why}`; {workers} \
                         panicked inside the store"
                    ),
                    "Name what happened: a panicked thread's result is \
                     Err(format!(\"panicked: {message}\")), with the message from \
                     panic_message.",
                ),
                _ => fail(
                    expected,
                    format!(
                        "your report says threads finished: {}, although {workers} \
                         panicked inside the store",
                        report.finished
                    ),
                    CATCHES_PANIC.hint,
                ),
            }
        }
        Bug::DeadlocksUnderContention => {
            let expected = format!("threads finished: FAIL, naming a hang, on {name}");
            match &report.finished {
                Check::Fail(why) if says_it_hung(why) => {
                    let deadline = format!("{:?}", config.deadline);
                    if !why.contains(&deadline) {
                        return fail(
                            format!("the reason names the deadline, {deadline}, on {name}"),
                            format!("your report says threads finished: FAIL ({why})"),
                            "A thread with no outcome by the deadline gets \
                             Err(format!(\"did not finish within {deadline:?}\")): the \
                             deadline as Duration's Debug prints it (1.5s, 250ms), not a \
                             count of whole seconds.",
                        );
                    }
                    after_a_thread_that_did_not_finish(subject, bug, report, store, config)?;
                    counts_what_finished(subject, report, at_return, config, name)
                }
                Check::Fail(why) => fail(
                    expected,
                    format!(
                        "your report does not say that a thread hung: `{why}`; {showed} \
                         operations were stuck inside the store"
                    ),
                    "A thread that has not sent its outcome by the deadline is stuck: its \
                     result is Err(format!(\"did not finish within {:?}\", config.deadline)).",
                ),
                _ => fail(
                    expected,
                    format!(
                        "your report says threads finished: {}, although {showed} operations \
                         were stuck inside the store when it came back",
                        report.finished
                    ),
                    CATCHES_DEADLOCK.hint,
                ),
            }
        }
    }
}

/// How far apart the threads of [`Staggered`] get going: half the deadline, so that
/// a test that gives each thread a wait of the whole deadline of its own keeps
/// waiting, thread after thread, far past it, even when a busy machine wakes a
/// thread late by less than the other half.
const STAGGER: Duration = DEADLOCK_DEADLINE.checked_div(2).unwrap();

/// A correct store whose threads get going one after another: the k-th thread to
/// call it (from 0) is served its first operation k × [`STAGGER`] after its call.
struct Staggered {
    store: ConcurrentStore,
    arrived: Mutex<Vec<ThreadId>>,
}

impl Staggered {
    fn new() -> Self {
        Staggered {
            store: ConcurrentStore::new(),
            arrived: Mutex::new(Vec::new()),
        }
    }

    fn in_turn(&self) -> &ConcurrentStore {
        let me = thread::current().id();
        let turn = {
            let mut arrived = self.arrived.lock();
            if arrived.contains(&me) {
                None
            } else {
                arrived.push(me);
                Some(arrived.len() - 1)
            }
        };
        if let Some(turn) = turn {
            thread::sleep(STAGGER * turn as u32);
        }
        &self.store
    }
}

impl KvStore for Staggered {
    fn get(&self, key: &str) -> Response {
        self.in_turn().get(key)
    }
    fn set(&self, key: &str, value: &str) -> Response {
        self.in_turn().set(key, value)
    }
    fn del(&self, key: &str) -> Response {
        self.in_turn().del(key)
    }
    fn check_invariants(&self) -> Result<(), Violation> {
        self.store.check_invariants()
    }
}

/// The deadline is one, for the whole run: on [`Staggered`], where every gap
/// between two threads' outcomes is shorter than the deadline and the last
/// outcome comes long after it, a test that waits the whole deadline for each
/// outcome in turn waits until every thread is done; one that keeps one deadline
/// reports at it.
fn one_deadline_for_the_run<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let config = catch_config(Bug::DeadlocksUnderContention, ctx.seed());
    let what =
        format!("a correct store whose threads get going one after another, {STAGGER:?} apart");
    let run = run_on(ctx, subject, &config, &what, true, Staggered::new);
    let last = STAGGER * (config.threads() as u32 - 1);
    if let Ran::Hung(waited) = run.ran {
        return Err(Failure::new(
            format!(
                "a report {:?} after the start at the latest (the run's one deadline), on {what}",
                config.deadline
            ),
            format!(
                "there was none after {waited:?}; the last thread got going {last:?} after \
                 the start, and each gap between two threads was shorter than the deadline"
            ),
        )
        .with_hint(
            "One deadline for the whole run: compute the moment to give up once, before \
             waiting, and give each recv_timeout only what is left of it \
             (give_up.saturating_duration_since(Instant::now())), not the whole deadline \
             again.",
        )
        .with_detail(setting(&config)));
    }
    let Finished { report, .. } = report_of(run, &what)?;
    match &report.finished {
        Check::Fail(why) if says_it_hung(why) => Ok(()),
        other => Err(Failure::new(
            format!(
                "threads finished: FAIL, naming a thread that had not finished by the \
                 deadline of {:?}, on {what}",
                config.deadline
            ),
            format!("your report says threads finished: {other}"),
        )
        .with_hint(CATCHES_DEADLOCK.hint)
        .with_detail(evidence(subject, &config, &report))),
    }
}

/// A report made while threads that did not panic were still at work: a test that
/// stops waiting at the first panic. The ledger says so exactly: every thread that
/// did not panic has done its whole plan, and none is inside the store.
fn waited_for_the_others(
    report: &StressReport,
    at_return: Tally,
    config: &StressConfig,
    name: &str,
) -> Verdict {
    let others = config.threads().saturating_sub(at_return.panicked) as u64;
    let their_operations = others * config.ops_per_thread as u64;
    if at_return.in_flight == 0 && at_return.completed_by_finished == their_operations {
        return Ok(());
    }
    Err(Failure::new(
        format!("a report once every thread that did not panic has finished, on {name}"),
        format!(
            "your report came back when the {others} threads that did not panic had done {} \
             of their {their_operations} operations ({} still inside the store): {}",
            at_return.completed_by_finished, at_return.in_flight, report.finished
        ),
    )
    .with_hint(
        "A panic in one thread is no reason to stop waiting for the others: keep receiving \
         outcomes until every thread has sent one or the deadline has passed, then report.",
    ))
}

/// When a thread did not finish: the report names the first such thread in thread
/// order, and leaves the store alone, both of its checks skipped. The panicking
/// store makes the first in thread order neither the first nor the last in time
/// (see [`crate::planted::PANIC_ORDER`]), so naming the last one a loop saw, or
/// the first to arrive, is seen in every run.
fn after_a_thread_that_did_not_finish<S: Subject>(
    subject: &S,
    bug: Bug,
    report: &StressReport,
    store: &Watched<Lab>,
    config: &StressConfig,
) -> Verdict {
    let evidence = || evidence(subject, config, report);
    let lines = store.threads();
    let unfinished: Vec<String> = (0..config.threads())
        .map(|t| config.thread_name(t))
        .filter(|name| {
            !lines.iter().any(|line| {
                line.name.as_deref() == Some(name.as_str())
                    && line.completed == config.ops_per_thread as u64
                    && !line.panicked
                    && !line.in_flight
            })
        })
        .collect();
    let what = if bug == Bug::PanicsUnderContention {
        "panicked"
    } else {
        "is stuck"
    };
    if let (Some(first), Check::Fail(why)) = (unfinished.first(), &report.finished) {
        let named = first_thread_named(why, config);
        if named.as_ref() != Some(first) {
            let seen = match named {
                Some(named) => format!("your report names {named}: `{why}`"),
                None => format!("your report names no thread: `{why}`"),
            };
            return Err(Failure::new(
                format!(
                    "threads finished: FAIL naming {first}, the first thread in thread order \
                     that did not finish"
                ),
                format!(
                    "{seen}; the threads that did not finish: {}",
                    unfinished.join(", ")
                ),
            )
            .with_hint(
                "Go through the results in thread order (thread 0, 1, 2, ...) and report the \
                 first Err, as \"{thread name} {why}\": not the last one a loop comes across, \
                 and not the first to arrive.",
            )
            .with_detail(evidence()));
        }
    }
    let calls = store.invariants_calls().len();
    if calls > 0 {
        return Err(Failure::new(
            format!("no call of the store once a thread {what}"),
            format!(
                "your test called check_invariants {calls} time(s) after a thread {what}; \
                 this store answered, but a store a thread is stuck in can hold its lock \
                 forever"
            ),
        )
        .with_hint(SKIP_WHEN_UNFINISHED)
        .with_detail(evidence()));
    }
    let skipped = |check: &Check| matches!(check, Check::Skipped(_));
    if !skipped(&report.invariants) || !skipped(&report.reads) {
        return Err(Failure::new(
            format!("invariants and reads consistent both SKIPPED once a thread {what}"),
            format!(
                "your report says invariants: {}, reads consistent: {}",
                report.invariants, report.reads
            ),
        )
        .with_hint(SKIP_WHEN_UNFINISHED)
        .with_detail(evidence()));
    }
    Ok(())
}

const SKIP_WHEN_UNFINISHED: &str = "When a thread did not finish, neither check can be \
    trusted (the state may be half-written, and the reads miss the writes of the threads \
    that did not report): report both as Skipped(\"not every thread finished\"), and do not \
    call the store again.";

/// The thread name `why` mentions first (`writer-1`, not the start of `writer-10`).
fn first_thread_named(why: &str, config: &StressConfig) -> Option<String> {
    (0..config.threads())
        .map(|t| config.thread_name(t))
        .filter_map(|name| {
            why.match_indices(name.as_str())
                .find(|(at, _)| !why[at + name.len()..].starts_with(|c: char| c.is_ascii_digit()))
                .map(|(at, _)| (at, name))
        })
        .min()
        .map(|(_, name)| name)
}

/// When threads did not finish, the report counts every thread, and the
/// operations of the threads that finished (or, as a learner may read it, every
/// operation any thread completed): never what the plans add up to.
fn counts_what_finished<S: Subject>(
    subject: &S,
    report: &StressReport,
    at_return: Tally,
    config: &StressConfig,
    name: &str,
) -> Verdict {
    let honest = [at_return.completed_by_finished, at_return.completed];
    if report.threads == config.threads() && honest.contains(&(report.operations as u64)) {
        return Ok(());
    }
    let hint = if report.threads != config.threads() {
        "threads counts every thread the test started, finished or not."
    } else {
        "operations counts the responses of the threads that finished, not what the plans \
         add up to (threads × ops_per_thread): a thread that panicked or hung returned none."
    };
    Err(Failure::new(
        format!(
            "{} threads, {} operations total (what the threads that finished did) on {name}",
            config.threads(),
            at_return.completed_by_finished
        ),
        format!(
            "{} threads, {} operations total ({} panicked, {} stuck; {} operations were \
             completed in all)",
            report.threads,
            report.operations,
            at_return.panicked,
            at_return.in_flight,
            at_return.completed
        ),
    )
    .with_hint(hint)
    .with_detail(format!(
        "{}; your report:\n{}",
        setting(config),
        shown(subject, report)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

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

    /// A correct store that is slow only the first time, as on a machine that was
    /// busy for a moment: the reference gives up at its deadline, and the run is
    /// tried again, with a longer one, and ends with a report that passes.
    #[test]
    fn a_run_that_ran_out_of_time_is_tried_again() {
        struct Slow {
            store: ConcurrentStore,
            pause: Duration,
        }
        impl KvStore for Slow {
            fn get(&self, key: &str) -> Response {
                thread::sleep(self.pause);
                self.store.get(key)
            }
            fn set(&self, key: &str, value: &str) -> Response {
                thread::sleep(self.pause);
                self.store.set(key, value)
            }
            fn del(&self, key: &str) -> Response {
                thread::sleep(self.pause);
                self.store.del(key)
            }
            fn check_invariants(&self) -> Result<(), Violation> {
                self.store.check_invariants()
            }
        }
        let config = StressConfig {
            ops_per_thread: 100,
            deadline: Duration::from_millis(200),
            ..default_config(3)
        };
        let tries = AtomicUsize::new(0);
        let new_store = || Slow {
            store: ConcurrentStore::new(),
            // 100 operations of 5 ms: 0.5 s, more than the deadline, less than
            // three times it.
            pause: if tries.fetch_add(1, SeqCst) == 0 {
                Duration::from_millis(5)
            } else {
                Duration::ZERO
            },
        };
        let what = "a slow store";
        let run = run_on(&Ctx::new(3), &Reference, &config, what, false, new_store);
        assert_eq!(tries.load(SeqCst), 2);
        let finished = report_of(run, what).unwrap_or_else(|f| panic!("{f:?}"));
        assert!(finished.report.passed(), "{:?}", finished.report);
        assert_eq!(
            finished.config.deadline,
            config.deadline * BUSY_MACHINE_FACTOR
        );

        // Slow every time: a failure that says so, not a false claim about the test.
        let always_slow = || Slow {
            store: ConcurrentStore::new(),
            pause: Duration::from_millis(20),
        };
        let run = run_on(&Ctx::new(3), &Reference, &config, what, false, always_slow);
        let failure = report_of(run, what).err().expect("out of time twice");
        assert!(failure.seen.contains("never hangs"), "{}", failure.seen);
    }

    #[test]
    fn hang_and_panic_words() {
        assert!(says_it_hung("writer-0 did not finish within 1s"));
        assert!(says_it_hung("reader-5 timed out"));
        assert!(!says_it_hung("writer-1 panicked: did not finish"));
        assert!(says_it_panicked("writer-1 panicked: the store is busy"));
        assert!(!says_it_panicked("writer-1 failed"));
    }

    #[test]
    fn a_thread_is_named_by_its_whole_name() {
        let config = StressConfig {
            writers: 11,
            ..StressConfig::default()
        };
        let named = |why: &str| first_thread_named(why, &config);
        assert_eq!(named("writer-10 panicked"), Some("writer-10".into()));
        assert_eq!(
            named("writer-3 panicked; writer-1 too"),
            Some("writer-3".into())
        );
        assert_eq!(named("a thread panicked"), None);
    }

    #[test]
    fn a_key_or_a_reader_is_named_by_its_whole_name() {
        assert!(names("reader-4 read k1 at v3", "k1"));
        assert!(names("reader-4: k1@v3=\"w\" was never written", "k1"));
        assert!(names("reader-4's read of k1", "reader-4"));
        assert!(!names("reader-4 read k10 at v3", "k1"));
        assert!(!names("reader-4 read bk1 at v3", "k1"));
        assert!(!names("reader-40 read k1", "reader-4"));
        assert!(!names("areader-4 read k1", "reader-4"));
    }

    /// The read check's changed histories exist on every seed, and the reference's
    /// check fails each of them, naming the changed read's reader and key.
    #[test]
    fn every_history_has_reads_to_change() {
        use rand::SeedableRng;
        for seed in 0..40 {
            let config = default_config(seed);
            let (plans, seen) = serial_history(&config, &mut StdRng::seed_from_u64(seed));
            assert_eq!(reference::check_reads(&config, &plans, &seen), Check::Pass);
            let changes = [
                tampered(Bug::TornWrite, &config, &plans, &seen),
                tampered(Bug::VersionGoesBack, &config, &plans, &seen),
                back_across_not_found(&config, &plans, &seen),
            ];
            for change in changes {
                let change = change.expect("a read to change");
                let check = reference::check_reads(&config, &plans, &change.seen);
                let Check::Fail(why) = check else {
                    panic!("seed {seed}: {} passed", change.what);
                };
                assert!(names(&why, &change.reader), "seed {seed}: {why}");
                assert!(names(&why, &change.key), "seed {seed}: {why}");
            }
        }
    }

    /// The chapter's table states the deadlock run's deadline and stagger; they are
    /// these constants, so a change to one without the other fails here.
    #[test]
    fn the_chapter_states_the_deadlock_timings() {
        let chapter = include_str!("../../../../book/src/lesson03-stress-test.md");
        let ms = |d: Duration| format!("{} ms", d.as_millis());
        for stated in [
            format!("the configured deadline ({} here)", ms(DEADLOCK_DEADLINE)),
            format!("threads get going {} apart", ms(STAGGER)),
        ] {
            assert!(
                chapter.contains(&stated),
                "the chapter does not say {stated:?}"
            );
        }
    }
}
