//! Correct implementations of lesson 01 written differently from the reference:
//! another map, another shape of the code, the rules checked in another order.
//! Every criterion must accept each of them; a criterion that rejects one grades
//! the reference's code rather than the lesson's rules.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use probe_kit::Variant;
use reference::{Command, Entry, Response, Violation};

use crate::Subject;

pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "hashmap-store",
        make: || crate::probe(HashStore),
    },
    Variant {
        name: "iterator-passes",
        make: || crate::probe(Passes),
    },
];

/// A store over a `HashMap` of its own slot type, with the entry API for writes,
/// and a check that sorts the keys itself and tests the rules in reverse order,
/// one pass per rule.
pub struct HashStore;

#[derive(Debug, Clone)]
struct Slot {
    value: Option<String>,
    version: u64,
    seq: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Hashed {
    slots: HashMap<String, Slot>,
    last_seq: u64,
}

impl Hashed {
    fn take_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    fn live(&self, key: &str) -> Option<&Slot> {
        self.slots.get(key).filter(|slot| slot.value.is_some())
    }

    fn apply(&mut self, command: Command) -> Response {
        match command {
            Command::Get { key } => match self.live(&key) {
                Some(Slot {
                    value: Some(value),
                    version,
                    ..
                }) => Response::Value {
                    value: value.clone(),
                    version: *version,
                },
                _ => Response::NotFound,
            },
            Command::Set { key, value } => {
                let seq = self.take_seq();
                let slot = self.slots.entry(key).or_insert(Slot {
                    value: None,
                    version: 0,
                    seq: 0,
                });
                slot.value = Some(value);
                slot.version += 1;
                slot.seq = seq;
                Response::Stored {
                    version: slot.version,
                    seq,
                }
            }
            Command::Del { key } => {
                if self.live(&key).is_none() {
                    return Response::NotFound;
                }
                let seq = self.take_seq();
                let slot = self.slots.get_mut(&key).expect("checked above");
                *slot = Slot {
                    value: None,
                    version: slot.version + 1,
                    seq,
                };
                Response::Deleted {
                    version: slot.version,
                    seq,
                }
            }
        }
    }

    fn sorted(&self) -> Vec<(&String, &Slot)> {
        let mut slots: Vec<_> = self.slots.iter().collect();
        slots.sort_by(|a, b| a.0.cmp(b.0));
        slots
    }

    fn check(&self) -> Result<(), Violation> {
        let slots = self.sorted();
        // Rule 4 first: nothing in it depends on the other three.
        let versions_total: u64 = slots.iter().map(|(_, s)| s.version).sum();
        if versions_total != self.last_seq {
            return Err(Violation::WritesUnaccounted {
                versions_total,
                global_seq: self.last_seq,
            });
        }
        // Rule 3 by sorting: equal numbers end up side by side, the smaller key first.
        let mut claims: Vec<(u64, &String)> = slots.iter().map(|(k, s)| (s.seq, *k)).collect();
        claims.sort();
        if let Some(pair) = claims.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(Violation::DuplicateSeq {
                seq: pair[0].0,
                first: pair[0].1.clone(),
                second: pair[1].1.clone(),
            });
        }
        for (key, slot) in &slots {
            if !(1..=slot.seq).contains(&slot.version) {
                return Err(Violation::ImpossibleVersion {
                    key: (*key).clone(),
                    version: slot.version,
                    seq: slot.seq,
                });
            }
        }
        for (key, slot) in &slots {
            if slot.seq > self.last_seq {
                return Err(Violation::SeqFromTheFuture {
                    key: (*key).clone(),
                    seq: slot.seq,
                    global_seq: self.last_seq,
                });
            }
        }
        Ok(())
    }
}

fn label(response: &Response) -> String {
    let mut out = String::new();
    let _ = match response {
        Response::Value { value, version } => write!(out, "VALUE {value:?} v{version}"),
        Response::NotFound => write!(out, "NOT_FOUND"),
        Response::Stored { version, seq } => write!(out, "STORED v{version} @{seq}"),
        Response::Deleted { version, seq } => write!(out, "DELETED v{version} @{seq}"),
    };
    out
}

impl Subject for HashStore {
    type Store = Hashed;

    fn new_store(&self) -> Hashed {
        Hashed::default()
    }

    fn from_parts(&self, entries: BTreeMap<String, Entry>, global_seq: u64) -> Hashed {
        let slots = entries
            .into_iter()
            .map(|(key, e)| {
                let slot = Slot {
                    value: e.value,
                    version: e.version,
                    seq: e.seq,
                };
                (key, slot)
            })
            .collect();
        Hashed {
            slots,
            last_seq: global_seq,
        }
    }

    fn apply(&self, store: &mut Hashed, command: &Command) -> Response {
        store.apply(command.clone())
    }

    fn render(&self, response: &Response) -> String {
        label(response)
    }

