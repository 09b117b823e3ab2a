//! The criteria of lesson 01. Each takes the subject and the run's context and
//! either passes or says what it expected and what it saw.

use std::collections::BTreeMap;

use probe_kit::{Criterion, Ctx, Failure, Info, Verdict, ensure, snapshot};
use rand::{Rng, RngExt};
use reference::{Command, Entry, Response, Violation};

use crate::Subject;


pub const TRANSCRIPT: Info = Info {
    id: "transcript",
    title: "a scripted run prints the expected transcript",
    hint: "Compare your output with the expected lines in the diff. A wrong response \
           means get/set/del (steps 1-3); a right response printed differently means \
           Display for Response (step 4).",
    book: "lesson01-state-machine.html#step-4-print-responses",
    deadline_secs: 10,
};

pub const VERSIONS_SEQUENCE: Info = Info {
    id: "versions-sequence",
    title: "versions and the global sequence follow the rules on every step",
    hint: "Only SET and the DEL of a live key are writes: each takes exactly one new \
           sequence number and bumps that key's version by one. GET and the DEL of a \
           missing key change nothing at all.",
    book: "lesson01-state-machine.html#versions-and-the-global-sequence",
    deadline_secs: 10,
};

pub const INVARIANTS_HOLD: Info = Info {
    id: "invariants-hold",
    title: "the invariants hold after every step of random command logs",
    hint: "The evidence names the broken invariant and the commands that led to it. \
           Check that every write stores the sequence number it took in the entry.",
    book: "lesson01-state-machine.html#the-invariants",
    deadline_secs: 10,
};

pub const INVARIANTS_CHECK: Info = Info {
    id: "invariants-check",
    title: "check_invariants reports each kind of corrupted state and accepts valid ones",
    hint: "Check every entry (tombstones too) for rules 1 to 3, then the sum of all \
           versions once at the end (rule 4), and return the matching Violation.",
    book: "lesson01-state-machine.html#step-5-check-the-invariants",
    deadline_secs: 10,
};

pub const REPLAY: Info = Info {
    id: "replay",
    title: "replaying a log twice gives the same state and responses as applying it",
    hint: "Apply the commands one by one, in log order, to one new store. Do not group \
           or reorder them, and do not iterate a HashMap to decide the order.",
    book: "lesson01-state-machine.html#step-6-replay-the-log",
    deadline_secs: 10,
};

/// The lesson's criteria, in the order they run and are reported.
pub fn all<S: Subject>() -> Vec<Criterion<S>> {
    vec![
        Criterion::new(&TRANSCRIPT, transcript),
        Criterion::new(&VERSIONS_SEQUENCE, versions_sequence),
        Criterion::new(&INVARIANTS_HOLD, invariants_hold),
        Criterion::new(&INVARIANTS_CHECK, invariants_check),
        Criterion::new(&REPLAY, replay),
    ]
}

/// The transcript's expected output, maintained with insta (see the tests below).
const TRANSCRIPT_SNAPSHOT: &str = include_str!("../snapshots/transcript.snap");

/// A scripted session touching every rule: first writes, overwrites, reads of
/// missing keys, deletes of live, dead and unknown keys, and writes after a delete.
pub fn script() -> Vec<Command> {
    use Command as C;
    vec![
        C::get("apple"),
        C::set("apple", "red"),
        C::get("apple"),
        C::set("apple", "green"),
        C::get("apple"),
        C::set("pear", "yellow"),
        C::set("plum", "purple"),
        C::del("grape"),
        C::del("pear"),
        C::get("pear"),
        C::del("pear"),
        C::set("pear", "ripe"),
        C::get("pear"),
        C::set("apple", "green"),
        C::get("kiwi"),
        C::set("kiwi", "fuzzy \"brown\""),
        C::get("kiwi"),
        C::del("plum"),
        C::set("apple", "golden"),
        C::del("apple"),
        C::get("apple"),
        C::get("plum"),
        C::set("fig", ""),
        C::get("fig"),
        C::del("fig"),
        C::del("fig"),
        C::set("plum", "dried"),
        C::get("plum"),
        C::set("kiwi", "gold"),
        C::del("kiwi"),
        C::get("grape"),
        C::set("grape", "green"),
    ]
}

