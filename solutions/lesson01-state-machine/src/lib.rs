//! Lesson 01: the state machine at the heart of the store.
//!
//! Every change goes through [`Store::apply`], one [`Command`] at a time. Each
//! mutation takes the next number of one global sequence, so the whole history of the
//! store is a single ordered log, and replaying that log rebuilds the same state.

use std::collections::BTreeMap;
use std::fmt;

// ANCHOR: command
/// A request to the store. GET reads; SET and DEL are mutations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Get { key: String },
    Set { key: String, value: String },
    Del { key: String },
}
// ANCHOR_END: command

impl Command {
    pub fn get(key: &str) -> Self {
        Command::Get { key: key.into() }
    }

    pub fn set(key: &str, value: &str) -> Self {
        Command::Set {
            key: key.into(),
            value: value.into(),
        }
    }

    pub fn del(key: &str) -> Self {
        Command::Del { key: key.into() }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Get { key } => write!(f, "GET {key}"),
            Command::Set { key, value } => write!(f, "SET {key} = {value:?}"),
            Command::Del { key } => write!(f, "DEL {key}"),
        }
    }
}

// ANCHOR: response
/// What the store answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// GET found a live value.
    Value { value: String, version: u64 },
    /// GET or DEL found no live value; nothing changed.
    NotFound,
    /// SET wrote `version` of the key as write number `seq`.
    Stored { version: u64, seq: u64 },
    /// DEL wrote a tombstone as `version` of the key, write number `seq`.
    Deleted { version: u64, seq: u64 },
}
// ANCHOR_END: response

// ANCHOR: display
impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::Value { value, version } => write!(f, "VALUE {value:?} v{version}"),
            Response::NotFound => write!(f, "NOT_FOUND"),
            Response::Stored { version, seq } => write!(f, "STORED v{version} @{seq}"),
            Response::Deleted { version, seq } => write!(f, "DELETED v{version} @{seq}"),
        }
    }
}
// ANCHOR_END: display

// ANCHOR: entry
/// One key's latest version. A deleted key keeps its entry as a *tombstone*
/// (`value: None`), so its version keeps counting up and every write stays visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Option<String>,
    /// How many writes (SET or DEL) this key has seen: 1 after its first SET.
    pub version: u64,
    /// The global sequence number of the write that produced this version.
    pub seq: u64,
}
// ANCHOR_END: entry

impl Entry {
    pub fn is_live(&self) -> bool {
        self.value.is_some()
    }
}

// ANCHOR: violation
/// A broken invariant, as found by [`Store::check_invariants`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// An entry claims a write the store has not numbered yet.
    SeqFromTheFuture {
        key: String,
        seq: u64,
        global_seq: u64,
    },
    /// Two entries claim the same write.
    DuplicateSeq {
        seq: u64,
        first: String,
        second: String,
    },
    /// A version must be at least 1 and cannot exceed the entry's sequence number
    /// (each of the key's versions took a sequence number of its own).
    ImpossibleVersion { key: String, version: u64, seq: u64 },
    /// Every write bumps exactly one key's version, so the versions must add up to
    /// the global sequence.
    WritesUnaccounted {
        versions_total: u64,
        global_seq: u64,
    },
}
// ANCHOR_END: violation

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::SeqFromTheFuture {
                key,
                seq,
                global_seq,
            } => {
                write!(
                    f,
                    "key {key:?} has seq {seq}, beyond the global sequence {global_seq}"
                )
            }
            Violation::DuplicateSeq { seq, first, second } => {
                write!(f, "keys {first:?} and {second:?} both claim seq {seq}")
            }
            Violation::ImpossibleVersion { key, version, seq } => {
                write!(
                    f,
                    "key {key:?} has version {version}, impossible at seq {seq}"
                )
            }
            Violation::WritesUnaccounted {
                versions_total,
                global_seq,
            } => write!(
                f,
                "versions add up to {versions_total} but the global sequence is {global_seq}"
            ),
        }
    }
}

// ANCHOR: store
/// The state machine: every key's latest entry, and the number of the last write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    entries: BTreeMap<String, Entry>,
    global_seq: u64,
}
// ANCHOR_END: store

impl Store {
    pub fn new() -> Self {
        Store::default()
    }

    /// Rebuilds a store from its parts, as a snapshot loader does. Nothing is
    /// checked: call [`Store::check_invariants`] on the result.
    pub fn from_parts(entries: BTreeMap<String, Entry>, global_seq: u64) -> Self {
        Store {
            entries,
            global_seq,
        }
    }

