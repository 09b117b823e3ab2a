//! The criteria of lesson 01. Each takes the subject and the run's context and
//! either passes or says what it expected and what it saw.

use std::collections::BTreeMap;

use probe_kit::{Criterion, Ctx, Failure, Info, Verdict, snapshot};
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
    graded: true,
    steps: &[1, 2, 3, 4],
};

pub const VERSIONS_SEQUENCE: Info = Info {
    id: "versions-sequence",
    title: "versions and the global sequence follow the rules on every step",
    hint: "Only SET and the DEL of a live key are writes: each takes exactly one new \
           sequence number and bumps that key's version by one. GET and the DEL of a \
           missing key change nothing at all.",
    book: "lesson01-state-machine.html#versions-and-the-global-sequence",
    deadline_secs: 10,
    graded: true,
    steps: &[1, 2, 3],
};

pub const INVARIANTS_HOLD: Info = Info {
    id: "invariants-hold",
    title: "the invariants hold after every step of random command logs",
    hint: "The evidence names the broken invariant and the commands that led to it. \
           Check that every write stores the sequence number it took in the entry.",
    book: "lesson01-state-machine.html#the-invariants",
    deadline_secs: 10,
    graded: true,
    steps: &[1, 2, 3],
};

pub const INVARIANTS_CHECK: Info = Info {
    id: "invariants-check",
    title: "check_invariants reports each kind of corrupted state and accepts valid ones",
    hint: "Check every entry (tombstones too) for rules 1 to 3, then the sum of all \
           versions once at the end (rule 4), and return the matching Violation. An empty \
           store and a store of tombstones only are valid states too.",
    book: "lesson01-state-machine.html#step-5-check-the-invariants",
    deadline_secs: 10,
    graded: true,
    steps: &[5],
};

pub const REPLAY: Info = Info {
    id: "replay",
    title: "replaying a log twice gives the same state and responses as applying it",
    hint: "Apply the commands one by one, in log order, to one new store. Do not group \
           or reorder them, and do not iterate a HashMap to decide the order.",
    book: "lesson01-state-machine.html#step-6-replay-the-log",
    deadline_secs: 10,
    graded: true,
    steps: &[6],
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
        let line = step + 1;
        if let Some(ctx) = ctx {
            ctx.progress(format_args!(
                "transcript line {line}, `{command}`, in {}",
                step_of(command)
            ));
        }
        let response = subject.apply(&mut store, command);
        if let Some(ctx) = ctx {
            ctx.progress(format_args!(
                "transcript line {line}, printing its response, in Display for Response (step 4)"
            ));
        }
        out += &format!(
            "{line:>2}  {:<28} {}\n",
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
    .map_err(|failure| {
        let hint = transcript_hint(subject);
        failure.with_hint(hint)
    })
}

/// Which step a transcript difference comes from, told by comparing the responses
/// as values with the rules before looking at how they were printed.
fn transcript_hint<S: Subject>(subject: &S) -> String {
    let mut store = subject.new_store();
    let mut model = reference::Store::new();
    for (step, command) in script().iter().enumerate() {
        let response = subject.apply(&mut store, command);
        let (want, next) = expected_step(&model, command);
        if response != want {
            return format!(
                "Line {} (`{command}`) answered {response} where the rules give {want}: the \
                 response itself is wrong, so look at {}, not at Display. \
                 versions-sequence names the rule.",
                step + 1,
                step_of(command)
            );
        }
        let after = subject.view(&store);
        if after != next {
            let (expected, seen) = state_difference(&next, &after);
            return format!(
                "Line {} (`{command}`) answered right, but left {seen} where the rules give \
                 {expected}, and later lines show it: look at {}, not at Display.",
                step + 1,
                step_of(command)
            );
        }
        model = next;
    }
    "Every response is right as a value; only the way it is printed differs, so the \
     difference is in Display for Response (step 4). Compare your line with the \
     expected one in the diff, character by character (quotes come from `{value:?}`)."
        .into()
}

/// Says which command of which log is about to run, and in which of the learner's
/// functions: if it never returns, the hang's report names the step to fix.
fn applying(ctx: &Ctx, log_name: &str, step: usize, command: &Command) {
    ctx.progress(format_args!(
        "{log_name}, command {}, `{command}`, in {}",
        step + 1,
        step_of(command)
    ));
}

/// The step of the lesson that writes what `command` does.
fn step_of(command: &Command) -> &'static str {
    match command {
        Command::Get { .. } => "Store::get (step 1)",
        Command::Set { .. } => "Store::set (step 2)",
        Command::Del { .. } => "Store::del (step 3)",
    }
}