/// Runs [`script`] on a new store and prints every step and the final state.
pub fn render_transcript<S: Subject>(subject: &S, ctx: Option<&Ctx>) -> String {
    let mut store = subject.new_store();
    let mut out = String::new();
    for (step, command) in script().iter().enumerate() {
        if let Some(ctx) = ctx {
            ctx.progress(format_args!("transcript step {}: {command}", step + 1));
        }
        let response = subject.apply(&mut store, command);
        out += &format!(
            "{:>2}  {:<28} {}\n",
            step + 1,
            command.to_string(),
            subject.render(&response)
        );
    }
    let view = subject.view(&store);
    let (live, dead): (Vec<_>, Vec<_>) = view.entries().iter().partition(|(_, e)| e.is_live());
    let names = |entries: Vec<(&String, &Entry)>| {
        entries
            .into_iter()
            .map(|(k, e)| format!("{k} v{} @{}", e.version, e.seq))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out += &format!("global_seq: {}\n", view.global_seq());
    out += &format!("live:       {}\n", names(live));
    out += &format!("tombstones: {}\n", names(dead));
    out
}

fn transcript<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    snapshot::compare(
        "transcript",
        TRANSCRIPT_SNAPSHOT,
        &render_transcript(subject, Some(ctx)),
    )
}

/// A random command log over a few keys, so that overwrites, deletes of live and of
/// missing keys, and reads of tombstones are all common.
pub fn random_log(rng: &mut impl Rng, len: usize) -> Vec<Command> {
    const KEYS: [&str; 8] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
    (0..len)
        .map(|_| {
            let key = KEYS[rng.random_range(0..KEYS.len())];
            match rng.random_range(0..10) {
                0..4 => Command::set(key, &format!("v{}", rng.random_range(0..100))),
                4..7 => Command::get(key),
                _ => Command::del(key),
            }
        })
        .collect()
}

const LOGS: usize = 60;
const LOG_LEN: usize = 80;

/// Where in which random log something went wrong, for the evidence.
fn at_step(ctx: &Ctx, log_no: usize, log: &[Command], step: usize) -> String {
    let from = step.saturating_sub(5);
    let recent: Vec<String> = (from..=step)
        .map(|i| format!("#{} {}", i + 1, log[i]))
        .collect();
    format!(
        "random log {} (seed {}), step {}; the last commands were: {}",
        log_no + 1,
        ctx.seed(),
        step + 1,
        recent.join(", ")
    )
}

/// What a step must do to the state, whatever the implementation: the rules of
/// versions and of the global sequence, stated once.
fn expected_step(before: &reference::Store, command: &Command) -> (Response, reference::Store) {
    let mut entries = before.entries().clone();
    let seq = before.global_seq() + 1;
    let live = |key: &str| before.entries().get(key).filter(|e| e.is_live());
    let bumped = |key: &str| before.entries().get(key).map_or(1, |e| e.version + 1);
    let response = match command {
        Command::Get { key } => match live(key) {
            Some(e) => Response::Value {
                value: e.value.clone().unwrap_or_default(),
                version: e.version,
            },
            None => Response::NotFound,
        },
        Command::Set { key, value } => {
            let version = bumped(key);
            entries.insert(
                key.clone(),
                Entry {
                    value: Some(value.clone()),
                    version,
                    seq,
                },
            );
            Response::Stored { version, seq }
        }
        Command::Del { key } => match live(key) {
            Some(_) => {
                let version = bumped(key);
                entries.insert(
                    key.clone(),
                    Entry {
                        value: None,
                        version,
                        seq,
                    },
                );
                Response::Deleted { version, seq }
            }
            None => Response::NotFound,
        },
    };
    let writes = matches!(response, Response::Stored { .. } | Response::Deleted { .. });
    let global_seq = if writes { seq } else { before.global_seq() };
    (response, reference::Store::from_parts(entries, global_seq))
}

/// Explains the first difference between two states in words.
fn state_difference(expected: &reference::Store, seen: &reference::Store) -> (String, String) {
    if expected.global_seq() != seen.global_seq() {
        return (
            format!("global sequence {}", expected.global_seq()),
            format!("global sequence {}", seen.global_seq()),
        );
    }
    let keys: std::collections::BTreeSet<&String> = expected
        .entries()
        .keys()
        .chain(seen.entries().keys())
        .collect();
    for key in keys {
        let (e, s) = (expected.entries().get(key), seen.entries().get(key));
        if e != s {
            return (
                format!("{key}: {}", describe(e)),
                format!("{key}: {}", describe(s)),
            );
        }
    }
    ("the same state".into(), "the same state".into())
}

fn describe(entry: Option<&Entry>) -> String {
    match entry {
        None => "no entry".into(),
        Some(Entry {
            value: Some(v),
            version,
            seq,
        }) => format!("{v:?} v{version} @{seq}"),
        Some(Entry {
            value: None,
            version,
            seq,
        }) => format!("tombstone v{version} @{seq}"),
    }
}

