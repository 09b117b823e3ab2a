//! The criteria of lesson 06. The threaded ones hold a thread at a known point (a
//! reader parked inside the lock by the probe's own closure) and then look at what
//! a second thread does: finishes, or waits on a condition variable, which the
//! course's `Condvar` counts. The model ones are in [`crate::model`].

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use probe_kit::sync::Latch;
use probe_kit::{Criterion, Ctx, Failure, Info, Verdict, ensure};
use rand::RngExt;

use crate::threads::{Seen, Task, finished_or_waiting};
use crate::{LockState, LockViolation, Subject, model};

pub const QUEUE_FIFO: Info = Info {
    id: "queue-fifo",
    title: "the queue hands out items first in, first out, and holds no more than its capacity",
    hint: "A queue of capacity n takes n items without waiting, refuses the next with \
           try_push, and gives them back oldest first (the book's part 1).",
    book: "lesson06-own-locks.html#part-1-a-bounded-queue",
    deadline_secs: 20,
    graded: true,
    steps: &[1, 2, 3, 4],
};

pub const QUEUE_WAITS: Info = Info {
    id: "queue-waits",
    title: "pop waits on an empty queue and push on a full one, on a condition variable, until the other side acts",
    hint: "An empty queue has nothing to give: pop must wait, asleep on a condition variable, \
           until a push; a full queue has no room: push waits until a pop.",
    book: "lesson06-own-locks.html#waiting-in-a-loop",
    deadline_secs: 20,
    graded: true,
    steps: &[1, 2, 3, 4],
};

pub const QUEUE_CONCURRENT: Info = Info {
    id: "queue-concurrent",
    title: "under three producers and three consumers, no item is lost, duplicated or reordered",
    hint: "Every item pushed must come out exactly once, and each producer's items in the \
           order it pushed them: look at what a wait or a notify can miss.",
    book: "lesson06-own-locks.html#waiting-in-a-loop",
    deadline_secs: 40,
    graded: true,
    steps: &[1, 2, 3, 4],
};

pub const QUEUE_MODEL: Info = Info {
    id: "queue-model",
    title: "the model checker finds no lost item, no overfull queue and no lost wake-up, in any interleaving",
    hint: "The model checker tries every order of the threads' steps: a wait in an `if`, or a \
           notify that wakes the wrong side, shows up in one of them (the timeline shows which).",
    book: "lesson06-own-locks.html#what-the-model-checker-does",
    deadline_secs: 60,
    graded: true,
    steps: &[1, 2],
};

pub const LOCK_INVARIANTS: Info = Info {
    id: "lock-invariants-check",
    title: "LockState::check_invariants refuses every impossible state, and only those",
    hint: "A writer is alone: the one state no correct lock is in is a writer inside beside \
           readers. Readers inside while writers wait is fine (the book's part 2).",
    book: "lesson06-own-locks.html#part-2-the-locks-state",
    deadline_secs: 10,
    graded: true,
    steps: &[11],
};

pub const WRITER_ALONE: Info = Info {
    id: "writer-alone",
    title: "a writer gets in only when nobody is inside, and nobody gets in beside a writer",
    hint: "A writer must wait while any reader or writer is inside; readers must wait while \
           a writer is inside (the book's part 3).",
    book: "lesson06-own-locks.html#part-3-entering-and-leaving",
    deadline_secs: 40,
    graded: true,
    steps: &[5, 6, 7, 8, 9, 10],
};

pub const READERS_TOGETHER: Info = Info {
    id: "readers-together",
    title: "readers get in beside each other",
    hint: "Only a writer keeps a reader out: a reader inside must not stop a second one \
           (the book's part 3).",
    book: "lesson06-own-locks.html#part-3-entering-and-leaving",
    deadline_secs: 20,
    graded: true,
    steps: &[5, 6, 9],
};

pub const WRITER_NOT_STARVED: Info = Info {
    id: "writer-not-starved",
    title: "once a writer waits, readers who come after it wait behind it",
    hint: "If new readers may pass a waiting writer, a steady stream of them keeps it out \
           for ever. The state counts the writers waiting: readers can look at it.",
    book: "lesson06-own-locks.html#the-policy-nobody-starves",
    deadline_secs: 20,
    graded: true,
    steps: &[5, 6, 7, 9, 10],
};