/// A random command log over a few keys, so that overwrites, deletes of live and of
/// missing keys, and reads of tombstones are all common.
pub fn random_log(rng: &mut impl Rng, len: usize) -> Vec<Command> {
    const KEYS: [&str; 8] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
    (0..len)
        .map(|_| {
            let key = KEYS[rng.random_range(0..KEYS.len())];
            match rng.random_range(0..10) {
                0..4 => Command::set(key, &random_value(rng)),
                4..7 => Command::get(key),
                _ => Command::del(key),
            }
        })
        .collect()
}

/// Mostly short distinct values, now and then an empty one or one that needs
/// escaping, so that no value is special to the rules by accident.
fn random_value(rng: &mut impl Rng) -> String {
    match rng.random_range(0..20) {
        0 => String::new(),
        1 => format!("say \"{}\"", rng.random_range(0..100)),
        _ => format!("v{}", rng.random_range(0..100)),
    }
}

/// The logs a criterion walks: `LOGS` random ones, then the scripted session, so
/// that every kind of step is covered whatever the seed.
fn logs(rng: &mut impl Rng) -> impl Iterator<Item = (String, Vec<Command>)> + '_ {
    (0..LOGS)
        .map(move |i| (format!("random log {}", i + 1), random_log(rng, LOG_LEN)))
        .chain(std::iter::once((
            "the scripted session".to_owned(),
            script(),
        )))
}

const LOGS: usize = 60;
const LOG_LEN: usize = 80;

/// Where in which log something went wrong, for the evidence.
fn at_step(ctx: &Ctx, log_name: &str, log: &[Command], step: usize) -> String {
    let from = step.saturating_sub(5);
    let recent: Vec<String> = (from..=step)
        .map(|i| format!("#{} {}", i + 1, log[i]))
        .collect();
    format!(
        "{log_name} (seed {}), step {}; the last commands were: {}",
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
    for (log_name, log) in logs(&mut rng) {
        let mut store = subject.new_store();
        for (step, command) in log.iter().enumerate() {
            applying(ctx, &log_name, step, command);
            let before = subject.view(&store);
            let response = subject.apply(&mut store, command);
            let after = subject.view(&store);
            let (want_response, want_state) = expected_step(&before, command);
            let where_ = || at_step(ctx, &log_name, &log, step);
            if response != want_response {
                return Err(Failure::new(
                    format!("`{command}` answers {want_response}"),
                    format!("it answered {response}"),
                )
                .with_detail(where_())
                .with_hint(step_hint(&before, command)));
            }
            if after != want_state {
                let (expected, seen) = state_difference(&want_state, &after);
                return Err(Failure::new(
                    format!("after `{command}`: {expected}"),
                    format!("after `{command}`: {seen}"),
                )
                .with_detail(where_())
                .with_hint(step_hint(&before, command)));
            }
        }
    }
    Ok(())
}

fn invariants_hold<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let mut rng = ctx.rng(2);
    for (log_name, log) in logs(&mut rng) {
        let mut store = subject.new_store();
        for (step, command) in log.iter().enumerate() {
            applying(ctx, &log_name, step, command);
            subject.apply(&mut store, command);
            // The reference's check is the oracle; the learner's own check is graded
            // separately, by `invariants-check`.
            if let Err(violation) = subject.view(&store).check_invariants() {
                return Err(Failure::new(
                    format!("every invariant holds after `{command}`"),
                    format!("broken invariant: {violation}"),
                )
                .with_detail(at_step(ctx, &log_name, &log, step))
                .with_hint(hold_hint(&violation, command)));
            }
        }
    }
    Ok(())
}

