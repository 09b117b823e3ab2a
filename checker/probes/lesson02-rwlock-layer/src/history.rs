//! Is a concurrent history explained by some legal order of its operations?
//!
//! Every operation is recorded with two tickets from one global counter: one taken
//! just before the call (`invoked`) and one just after it returned (`returned`).
//! When `a.returned < b.invoked`, `a` really finished before `b` started, so any
//! explanation must put `a` first; operations whose intervals overlap may be
//! ordered either way. A history is *linearizable* when some order that respects
//! those constraints, run one operation at a time through the lesson 01 rules,
//! gives every recorded response.
//!
//! Keys are independent in the state machine (only the sequence numbers are
//! shared), so each key is checked on its own with a small depth-first search
//! (Wing and Gong's, with the visited sets of operations memoised), and the
//! sequence numbers are checked once across keys.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use reference::{Command, Response};

/// One operation as a thread saw it.
#[derive(Debug, Clone)]
pub struct Event {
    pub thread: usize,
    pub command: Command,
    pub response: Response,
    pub invoked: u64,
    pub returned: u64,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:>3}..{:>3}] thread {}: {} -> {}",
            self.invoked, self.returned, self.thread, self.command, self.response
        )
    }
}

pub fn key_of(command: &Command) -> &str {
    match command {
        Command::Get { key } | Command::Set { key, .. } | Command::Del { key } => key,
    }
}

fn write_seq(response: &Response) -> Option<u64> {
    match response {
        Response::Stored { seq, .. } | Response::Deleted { seq, .. } => Some(*seq),
        _ => None,
    }
}

/// Why a history is not linearizable, in words, with the operations involved.
#[derive(Debug)]
pub struct Unexplained {
    pub kind: Kind,
    pub why: String,
    pub events: Vec<Event>,
}

/// Which kind of problem, so that a criterion can choose its hint by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sequence numbers given twice, skipped, or out of real-time order.
    Sequence,
    /// Two writes of one key made the same version: a lost update.
    SameVersionTwice,
    /// A GET answered a version that no write made.
    NoSuchVersion,
    /// A GET paired one write's value with another write's version.
    ValueAndVersionApart,
    /// A GET answered a value for a version that was a delete.
    ValueOfADelete,
    /// No order of the key's operations explains the answers.
    NoOrder,
}

/// Checks the whole history: sequence numbers across keys, then each key.
pub fn check(history: &[Event]) -> Result<(), Unexplained> {
    check_sequence(history)?;
    let mut by_key: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in history {
        by_key
            .entry(key_of(&event.command))
            .or_default()
            .push(event);
    }
    for (key, events) in by_key {
        check_key(key, &events)?;
    }
    Ok(())
}

/// Writes take the numbers 1, 2, 3, ... of one sequence, each exactly once, and a
/// write that finished before another started took the smaller number.
fn check_sequence(history: &[Event]) -> Result<(), Unexplained> {
    let writes: Vec<(&Event, u64)> = history
        .iter()
        .filter_map(|e| write_seq(&e.response).map(|seq| (e, seq)))
        .collect();
    let mut owner: BTreeMap<u64, &Event> = BTreeMap::new();
    for &(event, seq) in &writes {
        if let Some(first) = owner.insert(seq, event) {
            return Err(Unexplained {
                kind: Kind::Sequence,
                why: format!("two writes were both given sequence number {seq}"),
                events: vec![first.clone(), event.clone()],
            });
        }
    }
    let numbered = 1..=writes.len() as u64;
    if let Some((&seq, event)) = owner.iter().find(|(seq, _)| !numbered.contains(*seq)) {
        return Err(Unexplained {
            kind: Kind::Sequence,
            why: format!(
                "there were {} writes, numbered 1 to {}, but one was given sequence number {seq}",
                writes.len(),
                writes.len()
            ),
            events: vec![(*event).clone()],
        });
    }
    for &(a, seq_a) in &writes {
        for &(b, seq_b) in &writes {
            if a.returned < b.invoked && seq_a > seq_b {
                return Err(Unexplained {
                    kind: Kind::Sequence,
                    why: format!(
                        "a write that finished before another one started was given a later \
                         sequence number ({seq_a} > {seq_b})"
                    ),
                    events: vec![a.clone(), b.clone()],
                });
            }
        }
    }
    Ok(())
}