pub const READERS_NOT_STARVED: Info = Info {
    id: "readers-not-starved",
    title: "readers who waited through a write go in before the next writer",
    hint: "If a waiting writer always goes first, a steady stream of writers keeps the \
           readers out for ever: the writer who leaves gives the readers waiting then \
           their turn.",
    book: "lesson06-own-locks.html#the-policy-nobody-starves",
    deadline_secs: 20,
    graded: true,
    steps: &[5, 7, 9, 10],
};

pub const LOCK_MODEL: Info = Info {
    id: "lock-model",
    title: "the model checker finds no writer beside anyone, no lost wake-up and no deadlock, in any interleaving",
    hint: "The model checker tries every order of the threads' steps: a notify that comes \
           before the state it announces, or none at all, leaves a thread asleep for good in \
           one of them (the timeline shows which).",
    book: "lesson06-own-locks.html#what-the-model-checker-does",
    deadline_secs: 60,
    graded: true,
    steps: &[5, 7, 9, 10],
};

pub const PANIC_SAFE: Info = Info {
    id: "panic-leaves-lock-usable",
    title: "a reader or writer that panics inside still leaves, and the lock goes on working",
    hint: "A panic unwinds through the guard's drop: whatever drop does must bring the state \
           back to \"nobody inside\".",
    book: "lesson06-own-locks.html#a-guard-that-panics",
    deadline_secs: 20,
    graded: true,
    steps: &[5, 7, 9, 10],
};

pub const STORE_ON_LOCK: Info = Info {
    id: "store-on-own-lock",
    title: "lesson 02's store on your lock passes lesson 02's criteria",
    hint: "Lesson 02's store is your lock's first user: each GET on the read side, each SET \
           and DEL on the write side, as in lesson 02 (the book's part 4).",
    book: "lesson06-own-locks.html#part-4-lesson-02s-store-on-your-lock",
    deadline_secs: 180,
    graded: true,
    steps: &[5, 6, 7, 8, 9, 10, 12, 13, 14],
};

/// The lesson's criteria, in the order they run: the queue, the lock, the store.
pub fn all<S: Subject>() -> Vec<Criterion<S>> {
    vec![
        Criterion::new(&QUEUE_FIFO, queue_fifo),
        Criterion::new(&QUEUE_WAITS, queue_waits),
        Criterion::new(&QUEUE_CONCURRENT, queue_concurrent),
        Criterion::new(&QUEUE_MODEL, model::queue_model),
        Criterion::new(&LOCK_INVARIANTS, lock_invariants),
        Criterion::new(&WRITER_ALONE, writer_alone),
        Criterion::new(&READERS_TOGETHER, readers_together),
        Criterion::new(&WRITER_NOT_STARVED, writer_not_starved),
        Criterion::new(&READERS_NOT_STARVED, readers_not_starved),
        Criterion::new(&LOCK_MODEL, model::lock_model),
        Criterion::new(&PANIC_SAFE, panic_safe),
        Criterion::new(&STORE_ON_LOCK, store_on_own_lock),
    ]
}

/// How long one operation that must not wait may take: only a hang takes this long.
const ALONE: Duration = Duration::from_secs(5);
/// How long a thread that should block is given to be seen waiting.
const TO_BLOCK: Duration = Duration::from_secs(5);
/// How long a whole workload may take.
const WORKLOAD: Duration = Duration::from_secs(30);

/// The queue with one thread: a script, then random operations against a model.
fn queue_fifo<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("one thread: push 1, 2, 3 into a queue of capacity 3, then try_push, pop, ...");
    let (s, queue) = (subject.clone(), Arc::new(subject.queue(3)));
    let q = Arc::clone(&queue);
    let script = Task::start(
        "main",
        "push 1, 2, 3 into an empty queue of capacity 3",
        move || {
            for item in 1..=3 {
                s.push(&q, item);
            }
        },
    );
    match finished_or_waiting(&script, 1, ALONE) {
        Seen::Finished => script.join(ALONE)?,
        _ => {
            return Err(Failure::new(
                "push 1, 2 and 3 into an empty queue of capacity 3 return at once",
                "a push waited: the queue was not full",
            )
            .with_hint("push waits only while the queue holds `capacity` items."));
        }
    }
    let len = subject.len(&queue);
    ensure(
        len == 3,
        "len() is 3 after three pushes",
        format!("it is {len}"),
    )?;
    let refused = subject.try_push(&queue, 4);
    ensure(
        refused == Err(4),
        "try_push(4) into a full queue of capacity 3 gives 4 back",
        format!("it answered {refused:?}"),
    )?;
    let first = subject.try_pop(&queue);
    ensure(
        first == Some(1),
        "try_pop() after pushing 1, 2, 3 gives 1, the oldest",
        format!("it gave {first:?}"),
    )?;
    random_against_model(subject, ctx)
}

