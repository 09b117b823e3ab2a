//! The read path: what a read shows, and when it has to wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use probe_kit::{Ctx, Failure, Verdict};
use rand::RngExt;
use reference::{Read, WriteError};
use state::{Command, Response};

use super::{
    BLOCKED_AFTER, PHASE_LIMIT, doing_write, hold_once, join_while_held, join_within, keys,
    random_write,
};
use crate::Subject;
use crate::history::{History, describe, numbering_problem};
use crate::lab::{ArrivesOnDrop, Hold, Lab};
use parking_lot::kvlab_watch::{Kind, Moment, Side, stopping_at};
use probe_kit::sync::{Crew, Latch};

/// A store whose keys `k0`.. are written once each, and whose last key is deleted
/// again, so that reads meet live values, a tombstone and (later) missing keys. The
/// writes run on a thread of their own, so that a write that never returns (a lock
/// taken twice, say) is reported as such instead of stopping the probe.
pub(super) fn prefilled<S: Subject>(
    subject: &S,
    lab: &Arc<Lab>,
    keys: &[String],
) -> Result<Arc<S::Store>, Failure> {
    let store = Arc::new(subject.store(lab));
    let mut commands: Vec<Command> = keys
        .iter()
        .map(|k| Command::set(k, &format!("init-{k}")))
        .collect();
    commands.extend(keys.last().map(|k| Command::del(k)));
    let mut crew = Crew::new();
    {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        crew.spawn("writer", move |doing| {
            for command in commands {
                doing.set(doing_write(&command));
                match subject.write(&store, command.clone()) {
                    Ok(Response::Stored { .. } | Response::Deleted { .. }) => {}
                    other => {
                        return Err(Failure::new(
                            format!("`{command}` on a store with no other thread is accepted and numbered"),
                            format!("it answered {other:?}"),
                        ));
                    }
                }
            }
            Ok(())
        });
    }
    join_within(
        crew,
        BLOCKED_AFTER,
        "the first writes, on a store with no other thread, finish",
        "A write that never returns on its own waits for a lock nobody else holds: a lock \
         taken twice on one thread (a read guard still alive when the write lock is asked \
         for, say).",
    )?
    .remove(0)?;
    Ok(store)
}

/// A writer parked inside the hook: it holds whatever `write` holds while the hook
/// runs, its write has a number, and the write has not taken effect.
pub(super) struct HeldWriter {
    hold: Arc<Hold>,
    crew: Crew<Result<Response, WriteError>>,
    pub command: Command,
}

impl HeldWriter {
    pub fn start<S: Subject>(
        subject: &S,
        store: &Arc<S::Store>,
        lab: &Lab,
        command: Command,
    ) -> Result<HeldWriter, Failure> {
        let hold = lab.hold_next_write();
        let mut crew = Crew::new();
        let (subject, store, mine) = (subject.clone(), Arc::clone(store), command.clone());
        crew.spawn("writer", move |doing| {
            doing.set(doing_write(&mine));
            subject.write(&store, mine)
        });
        if !hold.arrived.wait(BLOCKED_AFTER) {
            return Err(Failure::new(
                format!(
                    "`{command}` reaches the hook (on_write) within {}s",
                    BLOCKED_AFTER.as_secs()
                ),
                "it had not called on_write yet",
            )
            .with_detail(
                "Every write must call hook.on_write(seq, &command) inside the turnstile, \
                 before it changes the state.",
            ));
        }
        Ok(HeldWriter {
            hold,
            crew,
            command,
        })
    }

    /// Lets the writer go on, and waits for its answer.
    pub fn finish(self) -> Result<Result<Response, WriteError>, Failure> {
        self.hold.release.open();
        let mut answers = join_within(
            self.crew,
            PHASE_LIMIT,
            "the held write finishes once the hook lets it go",
            "Once the hook returns, the write only has to apply.",
        )?;
        Ok(answers.remove(0))
    }
}

