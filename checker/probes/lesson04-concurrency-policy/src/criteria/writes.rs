//! The write path: numbers, the hook's order, and the order writes take effect in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use probe_kit::{Ctx, Failure, Verdict};
use reference::WriteError;
use state::{Command, Response};

use super::{PHASE_LIMIT, doing_write, hold_once, join_within, keys, random_write};
use crate::Subject;
use crate::history::{History, numbering_problem};
use crate::lab::{ArrivesOnDrop, Hold, Lab};
use parking_lot::kvlab_watch::{Moment, stopping_at};
use probe_kit::sync::{Crew, Latch};

const WRITERS: usize = 4;
const WRITES_EACH: usize = 250;

/// One write as its writer saw it.
struct Done {
    command: Command,
    answer: Result<Response, WriteError>,
}

/// The lab, every write as its writer saw it, and the store, after a hammering.
type Hammered<S> = (Arc<Lab>, Vec<Done>, <S as Subject>::Store);

/// Four writers at once through the turnstile; the hook yields once per write so that
/// the others pile up at the writer lock.
fn hammer<S: Subject>(subject: &S, ctx: &Ctx, stream: u64) -> Result<Hammered<S>, Failure> {
    let lab = Lab::new();
    lab.yield_in_hook(true);
    let store = Arc::new(subject.store(&lab));
    let keys = keys(12);
    let mut crew = Crew::new();
    for writer in 0..WRITERS {
        let mut rng = ctx.rng(stream + writer as u64);
        let commands: Vec<Command> = (0..WRITES_EACH)
            .map(|n| random_write(&mut rng, &keys, writer, n))
            .collect();
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        crew.spawn(format!("writer-{writer}"), move |doing| {
            commands
                .into_iter()
                .map(|command| {
                    doing.set(doing_write(&command));
                    let answer = subject.write(&store, command.clone());
                    Done { command, answer }
                })
                .collect::<Vec<_>>()
        });
    }
    ctx.progress(format_args!(
        "{WRITERS} writers, {WRITES_EACH} writes each, all at once"
    ));
    let done = join_within(
        crew,
        PHASE_LIMIT,
        "every writer finishes its writes",
        "Writers that never finish wait for a lock nobody gives back: look for a guard \
         that lives too long, or a lock taken twice on one thread.",
    )?;
    let store =
        Arc::try_unwrap(store).unwrap_or_else(|_| unreachable!("every writer has finished"));
    Ok((lab, done.into_iter().flatten().collect(), store))
}

/// How long a second writer is given to get through the hook while the first is
/// held at its first look at the state. A store that numbers inside the turnstile
/// never lets it through; on the watched locks the second writer says at once that
/// it must wait, so only a store on locks nobody watches waits this long. A store
/// that reads the number first lets it through at once.
const LET_THROUGH: Duration = Duration::from_millis(500);

/// By construction, not by luck: writer-b is held at its first access to the state.
/// If it has taken the turnstile by then, as the rule asks, writer-a cannot reach the
/// hook until writer-b goes on. If it has not (the number read before the turnstile),
/// writer-a takes its number and its turn, and writer-b, let go, hands the hook the
/// number it read before writer-a took it: the same one twice.
fn number_taken_inside_the_turnstile<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("writer-b held at its first look at the state, writer-a let in beside it");
    let lab = Lab::new();
    let store = Arc::new(subject.store(&lab));
    let held = Arc::new(Hold::default());
    let mut crew = Crew::new();
    {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        let (lab, held) = (Arc::clone(&lab), Arc::clone(&held));
        crew.spawn("writer-b", move |doing| {
            let command = Command::set("b", "1");
            lab.hold_first_state_access_here(Arc::clone(&held));
            doing.set(doing_write(&command));
            let answer = subject.write(&store, command);
            held.arrived.open(); // a write that never looked at the state was not held
            answer
        });
    }
    held.arrived.wait(PHASE_LIMIT);
    let let_through = let_in_beside(subject, &store, &lab, &mut crew, "writer-a", "a");
    held.release.open();
    join_within(
        crew,
        PHASE_LIMIT,
        "both writers finish once writer-b is let go",
        "A writer held at its first look at the state keeps whatever it holds; a second \
         writer that then never finishes waits for it in an order that can deadlock.",
    )?;
    match numbering_problem(&lab.log()) {
        None => Ok(()),
        Some(problem) => Err(Failure::new(
            "the hook receives write #1, #2, #3, ... each exactly once, in that order",
            problem,
        )
        .with_detail(if let_through {
            "writer-b was held at its first look at the state, and writer-a got through the \
             hook meanwhile: writer-b had read the state before it took the turnstile"
        } else {
            "writer-b was held at its first look at the state, while writer-a wrote beside it"
        })
        .with_hint(
            "Take the turnstile first, then read global_seq() + 1 and hand the write to the \
             hook: a number read before the turnstile is taken can be handed out twice.",
        )),
    }
}

