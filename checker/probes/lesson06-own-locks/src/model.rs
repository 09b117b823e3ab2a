//! The criteria the model checker decides: small configurations (two or three
//! threads besides the main one), every interleaving within a preemption bound. A
//! failing interleaving comes back as a timeline of each thread's steps: the
//! probe's operations, and every lock, wait, wake-up and notify of the course's
//! `Mutex` and `Condvar`.

use kvlab_sync::probe_hooks::{self, Bounds, Outcome, thread};
use probe_kit::{Ctx, Failure, Verdict};
use std::sync::Arc;

use crate::Subject;

/// Three preemptions find the lost wake-ups and missing loops of these lessons;
/// each configuration stays within a few thousand interleavings on the reference.
const BOUNDS: Bounds = Bounds {
    preemptions: 3,
    max_branches: 20_000,
};

/// How many steps of a failing timeline are shown: the end, where it failed.
const SHOWN_STEPS: usize = 80;

/// Starts a model thread with a name, for the timeline.
fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("the model checker starts its threads")
}

/// Runs one configuration; a failing interleaving becomes the failure.
fn explore(
    ctx: &Ctx,
    criterion: &str,
    what: &str,
    body: impl Fn() + Send + Sync + 'static,
) -> Verdict {
    ctx.progress(format_args!("model checking: {what}"));
    match probe_hooks::model(BOUNDS, body) {
        Outcome::AllPassed { .. } => Ok(()),
        Outcome::Failed {
            interleaving,
            message,
            timeline,
        } => {
            probe_kit::forget_recorded_panic();
            let shown = timeline.len().saturating_sub(SHOWN_STEPS);
            let mut steps = probe_hooks::render(&timeline[shown..]);
            if shown > 0 {
                steps = format!("(the first {shown} steps left out)\n{steps}");
            }
            Err(Failure::new(
                format!("{what}: every interleaving ends well"),
                format!("interleaving #{interleaving} did not: {}", plain(&message)),
            )
            .with_detail(format!(
                "{what}. The steps of that interleaving, numbered, with the thread that \
                 took each:\n{steps}The model checker tries the interleavings in the same \
                 order every run: `just check lesson06 --only {criterion}` finds this one \
                 again."
            )))
        }
    }
}

/// The model checker's own words for a state where every thread waits.
fn plain(message: &str) -> String {
    if message.to_lowercase().contains("deadlock") {
        "every thread was waiting and none could wake another (a deadlock, or a lost \
         wake-up: a notify nobody was waiting for, or one that woke the wrong thread)"
            .to_owned()
    } else if message.contains("maximum number of branches") {
        "a thread took more steps than any wait needs: it spins instead of waiting on a \
         condition variable"
            .to_owned()
    } else {
        message.to_owned()
    }
}

pub fn queue_model<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let s = subject.clone();
    explore(
        ctx,
        "queue-model",
        "capacity 1, main pushes 1 then 2, consumer-1 and consumer-2 pop one each",
        move || {
            let queue = Arc::new(s.queue(1));
            let consumers: Vec<_> = ["consumer-1", "consumer-2"]
                .into_iter()
                .map(|name| {
                    let (s, q) = (s.clone(), Arc::clone(&queue));
                    spawn(name, move || {
                        probe_hooks::note("pop() begins");
                        let item = s.pop(&q);
                        probe_hooks::note(format!("pop() returns {item}"));
                        item
                    })
                })
                .collect();
            for item in [1, 2] {
                probe_hooks::note(format!("push({item}) begins"));
                s.push(&queue, item);
                probe_hooks::note(format!("push({item}) returns"));
            }
            let mut got: Vec<u64> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
            got.sort_unstable();
            assert!(got == [1, 2], "the consumers popped {got:?}, not 1 and 2");
        },
    )?;
    let s = subject.clone();
    explore(
        ctx,
        "queue-model",
        "capacity 1 holding 0, producer-1 pushes 1 and producer-2 pushes 2, main pops three",
        move || {
            let queue = Arc::new(s.queue(1));
            s.push(&queue, 0);
            let producers: Vec<_> = [("producer-1", 1), ("producer-2", 2)]
                .into_iter()
                .map(|(name, item)| {
                    let (s, q) = (s.clone(), Arc::clone(&queue));
                    spawn(name, move || {
                        probe_hooks::note(format!("push({item}) begins"));
                        s.push(&q, item);
                        probe_hooks::note(format!("push({item}) returns"));
                        let len = s.len(&q);
                        assert!(len <= 1, "a queue of capacity 1 held {len} items");
                    })
                })
                .collect();
            let mut got = Vec::new();
            for _ in 0..3 {
                probe_hooks::note("pop() begins");
                let item = s.pop(&queue);
                probe_hooks::note(format!("pop() returns {item}"));
                got.push(item);
            }
            for producer in producers {
                producer.join().unwrap();
            }
            assert!(
                got[0] == 0,
                "main popped {} first, not 0, the oldest",
                got[0]
            );
            got.sort_unstable();
            assert!(got == [0, 1, 2], "main popped {got:?}, not 0, 1 and 2");
        },
    )
}

pub fn lock_model<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let s = subject.clone();
    explore(
        ctx,
        "lock-model",
        "writer-1 and writer-2 each add 1, main reads once, then again at the end",
        move || {
            let lock = Arc::new(s.lock(0));
            let writers: Vec<_> = ["writer-1", "writer-2"]
                .into_iter()
                .map(|name| {
                    let (s, l) = (s.clone(), Arc::clone(&lock));
                    spawn(name, move || {
                        probe_hooks::note("write() begins");
                        s.write(&l, &mut |value| *value += 1);
                        probe_hooks::note("write() has left");
                    })
                })
                .collect();
            probe_hooks::note("read() begins");
            s.read(&lock, &mut |_| {});
            probe_hooks::note("read() has left");
            for writer in writers {
                writer.join().unwrap();
            }
            let mut total = 0;
            s.read(&lock, &mut |value| total = value);
            assert!(total == 2, "after two writes of +1 the value was {total}");
            let state = s.state(&lock);
            assert!(
                state == crate::LockState::default(),
                "with everyone gone, the state was {state:?}"
            );
        },
    )?;
    let s = subject.clone();
    explore(
        ctx,
        "lock-model",
        "reader-1 and reader-2 read, main writes once",
        move || {
            let lock = Arc::new(s.lock(0));
            let readers: Vec<_> = ["reader-1", "reader-2"]
                .into_iter()
                .map(|name| {
                    let (s, l) = (s.clone(), Arc::clone(&lock));
                    spawn(name, move || {
                        probe_hooks::note("read() begins");
                        let mut seen = 0;
                        s.read(&l, &mut |value| seen = value);
                        probe_hooks::note(format!("read() has left, having read {seen}"));
                    })
                })
                .collect();
            probe_hooks::note("write() begins");
            s.write(&lock, &mut |value| *value = 1);
            probe_hooks::note("write() has left");
            for reader in readers {
                reader.join().unwrap();
            }
            let state = s.state(&lock);
            assert!(
                state == crate::LockState::default(),
                "with everyone gone, the state was {state:?}"
            );
        },
    )
}