/// Random try_push, try_pop, push (when there is room) and pop (when there is an
/// item) on one thread, each checked against a `VecDeque`.
fn random_against_model<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let mut rng = ctx.rng(1);
    for round in 0..20 {
        let capacity = rng.random_range(1..=5);
        let queue = subject.queue(capacity);
        let mut model = VecDeque::new();
        let mut done = Vec::new();
        let mut next = 100 * round as u64;
        for _ in 0..60 {
            let step = match rng.random_range(0..4) {
                0 => {
                    next += 1;
                    let answer = subject.try_push(&queue, next);
                    let want = if model.len() < capacity {
                        model.push_back(next);
                        Ok(())
                    } else {
                        Err(next)
                    };
                    (
                        format!("try_push({next})"),
                        format!("{answer:?}"),
                        format!("{want:?}"),
                    )
                }
                1 => {
                    let answer = subject.try_pop(&queue);
                    let want = model.pop_front();
                    (
                        "try_pop()".to_owned(),
                        format!("{answer:?}"),
                        format!("{want:?}"),
                    )
                }
                2 if model.len() < capacity => {
                    next += 1;
                    subject.push(&queue, next);
                    model.push_back(next);
                    (format!("push({next})"), "()".into(), "()".into())
                }
                3 if !model.is_empty() => {
                    let answer = subject.pop(&queue);
                    let want = model.pop_front().expect("not empty");
                    ("pop()".to_owned(), answer.to_string(), want.to_string())
                }
                _ => {
                    let answer = subject.len(&queue);
                    (
                        "len()".to_owned(),
                        answer.to_string(),
                        model.len().to_string(),
                    )
                }
            };
            let (call, answer, want) = step;
            done.push(call.clone());
            if answer != want {
                return Err(Failure::new(
                    format!("{call} answers {want}"),
                    format!("it answered {answer}"),
                )
                .with_detail(format!(
                    "one thread, a queue of capacity {capacity}, after: {} (seed {})",
                    done[..done.len() - 1].join(", "),
                    ctx.seed()
                )));
            }
        }
    }
    Ok(())
}

