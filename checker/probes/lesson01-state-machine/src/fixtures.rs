//! Deliberately broken implementations of lesson 01, one bug each.
//!
//! Each bug is a mistake a learner plausibly makes, planted into an otherwise
//! correct store. The checker's tests assert that every fixture is rejected by the
//! criterion named next to it, so each criterion is shown to be able to fail.

use std::collections::{BTreeMap, HashMap};

use probe_kit::{Fixture, Probe};
use reference::{Command, Entry, Response, Store, Violation};

use crate::{criteria, Subject};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// SET over a live key keeps the old version.
    VersionNotBumped,
    /// GET takes a sequence number, as if reads were writes.
    SeqBumpedOnGet,
    /// DEL of a key that is not there still takes a sequence number.
    SeqBumpedOnMissingDel,
    /// An overwrite keeps the entry's old seq instead of the write's new one.
    StaleEntrySeq,
    /// `check_invariants` always answers Ok.
    CheckAlwaysOk,
    /// `check_invariants` forgets to look for two entries with one seq.
    CheckMissesDuplicateSeq,
    /// `check_invariants` adds up the versions of live entries only.
    CheckIgnoresTombstones,
    /// `replay` groups the log by key in a HashMap and applies key by key.
    ReplayInHashMapOrder,
    /// `Display` prints `NOTFOUND` instead of `NOT_FOUND`.
    TranscriptSlip,
}

pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "version-not-bumped",
        rejected_by: &criteria::VERSIONS_SEQUENCE,
        make: || broken(Bug::VersionNotBumped),
    },
    Fixture {
        name: "seq-bumped-on-get",
        rejected_by: &criteria::VERSIONS_SEQUENCE,
        make: || broken(Bug::SeqBumpedOnGet),
    },
    Fixture {
        name: "seq-bumped-on-missing-del",
        rejected_by: &criteria::VERSIONS_SEQUENCE,
        make: || broken(Bug::SeqBumpedOnMissingDel),
    },
    Fixture {
        name: "stale-entry-seq",
        rejected_by: &criteria::INVARIANTS_HOLD,
        make: || broken(Bug::StaleEntrySeq),
    },
    Fixture {
        name: "check-always-ok",
        rejected_by: &criteria::INVARIANTS_CHECK,
        make: || broken(Bug::CheckAlwaysOk),
    },
    Fixture {
        name: "check-misses-duplicate-seq",
        rejected_by: &criteria::INVARIANTS_CHECK,
        make: || broken(Bug::CheckMissesDuplicateSeq),
    },
    Fixture {
        name: "check-ignores-tombstones",
        rejected_by: &criteria::INVARIANTS_CHECK,
        make: || broken(Bug::CheckIgnoresTombstones),
    },
    Fixture {
        name: "replay-in-hashmap-order",
        rejected_by: &criteria::REPLAY,
        make: || broken(Bug::ReplayInHashMapOrder),
    },
    Fixture {
        name: "transcript-slip",
        rejected_by: &criteria::TRANSCRIPT,
        make: || broken(Bug::TranscriptSlip),
    },
];

fn broken(bug: Bug) -> Box<dyn Probe> {
    crate::probe(Broken(bug))
}

/// The reference store with one bug planted around it.
pub struct Broken(pub Bug);

/// Rewrites a store's parts; the fixtures' way to plant a wrong state.
fn edit(store: &mut Store, change: impl FnOnce(&mut BTreeMap<String, Entry>, &mut u64)) {
    let (mut entries, mut global_seq) = (store.entries().clone(), store.global_seq());
    change(&mut entries, &mut global_seq);
    *store = Store::from_parts(entries, global_seq);
}

impl Subject for Broken {
    type Store = Store;

    fn new_store(&self) -> Store {
        Store::new()
    }

    fn from_parts(&self, entries: BTreeMap<String, Entry>, global_seq: u64) -> Store {
        Store::from_parts(entries, global_seq)
    }

    fn apply(&self, store: &mut Store, command: &Command) -> Response {
        let before = store.entries().get(command_key(command)).cloned();
        let response = store.apply(command.clone());
        match (self.0, command, &response) {
            (Bug::VersionNotBumped, Command::Set { key, .. }, Response::Stored { seq, .. }) => {
                match before.filter(Entry::is_live) {
                    Some(old) => {
                        edit(store, |e, _| e.get_mut(key).unwrap().version = old.version);
                        Response::Stored {
                            version: old.version,
                            seq: *seq,
                        }
                    }
                    None => response,
                }
            }
            (Bug::SeqBumpedOnGet, Command::Get { .. }, _) => {
                edit(store, |_, g| *g += 1);
                response
            }
            (Bug::SeqBumpedOnMissingDel, Command::Del { .. }, Response::NotFound) => {
                edit(store, |_, g| *g += 1);
                response
            }
            (Bug::StaleEntrySeq, Command::Set { key, .. }, Response::Stored { version, .. }) => {
                match before {
                    Some(old) => {
                        edit(store, |e, _| e.get_mut(key).unwrap().seq = old.seq);
                        Response::Stored {
                            version: *version,
                            seq: old.seq,
                        }
                    }
                    None => response,
                }
            }
            _ => response,
        }
    }

    fn render(&self, response: &Response) -> String {
        match (self.0, response) {
            (Bug::TranscriptSlip, Response::NotFound) => "NOTFOUND".into(),
            _ => response.to_string(),
        }
    }

    fn view(&self, store: &Store) -> Store {
        store.clone()
    }

    fn check_invariants(&self, store: &Store) -> Result<(), Violation> {
        match self.0 {
            Bug::CheckAlwaysOk => Ok(()),
            Bug::CheckMissesDuplicateSeq => match store.check_invariants() {
                Err(Violation::DuplicateSeq { .. }) => Ok(()),
                other => other,
            },
            Bug::CheckIgnoresTombstones => {
                let live: BTreeMap<String, Entry> = store
                    .entries()
                    .iter()
                    .filter(|(_, e)| e.is_live())
                    .map(|(k, e)| (k.clone(), e.clone()))
                    .collect();
                let versions_total = live.values().map(|e| e.version).sum();
                match Store::from_parts(live, versions_total).check_invariants() {
                    Ok(()) if versions_total != store.global_seq() => {
                        Err(Violation::WritesUnaccounted {
                            versions_total,
                            global_seq: store.global_seq(),
                        })
                    }
                    other => other,
                }
            }
            _ => store.check_invariants(),
        }
    }

    fn replay(&self, log: &[Command]) -> (Store, Vec<Response>) {
        // Every fixture replays through its own `apply`, so its planted bug shows in
        // replay exactly as it would in a learner's crate.
        let mut order: Vec<&Command> = log.iter().collect();
        if self.0 == Bug::ReplayInHashMapOrder {
            let mut by_key: HashMap<&str, Vec<&Command>> = HashMap::new();
            for command in log {
                by_key
                    .entry(command_key(command))
                    .or_default()
                    .push(command);
            }
            order = by_key.into_values().flatten().collect();
        }
        let mut store = Store::new();
        let responses = order
            .into_iter()
            .map(|c| self.apply(&mut store, c))
            .collect();
        (store, responses)
    }
}

fn command_key(command: &Command) -> &str {
    match command {
        Command::Get { key } | Command::Set { key, .. } | Command::Del { key } => key,
    }
}
