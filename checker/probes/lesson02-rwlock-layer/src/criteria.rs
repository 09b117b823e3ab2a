//! The criteria of lesson 02. Each one builds stores around an [`Instrumented`]
//! machine whose hook makes a critical section observable, drives them from
//! several threads, and proves its property with barriers, latches and recorded
//! histories. Deadlines only detect hangs; no verdict depends on how fast
//! anything ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use probe_kit::sync::{self, Barrier, Latch, Stuck, Worker};
use probe_kit::{Criterion, Ctx, Failure, Info, Verdict};
use rand::{Rng, RngExt};
use reference::{Command, Response};

use crate::history::{self, Event};
use crate::{Instrumented, Side, Subject, Watch};


pub const READERS_PARALLEL: Info = Info {
    id: "readers-parallel",
    title: "two GETs are inside the state machine at the same time",
    hint: "GET must take the read side of the lock (`self.machine.read()`), never \
           `write()`, and never a Mutex: those let one thread in at a time.",
    book: "lesson02-rwlock-layer.html#step-1-get-under-the-shared-lock",
    deadline_secs: 30,
};

pub const WRITERS_EXCLUSIVE: Info = Info {
    id: "writers-exclusive",
    title: "while a SET or DEL is inside, no reader and no other writer is",
    hint: "Apply SET and DEL to the machine itself, inside one `self.machine.write()` \
           section. Working on a copy outside the lock and putting it back later lets \
           readers and other writers in at the same time.",
    book: "lesson02-rwlock-layer.html#step-2-set-under-the-exclusive-lock",
    deadline_secs: 30,
};

pub const LINEARIZABLE: Info = Info {
    id: "linearizable",
    title: "every result under concurrency is explained by a legal order of the operations",
    hint: "Take everything an answer is made of in one critical section: a value and \
           its version looked up under two separate guards can come from two \
           different writes.",
    book: "lesson02-rwlock-layer.html#results-that-a-legal-order-explains",
    deadline_secs: 30,
};

pub const WRITER_NOT_STARVED: Info = Info {
    id: "writer-not-starved",
    title: "a SET gets in while a continuous stream of GETs holds the read lock",
    hint: "Use parking_lot's `RwLock`: once a writer waits, new readers queue behind it. \
           A reader-preferring lock (such as `RecursiveRwLock`) lets overlapping readers \
           keep a writer out forever.",
    book: "lesson02-rwlock-layer.html#fairness-in-parking_lot-013",
    deadline_secs: 30,
};

pub const NO_DEADLOCK: Info = Info {
    id: "no-deadlock",
    title: "every operation returns, alone and under contention",
    hint: "Never take the lock while you already hold it: no `self.get` inside `del`, no \
           `write()` while a read guard is alive, no second `read()` while the first is \
           held (a waiting writer blocks it).",
    book: "lesson02-rwlock-layer.html#deadlocks-a-lock-taken-twice",
    deadline_secs: 30,
};

/// The lesson's criteria, in the order they run and are reported.
pub fn all<S: Subject>() -> Vec<Criterion<S>> {
    vec![
        Criterion::new(&READERS_PARALLEL, readers_parallel),
        Criterion::new(&WRITERS_EXCLUSIVE, writers_exclusive),
        Criterion::new(&LINEARIZABLE, linearizable),
        Criterion::new(&WRITER_NOT_STARVED, writer_not_starved),
        Criterion::new(&NO_DEADLOCK, no_deadlock),
    ]
}

/// How long a reader inside the machine waits for a second reader to join it.
const MEET_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a writer inside the machine stays, to see whether anyone joins it.
const LINGER: Duration = Duration::from_millis(500);
/// How long a reader in the stream holds on for the next reader to come in.
const RELAY_PATIENCE: Duration = Duration::from_secs(1);
/// How long a writer may wait behind the stream of readers.
const WRITER_DEADLINE: Duration = Duration::from_secs(10);
/// How long one operation on an otherwise idle store may take.
const ALONE_DEADLINE: Duration = Duration::from_secs(5);
/// How long a whole multi-threaded workload may take.
const WORKLOAD_DEADLINE: Duration = Duration::from_secs(10);

type Shared<S> = Arc<<S as Subject>::Store>;

fn new_store<S: Subject>(subject: &S, watch: &Arc<Watch>) -> Shared<S> {
    Arc::new(subject.new_store(Instrumented::new(watch)))
}