/// Starts `name` writing `key` beside a writer the probe holds, and waits until its
/// write gets through the hook (true) or it has to wait for a lock (false). On the
/// watched locks that wait is seen at once; only on locks nobody watches does this
/// take [`LET_THROUGH`].
fn let_in_beside<S: Subject>(
    subject: &S,
    store: &Arc<S::Store>,
    lab: &Lab,
    crew: &mut Crew<Result<Response, WriteError>>,
    name: &str,
    key: &str,
) -> bool {
    let in_hook = lab.watch_next_write();
    let must_wait = Arc::new(Latch::new());
    {
        let (subject, store) = (subject.clone(), Arc::clone(store));
        let must_wait = Arc::clone(&must_wait);
        let command = Command::set(key, "1");
        crew.spawn(name, move |doing| {
            doing.set(doing_write(&command));
            let stop = move |moment| {
                if let Moment::MustWait(..) = moment {
                    must_wait.open();
                }
            };
            stopping_at(stop, || subject.write(&store, command))
        });
    }
    let deadline = Instant::now() + LET_THROUGH;
    while !in_hook.arrived.is_open() && !must_wait.is_open() && Instant::now() < deadline {
        must_wait.wait(Duration::from_millis(1));
    }
    in_hook.arrived.is_open()
}

/// By construction, not by luck: writer-a is held at the first lock it lets go of
/// once the hook has its write. A store that applies inside the turnstile still holds
/// the turnstile there (its write has taken effect, or is about to), so writer-b
/// cannot reach the hook until writer-a goes on. A store that leaves the turnstile
/// before it applies lets writer-b through the hook, and on to its own apply, while
/// writer-a's write has not taken effect: the state takes the writes out of turn.
fn applied_before_the_next_hook<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("writer-a held at the first lock it lets go of after its hook, writer-b let in");
    let lab = Lab::new();
    let store = Arc::new(subject.store(&lab));
    let held = Arc::new(Hold::default());
    let mut crew = Crew::new();
    {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        let hooked = Arc::clone(&lab);
        let stop = hold_once(&held, move |moment| {
            matches!(moment, Moment::Released(..)) && hooked.writes_logged() > 0
        });
        let ended = Arc::clone(&held);
        crew.spawn("writer-a", move |doing| {
            let _arrived_if_never_stopped = ArrivesOnDrop(ended);
            let command = Command::set("a", "1");
            doing.set(doing_write(&command));
            stopping_at(stop, || subject.write(&store, command))
        });
    }
    held.arrived.wait(PHASE_LIMIT);
    let let_through = let_in_beside(subject, &store, &lab, &mut crew, "writer-b", "b");
    held.release.open();
    join_within(
        crew,
        PHASE_LIMIT,
        "both writers finish once writer-a is let go",
        "A writer held after its hook keeps whatever it holds; a second writer that then \
         never finishes waits for it in an order that can deadlock.",
    )?;
    match lab.violations().first() {
        None => Ok(()),
        Some(first) => Err(Failure::new(
            "each write takes effect right after the hook receives it, before the hook \
             receives the next",
            first.clone(),
        )
        .with_detail(if let_through {
            "writer-a was held at the first lock it let go of after the hook had its write, \
             and writer-b got through the hook meanwhile: writer-a had left the turnstile \
             before its write took effect"
        } else {
            "writer-a was held at the first lock it let go of after the hook had its write, \
             while writer-b wrote beside it"
        })
        .with_hint(
            "Keep the turnstile until the write has taken effect: a writer that lets go of it \
             between the hook and the apply can be overtaken by the next writer.",
        )),
    }
}