/// Readers that each read every key `rounds` times.
fn readers<S: Subject>(
    subject: &S,
    store: &Arc<S::Store>,
    keys: &[String],
    readers: usize,
    rounds: usize,
) -> Crew<Vec<(String, Read)>> {
    let mut crew = Crew::new();
    for reader in 0..readers {
        let (subject, store, keys) = (subject.clone(), Arc::clone(store), keys.to_vec());
        crew.spawn(format!("reader-{reader}"), move |doing| {
            let mut reads = Vec::new();
            for _ in 0..rounds {
                for key in &keys {
                    doing.set(format_args!("get({key:?})"));
                    reads.push((key.clone(), subject.get(&store, key)));
                }
            }
            reads
        });
    }
    crew
}

const READERS_WAIT: &str = "The writer was parked inside on_write, the slow phase of a write \
    (a log append and its fsync, in a later lesson). Readers that wait for it wait as long \
    as the slowest disk: during on_write, write() may hold the writer mutex, but no lock on \
    the state, and get() must never take the writer mutex.";

pub fn readers_not_blocked<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let lab = Lab::new();
    let keys = keys(6);
    let store = prefilled(subject, &lab, &keys)?;
    ctx.progress("holding a writer inside on_write");
    let held = HeldWriter::start(subject, &store, &lab, Command::set("k0", "held"))?;
    ctx.progress("3 readers reading every key while the writer is held inside on_write");
    join_while_held(
        readers(subject, &store, &keys, 3, 2),
        BLOCKED_AFTER,
        &format!(
            "readers finish while a writer is held inside on_write (`{}`)",
            held.command
        ),
        READERS_WAIT,
    )?;
    ctx.progress("letting the held writer go");
    let _answer = held.finish()?;
    Ok(())
}

pub fn readers_side_by_side<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let lab = Lab::new();
    let keys = keys(4);
    let store = prefilled(subject, &lab, &keys)?;
    ctx.progress("a get held inside the state while another get runs");
    let reader = {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        move || {
            subject.get(&store, "k0");
        }
    };
    beside_one_inside(subject, &store, &lab, "get(\"k0\")", reader, READERS_SHARE)?;
    ctx.progress("a copy_state held inside the state while a get runs");
    let copy = {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        move || {
            subject.copy_state(&store);
        }
    };
    beside_one_inside(subject, &store, &lab, "copy_state()", copy, COPY_SHARES)
}

const READERS_SHARE: &str = "Two readers must be able to be inside the state at the same \
    moment: that is what a reader-writer lock is for. A read never changes the state, so \
    get() takes the state's lock on its shared side (read()), never write() or a Mutex.";

const COPY_SHARES: &str = "A copy only reads the state: copy_state() takes the shared side \
    (read()), so readers carry on while it copies and only writers wait for it.";

/// Holds `first` (a reading call) at its first access to the state, and checks that a
/// `get` made meanwhile finishes.
fn beside_one_inside<S: Subject>(
    subject: &S,
    store: &Arc<S::Store>,
    lab: &Arc<Lab>,
    first_call: &str,
    first: impl FnOnce() + Send + 'static,
    why: &str,
) -> Verdict {
    let hold = Arc::new(Hold::default());
    let mut inside = Crew::new();
    {
        let (lab, hold, call) = (Arc::clone(lab), Arc::clone(&hold), first_call.to_owned());
        inside.spawn("reader-inside", move |doing| {
            lab.hold_first_state_access_here(Arc::clone(&hold));
            let _ended = ArrivesOnDrop(hold);
            doing.set(format_args!("{call}, held inside the state"));
            first();
        });
    }
    if !hold.arrived.wait(BLOCKED_AFTER) {
        return Err(Failure::new(
            format!("{first_call}, alone with the store, reaches the state"),
            "it had not touched the state yet",
        ));
    }
    let mut beside = Crew::new();
    {
        let (subject, store) = (subject.clone(), Arc::clone(store));
        beside.spawn("reader-beside", move |doing| {
            doing.set("get(\"k1\")");
            subject.get(&store, "k1");
        });
    }
    let verdict = join_while_held(
        beside,
        BLOCKED_AFTER,
        &format!("get(\"k1\") finishes while {first_call} is inside the state"),
        why,
    );
    hold.release.open();
    join_within(
        inside,
        PHASE_LIMIT,
        &format!("{first_call} finishes once let go"),
        "",
    )?;
    verdict.map(|_| ())
}