/// What a step must do, in the words of the rule it follows: the hint for a step
/// whose answer or state is wrong.
fn step_hint(before: &reference::Store, command: &Command) -> String {
    let live = |key: &str| before.entries().get(key).is_some_and(Entry::is_live);
    match command {
        Command::Get { key } if live(key) => "A GET of a live key answers its value and version \
            and changes nothing: no sequence number, no version (step 1)."
            .into(),
        Command::Get { key } if before.entries().contains_key(key) => "A GET of a deleted \
            key answers NOT_FOUND (a tombstone is not a value: find the key with `lookup`) \
            and changes nothing (step 1)."
            .into(),
        Command::Get { .. } => "A GET of a key that was never written answers NOT_FOUND \
            and changes nothing: a read takes no sequence number (step 1)."
            .into(),
        Command::Set { key, .. } => format!(
            "A SET is a write: it takes exactly one new sequence number, sets the version to \
             the old entry's plus one ({}), and stores that number and that version in the \
             entry (step 2).",
            if before.entries().get(key).is_some_and(|e| !e.is_live()) {
                "here the old entry is a tombstone: its version still counts, so read it with \
                 `entries.get`, not `lookup`"
            } else {
                "1 for a new key"
            }
        ),
        Command::Del { key } if live(key) => "A DEL of a live key is a write: one new sequence \
            number, the version plus one, and a tombstone (value None) that keeps the entry \
            (step 3)."
            .into(),
        Command::Del { .. } => "A DEL of a key that is missing or already deleted is not a \
            write: it answers NOT_FOUND and takes no sequence number; decide that before \
            taking one (step 3)."
            .into(),
    }
}

/// What a broken invariant after a step says about the step.
fn hold_hint(violation: &Violation, command: &Command) -> String {
    let cause = match violation {
        Violation::WritesUnaccounted {
            versions_total,
            global_seq,
        } if versions_total < global_seq => {
            "the sequence moved further than the versions: a step took a number without \
             bumping a version (a second `next_seq` in one write, or a read or a DEL of a \
             missing key that takes one), or a DEL removed the entry instead of leaving a \
             tombstone, so its versions left the sum"
        }
        Violation::WritesUnaccounted { .. } => {
            "the versions moved further than the sequence: a write bumped a version without \
             taking a sequence number"
        }
        Violation::DuplicateSeq { .. } => {
            "two entries claim one write: a write kept the entry's old seq, or stored a number \
             it did not take. Store the number each write takes in its entry"
        }
        Violation::SeqFromTheFuture { .. } => {
            "an entry holds a number the sequence has not handed out: a write stored a number \
             before taking it, or the sequence went back"
        }
        Violation::ImpossibleVersion { .. } => {
            "a version is 0 or larger than its entry's seq: version and seq swapped, a \
             version not carried over from the old entry, or an overwrite that kept the \
             entry's old seq"
        }
    };
    format!("After `{command}`, {cause}.")
}

fn entry(value: Option<&str>, version: u64, seq: u64) -> Entry {
    Entry {
        value: value.map(Into::into),
        version,
        seq,
    }
}

fn state(entries: &[(&str, Entry)], global_seq: u64) -> (BTreeMap<String, Entry>, u64) {
    let entries = entries
        .iter()
        .map(|(k, e)| ((*k).to_owned(), e.clone()))
        .collect();
    (entries, global_seq)
}

/// The valid state most corruptions start from: six keys, two of them tombstones,
/// with the sequence numbers out of key order, so that a rule broken between two
/// entries can be broken between neighbours or far apart, on a live entry or on a
/// tombstone. It is reachable: ant was written at 1 and 4, bee at 2 and deleted at
/// 7, dog at 3, 6 and deleted at 9, cat at 5, eel at 8 and 12, fox at 10 and 11.
fn base() -> (BTreeMap<String, Entry>, u64) {
    state(
        &[
            ("ant", entry(Some("a"), 2, 4)),
            ("bee", entry(None, 2, 7)),
            ("cat", entry(Some("c"), 1, 5)),
            ("dog", entry(None, 3, 9)),
            ("eel", entry(Some("e"), 2, 12)),
            ("fox", entry(Some("f"), 2, 11)),
        ],
        12,
    )
}