/// A pop on an empty queue and a push on a full one must each wait on a condition
/// variable until the other side acts; then finish with the right item.
fn queue_waits<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("pop on an empty queue, seen waiting, then one push");
    let queue = Arc::new(subject.queue(1));
    let (s, q) = (subject.clone(), Arc::clone(&queue));
    let popper = Task::start("popper", "pop() on an empty queue", move || s.pop(&q));
    match finished_or_waiting(&popper, 1, TO_BLOCK) {
        Seen::Waiting => {}
        Seen::Finished => {
            let popped = popper.join(ALONE);
            return Err(Failure::new(
                "pop() on an empty queue waits for a push",
                format!("it returned at once: {popped:?}"),
            ));
        }
        Seen::Neither => return Err(not_asleep("pop() on an empty queue")),
    }
    subject.push(&queue, 7);
    let popped = popper.join(ALONE)?;
    ensure(
        popped == 7,
        "the waiting pop() returns 7, the item pushed while it waited",
        format!("it returned {popped}"),
    )?;

    ctx.progress("push on a full queue, seen waiting, then one pop");
    subject.push(&queue, 1);
    let (s, q) = (subject.clone(), Arc::clone(&queue));
    let pusher = Task::start("pusher", "push(2) into a full queue", move || s.push(&q, 2));
    match finished_or_waiting(&pusher, 1, TO_BLOCK) {
        Seen::Waiting => {}
        Seen::Finished => {
            pusher.join(ALONE)?;
            return Err(Failure::new(
                "push(2) into a full queue of capacity 1 waits for a pop",
                format!(
                    "it returned at once; the queue now holds {} item(s)",
                    subject.len(&queue)
                ),
            ));
        }
        Seen::Neither => return Err(not_asleep("push(2) into a full queue")),
    }
    let first = subject.pop(&queue);
    pusher.join(ALONE)?;
    let second = subject.try_pop(&queue);
    ensure(
        (first, second) == (1, Some(2)),
        "pop() gives 1, and the push that waited then puts 2 in",
        format!("pop() gave {first}, then try_pop() gave {second:?}"),
    )?;

    ctx.progress("a push and a pop seen waiting, each woken by a try_ of the other side");
    let (s, q) = (subject.clone(), Arc::clone(&queue));
    let popper = Task::start("popper", "pop() on an empty queue", move || s.pop(&q));
    if finished_or_waiting(&popper, 1, TO_BLOCK) == Seen::Waiting {
        let pushed = subject.try_push(&queue, 5);
        ensure(
            pushed.is_ok(),
            "try_push(5) into an empty queue succeeds",
            format!("{pushed:?}"),
        )?;
    }
    let popped = popper.join(ALONE).map_err(|failure| {
        failure.with_detail("pop() was waiting on an empty queue when try_push(5) put an item in")
    })?;
    ensure(
        popped == 5,
        "the waiting pop() returns 5",
        format!("it returned {popped}"),
    )?;
    subject.push(&queue, 1);
    let (s, q) = (subject.clone(), Arc::clone(&queue));
    let pusher = Task::start("pusher", "push(2) into a full queue", move || s.push(&q, 2));
    if finished_or_waiting(&pusher, 1, TO_BLOCK) == Seen::Waiting {
        subject.try_pop(&queue);
    }
    pusher.join(ALONE).map_err(|failure| {
        failure.with_detail("push(2) was waiting on a full queue when try_pop() made room")
    })
}

fn not_asleep(call: &str) -> Failure {
    Failure::new(
        format!("{call} waits, asleep on a condition variable"),
        format!(
            "after {TO_BLOCK:.0?} it had neither returned nor waited on a condition \
             variable: it spins, sleeps, or waits for something else"
        ),
    )
    .with_hint("Wait with `Condvar::wait`, which lets the mutex go while asleep.")
}

const PRODUCERS: u64 = 3;
const ITEMS_EACH: u64 = 3000;

/// Three producers and three consumers through a queue of capacity 4; one consumer
/// mixes try_pop with pop, so a try_pop that forgets to wake a pusher shows.
fn queue_concurrent<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress(format_args!(
        "{PRODUCERS} producers pushing {ITEMS_EACH} items each, 3 consumers, capacity 4"
    ));
    let queue = Arc::new(subject.queue(4));
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (s, q) = (subject.clone(), Arc::clone(&queue));
        producers.push(Task::start(&format!("producer-{p}"), "push", move || {
            for n in 0..ITEMS_EACH {
                s.push(&q, p << 32 | n);
            }
        }));
    }
    let mut consumers = Vec::new();
    for c in 0..3u64 {
        let (s, q) = (subject.clone(), Arc::clone(&queue));
        consumers.push(Task::start(&format!("consumer-{c}"), "pop", move || {
            let mut got = Vec::with_capacity(ITEMS_EACH as usize);
            while (got.len() as u64) < ITEMS_EACH {
                // Never more than the capacity, whenever one looks.
                let len = s.len(&q);
                if len > 4 {
                    return Err(format!("a queue of capacity 4 held {len} items"));
                }
                if c == 2 && got.len() % 2 == 0 {
                    if let Some(item) = s.try_pop(&q) {
                        got.push(item);
                    }
                    continue;
                }
                got.push(s.pop(&q));
            }
            Ok(got)
        }));
    }
    for producer in producers {
        producer.join(WORKLOAD)?;
    }
    let mut seen = BTreeSet::new();
    for (c, consumer) in consumers.into_iter().enumerate() {
        let got = consumer
            .join(WORKLOAD)?
            .map_err(|seen| Failure::new("a queue never holds more than its capacity", seen))?;
        let mut last = [None; PRODUCERS as usize];
        for item in got {
            let (p, n) = (item >> 32, item & 0xffff_ffff);
            if p >= PRODUCERS || n >= ITEMS_EACH {
                return Err(Failure::new(
                    "every item popped is one that was pushed",
                    format!("consumer-{c} popped {item}, which nobody pushed"),
                ));
            }
            if !seen.insert(item) {
                return Err(Failure::new(
                    "every item comes out exactly once",
                    format!("item {n} of producer-{p} came out twice"),
                ));
            }
            if let Some(before) = last[p as usize]
                && before > n
            {
                return Err(Failure::new(
                    "each producer's items come out in the order it pushed them",
                    format!("consumer-{c} popped item {n} of producer-{p} after its item {before}"),
                ));
            }
            last[p as usize] = Some(n);
        }
    }
    let left = subject.len(&queue);
    ensure(
        seen.len() as u64 == PRODUCERS * ITEMS_EACH && left == 0,
        format!(
            "all {} items come out, and the queue is empty",
            PRODUCERS * ITEMS_EACH
        ),
        format!("{} came out, {left} left in the queue", seen.len()),
    )
}