/// Starts `command` on a thread of its own.
fn start<S: Subject>(
    subject: &S,
    store: &Shared<S>,
    name: &str,
    command: Command,
) -> Worker<Response> {
    let (subject, store) = (subject.clone(), Arc::clone(store));
    sync::spawn(name, move || subject.execute(&store, &command))
}

/// Runs one command with a deadline, and names it if it hangs.
fn call<S: Subject>(
    ctx: &Ctx,
    subject: &S,
    store: &Shared<S>,
    command: Command,
    note: &str,
) -> Result<Response, Failure> {
    ctx.progress(format_args!("`{command}`{note}"));
    let worker = start(subject, store, "caller", command.clone());
    worker
        .join_by(Instant::now() + ALONE_DEADLINE)
        .map_err(|stuck| {
            Failure::new(
                format!("`{command}`{note} returns"),
                format!(
                    "it did not return within {:.0?}, with no other thread using the store: the \
                 thread is waiting for a lock it already holds",
                    stuck.waited
                ),
            )
        })
}

/// What a hang means here, in the learner's terms.
const DEADLOCK: &str = "a deadlock: the thread waits for a lock that is never released. Look \
     for a lock taken by a thread that already holds it: `self.get` inside `del`, `write()` \
     while a read guard is alive, or a second `read()`, which queues behind a waiting writer";

fn hang(stuck: &Stuck, what: &str) -> Failure {
    Failure::new(format!("{what} finish"), format!("{stuck}: {DEADLOCK}"))
}

/// Runs `plans[t]` on thread `t`, all threads starting together, each command
/// through `each`. A hang is reported with what every thread was running.
fn run_threads<S: Subject, T: Send + 'static>(
    ctx: &Ctx,
    subject: &S,
    store: &Shared<S>,
    plans: Vec<Vec<Command>>,
    each: impl Fn(usize, &S, &S::Store, Command) -> T + Clone + Send + 'static,
) -> Result<Vec<Vec<T>>, Failure> {
    let threads = plans.len();
    let board = Arc::new(Mutex::new(vec!["nothing yet".to_owned(); threads]));
    let start_line = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(t, plan)| {
            let (subject, store, each) = (subject.clone(), store.clone(), each.clone());
            let (board, start_line) = (board.clone(), start_line.clone());
            sync::spawn(format!("thread-{t}"), move || {
                start_line.wait(ALONE_DEADLINE);
                let out: Vec<T> = plan
                    .into_iter()
                    .map(|command| {
                        board.lock()[t] = format!("`{command}`");
                        each(t, &subject, &store, command)
                    })
                    .collect();
                board.lock()[t] = "nothing (it had finished)".into();
                out
            })
        })
        .collect();
    sync::join_all(workers, WORKLOAD_DEADLINE).map_err(|stuck| {
        let board = board.lock();
        let t: usize = stuck
            .name
            .trim_start_matches("thread-")
            .parse()
            .unwrap_or(0);
        let all: Vec<String> = board
            .iter()
            .enumerate()
            .map(|(t, doing)| format!("thread-{t}: {doing}"))
            .collect();
        Failure::new(
            format!("{threads} threads of random commands finish"),
            format!("{stuck}; it was running {}: {DEADLOCK}", board[t]),
        )
        .with_detail(format!(
            "seed {}; where each thread was: {}",
            ctx.seed(),
            all.join(", ")
        ))
    })
}