/// Only tombstones: two keys, each set once and deleted.
fn only_tombstones() -> (BTreeMap<String, Entry>, u64) {
    state(&[("a", entry(None, 2, 2)), ("b", entry(None, 2, 4))], 4)
}

/// The largest sequence a `u64` holds: a key written once, and one written every
/// other time and deleted last. The versions add up to exactly `u64::MAX`.
fn at_the_maximum() -> (BTreeMap<String, Entry>, u64) {
    state(
        &[
            ("a", entry(Some("x"), 1, 1)),
            ("z", entry(None, u64::MAX - 1, u64::MAX)),
        ],
        u64::MAX,
    )
}

type State = (BTreeMap<String, Entry>, u64);

/// Valid states at the edges of every rule, each with what makes it an edge.
fn edge_states() -> Vec<(&'static str, State)> {
    vec![
        ("the six-key state with two tombstones", base()),
        (
            "an empty store that never saw a write",
            (BTreeMap::new(), 0),
        ),
        ("a store of tombstones only", only_tombstones()),
        (
            "one key written five times: its version equals its seq, which equals the \
             global sequence",
            state(&[("k", entry(Some("v"), 5, 5))], 5),
        ),
        (
            "a store whose newest write is a delete",
            state(
                &[("a", entry(Some("x"), 1, 1)), ("b", entry(None, 2, 3))],
                3,
            ),
        ),
        (
            "the sequence at u64::MAX, the versions adding up to it exactly",
            at_the_maximum(),
        ),
    ]
}

type Corruption = (&'static str, fn(&mut State), Violation);

fn at<'a>(state: &'a mut State, key: &str) -> &'a mut Entry {
    state.0.get_mut(key).expect("a key of the state")
}

fn future(key: &str, seq: u64, global_seq: u64) -> Violation {
    Violation::SeqFromTheFuture {
        key: key.into(),
        seq,
        global_seq,
    }
}

fn impossible(key: &str, version: u64, seq: u64) -> Violation {
    Violation::ImpossibleVersion {
        key: key.into(),
        version,
        seq,
    }
}

fn duplicate(seq: u64, first: &str, second: &str) -> Violation {
    Violation::DuplicateSeq {
        seq,
        first: first.into(),
        second: second.into(),
    }
}

fn unaccounted(versions_total: u64, global_seq: u64) -> Violation {
    Violation::WritesUnaccounted {
        versions_total,
        global_seq,
    }
}