/// The learner's invariant check over a table of states, possible and impossible.
fn lock_invariants<S: Subject>(subject: &S, _ctx: &Ctx) -> Verdict {
    let state = |readers, writer, writers_waiting, readers_waiting, readers_next| LockState {
        readers,
        writer,
        writers_waiting,
        readers_waiting,
        readers_next,
    };
    let possible = [
        state(0, false, 0, 0, false),
        state(1, false, 0, 0, false),
        state(5, false, 0, 0, false),
        state(0, true, 0, 0, false),
        state(0, true, 3, 2, false),
        state(2, false, 1, 0, false),
        state(0, false, 2, 0, false),
        state(1, false, 1, 2, true),
        state(0, false, 1, 1, true),
    ];
    for s in possible {
        if let Err(violation) = subject.check(s) {
            return Err(Failure::new(
                format!("{s:?} passes: a correct lock can be in it"),
                format!("it was refused: {violation}"),
            ));
        }
    }
    let writer_beside = |readers| LockViolation::WriterBesideReaders { readers };
    let impossible = [
        (state(1, true, 0, 0, false), writer_beside(1)),
        (state(3, true, 0, 0, false), writer_beside(3)),
        (state(1, true, 2, 1, false), writer_beside(1)),
        (
            state(0, false, 1, 0, true),
            LockViolation::TurnWithoutReaders,
        ),
        (
            state(2, false, 0, 0, true),
            LockViolation::TurnWithoutReaders,
        ),
    ];
    for (s, want) in impossible {
        let answer = subject.check(s);
        if answer != Err(want) {
            return Err(Failure::new(
                format!("{s:?} is refused with {want:?}"),
                format!("it answered {answer:?}"),
            ));
        }
    }
    Ok(())
}

/// Holds a thread inside the lock (reading or writing) until `release` opens.
fn hold_inside<S: Subject>(
    subject: &S,
    lock: &Arc<S::Lock>,
    write: bool,
    inside: &Arc<Latch>,
    release: &Arc<Latch>,
) -> Task<()> {
    let (s, l) = (subject.clone(), Arc::clone(lock));
    let (inside, release) = (Arc::clone(inside), Arc::clone(release));
    let (name, doing) = if write {
        ("held-writer", "write(), held inside")
    } else {
        ("held-reader", "read(), held inside")
    };
    Task::start(name, doing, move || {
        let stay = || {
            inside.open();
            release.wait(Duration::from_secs(20));
        };
        if write {
            s.write(&l, &mut |_| stay());
        } else {
            s.read(&l, &mut |_| stay());
        }
    })
}

/// Waits for the held thread to be inside.
fn wait_inside(task: &Task<()>, inside: &Latch, what: &str) -> Verdict {
    if inside.wait(ALONE) {
        return Ok(());
    }
    Err(Failure::new(
        format!("{what} on a free lock gets in at once"),
        if task.is_done() {
            "it returned without running the code inside the guard".to_owned()
        } else {
            format!("it was not inside after {ALONE:.0?}")
        },
    )
    .stuck())
}

fn writer_alone<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("a reader held inside, then a writer");
    shut_out_beside(subject, false, true)?;
    ctx.progress("a writer held inside, then a reader");
    shut_out_beside(subject, true, false)?;
    ctx.progress("a writer held inside, then another writer");
    shut_out_beside(subject, true, true)?;
    ctx.progress("2 writers and 2 readers at once, 2000 operations each");
    hammer(subject)
}