fn readers_parallel<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    // The first two read sections wait inside for each other. Only a lock that lets
    // two readers in at once lets them meet.
    let barrier = Arc::new(Barrier::new(2));
    let meetings_left = Arc::new(AtomicUsize::new(2));
    let met = Arc::new(Mutex::new(Vec::new()));
    let watch = Watch::new({
        let (barrier, meetings_left, met) = (barrier.clone(), meetings_left.clone(), met.clone());
        move |side, _, _| {
            let my_turn = || {
                meetings_left
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            };
            if side == Side::Read && my_turn() {
                let both = barrier.wait(MEET_TIMEOUT);
                met.lock().push(both);
            }
        }
    });
    // An empty store: a GET of a missing key still looks it up inside the machine,
    // and this criterion needs nothing but step 1.
    let store = new_store(subject, &watch);
    ctx.progress("two threads GET apple at the same time; each waits inside for the other");
    let readers = vec![
        start(subject, &store, "reader-1", Command::get("apple")),
        start(subject, &store, "reader-2", Command::get("apple")),
    ];
    let answers = sync::join_all(readers, WORKLOAD_DEADLINE).map_err(|s| hang(&s, "two GETs"))?;
    let met = met.lock().clone();
    if let Some(wrong) = answers.iter().find(|a| **a != Response::NotFound) {
        return Err(Failure::new(
            "GET apple on an empty store answers NOT_FOUND",
            format!("it answered {wrong}"),
        ));
    }
    match met.as_slice() {
        [true, true] => Ok(()),
        [] | [_] => Err(Failure::new(
            "each GET looks the key up in the state machine (StateMachine::lookup)",
            format!(
                "{} of the two GETs entered the state machine; answer from what `lookup` \
                 lends you under the read guard",
                met.len()
            ),
        )),
        _ => Err(Failure::new(
            "two GETs inside the state machine at the same time: the read side of a \
             reader-writer lock lets any number of readers in",
            format!(
                "the first GET waited {MEET_TIMEOUT:?} inside for the second, which could not \
                 get in: reads are serialized, as with a Mutex or the write side of the lock"
            ),
        )),
    }
}

fn writers_exclusive<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    for (what, second) in [
        ("another SET", Command::set("pear", "green")),
        ("a GET", Command::get("apple")),
        ("a DEL", Command::del("apple")),
    ] {
        overlap_attempt(subject, ctx, what, second)?;
    }
    random_workload(subject, ctx)
}

/// One writer lingers inside `apply`; a second thread tries to come in meanwhile.
fn overlap_attempt<S: Subject>(subject: &S, ctx: &Ctx, what: &str, second: Command) -> Verdict {
    let armed = Arc::new(AtomicBool::new(false));
    let writer_inside = Arc::new(Latch::new());
    let watch = Watch::new({
        let (armed, writer_inside) = (armed.clone(), writer_inside.clone());
        move |side, census, ticket| {
            if side == Side::Write && armed.swap(false, SeqCst) {
                writer_inside.open();
                // With the exclusive lock held nobody can join; if someone does, the
                // census records it and there is no need to wait any longer.
                census.wait_for_entry_after(ticket, LINGER);
            }
        }
    });
    let store = new_store(subject, &watch);
    call(
        ctx,
        subject,
        &store,
        Command::set("apple", "red"),
        " before the test starts",
    )?;
    armed.store(true, SeqCst);

    ctx.progress(format_args!(
        "a SET lingers inside apply while {what} (`{second}`) tries to come in"
    ));
    let first = start(subject, &store, "writer", Command::set("apple", "green"));
    let second_worker = {
        let (subject, store, writer_inside) =
            (subject.clone(), store.clone(), writer_inside.clone());
        let second = second.clone();
        sync::spawn("second", move || {
            // Only once the writer is inside: the question is whether we get in too.
            let inside = writer_inside.wait(ALONE_DEADLINE);
            inside.then(|| subject.execute(&store, &second))
        })
    };
    let deadline = Instant::now() + WORKLOAD_DEADLINE;
    let stuck = |what: &str, stuck: Stuck| {
        Failure::new(
            format!("{what} returns"),
            format!("it did not return within {:.0?}: {DEADLOCK}", stuck.waited),
        )
    };
    first
        .join_by(deadline)
        .map_err(|s| stuck("`SET apple = \"green\"`", s))?;
    let second_ran = second_worker
        .join_by(deadline)
        .map_err(|s| stuck(&format!("`{second}`, called while a SET was inside,"), s))?;
    if second_ran.is_none() {
        return Err(Failure::new(
            "`SET apple = \"green\"` applies its command to the state machine",
            "it never called `apply` on the machine",
        ));
    }
    match watch.census.first_clash() {
        None => Ok(()),
        Some(clash) => Err(Failure::new(
            format!("while a SET is inside the state machine, {what} waits outside"),
            clash,
        )
        .with_detail(format!(
            "a SET was held inside `apply` while `{second}` was called"
        ))),
    }
}