fn versions_sequence<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let mut rng = ctx.rng(1);
    for log_no in 0..LOGS {
        let log = random_log(&mut rng, LOG_LEN);
        ctx.progress(format_args!("applying random log {} of {LOGS}", log_no + 1));
        let mut store = subject.new_store();
        for (step, command) in log.iter().enumerate() {
            let before = subject.view(&store);
            let response = subject.apply(&mut store, command);
            let after = subject.view(&store);
            let (want_response, want_state) = expected_step(&before, command);
            let where_ = || at_step(ctx, log_no, &log, step);
            if response != want_response {
                return Err(Failure::new(
                    format!("`{command}` answers {want_response}"),
                    format!("it answered {response}"),
                )
                .with_detail(where_()));
            }
            if after != want_state {
                let (expected, seen) = state_difference(&want_state, &after);
                return Err(Failure::new(
                    format!("after `{command}`: {expected}"),
                    format!("after `{command}`: {seen}"),
                )
                .with_detail(where_()));
            }
        }
    }
    Ok(())
}

fn invariants_hold<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let mut rng = ctx.rng(2);
    for log_no in 0..LOGS {
        let log = random_log(&mut rng, LOG_LEN);
        ctx.progress(format_args!("applying random log {} of {LOGS}", log_no + 1));
        let mut store = subject.new_store();
        for (step, command) in log.iter().enumerate() {
            subject.apply(&mut store, command);
            // The reference's check is the oracle; the learner's own check is graded
            // separately, by `invariants-check`.
            if let Err(violation) = subject.view(&store).check_invariants() {
                return Err(Failure::new(
                    format!("every invariant holds after `{command}`"),
                    format!("broken invariant: {violation}"),
                )
                .with_detail(at_step(ctx, log_no, &log, step)));
            }
        }
    }
    Ok(())
}

/// A valid state: apple written once, banana twice, cherry set then deleted.
fn valid_entries() -> (BTreeMap<String, Entry>, u64) {
    let entry = |value: Option<&str>, version, seq| Entry {
        value: value.map(Into::into),
        version,
        seq,
    };
    let entries = BTreeMap::from([
        ("apple".to_owned(), entry(Some("red"), 1, 1)),
        ("banana".to_owned(), entry(Some("ripe"), 2, 3)),
        ("cherry".to_owned(), entry(None, 2, 5)),
    ]);
    (entries, 5)
}

type Corruption = (
    &'static str,
    fn(&mut BTreeMap<String, Entry>, &mut u64),
    Violation,
);

/// Corrupted states, each breaking exactly one invariant of [`valid_entries`].
fn corruptions() -> Vec<Corruption> {
    vec![
        (
            "banana's version went backwards (2 to 1)",
            |e, _| e.get_mut("banana").unwrap().version = 1,
            Violation::WritesUnaccounted {
                versions_total: 4,
                global_seq: 5,
            },
        ),
        (
            "apple's entry claims seq 7 while the global sequence is 5",
            |e, _| e.get_mut("apple").unwrap().seq = 7,
            Violation::SeqFromTheFuture {
                key: "apple".into(),
                seq: 7,
                global_seq: 5,
            },
        ),
        (
            "apple and banana both claim seq 3",
            |e, _| e.get_mut("apple").unwrap().seq = 3,
            Violation::DuplicateSeq {
                seq: 3,
                first: "apple".into(),
                second: "banana".into(),
            },
        ),
        (
            "apple is at version 2 although it was written at seq 1",
            |e, _| {
                e.get_mut("apple").unwrap().version = 2;
                e.get_mut("banana").unwrap().version = 1;
            },
            Violation::ImpossibleVersion {
                key: "apple".into(),
                version: 2,
                seq: 1,
            },
        ),
        (
            "cherry is at version 0",
            |e, g| {
                e.get_mut("cherry").unwrap().version = 0;
                *g = 3;
                e.get_mut("cherry").unwrap().seq = 2;
            },
            Violation::ImpossibleVersion {
                key: "cherry".into(),
                version: 0,
                seq: 2,
            },
        ),
        (
            "the global sequence went back from 5 to 4",
            |e, g| {
                *g = 4;
                e.get_mut("cherry").unwrap().seq = 4;
            },
            Violation::WritesUnaccounted {
                versions_total: 5,
                global_seq: 4,
            },
        ),
        (
            "an empty store whose global sequence is 2",
            |e, g| {
                e.clear();
                *g = 2;
            },
            Violation::WritesUnaccounted {
                versions_total: 0,
                global_seq: 2,
            },
        ),
    ]
}