/// With one thread held inside (a writer if `held_writes`), another that comes to
/// write (if `comes_to_write`) or read must be refused by try_ and wait in the
/// blocking call, and get in once the first leaves.
fn shut_out_beside<S: Subject>(subject: &S, held_writes: bool, comes_to_write: bool) -> Verdict {
    let side = |w| if w { "writer" } else { "reader" };
    let (held, comes) = (side(held_writes), side(comes_to_write));
    let lock = Arc::new(subject.lock(0));
    let (inside, release) = (Arc::new(Latch::new()), Arc::new(Latch::new()));
    let holder = hold_inside(subject, &lock, held_writes, &inside, &release);
    wait_inside(&holder, &inside, &format!("a {held}"))?;
    let state = subject.state(&lock);
    let want_state = if held_writes {
        state.writer && state.readers == 0
    } else {
        !state.writer && state.readers == 1
    };
    if !want_state {
        release.open();
        return Err(Failure::new(
            format!("with one {held} inside, state() says so"),
            format!("state() says {state:?}"),
        ));
    }
    let refused = if comes_to_write {
        !subject.try_write(&lock, 9)
    } else {
        subject.try_read(&lock).is_none()
    };
    if !refused {
        release.open();
        return Err(Failure::new(
            format!(
                "with a {held} inside, try_{} gets nothing",
                if comes_to_write { "write" } else { "read" }
            ),
            format!("it got in beside the {held}"),
        ));
    }
    let (s, l) = (subject.clone(), Arc::clone(&lock));
    let comer = Task::start(&format!("second-{comes}"), "its turn", move || {
        if comes_to_write {
            s.write(&l, &mut |value| *value += 1);
        } else {
            s.read(&l, &mut |_| {});
        }
    });
    let seen = finished_or_waiting(&comer, 1, TO_BLOCK);
    release.open();
    holder.join(ALONE)?;
    match seen {
        Seen::Waiting => comer.join(ALONE).map_err(|failure| {
            failure.with_detail(format!(
                "the {held} inside had left: the waiting {comes} was never woken"
            ))
        }),
        Seen::Finished => Err(comer.join(ALONE).err().unwrap_or_else(|| {
            Failure::new(
                format!("a {comes} waits while a {held} is inside"),
                format!("it got in beside the {held}"),
            )
        })),
        Seen::Neither => Err(not_asleep(&format!("a {comes} beside a {held}"))),
    }
}