/// Several threads, random commands, a yield inside every section to mix them up.
fn random_workload<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let watch = Watch::new(|_, _, _| thread::yield_now());
    let store = new_store(subject, &watch);
    ctx.progress("4 threads run 200 random commands each, and check the invariants after each DEL");
    let plans = (0..4)
        .map(|t| random_commands(&mut ctx.rng(100 + t as u64), t, 200, &["a", "b", "c", "d"]))
        .collect();
    run_threads(ctx, subject, &store, plans, |_, subject, store, command| {
        let is_del = matches!(command, Command::Del { .. });
        subject.execute(store, &command);
        if is_del {
            let _ = subject.check_invariants(store);
        }
    })?;
    match watch.census.first_clash() {
        None => Ok(()),
        Some(clash) => Err(
            Failure::new("writers alone inside the state machine", clash).with_detail(format!(
                "4 threads of random commands (seed {})",
                ctx.seed()
            )),
        ),
    }
}

/// `count` random commands of thread `thread`: writes carry values no other write
/// uses, so a read names the write it saw.
fn random_commands(rng: &mut impl Rng, thread: usize, count: usize, keys: &[&str]) -> Vec<Command> {
    (0..count)
        .map(|i| {
            let key = keys[rng.random_range(0..keys.len())];
            match rng.random_range(0..10) {
                0..4 => Command::set(key, &format!("t{thread}.{i}")),
                4..8 => Command::get(key),
                _ => Command::del(key),
            }
        })
        .collect()
}

const ROUNDS: u64 = 30;
const THREADS: usize = 4;
const COMMANDS_PER_THREAD: usize = 24;
const KEYS: [&str; 3] = ["a", "b", "c"];

fn linearizable<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    for round in 0..ROUNDS {
        ctx.progress(format_args!(
            "round {} of {ROUNDS}: {THREADS} threads run random commands",
            round + 1
        ));
        // Every other round yields inside the sections, for different interleavings.
        let watch = if round % 2 == 0 {
            Watch::counting()
        } else {
            Watch::new(|_, _, _| thread::yield_now())
        };
        let store = new_store(subject, &watch);
        let clock = Arc::new(AtomicU64::new(1));
        let plans = (0..THREADS)
            .map(|t| {
                let mut rng = ctx.rng(round * THREADS as u64 + t as u64);
                random_commands(&mut rng, t, COMMANDS_PER_THREAD, &KEYS)
            })
            .collect();
        let ticking = clock.clone();
        let mut history: Vec<Event> = run_threads(
            ctx,
            subject,
            &store,
            plans,
            move |thread, subject, store, command| {
                let invoked = ticking.fetch_add(1, SeqCst);
                let response = subject.execute(store, &command);
                let returned = ticking.fetch_add(1, SeqCst);
                Event {
                    thread,
                    command,
                    response,
                    invoked,
                    returned,
                }
            },
        )?
        .into_iter()
        .flatten()
        .collect();
        // Read every key once more after everyone is done: the final state must be
        // explained too.
        for key in KEYS {
            let command = Command::get(key);
            let invoked = clock.fetch_add(1, SeqCst);
            let response = call(
                ctx,
                subject,
                &store,
                command.clone(),
                " after the threads finished",
            )?;
            let returned = clock.fetch_add(1, SeqCst);
            history.push(Event {
                thread: THREADS,
                command,
                response,
                invoked,
                returned,
            });
        }
        if let Err(problem) = history::check(&history) {
            let shown: Vec<String> = problem
                .events
                .iter()
                .take(40)
                .map(ToString::to_string)
                .collect();
            return Err(Failure::new(
                "every answer explained by some order of the operations",
                problem.why,
            )
            .with_detail(format!(
                "round {} of {ROUNDS} (seed {}); [invoked..returned] tickets of one clock, \
                     thread {THREADS} is the final read-back:\n{}",
                round + 1,
                ctx.seed(),
                shown.join("\n")
            )));
        }
    }
    Ok(())
}

const STREAM_READERS: usize = 4;

fn writer_not_starved<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    // Each reader stays inside until a later reader has come in, so with a lock
    // that keeps admitting readers, the read lock is never free.
    let relay = Arc::new(AtomicBool::new(false));
    let watch = Watch::new({
        let relay = relay.clone();
        move |side, census, ticket| {
            if side == Side::Read && relay.load(SeqCst) {
                census.wait_for_entry_after(ticket, RELAY_PATIENCE);
            }
        }
    });
    let store = new_store(subject, &watch);
    call(
        ctx,
        subject,
        &store,
        Command::set("apple", "red"),
        " before the readers start",
    )?;
    relay.store(true, SeqCst);

    ctx.progress(format_args!(
        "{STREAM_READERS} threads GET apple in an overlapping stream"
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..STREAM_READERS)
        .map(|r| {
            let (subject, store, stop) = (subject.clone(), store.clone(), stop.clone());
            sync::spawn(format!("reader-{r}"), move || {
                while !stop.load(SeqCst) {
                    subject.get(&store, "apple");
                }
            })
        })
        .collect();
    let verdict = starve(subject, ctx, &store, &watch);
    // Always end the stream, so that no thread is left behind.
    stop.store(true, SeqCst);
    watch.census.halt();
    let ended = sync::join_all(readers, WORKLOAD_DEADLINE);
    verdict?;
    ended.map_err(|s| hang(&s, "the readers, once the stream was stopped,"))?;
    Ok(())
}