fn invariants_check<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    // A check that rejects everything is as useless as one that accepts everything,
    // so valid states come first: the hand-made one, then states reached by logs.
    let (entries, global_seq) = valid_entries();
    ctx.progress("check_invariants on a valid state");
    let verdict = subject.check_invariants(&subject.from_parts(entries, global_seq));
    ensure(
        verdict.is_ok(),
        "Ok(()) for a valid state with a tombstone",
        format!("{verdict:?}"),
    )?;
    let mut rng = ctx.rng(3);
    for log_no in 0..20 {
        let log = random_log(&mut rng, LOG_LEN);
        let (store, _) = reference::replay(&log);
        ctx.progress(format_args!(
            "check_invariants on the state after random log {}",
            log_no + 1
        ));
        let verdict = subject
            .check_invariants(&subject.from_parts(store.entries().clone(), store.global_seq()));
        if verdict.is_err() {
            return Err(Failure::new(
                "Ok(()) for a state reached by applying commands",
                format!("{verdict:?}"),
            )
            .with_detail(format!(
                "the state after random log {} (seed {})",
                log_no + 1,
                ctx.seed()
            )));
        }
    }
    for (what, corrupt, want) in corruptions() {
        let (mut entries, mut global_seq) = valid_entries();
        corrupt(&mut entries, &mut global_seq);
        debug_assert_eq!(
            reference::Store::from_parts(entries.clone(), global_seq).check_invariants(),
            Err(want.clone())
        );
        ctx.progress(format_args!(
            "check_invariants on a corrupted state: {what}"
        ));
        let seen = subject.check_invariants(&subject.from_parts(entries, global_seq));
        ensure(
            seen.as_ref() == Err(&want),
            format!("Err({want:?}) when {what}"),
            format!("{seen:?}"),
        )?;
    }
    Ok(())
}

fn replay<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let mut rng = ctx.rng(4);
    for log_no in 0..LOGS {
        let log = random_log(&mut rng, LOG_LEN);
        ctx.progress(format_args!(
            "replaying random log {} of {LOGS}",
            log_no + 1
        ));
        let (first, first_responses) = subject.replay(&log);
        let (second, second_responses) = subject.replay(&log);
        let mut one_by_one = subject.new_store();
        let applied: Vec<Response> = log
            .iter()
            .map(|c| subject.apply(&mut one_by_one, c))
            .collect();
        let context = || {
            format!(
                "random log {} of {} commands (seed {})",
                log_no + 1,
                log.len(),
                ctx.seed()
            )
        };
        let (first, second) = (subject.view(&first), subject.view(&second));
        if first != second || first_responses != second_responses {
            let (expected, seen) = state_difference(&first, &second);
            return Err(Failure::new(
                format!("the second replay equals the first ({expected})"),
                format!("the second replay differs ({seen})"),
            )
            .with_detail(context()));
        }
        if let Some(i) = (0..log.len()).find(|&i| first_responses.get(i) != applied.get(i)) {
            let show =
                |r: Option<&Response>| r.map_or("no response".to_owned(), Response::to_string);
            return Err(Failure::new(
                format!(
                    "replay answers step {} (`{}`) as apply does: {}",
                    i + 1,
                    log[i],
                    show(applied.get(i))
                ),
                format!("replay answered {}", show(first_responses.get(i))),
            )
            .with_detail(context()));
        }
        let one_by_one = subject.view(&one_by_one);
        if first != one_by_one {
            let (expected, seen) = state_difference(&one_by_one, &first);
            return Err(Failure::new(
                format!("replay ends in the state apply reaches: {expected}"),
                format!("replay ended with {seen}"),
            )
            .with_detail(context()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reference;

    /// The maintainers' side of the transcript snapshot: review changes with
    /// `cargo insta review`. The probe compares against the same file.
    #[test]
    fn reference_transcript() {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("transcript", render_transcript(&Reference, None));
        });
    }

    #[test]
    fn every_corruption_breaks_exactly_the_named_invariant_in_the_reference() {
        for (what, corrupt, want) in corruptions() {
            let (mut entries, mut global_seq) = valid_entries();
            corrupt(&mut entries, &mut global_seq);
            let store = reference::Store::from_parts(entries, global_seq);
            assert_eq!(store.check_invariants(), Err(want), "{what}");
        }
    }

    #[test]
    fn the_script_covers_every_kind_of_step() {
        let (_, responses) = reference::replay(&script());
        let has = |f: fn(&Response) -> bool| responses.iter().any(f);
        assert!(has(|r| matches!(r, Response::Stored { version: 1, .. })));
        assert!(has(|r| matches!(r, Response::Stored { version: 2.., .. })));
        assert!(has(|r| matches!(r, Response::Deleted { .. })));
        assert!(has(|r| matches!(r, Response::NotFound)));
        assert!(has(|r| matches!(r, Response::Value { .. })));
    }
}