    pub fn entries(&self) -> &BTreeMap<String, Entry> {
        &self.entries
    }

    /// The sequence number of the last write (0 before any write).
    pub fn global_seq(&self) -> u64 {
        self.global_seq
    }

    /// The live entry for `key`, borrowed from the store; `None` when the key was
    /// never written or is a tombstone.
    pub fn lookup(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key).filter(|entry| entry.is_live())
    }

    // ANCHOR: apply
    /// Applies one command. This is the only way the state changes.
    pub fn apply(&mut self, command: Command) -> Response {
        match command {
            Command::Get { key } => self.get(&key),
            Command::Set { key, value } => self.set(key, value),
            Command::Del { key } => self.del(key),
        }
    }
    // ANCHOR_END: apply

    // ANCHOR: get
    /// Reads `key` without changing anything: no sequence number is taken.
    pub fn get(&self, key: &str) -> Response {
        match self.lookup(key) {
            Some(Entry {
                value: Some(value),
                version,
                ..
            }) => Response::Value {
                value: value.clone(),
                version: *version,
            },
            _ => Response::NotFound,
        }
    }
    // ANCHOR_END: get

    // ANCHOR: set
    fn set(&mut self, key: String, value: String) -> Response {
        let seq = self.next_seq();
        // A tombstone keeps counting: its next version follows the DEL's.
        let version = self.entries.get(&key).map_or(1, |entry| entry.version + 1);
        self.entries.insert(
            key,
            Entry {
                value: Some(value),
                version,
                seq,
            },
        );
        Response::Stored { version, seq }
    }
    // ANCHOR_END: set

    // ANCHOR: del
    fn del(&mut self, key: String) -> Response {
        // Deleting what is not there is not a write: no sequence number, no tombstone.
        let Some(entry) = self.entries.get(&key).filter(|entry| entry.is_live()) else {
            return Response::NotFound;
        };
        let version = entry.version + 1;
        let seq = self.next_seq();
        self.entries.insert(
            key,
            Entry {
                value: None,
                version,
                seq,
            },
        );
        Response::Deleted { version, seq }
    }
    // ANCHOR_END: del

    /// Takes the next number of the global sequence: one per write, never reused.
    fn next_seq(&mut self) -> u64 {
        self.global_seq += 1;
        self.global_seq
    }

    // ANCHOR: check_invariants
    /// Checks the invariants every reachable state keeps, and names the first one
    /// that is broken.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let mut owner_of_seq: BTreeMap<u64, &str> = BTreeMap::new();
        let mut versions_total: u64 = 0;
        for (key, entry) in &self.entries {
            if entry.seq > self.global_seq {
                return Err(Violation::SeqFromTheFuture {
                    key: key.clone(),
                    seq: entry.seq,
                    global_seq: self.global_seq,
                });
            }
            if entry.version == 0 || entry.version > entry.seq {
                return Err(Violation::ImpossibleVersion {
                    key: key.clone(),
                    version: entry.version,
                    seq: entry.seq,
                });
            }
            if let Some(first) = owner_of_seq.insert(entry.seq, key) {
                return Err(Violation::DuplicateSeq {
                    seq: entry.seq,
                    first: first.to_owned(),
                    second: key.clone(),
                });
            }
            versions_total += entry.version;
        }
        if versions_total != self.global_seq {
            return Err(Violation::WritesUnaccounted {
                versions_total,
                global_seq: self.global_seq,
            });
        }
        Ok(())
    }
    // ANCHOR_END: check_invariants
}

// ANCHOR: replay
/// Applies `log` in order to a new store: the same log always gives the same state
/// and the same responses.
pub fn replay(log: &[Command]) -> (Store, Vec<Response>) {
    let mut store = Store::new();
    let responses = log
        .iter()
        .map(|command| store.apply(command.clone()))
        .collect();
    (store, responses)
}
// ANCHOR_END: replay

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_history_keeps_its_invariants() {
        let (store, responses) = replay(&[
            Command::set("a", "1"),
            Command::set("a", "2"),
            Command::del("a"),
            Command::del("a"),
            Command::get("a"),
            Command::set("a", "3"),
        ]);
        assert_eq!(responses[1], Response::Stored { version: 2, seq: 2 });
        assert_eq!(responses[3], Response::NotFound);
        assert_eq!(responses[5], Response::Stored { version: 4, seq: 4 });
        assert_eq!(store.global_seq(), 4);
        assert_eq!(store.check_invariants(), Ok(()));
    }
}