/// One key's state in the sequential rules: its version and its live value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KeyState {
    version: u64,
    value: Option<String>,
}

/// What `command` does to `state` if `response` is what it answered; `None` if
/// the response is impossible in that state.
fn step(state: &KeyState, command: &Command, response: &Response) -> Option<KeyState> {
    let next = state.version + 1;
    match (command, response) {
        (Command::Get { .. }, Response::Value { value, version }) => {
            (state.value.as_ref() == Some(value) && state.version == *version)
                .then(|| state.clone())
        }
        (Command::Get { .. } | Command::Del { .. }, Response::NotFound) => {
            state.value.is_none().then(|| state.clone())
        }
        (Command::Set { value, .. }, Response::Stored { version, .. }) => {
            (*version == next).then(|| KeyState {
                version: next,
                value: Some(value.clone()),
            })
        }
        (Command::Del { .. }, Response::Deleted { version, .. }) => {
            (state.value.is_some() && *version == next).then_some(KeyState {
                version: next,
                value: None,
            })
        }
        _ => None,
    }
}

/// The most operations one key's history may have (the search keeps sets of them
/// in a `u128`).
pub const MAX_EVENTS_PER_KEY: usize = 128;

fn check_key(key: &str, events: &[&Event]) -> Result<(), Unexplained> {
    assert!(
        events.len() <= MAX_EVENTS_PER_KEY,
        "history too long for the search"
    );
    if let Some(problem) = obvious_problem(key, events) {
        return Err(problem);
    }
    let mut search = Search {
        events,
        failed: HashSet::new(),
    };
    if search.explains(0, &KeyState::default()) {
        return Ok(());
    }
    let mut listed: Vec<Event> = events.iter().map(|&e| e.clone()).collect();
    listed.sort_by_key(|e| e.invoked);
    Err(Unexplained {
        kind: Kind::NoOrder,
        why: format!(
            "no order of the {} operations on {key:?} that respects which call finished \
             before which started gives all these results",
            events.len()
        ),
        events: listed,
    })
}

/// Problems that need no search, explained more precisely than "no order works".
fn obvious_problem(key: &str, events: &[&Event]) -> Option<Unexplained> {
    let mut made: BTreeMap<u64, &Event> = BTreeMap::new();
    for &event in events {
        if let Response::Stored { version, .. } | Response::Deleted { version, .. } = event.response
            && let Some(first) = made.insert(version, event)
        {
            return Some(Unexplained {
                kind: Kind::SameVersionTwice,
                why: format!("two writes of {key:?} both made version {version}"),
                events: vec![first.clone(), event.clone()],
            });
        }
    }
    for &event in events {
        let Response::Value { value, version } = &event.response else {
            continue;
        };
        let (kind, why) = match made.get(version).map(|w| (&w.command, *w)) {
            None => (
                Kind::NoSuchVersion,
                format!("a GET of {key:?} answered version {version}, which no write made"),
            ),
            Some((Command::Set { value: written, .. }, _)) if written == value => continue,
            Some((Command::Set { value: written, .. }, _)) => (
                Kind::ValueAndVersionApart,
                format!(
                    "a GET of {key:?} answered {value:?} as version {version}, but the write \
                     that made version {version} wrote {written:?}: the value and the version \
                     come from two different writes"
                ),
            ),
            Some(_) => (
                Kind::ValueOfADelete,
                format!(
                    "a GET of {key:?} answered a value for version {version}, which was a delete"
                ),
            ),
        };
        let mut involved = vec![event.clone()];
        involved.extend(made.get(version).map(|w| (*w).clone()));
        return Some(Unexplained {
            kind,
            why,
            events: involved,
        });
    }
    None
}