/// Corrupted states, each breaking exactly one invariant in exactly one place (a
/// test below proves it rule by rule), so that the order in which a check tests
/// the rules cannot change the answer. Every rule is broken on a live entry and on
/// a tombstone; rule 3 between neighbours and between keys far apart in key order;
/// rule 4 with the sum too low and too high, and at the edges (an empty store, a
/// store of tombstones, the largest sequence).
fn corruptions() -> Vec<(State, Corruption)> {
    let on_base = |c: Corruption| (base(), c);
    vec![
        // Rule 1: a seq beyond the global sequence.
        on_base((
            "cat (live, in the middle of the key order) claims seq 13, one past the \
             global sequence 12",
            |s| at(s, "cat").seq = 13,
            future("cat", 13, 12),
        )),
        on_base((
            "the tombstone dog claims seq 40 while the global sequence is 12",
            |s| at(s, "dog").seq = 40,
            future("dog", 40, 12),
        )),
        // Rule 2: a version of 0, or above the entry's seq.
        on_base((
            "cat (live) is at version 0 (and ant one version up, so the sum still holds)",
            |s| {
                at(s, "cat").version = 0;
                at(s, "ant").version = 3;
            },
            impossible("cat", 0, 5),
        )),
        on_base((
            "the tombstone bee is at version 0 (and ant two versions up, so the sum still \
             holds)",
            |s| {
                at(s, "bee").version = 0;
                at(s, "ant").version = 4;
            },
            impossible("bee", 0, 7),
        )),
        on_base((
            "eel (live) is at version 2 but claims seq 1: its two writes cannot both have \
             come at or before write 1",
            |s| at(s, "eel").seq = 1,
            impossible("eel", 2, 1),
        )),
        on_base((
            "the tombstone dog is at version 3 but claims seq 2",
            |s| at(s, "dog").seq = 2,
            impossible("dog", 3, 2),
        )),
        // Rule 3: two entries with one seq.
        on_base((
            "eel and fox, neighbours in key order, both claim seq 12",
            |s| at(s, "fox").seq = 12,
            duplicate(12, "eel", "fox"),
        )),
        on_base((
            "ant and cat both claim seq 4, with bee between them in key order",
            |s| at(s, "cat").seq = 4,
            duplicate(4, "ant", "cat"),
        )),
        on_base((
            "the tombstones bee and dog both claim seq 7, with cat between them",
            |s| at(s, "dog").seq = 7,
            duplicate(7, "bee", "dog"),
        )),
        on_base((
            "ant (live) and the tombstone dog both claim seq 4, two keys apart",
            |s| at(s, "dog").seq = 4,
            duplicate(4, "ant", "dog"),
        )),
        on_base((
            "the tombstone bee and fox (live), the first and the last but one, both claim \
             seq 7",
            |s| at(s, "fox").seq = 7,
            duplicate(7, "bee", "fox"),
        )),
        // Rule 4: the versions do not add up to the global sequence.
        on_base((
            "eel's version went back from 2 to 1",
            |s| at(s, "eel").version = 1,
            unaccounted(11, 12),
        )),
        on_base((
            "the tombstone bee's version went back from 2 to 1",
            |s| at(s, "bee").version = 1,
            unaccounted(11, 12),
        )),
        on_base((
            "cat (live) is at version 3, two more than its writes",
            |s| at(s, "cat").version = 3,
            unaccounted(14, 12),
        )),
        on_base((
            "the tombstone bee is at version 5, three more than its writes (the sum runs \
             ahead before the last key)",
            |s| at(s, "bee").version = 5,
            unaccounted(15, 12),
        )),
        on_base((
            "the global sequence is 13, one ahead of every entry: a write no entry accounts \
             for",
            |s| s.1 = 13,
            unaccounted(12, 13),
        )),
        on_base((
            "the global sequence went back from 12 to 11 (and eel's write moved to seq 3)",
            |s| {
                s.1 = 11;
                at(s, "eel").seq = 3;
            },
            unaccounted(12, 11),
        )),
        (
            (BTreeMap::new(), 0),
            (
                "an empty store whose global sequence is 2",
                |s| s.1 = 2,
                unaccounted(0, 2),
            ),
        ),
        (
            only_tombstones(),
            (
                "a store of tombstones only, whose global sequence is 5",
                |s| s.1 = 5,
                unaccounted(4, 5),
            ),
        ),
        (
            at_the_maximum(),
            (
                "the sequence at u64::MAX, with z's version one short",
                |s| at(s, "z").version = u64::MAX - 2,
                unaccounted(u64::MAX - 1, u64::MAX),
            ),
        ),
    ]
}

/// States that break two rules at once, or one rule in two places. A check may
/// report any violation the state really has (the order in which it tests the
/// rules is its own), but it must be one the state has, with its own keys and
/// numbers: see [`violations_in`].
fn several_broken() -> Vec<(&'static str, State)> {
    let corrupted = |corrupt: fn(&mut State)| {
        let mut state = base();
        corrupt(&mut state);
        state
    };
    vec![
        (
            "cat claims seq 13, past the global sequence 12, and the tombstone dog claims \
             ant's seq 4",
            corrupted(|s| {
                at(s, "cat").seq = 13;
                at(s, "dog").seq = 4;
            }),
        ),
        (
            "cat claims seq 13 and eel seq 20, both past the global sequence 12",
            corrupted(|s| {
                at(s, "cat").seq = 13;
                at(s, "eel").seq = 20;
            }),
        ),
        (
            "the tombstone bee is at version 0, so the versions add up to 10, not 12",
            corrupted(|s| at(s, "bee").version = 0),
        ),
        (
            "ant and cat share seq 4, and bee and fox share seq 7",
            corrupted(|s| {
                at(s, "cat").seq = 4;
                at(s, "fox").seq = 7;
            }),
        ),
    ]
}