pub fn reads_consistent<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    held_write_is_invisible(subject, ctx)?;
    read_stopped_after_letting_go(subject, ctx)?;
    read_while_the_apply_waits(subject, ctx)?;
    reads_under_load(subject, ctx)
}

/// Opens a latch when dropped, even by a panic.
struct OpensOnDrop(Arc<Latch>);

impl Drop for OpensOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// Checks one read against the replay of the log at its own `as_of`.
fn read_matches_log(lab: &Lab, key: &str, read: &Read, why: &str) -> Verdict {
    let history = History::replay(&lab.log());
    let expected = history.read_at(key, read.as_of);
    if read.entry.as_ref() == expected {
        return Ok(());
    }
    Err(Failure::new(
        format!(
            "get({key:?}) answers {key:?} as it was after write #{}, the as_of it answers: {}",
            read.as_of,
            describe(expected)
        ),
        format!(
            "it answered {} with as_of {}",
            describe(read.entry.as_ref()),
            read.as_of
        ),
    )
    .with_detail(why))
}

/// A reader stopped right after it first lets go of a lock of the store, while a
/// write goes through: whatever it reads after that moment must not mix with what
/// it read before. (A read that takes one lock and reads everything under it lets go
/// only at the end, and the stop changes nothing for it.)
fn read_stopped_after_letting_go<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let lab = Lab::new();
    let keys = keys(4);
    let store = prefilled(subject, &lab, &keys)?;
    ctx.progress("a get stopped right after it lets go of its first lock, while k0 is written");
    let hold = Arc::new(Hold::default());
    let mut reader = Crew::new();
    {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        let stop = hold_once(&hold, |m| matches!(m, Moment::Released(..)));
        let ended = Arc::clone(&hold);
        reader.spawn("reader", move |doing| {
            let _arrived_if_never_stopped = ArrivesOnDrop(ended);
            doing.set("get(\"k0\"), stopped after it let go of a lock");
            stopping_at(stop, || subject.get(&store, "k0"))
        });
    }
    if !hold.arrived.wait(BLOCKED_AFTER) {
        return Err(Failure::new(
            "get(\"k0\"), alone with the store, finishes",
            "it had not finished, nor let go of a lock",
        ));
    }
    let written = Arc::new(Latch::new());
    let mut writer = Crew::new();
    {
        let (subject, store, written) = (subject.clone(), Arc::clone(&store), Arc::clone(&written));
        writer.spawn("writer", move |doing| {
            let _done = OpensOnDrop(Arc::clone(&written));
            let command = Command::set("k0", "written-while-a-read-let-go");
            doing.set(doing_write(&command));
            // Waiting for the reader is fine: the stage lets the reader go then.
            let waits = Arc::clone(&written);
            let stop = move |m| {
                if matches!(m, Moment::MustWait(..)) {
                    waits.open();
                }
            };
            stopping_at(stop, || subject.write(&store, command))
        });
    }
    written.wait(BLOCKED_AFTER);
    hold.release.open();
    let read = join_within(
        reader,
        PHASE_LIMIT,
        "the stopped get finishes once let go",
        "",
    )?
    .remove(0);
    join_within(writer, PHASE_LIMIT, "the write finishes", "")?;
    read_matches_log(
        &lab,
        "k0",
        &read,
        "The read was stopped right after it let go of a lock, and a write of k0 went \
         through then. What it read after that moment comes from a later state than what \
         it read before: the entry and as_of come from two moments. Read both under one \
         guard of the state's lock, from the state itself.",
    )
}