fn starve<S: Subject>(subject: &S, ctx: &Ctx, store: &Shared<S>, watch: &Arc<Watch>) -> Verdict {
    ctx.progress("waiting for the readers to overlap");
    let census = &watch.census;
    let warmed_up = census.wait_for_entry_after(20, ALONE_DEADLINE);
    if !warmed_up || census.most_readers_inside() < 2 {
        return Err(Failure::new(
            "readers inside the state machine together, overlapping in a stream",
            format!(
                "{} GETs entered the state machine and never two at once: reads are \
                 serialized (see readers-parallel), so no stream of readers could form",
                census.reads()
            ),
        ));
    }
    ctx.progress("a SET arrives while the stream of readers holds the read lock");
    let entered_before = census.reads();
    let writer = start(subject, store, "writer", Command::set("apple", "green"));
    match writer.join_by(Instant::now() + WRITER_DEADLINE) {
        Ok(Response::Stored { .. }) => Ok(()),
        Ok(other) => Err(Failure::new(
            "`SET apple = \"green\"` answers STORED",
            format!("it answered {other}"),
        )),
        Err(stuck) => {
            let overtaken = census.reads() - entered_before;
            // Starved or stuck? A starved writer watches readers keep going in.
            ctx.progress("the SET is late: are the readers still going in?");
            let readers_moving = census.wait_for_entry_after(census.entries(), RELAY_PATIENCE * 2);
            let seen = if readers_moving {
                format!(
                    "it was still waiting after {:.0?}, while {overtaken} more GETs went in ahead \
                     of it: the lock keeps admitting readers as long as one is inside, so a \
                     steady stream of readers starves the writer",
                    stuck.waited
                )
            } else {
                format!(
                    "it was still waiting after {:.0?}, and the readers are stuck too (nothing \
                     entered the state machine any more): a deadlock, see no-deadlock",
                    stuck.waited
                )
            };
            Err(Failure::new(
                format!(
                    "the SET gets in within {WRITER_DEADLINE:?}: once a writer waits, new readers queue behind it"
                ),
                seen,
            ))
        }
    }
}

fn no_deadlock<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    // Alone first: a thread that waits for itself hangs with nobody else around,
    // and the operation that hung is named exactly.
    let watch = Watch::counting();
    let store = new_store(subject, &watch);
    for (command, note) in [
        (Command::set("apple", "red"), " (a new key)"),
        (Command::set("apple", "green"), " (a key with a value)"),
        (Command::get("apple"), " (a live key)"),
        (Command::get("pear"), " (a missing key)"),
        (Command::del("apple"), " (a live key)"),
        (Command::del("apple"), " (a deleted key)"),
        (Command::get("apple"), " (a deleted key)"),
        (Command::set("apple", "gold"), " (after a delete)"),
    ] {
        call(ctx, subject, &store, command, note)?;
    }
    ctx.progress("check_invariants on an idle store");
    let checker = {
        let (subject, store) = (subject.clone(), store.clone());
        sync::spawn("checker", move || subject.check_invariants(&store))
    };
    checker
        .join_by(Instant::now() + ALONE_DEADLINE)
        .map_err(|s| hang(&s, "check_invariants on an idle store"))?
        .map_err(|v| Failure::new("the invariants hold", v))?;

    // Then together: a second `read()` inside a read section only hangs when a
    // writer queues in between, which takes other threads.
    let watch = Watch::new(|_, _, _| thread::yield_now());
    let store = new_store(subject, &watch);
    ctx.progress("4 threads run 300 random commands each");
    let plans = (0..4)
        .map(|t| random_commands(&mut ctx.rng(200 + t as u64), t, 300, &["a", "b", "c", "d"]))
        .collect();
    run_threads(ctx, subject, &store, plans, |_, subject, store, command| {
        subject.execute(store, &command);
    })?;
    Ok(())
}