fn where_(ctx: &Ctx) -> String {
    format!(
        "{WRITERS} writers doing {WRITES_EACH} random SETs and DELs each at the same time, \
         a few with an empty key (seed {})",
        ctx.seed()
    )
}

pub fn sequence_gap_free<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    number_taken_inside_the_turnstile(subject, ctx)?;
    let (lab, done, _) = hammer(subject, ctx, 100)?;
    let log = lab.log();
    if let Some(problem) = numbering_problem(&log) {
        return Err(Failure::new(
            "the hook receives write #1, #2, #3, ... each exactly once, in that order",
            problem,
        )
        .with_detail(where_(ctx)));
    }
    let mut numbered = 0;
    for Done { command, answer } in &done {
        let invalid = matches!(command, Command::Set { key, .. } if key.is_empty());
        match answer {
            Err(_) if invalid => {}
            Ok(_) if invalid => {
                return Err(Failure::new(
                    format!("`{command}` is refused (the key is empty) and takes no number"),
                    format!("it was accepted: {answer:?}"),
                )
                .with_detail(where_(ctx)));
            }
            Err(error) => {
                return Err(Failure::new(
                    format!("`{command}` is accepted"),
                    format!("it was refused: {error}"),
                )
                .with_detail(where_(ctx)));
            }
            Ok(Response::Stored { seq, .. } | Response::Deleted { seq, .. }) => {
                numbered += 1;
                let logged = log.get((*seq as usize).wrapping_sub(1)).map(|(_, c)| c);
                if logged != Some(command) {
                    let what = logged.map_or("nothing".to_owned(), |c| format!("`{c}`"));
                    return Err(Failure::new(
                        format!("the write that answers seq {seq} is the one the hook received as #{seq}"),
                        format!("`{command}` answered seq {seq}, but the hook received {what} as #{seq}"),
                    )
                    .with_detail(where_(ctx)));
                }
            }
            Ok(Response::NotFound) if matches!(command, Command::Del { .. }) => {}
            Ok(other) => {
                return Err(Failure::new(
                    format!("`{command}` answers Stored or Deleted"),
                    format!("it answered {other}"),
                )
                .with_detail(where_(ctx)));
            }
        }
    }
    if numbered != log.len() {
        return Err(Failure::new(
            format!("the hook receives exactly the {numbered} writes that were numbered"),
            format!("it received {} writes", log.len()),
        )
        .with_detail(where_(ctx)));
    }
    Ok(())
}

pub fn state_follows_log<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    applied_before_the_next_hook(subject, ctx)?;
    let (lab, done, store) = hammer(subject, ctx, 200)?;
    let expected = "every write takes effect right after the hook receives it, one at a time, \
                    in sequence order";
    let violations = lab.violations();
    if let Some(first) = violations.first() {
        let more = match violations.len() {
            1 => String::new(),
            n if n >= crate::lab::MAX_VIOLATIONS => {
                format!(" (and at least {} more like it)", n - 1)
            }
            n => format!(" ({} more like it)", n - 1),
        };
        return Err(Failure::new(expected, format!("{first}{more}")).with_detail(where_(ctx)));
    }
    let log = lab.log();
    if let Some(problem) = numbering_problem(&log) {
        return Err(Failure::new(expected, problem).with_detail(where_(ctx)));
    }
    let history = History::replay(&log);
    let state = subject.copy_state(&store);
    if let Some((want, seen)) =
        crate::history::state_difference(&history.state_at(history.len()), &state)
    {
        return Err(Failure::new(
            format!(
                "the state equals the replay of the hook's {} writes: {want}",
                history.len()
            ),
            format!("the state has {seen}"),
        )
        .with_detail(where_(ctx)));
    }
    for Done { command, answer } in &done {
        let Ok(response @ (Response::Stored { seq, .. } | Response::Deleted { seq, .. })) = answer
        else {
            continue;
        };
        let replayed = history.response(*seq);
        if replayed != Some(response) {
            let replayed = replayed.map_or("nothing".into(), |r| r.to_string());
            return Err(Failure::new(
                format!("`{command}` answers what replaying the log answers for write #{seq}: {replayed}"),
                format!("it answered {response}"),
            )
            .with_detail(where_(ctx)));
        }
    }
    Ok(())
}