/// Every violation `state` has, each rule tested on its own: rules 1 and 2 for each
/// entry, rule 3 for each pair of entries sharing a seq (the earlier key `first`),
/// rule 4 for the whole sum (states whose sum overflows are never handed out).
fn violations_in((entries, global_seq): &State) -> Vec<Violation> {
    let mut found = Vec::new();
    for (key, entry) in entries {
        if entry.seq > *global_seq {
            found.push(future(key, entry.seq, *global_seq));
        }
        if entry.version == 0 || entry.version > entry.seq {
            found.push(impossible(key, entry.version, entry.seq));
        }
    }
    for (i, (first, a)) in entries.iter().enumerate() {
        for (second, b) in entries.iter().skip(i + 1) {
            if a.seq == b.seq {
                found.push(duplicate(a.seq, first, second));
            }
        }
    }
    let versions_total: u64 = entries.values().map(|e| e.version).sum();
    if versions_total != *global_seq {
        found.push(unaccounted(versions_total, *global_seq));
    }
    found
}

/// A state in a line, for the evidence.
fn show_state((entries, global_seq): &State) -> String {
    let entries: Vec<String> = entries
        .iter()
        .map(|(k, e)| format!("{k}: {}", describe(Some(e))))
        .collect();
    format!("global_seq {global_seq}; {}", entries.join(", "))
}

/// The hint for a check that got a state wrong, by which way it was wrong.
fn check_hint(want: Option<&Violation>, seen: &Result<(), Violation>) -> String {
    let rule = |v: &Violation| match v {
        Violation::SeqFromTheFuture { .. } => "rule 1 (no seq beyond global_seq)",
        Violation::ImpossibleVersion { .. } => "rule 2 (1 <= version <= seq)",
        Violation::DuplicateSeq { .. } => "rule 3 (no two entries share a seq)",
        Violation::WritesUnaccounted { .. } => "rule 4 (the versions add up to global_seq)",
    };
    match (want, seen) {
        (None, Err(v)) => {
            let boundary = match v {
                Violation::SeqFromTheFuture { .. } => {
                    "a seq equal to global_seq is allowed: it is the newest write's"
                }
                Violation::ImpossibleVersion { .. } => {
                    "a version equal to its entry's seq is allowed: every write so far went \
                     to that key"
                }
                Violation::DuplicateSeq { .. } => {
                    "only two entries with the very same seq break it; remember each number \
                     with the key that claimed it"
                }
                Violation::WritesUnaccounted { .. } => {
                    "the versions of all entries, tombstones included, are added up, and the \
                     whole sum is compared once, after the loop"
                }
            };
            format!(
                "This state is valid, yet your check reported {}. Look at that rule's \
                 boundary: {boundary}.",
                rule(v)
            )
        }
        (Some(w), Ok(())) => {
            let how = match w {
                Violation::SeqFromTheFuture { .. } => {
                    "Compare every entry's seq, tombstones included, with global_seq."
                }
                Violation::ImpossibleVersion { .. } => {
                    "Both halves count, on every entry, tombstones included: a version of 0, \
                     and a version above the entry's own seq (not above global_seq)."
                }
                Violation::DuplicateSeq { .. } => {
                    "Compare each entry's seq with every earlier one, not only with its \
                     neighbour in key order: remember who claimed each number in a map, and \
                     put tombstones in it too."
                }
                Violation::WritesUnaccounted { .. } => {
                    "Add up the versions of every entry, tombstones included, and compare the \
                     sum with global_seq itself (not with the newest entry's seq), also when \
                     the store is empty."
                }
            };
            format!("Your check missed {}. {how}", rule(w))
        }
        (Some(w), Err(v)) if std::mem::discriminant(w) == std::mem::discriminant(v) => format!(
            "The broken rule is right, {}, but the numbers or keys in the Violation are not: \
             report the entry (or the whole sum) exactly as the state has it.",
            rule(w)
        ),
        (Some(w), Err(v)) => format!(
            "Only {} is broken in this state, but your check reported {}.",
            rule(w),
            rule(v)
        ),
        (None, Ok(())) => String::new(),
    }
}

