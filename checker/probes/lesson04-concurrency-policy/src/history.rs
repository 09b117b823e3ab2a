//! The oracle: what the store must have looked like after each write of the log the
//! hook recorded. Reads and snapshots are checked against it after the run, so the
//! checks cost nothing while the threads race.

use std::collections::{BTreeSet, HashMap};

use state::{Command, Entry, Response};

/// The hook's log, checked to be numbered 1, 2, 3, ... in order, and replayed.
pub struct History {
    commands: Vec<Command>,
    /// For each key, its live entry (or `None`) after each write that touched it.
    timeline: HashMap<String, Vec<(u64, Option<Entry>)>>,
    responses: Vec<Response>,
}

impl History {
    /// Replays a log whose numbers are already known to be 1, 2, 3, ...
    pub fn replay(log: &[(u64, Command)]) -> History {
        let mut store = state::Store::new();
        let mut timeline: HashMap<String, Vec<(u64, Option<Entry>)>> = HashMap::new();
        let mut responses = Vec::new();
        for (seq, command) in log {
            responses.push(store.apply(command.clone()));
            let key = key_of(command);
            timeline
                .entry(key.to_owned())
                .or_default()
                .push((*seq, store.lookup(key).cloned()));
        }
        History {
            commands: log.iter().map(|(_, c)| c.clone()).collect(),
            timeline,
            responses,
        }
    }

    pub fn len(&self) -> u64 {
        self.commands.len() as u64
    }

    /// The state after writes 1 to `seq`.
    pub fn state_at(&self, seq: u64) -> state::Store {
        let mut store = state::Store::new();
        for command in self.commands.iter().take(seq as usize) {
            store.apply(command.clone());
        }
        store
    }

    /// The response replaying gives write `seq` (numbered from 1).
    pub fn response(&self, seq: u64) -> Option<&Response> {
        self.responses.get((seq as usize).checked_sub(1)?)
    }

    /// What a read of `key` must return in the state after writes 1 to `as_of`.
    pub fn read_at(&self, key: &str, as_of: u64) -> Option<&Entry> {
        let changes = self.timeline.get(key)?;
        let upto = changes.partition_point(|(seq, _)| *seq <= as_of);
        changes[..upto].last()?.1.as_ref()
    }
}

pub fn key_of(command: &Command) -> &str {
    match command {
        Command::Get { key } | Command::Set { key, .. } | Command::Del { key } => key,
    }
}

/// Checks that the hook's numbers are 1, 2, 3, ... and names the first that is not.
pub fn numbering_problem(log: &[(u64, Command)]) -> Option<String> {
    let mut seen = BTreeSet::new();
    for (i, (seq, command)) in log.iter().enumerate() {
        let want = i as u64 + 1;
        if *seq == want {
            seen.insert(*seq);
            continue;
        }
        let before = match i {
            0 => "as its first write".to_owned(),
            _ => format!("right after #{}", log[i - 1].0),
        };
        return Some(if seen.contains(seq) {
            format!("the hook received #{seq} twice: again for `{command}`, {before}")
        } else if *seq > want {
            format!("the hook received #{seq} (`{command}`) {before}: #{want} is missing or late")
        } else {
            format!("the hook received #{seq} (`{command}`) {before}: numbers went backwards")
        });
    }
    None
}

/// An entry as the reports show it: `"w1-7" v3 @12`, or `nothing`.
pub fn describe(entry: Option<&Entry>) -> String {
    match entry {
        None => "nothing".into(),
        Some(Entry {
            value: Some(value),
            version,
            seq,
        }) => format!("{value:?} v{version} @{seq}"),
        Some(Entry {
            value: None,
            version,
            seq,
        }) => format!("a tombstone v{version} @{seq}"),
    }
}

/// The first difference between two states, in words: (expected, seen).
pub fn state_difference(expected: &state::Store, seen: &state::Store) -> Option<(String, String)> {
    if expected.global_seq() != seen.global_seq() {
        return Some((
            format!("global sequence {}", expected.global_seq()),
            format!("global sequence {}", seen.global_seq()),
        ));
    }
    let keys: BTreeSet<&String> = expected
        .entries()
        .keys()
        .chain(seen.entries().keys())
        .collect();
    keys.into_iter().find_map(|key| {
        let (e, s) = (expected.entries().get(key), seen.entries().get(key));
        (e != s).then(|| {
            (
                format!("{key}: {}", describe_stored(e)),
                format!("{key}: {}", describe_stored(s)),
            )
        })
    })
}

/// Like [`describe`], but a missing entry is "no entry" (a tombstone is an entry).
fn describe_stored(entry: Option<&Entry>) -> String {
    match entry {
        None => "no entry".into(),
        Some(entry) => describe(Some(entry)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> Vec<(u64, Command)> {
        vec![
            (1, Command::set("a", "1")),
            (2, Command::set("b", "2")),
            (3, Command::del("a")),
            (4, Command::set("a", "3")),
        ]
    }

    #[test]
    fn reads_are_answered_at_any_point_of_the_log() {
        let history = History::replay(&log());
        assert_eq!(history.read_at("a", 0), None);
        assert_eq!(history.read_at("a", 2).unwrap().value.as_deref(), Some("1"));
        assert_eq!(history.read_at("a", 3), None);
        assert_eq!(history.read_at("a", 4).unwrap().version, 3);
        assert_eq!(history.read_at("zzz", 4), None);
        assert_eq!(history.state_at(4).global_seq(), 4);
    }

    #[test]
    fn numbering_problems_are_named() {
        assert_eq!(numbering_problem(&log()), None);
        let mut twice = log();
        twice[2].0 = 2;
        assert!(numbering_problem(&twice).unwrap().contains("#2 twice"));
        let mut gap = log();
        gap.remove(1);
        assert!(numbering_problem(&gap).unwrap().contains("#2 is missing"));
    }
}