/// Two writers and two readers at once. The data's cell panics the moment anyone
/// is let in beside a writer; readers also check, inside, what state() says.
fn hammer<S: Subject>(subject: &S) -> Verdict {
    const OPS: u64 = 2000;
    let lock = Arc::new(subject.lock(0));
    let reads = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..2 {
        let (s, l) = (subject.clone(), Arc::clone(&lock));
        tasks.push(Task::start(&format!("writer-{w}"), "write()", move || {
            for _ in 0..OPS {
                s.write(&l, &mut |value| *value += 1);
            }
            Ok(())
        }));
    }
    for r in 0..2 {
        let (s, l, reads) = (subject.clone(), Arc::clone(&lock), Arc::clone(&reads));
        tasks.push(Task::start(&format!("reader-{r}"), "read()", move || {
            let mut last = 0;
            for n in 0..OPS {
                let mut seen = 0;
                let mut state = None;
                s.read(&l, &mut |value| {
                    seen = value;
                    if n % 16 == 0 {
                        state = Some(s.state(&l));
                    }
                });
                reads.fetch_add(1, Ordering::Relaxed);
                if seen < last {
                    return Err(format!(
                        "a reader saw {seen} after {last}: a write was undone"
                    ));
                }
                last = seen;
                if let Some(state) = state
                    && (state.writer || state.readers == 0)
                {
                    return Err(format!("inside a read, state() said {state:?}"));
                }
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.join(WORKLOAD)?.map_err(|seen| {
            Failure::new("readers see writes in order, and the state agrees", seen)
        })?;
    }
    let mut total = 0;
    subject.read(&lock, &mut |value| total = value);
    ensure(
        total == 2 * OPS,
        format!(
            "after 2 writers' {OPS} increments each, the value is {}",
            2 * OPS
        ),
        format!("it is {total}"),
    )?;
    let state = subject.state(&lock);
    ensure(
        state == LockState::default(),
        "once everyone has left, the state is all zero",
        format!("it is {state:?}"),
    )
}

fn readers_together<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("a reader held inside, then try_read and a second reader");
    let lock = Arc::new(subject.lock(5));
    let (inside, release) = (Arc::new(Latch::new()), Arc::new(Latch::new()));
    let holder = hold_inside(subject, &lock, false, &inside, &release);
    wait_inside(&holder, &inside, "a reader")?;
    let tried = subject.try_read(&lock);
    let (s, l) = (subject.clone(), Arc::clone(&lock));
    let second = Task::start("second-reader", "read() beside a reader", move || {
        let mut seen = 0;
        s.read(&l, &mut |value| seen = value);
        seen
    });
    let seen = finished_or_waiting(&second, 1, TO_BLOCK);
    release.open();
    holder.join(ALONE)?;
    let read = second.join(ALONE);
    if tried != Some(5) {
        return Err(Failure::new(
            "with one reader inside, try_read() gets in and reads 5",
            format!("it answered {tried:?}"),
        ));
    }
    match seen {
        Seen::Finished => {
            let read = read?;
            ensure(
                read == 5,
                "the second reader reads 5",
                format!("it read {read}"),
            )
        }
        Seen::Waiting => Err(Failure::new(
            "a second reader gets in while a reader is inside",
            "it waited on a condition variable until the first had left",
        )),
        Seen::Neither => Err(Failure::new(
            "a second reader gets in while a reader is inside",
            format!("it had not got in after {TO_BLOCK:.0?}"),
        )),
    }
}

fn writer_not_starved<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("a reader held inside, a writer waiting, then a new reader");
    let lock = Arc::new(subject.lock(0));
    let (inside, release) = (Arc::new(Latch::new()), Arc::new(Latch::new()));
    let holder = hold_inside(subject, &lock, false, &inside, &release);
    wait_inside(&holder, &inside, "a reader")?;
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (s, l, o) = (subject.clone(), Arc::clone(&lock), Arc::clone(&order));
    let writer = Task::start("writer", "write() behind a reader", move || {
        s.write(&l, &mut |value| {
            *value = 1;
            o.lock().unwrap().push("writer");
        });
    });
    let writer_seen = finished_or_waiting(&writer, 1, TO_BLOCK);
    if writer_seen != Seen::Waiting {
        release.open();
        holder.join(ALONE)?;
        writer.join(ALONE)?;
        return Err(match writer_seen {
            Seen::Finished => Failure::new(
                "a writer waits while a reader is inside",
                "it got in beside the reader",
            ),
            _ => not_asleep("a writer behind a reader"),
        });
    }
    let tried = subject.try_read(&lock);
    let (s, l, o) = (subject.clone(), Arc::clone(&lock), Arc::clone(&order));
    let late = Task::start("late-reader", "read() behind a waiting writer", move || {
        let mut seen = 0;
        s.read(&l, &mut |value| {
            seen = value;
            o.lock().unwrap().push("late reader");
        });
        seen
    });
    let late_seen = finished_or_waiting(&late, 2, TO_BLOCK);
    release.open();
    holder.join(ALONE)?;
    writer.join(ALONE)?;
    let read = late.join(ALONE)?;
    if tried.is_some() {
        return Err(Failure::new(
            "with a writer waiting, try_read() gets nothing",
            "it got in ahead of the waiting writer",
        ));
    }
    match late_seen {
        Seen::Waiting => ensure(
            read == 1 && *order.lock().unwrap() == ["writer", "late reader"],
            "once the first reader leaves, the writer goes in, then the late reader, who reads 1",
            format!(
                "in order: {:?}; the late reader read {read}",
                order.lock().unwrap()
            ),
        ),
        Seen::Finished => Err(Failure::new(
            "a reader who comes while a writer waits waits behind it",
            "it got in ahead of the waiting writer: a stream of readers like it keeps the writer out for ever",
        )),
        Seen::Neither => Err(not_asleep("a reader behind a waiting writer")),
    }
}

/// A writer held inside, a reader waiting, then a second writer waiting: when the
/// first writer leaves, the reader goes in before the second writer.
fn readers_not_starved<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("a writer held inside, a reader waiting, then a second writer");
    let lock = Arc::new(subject.lock(0));
    let (inside, release) = (Arc::new(Latch::new()), Arc::new(Latch::new()));
    let holder = hold_inside(subject, &lock, true, &inside, &release);
    wait_inside(&holder, &inside, "a writer")?;
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (s, l, o) = (subject.clone(), Arc::clone(&lock), Arc::clone(&order));
    let reader = Task::start("reader", "read() behind a writer", move || {
        s.read(&l, &mut |_| o.lock().unwrap().push("reader"));
    });
    let reader_seen = finished_or_waiting(&reader, 1, TO_BLOCK);
    let (s, l, o) = (subject.clone(), Arc::clone(&lock), Arc::clone(&order));
    let writer = Task::start("second-writer", "write() behind a writer", move || {
        s.write(&l, &mut |_| o.lock().unwrap().push("second writer"));
    });
    let writer_seen = if reader_seen == Seen::Waiting {
        finished_or_waiting(&writer, 2, TO_BLOCK)
    } else {
        Seen::Neither
    };
    release.open();
    holder.join(ALONE)?;
    reader.join(ALONE)?;
    writer.join(ALONE)?;
    let order = order.lock().unwrap().clone();
    match (reader_seen, writer_seen) {
        (Seen::Waiting, Seen::Waiting) => ensure(
            order == ["reader", "second writer"],
            "when the first writer leaves, the reader who waited goes in before the second writer",
            format!(
                "they went in in this order: {}; while writers keep coming, readers never get in",
                order.join(", ")
            ),
        ),
        (Seen::Finished, _) | (_, Seen::Finished) => Err(Failure::new(
            "a reader and a second writer wait while a writer is inside",
            "one of them got in beside the writer (see writer-alone)",
        )),
        _ => Err(not_asleep("a reader or writer behind a writer")),
    }
}

fn panic_safe<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    for writes in [true, false] {
        let side = if writes { "writer" } else { "reader" };
        ctx.progress(format_args!(
            "a {side} panics inside, then a write and a read"
        ));
        let lock = Arc::new(subject.lock(3));
        let (s, l) = (subject.clone(), Arc::clone(&lock));
        let panicker = Task::start(&format!("panicking-{side}"), "a panic inside", move || {
            if writes {
                s.write(&l, &mut |_| {
                    panic!("the probe's {side} panics inside, on purpose")
                });
            } else {
                s.read(&l, &mut |_| {
                    panic!("the probe's {side} panics inside, on purpose")
                });
            }
        });
        match panicker.join(ALONE) {
            Err(failure) if failure.seen.contains("on purpose") => {}
            Err(failure) => return Err(failure),
            Ok(()) => unreachable!("the closure panics"),
        }
        let (s, l) = (subject.clone(), Arc::clone(&lock));
        let after = Task::start("after-the-panic", "write() then read()", move || {
            s.write(&l, &mut |value| *value += 1);
            let mut seen = 0;
            s.read(&l, &mut |value| seen = value);
            seen
        });
        let seen = after.join(ALONE).map_err(|failure| {
            failure.with_detail(format!(
                "a {side} had panicked inside the lock, and the lock did not let anyone in after it"
            ))
        })?;
        ensure(
            seen == 4,
            format!("after a {side} panicked inside, a write and a read work: the read sees 4"),
            format!("it saw {seen}"),
        )?;
        let state = subject.state(&lock);
        ensure(
            state == LockState::default(),
            format!("after a {side} panicked inside, and everyone left, the state is all zero"),
            format!("it is {state:?}"),
        )?;
    }
    Ok(())
}

/// Lesson 02's graded criteria, one after another, on lesson 02's store on the lock.
fn store_on_own_lock<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let probe = probe_lesson02::probe(subject.store());
    for info in probe.criteria() {
        ctx.progress(format_args!("lesson 02's `{}` on your store", info.id));
        match probe.run(info.id, ctx) {
            Some(probe_kit::Finding::Fail(failure)) => {
                return Err(Failure {
                    expected: format!("lesson 02's `{}`: {}", info.id, failure.expected),
                    detail: Some(match failure.detail {
                        Some(detail) => format!("{detail} (lesson 02's store, on your lock)"),
                        None => "lesson 02's store, on your lock".to_owned(),
                    }),
                    ..failure
                });
            }
            Some(_) => {}
            None => unreachable!("lesson 02's probe runs its own criteria"),
        }
    }
    Ok(())
}