fn invariants_check<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    // A check that rejects everything is as useless as one that accepts everything,
    // so valid states come first: the edges, then states reached by logs.
    let mut valid = edge_states();
    let mut rng = ctx.rng(3);
    for _ in 0..20 {
        let (store, _) = reference::replay(&random_log(&mut rng, LOG_LEN));
        valid.push((
            "a state reached by a random log",
            (store.entries().clone(), store.global_seq()),
        ));
    }
    let (store, _) = reference::replay(&script());
    valid.push((
        "the state after the scripted session",
        (store.entries().clone(), store.global_seq()),
    ));
    for (what, state) in valid {
        ctx.progress(format_args!(
            "check_invariants (step 5) on a valid state: {what}"
        ));
        let seen = subject.check_invariants(&subject.from_parts(state.0.clone(), state.1));
        if seen.is_err() {
            return Err(Failure::new(
                format!("Ok(()) for a valid state: {what}"),
                format!("{seen:?}"),
            )
            .with_detail(format!(
                "the state: {} (seed {})",
                show_state(&state),
                ctx.seed()
            ))
            .with_hint(check_hint(None, &seen)));
        }
    }
    for (mut state, (what, corrupt, want)) in corruptions() {
        corrupt(&mut state);
        debug_assert_eq!(
            reference::Store::from_parts(state.0.clone(), state.1).check_invariants(),
            Err(want.clone())
        );
        ctx.progress(format_args!(
            "check_invariants (step 5) on a corrupted state: {what}"
        ));
        let seen = subject.check_invariants(&subject.from_parts(state.0.clone(), state.1));
        if seen.as_ref() != Err(&want) {
            return Err(
                Failure::new(format!("Err({want:?}) when {what}"), format!("{seen:?}"))
                    .with_detail(format!(
                        "the state: {}; only this one rule is broken, in this one place",
                        show_state(&state)
                    ))
                    .with_hint(check_hint(Some(&want), &seen)),
            );
        }
    }
    for (what, state) in several_broken() {
        ctx.progress(format_args!(
            "check_invariants (step 5) on a state that breaks several rules: {what}"
        ));
        let broken = violations_in(&state);
        let seen = subject.check_invariants(&subject.from_parts(state.0.clone(), state.1));
        if !matches!(&seen, Err(v) if broken.contains(v)) {
            let listed: Vec<String> = broken.iter().map(|v| format!("{v:?}")).collect();
            return Err(Failure::new(
                format!("one of the violations this state has, when {what}"),
                format!("{seen:?}"),
            )
            .with_detail(format!(
                "the state: {}; its violations: {}",
                show_state(&state),
                listed.join(", ")
            ))
            .with_hint(match seen {
                Ok(()) => "This state breaks more than one rule, and your check found none \
                           of them: test every rule on every entry."
                    .to_owned(),
                Err(_) => "Any one of this state's violations may be reported, but as the \
                           state has it: the key, the seq and the version of one and the \
                           same entry (or pair, or sum), never numbers gathered from \
                           different entries."
                    .to_owned(),
            }));
        }
    }
    Ok(())
}