    fn view(&self, store: &Hashed) -> reference::Store {
        let entries = store
            .slots
            .iter()
            .map(|(key, s)| {
                let entry = Entry {
                    value: s.value.clone(),
                    version: s.version,
                    seq: s.seq,
                };
                (key.clone(), entry)
            })
            .collect();
        reference::Store::from_parts(entries, store.last_seq)
    }

    fn check_invariants(&self, store: &Hashed) -> Result<(), Violation> {
        store.check()
    }

    fn replay(&self, log: &[Command]) -> (Hashed, Vec<Response>) {
        log.iter().fold(
            (Hashed::default(), Vec::new()),
            |(mut store, mut out), c| {
                out.push(store.apply(c.clone()));
                (store, out)
            },
        )
    }
}

/// A `BTreeMap` store whose writes go through one helper, and whose check is a
/// chain of iterator searches, rule 3 before rules 1 and 2.
pub struct Passes;

#[derive(Debug, Clone, Default)]
pub struct Chained {
    entries: BTreeMap<String, Entry>,
    global_seq: u64,
}

impl Chained {
    /// Every write: the next number, the key's next version (tombstones count), the
    /// new value (`None` for a delete).
    fn write(&mut self, key: String, value: Option<String>) -> (u64, u64) {
        self.global_seq += 1;
        let version = self.entries.get(&key).map(|e| e.version).unwrap_or(0) + 1;
        let seq = self.global_seq;
        self.entries.insert(
            key,
            Entry {
                value,
                version,
                seq,
            },
        );
        (version, seq)
    }

    fn apply(&mut self, command: Command) -> Response {
        let live = |entries: &BTreeMap<String, Entry>, key: &str| {
            entries
                .get(key)
                .and_then(|e| e.value.clone().map(|v| (v, e.version)))
        };
        match command {
            Command::Get { key } => {
                live(&self.entries, &key).map_or(Response::NotFound, |(value, version)| {
                    Response::Value { value, version }
                })
            }
            Command::Set { key, value } => {
                let (version, seq) = self.write(key, Some(value));
                Response::Stored { version, seq }
            }
            Command::Del { key } if live(&self.entries, &key).is_some() => {
                let (version, seq) = self.write(key, None);
                Response::Deleted { version, seq }
            }
            Command::Del { .. } => Response::NotFound,
        }
    }

    fn check(&self) -> Result<(), Violation> {
        let mut owner: HashMap<u64, &String> = HashMap::new();
        if let Some(violation) = self.entries.iter().find_map(|(key, e)| {
            owner
                .insert(e.seq, key)
                .map(|first| Violation::DuplicateSeq {
                    seq: e.seq,
                    first: first.clone(),
                    second: key.clone(),
                })
        }) {
            return Err(violation);
        }
        let global_seq = self.global_seq;
        if let Some((key, e)) = self.entries.iter().find(|(_, e)| e.seq > global_seq) {
            return Err(Violation::SeqFromTheFuture {
                key: key.clone(),
                seq: e.seq,
                global_seq,
            });
        }
        if let Some((key, e)) = self
            .entries
            .iter()
            .find(|(_, e)| e.version < 1 || e.version > e.seq)
        {
            return Err(Violation::ImpossibleVersion {
                key: key.clone(),
                version: e.version,
                seq: e.seq,
            });
        }
        let versions_total = self.entries.values().fold(0, |sum, e| sum + e.version);
        if versions_total == global_seq {
            Ok(())
        } else {
            Err(Violation::WritesUnaccounted {
                versions_total,
                global_seq,
            })
        }
    }
}

impl Subject for Passes {
    type Store = Chained;

    fn new_store(&self) -> Chained {
        Chained::default()
    }

    fn from_parts(&self, entries: BTreeMap<String, Entry>, global_seq: u64) -> Chained {
        Chained {
            entries,
            global_seq,
        }
    }

    fn apply(&self, store: &mut Chained, command: &Command) -> Response {
        store.apply(command.clone())
    }

    fn render(&self, response: &Response) -> String {
        match response {
            Response::Value { value, version } => [
                "VALUE ".to_owned(),
                format!("{value:?}"),
                format!(" v{version}"),
            ]
            .concat(),
            Response::NotFound => String::from("NOT_FOUND"),
            Response::Stored { version, seq } => format!("STORED v{} @{}", version, seq),
            Response::Deleted { version, seq } => format!("DELETED v{} @{}", version, seq),
        }
    }

    fn view(&self, store: &Chained) -> reference::Store {
        reference::Store::from_parts(store.entries.clone(), store.global_seq)
    }

    fn check_invariants(&self, store: &Chained) -> Result<(), Violation> {
        store.check()
    }

    fn replay(&self, log: &[Command]) -> (Chained, Vec<Response>) {
        let mut store = Chained::default();
        let mut responses = Vec::with_capacity(log.len());
        for command in log {
            responses.push(store.apply(command.clone()));
        }
        (store, responses)
    }
}