struct Search<'a> {
    events: &'a [&'a Event],
    /// Sets of already-ordered operations from which no order works. The state
    /// after a valid prefix depends only on the set (writes must come in version
    /// order), so one entry per set is enough.
    failed: HashSet<u128>,
}

impl Search<'_> {
    fn explains(&mut self, done: u128, state: &KeyState) -> bool {
        let all = self.events.len();
        if done.count_ones() as usize == all {
            return true;
        }
        if self.failed.contains(&done) {
            return false;
        }
        let pending = |i: &usize| done & (1 << *i) == 0;
        // An operation can come next only if no pending operation finished before
        // it started.
        let first_return = (0..all)
            .filter(pending)
            .map(|i| self.events[i].returned)
            .min()
            .unwrap_or(u64::MAX);
        for i in (0..all).filter(pending) {
            let event = self.events[i];
            if event.invoked > first_return {
                continue;
            }
            if let Some(next) = step(state, &event.command, &event.response)
                && self.explains(done | (1 << i), &next)
            {
                return true;
            }
        }
        self.failed.insert(done);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(thread: usize, command: Command, response: Response, span: (u64, u64)) -> Event {
        Event {
            thread,
            command,
            response,
            invoked: span.0,
            returned: span.1,
        }
    }

    fn stored(version: u64, seq: u64) -> Response {
        Response::Stored { version, seq }
    }

    fn value(value: &str, version: u64) -> Response {
        Response::Value {
            value: value.into(),
            version,
        }
    }

    #[test]
    fn overlapping_operations_may_be_ordered_either_way() {
        // The GET overlaps the SET, so it may see the old state or the new one.
        for seen in [Response::NotFound, value("red", 1)] {
            let history = [
                event(0, Command::set("a", "red"), stored(1, 1), (1, 4)),
                event(1, Command::get("a"), seen, (2, 3)),
            ];
            assert!(check(&history).is_ok());
        }
    }

    #[test]
    fn a_stale_read_after_a_finished_write_is_not_explained() {
        let history = [
            event(0, Command::set("a", "red"), stored(1, 1), (1, 2)),
            event(0, Command::set("a", "blue"), stored(2, 2), (3, 4)),
            event(1, Command::get("a"), value("red", 1), (5, 6)),
        ];
        let problem = check(&history).unwrap_err();
        assert!(problem.why.contains("no order"), "{}", problem.why);
    }

    #[test]
    fn a_torn_read_is_named() {
        let history = [
            event(0, Command::set("a", "red"), stored(1, 1), (1, 2)),
            event(0, Command::set("a", "blue"), stored(2, 2), (3, 6)),
            event(1, Command::get("a"), value("red", 2), (4, 5)),
        ];
        let problem = check(&history).unwrap_err();
        assert_eq!(problem.kind, Kind::ValueAndVersionApart, "{}", problem.why);
    }

    #[test]
    fn duplicate_and_reordered_sequence_numbers_are_caught() {
        let history = [
            event(0, Command::set("a", "1"), stored(1, 1), (1, 2)),
            event(1, Command::set("b", "1"), stored(1, 1), (3, 4)),
        ];
        assert!(check(&history).unwrap_err().why.contains("both given"));
        let history = [
            event(0, Command::set("a", "1"), stored(1, 2), (1, 2)),
            event(1, Command::set("b", "1"), stored(1, 1), (3, 4)),
        ];
        assert!(check(&history).unwrap_err().why.contains("later"));
    }

    #[test]
    fn deletes_and_missing_keys_follow_the_rules() {
        let history = [
            event(0, Command::del("a"), Response::NotFound, (1, 2)),
            event(0, Command::set("a", "x"), stored(1, 1), (3, 4)),
            event(
                1,
                Command::del("a"),
                Response::Deleted { version: 2, seq: 2 },
                (5, 8),
            ),
            event(2, Command::get("a"), value("x", 1), (6, 7)),
            event(2, Command::get("a"), Response::NotFound, (9, 10)),
        ];
        assert!(check(&history).is_ok());
    }
}