fn replay<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let mut rng = ctx.rng(4);
    for (log_name, log) in logs(&mut rng) {
        ctx.progress(format_args!("replaying {log_name}, in replay (step 6)"));
        let (first, first_responses) = subject.replay(&log);
        let (second, second_responses) = subject.replay(&log);
        let mut one_by_one = subject.new_store();
        let applied: Vec<Response> = log
            .iter()
            .map(|c| subject.apply(&mut one_by_one, c))
            .collect();
        let context = || format!("{log_name}, {} commands (seed {})", log.len(), ctx.seed());
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

    /// Which of the four rules a state breaks, each tested on its own, with no
    /// regard to order: the corruptions must each break exactly one, so that a
    /// check testing the rules in another order reports the same violation.
    fn rules_broken((entries, global_seq): &State) -> Vec<u8> {
        let mut broken = Vec::new();
        if entries.values().any(|e| e.seq > *global_seq) {
            broken.push(1);
        }
        if entries
            .values()
            .any(|e| e.version == 0 || e.version > e.seq)
        {
            broken.push(2);
        }
        let seqs: std::collections::BTreeSet<u64> = entries.values().map(|e| e.seq).collect();
        if seqs.len() != entries.len() {
            broken.push(3);
        }
        let total = entries
            .values()
            .try_fold(0u64, |sum, e| sum.checked_add(e.version));
        if total != Some(*global_seq) {
            broken.push(4);
        }
        broken
    }

    fn rule_of(violation: &Violation) -> u8 {
        match violation {
            Violation::SeqFromTheFuture { .. } => 1,
            Violation::ImpossibleVersion { .. } => 2,
            Violation::DuplicateSeq { .. } => 3,
            Violation::WritesUnaccounted { .. } => 4,
        }
    }

    #[test]
    fn every_corruption_breaks_exactly_the_named_invariant_once() {
        for (mut state, (what, corrupt, want)) in corruptions() {
            corrupt(&mut state);
            assert_eq!(rules_broken(&state), vec![rule_of(&want)], "{what}");
            let store = reference::Store::from_parts(state.0.clone(), state.1);
            assert_eq!(store.check_invariants(), Err(want), "{what}");
            if let Some(3) = rules_broken(&state).first() {
                let seqs: Vec<u64> = state.0.values().map(|e| e.seq).collect();
                let shared = seqs
                    .iter()
                    .filter(|s| seqs.iter().filter(|t| t == s).count() > 1);
                assert_eq!(shared.count(), 2, "{what}: exactly one pair shares a seq");
            }
        }
    }

    #[test]
    fn the_states_with_several_broken_rules_list_each_violation() {
        for (mut state, (what, corrupt, want)) in corruptions() {
            corrupt(&mut state);
            assert_eq!(violations_in(&state), vec![want], "{what}");
        }
        for (what, state) in several_broken() {
            let broken = violations_in(&state);
            assert!(broken.len() >= 2, "{what}");
            let mut rules: Vec<u8> = broken.iter().map(rule_of).collect();
            rules.sort_unstable();
            rules.dedup();
            assert_eq!(rules, rules_broken(&state), "{what}");
            let store = reference::Store::from_parts(state.0.clone(), state.1);
            assert!(
                broken.contains(&store.check_invariants().unwrap_err()),
                "{what}"
            );
        }
    }

    #[test]
    fn the_valid_edge_states_are_valid() {
        for (what, state) in edge_states() {
            assert_eq!(rules_broken(&state), Vec::<u8>::new(), "{what}");
            let store = reference::Store::from_parts(state.0, state.1);
            assert_eq!(store.check_invariants(), Ok(()), "{what}");
        }
    }

    #[test]
    fn every_rule_is_broken_on_a_live_entry_and_on_a_tombstone() {
        let mut seen = std::collections::BTreeSet::new();
        for (mut state, (_, corrupt, want)) in corruptions() {
            corrupt(&mut state);
            let keys: Vec<&str> = match &want {
                Violation::SeqFromTheFuture { key, .. }
                | Violation::ImpossibleVersion { key, .. } => vec![key],
                Violation::DuplicateSeq { first, second, .. } => vec![first, second],
                Violation::WritesUnaccounted { .. } => continue,
            };
            for key in keys {
                seen.insert((rule_of(&want), state.0[key].is_live()));
            }
        }
        for rule in 1..=3 {
            assert!(seen.contains(&(rule, true)), "rule {rule} on a live entry");
            assert!(seen.contains(&(rule, false)), "rule {rule} on a tombstone");
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