/// A writer stopped as it asks for the exclusive side of a reader-writer lock (the
/// lock it applies under), with its number taken and the hook called: a read then must still show the state before that write, its
/// `as_of` included.
fn read_while_the_apply_waits<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let lab = Lab::new();
    let keys = keys(4);
    let store = prefilled(subject, &lab, &keys)?;
    ctx.progress("a write stopped as it asks for the state's exclusive lock, while k0 is read");
    let hold = Arc::new(Hold::default());
    let mut writer = Crew::new();
    {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        let stop = hold_once(
            &hold,
            |m| matches!(m, Moment::Asking(lock, Side::Exclusive) if lock.kind() == Kind::RwLock),
        );
        let ended = Arc::clone(&hold);
        writer.spawn("writer", move |doing| {
            let _arrived_if_never_stopped = ArrivesOnDrop(ended);
            let command = Command::set("k0", "applied-after-the-read");
            doing.set(doing_write(&command));
            stopping_at(stop, || subject.write(&store, command))
        });
    }
    if !hold.arrived.wait(BLOCKED_AFTER) {
        return Err(Failure::new(
            "set(\"k0\", ..), alone with the store, finishes",
            "it had not finished, nor asked for an exclusive lock",
        ));
    }
    let mut reader = Crew::new();
    {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        reader.spawn("reader", move |doing| {
            doing.set("get(\"k0\")");
            subject.get(&store, "k0")
        });
    }
    // A reader that waits for the stopped writer is readers-not-blocked's business:
    // here it is let through once the writer goes on.
    let read = match reader.join_by(Instant::now() + BLOCKED_AFTER) {
        Ok(mut reads) => {
            hold.release.open();
            reads.remove(0)
        }
        Err(_) => {
            hold.release.open();
            join_within(writer, PHASE_LIMIT, "the write finishes", "")?;
            return Ok(());
        }
    };
    join_within(writer, PHASE_LIMIT, "the write finishes once let go", "")?;
    read_matches_log(
        &lab,
        "k0",
        &read,
        "The write had its number and had called the hook, and was stopped as it asked \
         for the lock it applies under: its value was not in the state yet. A read then \
         answered the write's number as its as_of. A sequence number kept apart from the \
         state and published before the apply lets a read claim a write it does not show: \
         take as_of from the state itself, under the same guard as the entry.",
    )
}

/// While a write waits in the hook, every read shows the state just before it.
fn held_write_is_invisible<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let lab = Lab::new();
    let keys = keys(6);
    let store = prefilled(subject, &lab, &keys)?;
    let before = lab.log().len() as u64;
    ctx.progress("reading every key while a write is held inside on_write");
    let held = HeldWriter::start(subject, &store, &lab, Command::set("k0", "held"))?;
    let reads = join_while_held(
        readers(subject, &store, &keys, 2, 1),
        BLOCKED_AFTER,
        "readers finish while a writer is held inside on_write",
        READERS_WAIT,
    )
    .map_err(|failure| {
        // Not a read that mixes two moments: a read that cannot start.
        failure.with_hint(
            "Readers wait for the writer's hook here, so they cannot be checked: while \
             on_write runs, the writer may hold its turnstile but nothing a reader needs. \
             Take the state's exclusive lock only around the apply (readers-not-blocked \
             fails for the same reason).",
        )
    })?;
    let command = held.command.clone();
    let _answer = held.finish()?;
    let history = History::replay(&lab.log());
    for (key, read) in reads.into_iter().flatten() {
        let want = history.read_at(&key, before);
        if read.as_of == before && read.entry.as_ref() == want {
            continue;
        }
        let why = if read.as_of > before {
            format!(
                "The read claims write #{} (as_of {}), which was still waiting in the hook: \
                 the sequence number readers see moved on before the entries did.",
                before + 1,
                read.as_of
            )
        } else if read.as_of < before {
            format!(
                "The read misses writes #{}..#{before}, which had already returned.",
                read.as_of + 1
            )
        } else {
            "The entry does not belong to the state the read claims to show.".to_owned()
        };
        return Err(Failure::new(
            format!(
                "while write #{} (`{command}`) waits in the hook, get({key:?}) shows the state \
                 after write #{before}: {}, as_of {before}",
                before + 1,
                describe(want)
            ),
            format!("{}, as_of {}", describe(read.entry.as_ref()), read.as_of),
        )
        .with_detail(why));
    }
    let after = subject.get(&store, "k0");
    let want = history.read_at("k0", before + 1);
    if after.entry.as_ref() != want || after.as_of < before + 1 {
        return Err(Failure::new(
            format!(
                "once `{command}` has returned, get(\"k0\") shows it: {}, as_of {}",
                describe(want),
                before + 1
            ),
            format!("{}, as_of {}", describe(after.entry.as_ref()), after.as_of),
        ));
    }
    Ok(())
}

const WRITERS: usize = 2;
const WRITES_EACH: usize = 300;
const READERS: usize = 2;
const READS_AT_LEAST: usize = 300;
const READS_AT_MOST: usize = 50_000;

/// Readers and writers at full speed; afterwards every read is checked against the
/// replay of the log at the read's own `as_of`.
fn reads_under_load<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let lab = Lab::new();
    let keys = keys(6);
    let store = prefilled(subject, &lab, &keys)?;
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Crew::new();
    for writer in 0..WRITERS {
        let mut rng = ctx.rng(300 + writer as u64);
        let commands: Vec<Command> = (0..WRITES_EACH)
            .map(|n| random_write(&mut rng, &keys, writer, n))
            .collect();
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        writers.spawn(format!("writer-{writer}"), move |doing| {
            for command in commands {
                doing.set(doing_write(&command));
                let _ = subject.write(&store, command);
            }
        });
    }
    let mut readers = Crew::new();
    for reader in 0..READERS {
        let mut rng = ctx.rng(400 + reader as u64);
        let (subject, store, keys, writing) = (
            subject.clone(),
            Arc::clone(&store),
            keys.clone(),
            Arc::clone(&writing),
        );
        readers.spawn(format!("reader-{reader}"), move |doing| {
            let mut reads = Vec::new();
            while reads.len() < READS_AT_MOST
                && (writing.load(Ordering::Relaxed) || reads.len() < READS_AT_LEAST)
            {
                let key = &keys[rng.random_range(0..keys.len())];
                doing.set(format_args!("get({key:?})"));
                reads.push((key.clone(), subject.get(&store, key)));
            }
            reads
        });
    }
    ctx.progress(format_args!(
        "{WRITERS} writers and {READERS} readers at full speed"
    ));
    let why = "Threads that never finish wait for a lock nobody gives back.";
    let writers = join_within(writers, PHASE_LIMIT, "every writer finishes", why);
    writing.store(false, Ordering::Relaxed);
    writers?;
    let reads = join_within(readers, PHASE_LIMIT, "every reader finishes", why)?;
    let log = lab.log();
    if let Some(problem) = numbering_problem(&log) {
        return Err(Failure::new(
            "the hook receives writes #1, #2, #3, ... in order",
            problem,
        ));
    }
    let history = History::replay(&log);
    for (reader, reads) in reads.iter().enumerate() {
        let mut last = 0;
        for (n, (key, read)) in reads.iter().enumerate() {
            let where_ = || {
                format!(
                    "reader-{reader}, read {} of {}, while {WRITERS} writers ran (seed {})",
                    n + 1,
                    reads.len(),
                    ctx.seed()
                )
            };
            if read.as_of > history.len() {
                return Err(Failure::new(
                    format!(
                        "as_of is the number of a write that happened (at most {})",
                        history.len()
                    ),
                    format!("get({key:?}) answered as_of {}", read.as_of),
                )
                .with_detail(where_()));
            }
            let want = history.read_at(key, read.as_of);
            if read.entry.as_ref() != want {
                return Err(Failure::new(
                    format!(
                        "get({key:?}) with as_of {} shows {key}'s entry after write #{}: {}",
                        read.as_of,
                        read.as_of,
                        describe(want)
                    ),
                    format!("it showed {}", describe(read.entry.as_ref())),
                )
                .with_detail(where_()));
            }
            if read.as_of < last {
                return Err(Failure::new(
                    "one thread's reads never go back in time",
                    format!(
                        "get({key:?}) answered as_of {} after an earlier read had as_of {last}",
                        read.as_of
                    ),
                )
                .with_detail(where_()));
            }
            last = read.as_of;
        }
    }
    Ok(())
}
