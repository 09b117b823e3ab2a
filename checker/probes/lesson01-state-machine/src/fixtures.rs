//! Deliberately broken implementations of lesson 01, one bug each.
//!
//! [`Learner`] is lesson 01 written out the way the stub asks for it, and each
//! [`Bug`] changes it at the one line where a learner makes that mistake, so a
//! fixture fails for the reason a learner's crate would. The checker's tests assert
//! that every fixture is rejected by the criterion named next to it, so each
//! criterion is shown to be able to fail, and fail for more than one reason.

use std::collections::{BTreeMap, HashMap};

use probe_kit::{Fixture, Probe};
use reference::{Command, Entry, Response, Violation};

use crate::{Subject, criteria};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    // Display (transcript).
    /// `Display` prints `NOTFOUND` instead of `NOT_FOUND`.
    TranscriptSlip,
    /// `Display` quotes the value by hand (`"\"{value}\""`), so a value with a quote
    /// in it is not escaped.
    QuotesByHand,
    /// `Display` prints `DELETED v2`, without the sequence number.
    DeletedWithoutSeq,

    // get, set, del (versions-sequence).
    /// SET over an existing key keeps the old version (`e.version`, no `+ 1`).
    VersionNotBumped,
    /// GET takes a sequence number, as if reads were writes.
    SeqBumpedOnGet,
    /// DEL takes its sequence number before it knows the key is live.
    SeqBumpedOnMissingDel,
    /// SET computes the version with `lookup`, which hides tombstones, so a key set
    /// after a delete starts again at version 1.
    VersionFromLookup,
    /// DEL finds the key with `entries.get`, so deleting a tombstone is a write.
    DelOfTombstoneIsAWrite,
    /// SET stores the sequence number as the version.
    VersionIsSeq,
    /// GET finds the key with `entries.get` and answers a tombstone as `""`.
    GetSeesTombstones,

    // The invariants after every step (invariants-hold).
    /// An overwrite updates the entry in place and forgets its `seq`.
    StaleEntrySeq,
    /// DEL removes the entry instead of leaving a tombstone.
    DelRemovesEntry,
    /// SET calls `next_seq` twice: once for the entry, once for the response.
    SeqTakenTwice,

    // check_invariants (invariants-check).
    /// `check_invariants` always answers Ok.
    CheckAlwaysOk,
    /// `check_invariants` forgets to look for two entries with one seq.
    CheckMissesDuplicateSeq,
    /// `check_invariants` adds up the versions of live entries only.
    CheckIgnoresTombstones,
    /// Rule 3 compares each entry's seq with its neighbour's in key order only.
    CheckNeighboursOnly,
    /// Rules 1 to 3 skip tombstones (the sum still counts them).
    CheckLiveEntriesOnly,
    /// Rule 3 remembers the seqs of live entries only.
    CheckDuplicatesAmongLiveOnly,
    /// Rule 1 looks at live entries only.
    CheckFutureOnLiveOnly,
    /// Rule 2 tests `version > seq` and forgets `version == 0`.
    CheckVersionZeroMissed,
    /// Rule 2 compares the version with `global_seq` instead of the entry's seq.
    CheckVersionAgainstGlobal,
    /// Rule 4 compares the sum with the newest entry's seq, not with `global_seq`.
    CheckSumAgainstNewestSeq,
    /// Rule 1 looks only at the entry with the largest seq, found with
    /// `max_by_key(..).unwrap()`, which panics on an empty store.
    CheckFutureViaNewestEntry,
    /// Rule 1 in two looks: the largest seq against the global sequence, then the
    /// first key past it for the report, with the largest seq beside it. Right
    /// when one entry is past; two past give a key and a seq of different entries.
    CheckFutureKeyAndSeqApart,
    /// Rule 4 is tested inside the loop, reporting the running total.
    CheckSumInsideLoop,
    /// Rule 1 uses `>=`, so the newest write's entry is "from the future".
    CheckSeqOffByOne,

    // replay.
    /// `replay` groups the log by key in a HashMap and applies key by key.
    ReplayInHashMapOrder,
    /// `replay` leaves out the GETs ("they change nothing") and their responses.
    ReplaySkipsGets,
    /// `replay` keeps only the last command of each key ("only the end state
    /// matters"), in key order.
    ReplayLastCommandPerKey,
}

macro_rules! fixtures {
    ($($name:literal => $bug:ident, $criterion:ident;)*) => {
        pub const FIXTURES: &[Fixture] = &[
            $(Fixture {
                name: $name,
                rejected_by: &criteria::$criterion,
                make: || broken(Bug::$bug),
            },)*
        ];
    };
}

fixtures! {
    "transcript-slip" => TranscriptSlip, TRANSCRIPT;
    "display-quotes-by-hand" => QuotesByHand, TRANSCRIPT;
    "display-deleted-without-seq" => DeletedWithoutSeq, TRANSCRIPT;
    "version-not-bumped" => VersionNotBumped, VERSIONS_SEQUENCE;
    "seq-bumped-on-get" => SeqBumpedOnGet, VERSIONS_SEQUENCE;
    "seq-bumped-on-missing-del" => SeqBumpedOnMissingDel, VERSIONS_SEQUENCE;
    "version-from-lookup" => VersionFromLookup, VERSIONS_SEQUENCE;
    "del-of-tombstone-is-a-write" => DelOfTombstoneIsAWrite, VERSIONS_SEQUENCE;
    "version-is-seq" => VersionIsSeq, VERSIONS_SEQUENCE;
    "get-sees-tombstones" => GetSeesTombstones, VERSIONS_SEQUENCE;
    "stale-entry-seq" => StaleEntrySeq, INVARIANTS_HOLD;
    "del-removes-entry" => DelRemovesEntry, INVARIANTS_HOLD;
    "seq-taken-twice" => SeqTakenTwice, INVARIANTS_HOLD;
    "check-always-ok" => CheckAlwaysOk, INVARIANTS_CHECK;
    "check-misses-duplicate-seq" => CheckMissesDuplicateSeq, INVARIANTS_CHECK;
    "check-ignores-tombstones" => CheckIgnoresTombstones, INVARIANTS_CHECK;
    "check-neighbours-only" => CheckNeighboursOnly, INVARIANTS_CHECK;
    "check-live-entries-only" => CheckLiveEntriesOnly, INVARIANTS_CHECK;
    "check-duplicates-among-live-only" => CheckDuplicatesAmongLiveOnly, INVARIANTS_CHECK;
    "check-future-on-live-only" => CheckFutureOnLiveOnly, INVARIANTS_CHECK;
    "check-version-zero-missed" => CheckVersionZeroMissed, INVARIANTS_CHECK;
    "check-version-against-global" => CheckVersionAgainstGlobal, INVARIANTS_CHECK;
    "check-sum-against-newest-seq" => CheckSumAgainstNewestSeq, INVARIANTS_CHECK;
    "check-future-via-newest-entry" => CheckFutureViaNewestEntry, INVARIANTS_CHECK;
    "check-future-key-and-seq-apart" => CheckFutureKeyAndSeqApart, INVARIANTS_CHECK;
    "check-sum-inside-loop" => CheckSumInsideLoop, INVARIANTS_CHECK;
    "check-seq-off-by-one" => CheckSeqOffByOne, INVARIANTS_CHECK;
    "replay-in-hashmap-order" => ReplayInHashMapOrder, REPLAY;
    "replay-skips-gets" => ReplaySkipsGets, REPLAY;
    "replay-last-command-per-key" => ReplayLastCommandPerKey, REPLAY;
}

fn broken(bug: Bug) -> Box<dyn Probe> {
    crate::probe(Broken(bug))
}

/// Lesson 01 with one bug planted in it.
pub struct Broken(pub Bug);

/// The store as a learner writes it, following the stub step by step.
#[derive(Debug, Clone)]
pub struct Learner {
    bug: Bug,
    entries: BTreeMap<String, Entry>,
    global_seq: u64,
}

impl Learner {
    fn new(bug: Bug) -> Self {
        Learner {
            bug,
            entries: BTreeMap::new(),
            global_seq: 0,
        }
    }

    fn lookup(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key).filter(|entry| entry.is_live())
    }

    /// Given by the stub.
    fn apply(&mut self, command: Command) -> Response {
        match command {
            Command::Get { key } => {
                if self.bug == Bug::SeqBumpedOnGet {
                    self.next_seq();
                }
                self.get(&key)
            }
            Command::Set { key, value } => self.set(key, value),
            Command::Del { key } => self.del(key),
        }
    }

    fn get(&self, key: &str) -> Response {
        if self.bug == Bug::GetSeesTombstones {
            return match self.entries.get(key) {
                Some(entry) => Response::Value {
                    value: entry.value.clone().unwrap_or_default(),
                    version: entry.version,
                },
                None => Response::NotFound,
            };
        }
        match self.lookup(key) {
            Some(entry) => Response::Value {
                value: entry.value.clone().unwrap_or_default(),
                version: entry.version,
            },
            None => Response::NotFound,
        }
    }

    fn set(&mut self, key: String, value: String) -> Response {
        let seq = self.next_seq();
        if self.bug == Bug::StaleEntrySeq
            && let Some(entry) = self.entries.get_mut(&key)
        {
            entry.value = Some(value);
            entry.version += 1;
            return Response::Stored {
                version: entry.version,
                seq: entry.seq,
            };
        }
        let version = match self.bug {
            Bug::VersionNotBumped => self.entries.get(&key).map_or(1, |e| e.version),
            Bug::VersionFromLookup => self.lookup(&key).map_or(1, |e| e.version + 1),
            Bug::VersionIsSeq => seq,
            _ => self.entries.get(&key).map_or(1, |e| e.version + 1),
        };
        self.entries.insert(
            key,
            Entry {
                value: Some(value),
                version,
                seq,
            },
        );
        let seq = if self.bug == Bug::SeqTakenTwice {
            self.next_seq()
        } else {
            seq
        };
        Response::Stored { version, seq }
    }

    fn del(&mut self, key: String) -> Response {
        let early_seq = (self.bug == Bug::SeqBumpedOnMissingDel).then(|| self.next_seq());
        let found = if self.bug == Bug::DelOfTombstoneIsAWrite {
            self.entries.get(&key)
        } else {
            self.lookup(&key)
        };
        let Some(entry) = found else {
            return Response::NotFound;
        };
        let version = entry.version + 1;
        let seq = early_seq.unwrap_or_else(|| self.next_seq());
        if self.bug == Bug::DelRemovesEntry {
            self.entries.remove(&key);
        } else {
            self.entries.insert(
                key,
                Entry {
                    value: None,
                    version,
                    seq,
                },
            );
        }
        Response::Deleted { version, seq }
    }

    fn next_seq(&mut self) -> u64 {
        self.global_seq += 1;
        self.global_seq
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        match self.bug {
            Bug::CheckAlwaysOk => Ok(()),
            Bug::CheckFutureViaNewestEntry => check_via_newest(self),
            Bug::CheckFutureKeyAndSeqApart => check_future_apart(self),
            _ => check_in_one_pass(self),
        }
    }
}

/// The stub's single pass over the entries, with the bugs that live inside it.
fn check_in_one_pass(store: &Learner) -> Result<(), Violation> {
    let bug = store.bug;
    let global_seq = store.global_seq;
    let mut owner_of_seq: HashMap<u64, &str> = HashMap::new();
    let mut previous: Option<(&str, u64)> = None;
    let mut versions_total = 0;
    for (key, entry) in &store.entries {
        let skip_rules = bug == Bug::CheckLiveEntriesOnly && !entry.is_live();
        if !skip_rules {
            let from_the_future = match bug {
                Bug::CheckSeqOffByOne => entry.seq >= global_seq,
                Bug::CheckFutureOnLiveOnly => entry.is_live() && entry.seq > global_seq,
                // Done once, before the loop, on the newest entry.
                Bug::CheckFutureViaNewestEntry => false,
                _ => entry.seq > global_seq,
            };
            if from_the_future {
                return Err(Violation::SeqFromTheFuture {
                    key: key.clone(),
                    seq: entry.seq,
                    global_seq,
                });
            }
            let impossible = match bug {
                Bug::CheckVersionZeroMissed => entry.version > entry.seq,
                Bug::CheckVersionAgainstGlobal => entry.version == 0 || entry.version > global_seq,
                _ => entry.version == 0 || entry.version > entry.seq,
            };
            if impossible {
                return Err(Violation::ImpossibleVersion {
                    key: key.clone(),
                    version: entry.version,
                    seq: entry.seq,
                });
            }
            match bug {
                Bug::CheckMissesDuplicateSeq => {}
                Bug::CheckDuplicatesAmongLiveOnly if !entry.is_live() => {}
                Bug::CheckNeighboursOnly => {
                    if let Some((first, seq)) = previous
                        && seq == entry.seq
                    {
                        return Err(Violation::DuplicateSeq {
                            seq,
                            first: first.to_owned(),
                            second: key.clone(),
                        });
                    }
                    previous = Some((key, entry.seq));
                }
                _ => {
                    if let Some(first) = owner_of_seq.insert(entry.seq, key) {
                        return Err(Violation::DuplicateSeq {
                            seq: entry.seq,
                            first: first.to_owned(),
                            second: key.clone(),
                        });
                    }
                }
            }
        }
        if bug != Bug::CheckIgnoresTombstones || entry.is_live() {
            versions_total += entry.version;
        }
        if bug == Bug::CheckSumInsideLoop && versions_total > global_seq {
            return Err(Violation::WritesUnaccounted {
                versions_total,
                global_seq,
            });
        }
    }
    let accounted_for = if bug == Bug::CheckSumAgainstNewestSeq {
        store.entries.values().map(|e| e.seq).max().unwrap_or(0)
    } else {
        global_seq
    };
    if versions_total != accounted_for {
        return Err(Violation::WritesUnaccounted {
            versions_total,
            global_seq,
        });
    }
    Ok(())
}

/// Rule 1 through the newest entry alone: right whenever there is one.
fn check_via_newest(store: &Learner) -> Result<(), Violation> {
    let (key, newest) = store.entries.iter().max_by_key(|(_, e)| e.seq).unwrap();
    if newest.seq > store.global_seq {
        return Err(Violation::SeqFromTheFuture {
            key: key.clone(),
            seq: newest.seq,
            global_seq: store.global_seq,
        });
    }
    check_in_one_pass(store)
}

/// Rule 1 from the largest seq, and the key from a search of its own.
fn check_future_apart(store: &Learner) -> Result<(), Violation> {
    let global_seq = store.global_seq;
    let largest = store.entries.values().map(|e| e.seq).max().unwrap_or(0);
    if largest > global_seq {
        let (key, _) = store
            .entries
            .iter()
            .find(|(_, e)| e.seq > global_seq)
            .expect("the largest seq is past the global sequence");
        return Err(Violation::SeqFromTheFuture {
            key: key.clone(),
            seq: largest,
            global_seq,
        });
    }
    check_in_one_pass(store)
}

/// The learner's `Display for Response`.
fn render(bug: Bug, response: &Response) -> String {
    match response {
        Response::Value { value, version } if bug == Bug::QuotesByHand => {
            format!("VALUE \"{value}\" v{version}")
        }
        Response::Value { value, version } => format!("VALUE {value:?} v{version}"),
        Response::NotFound if bug == Bug::TranscriptSlip => "NOTFOUND".into(),
        Response::NotFound => "NOT_FOUND".into(),
        Response::Stored { version, seq } => format!("STORED v{version} @{seq}"),
        Response::Deleted { version, .. } if bug == Bug::DeletedWithoutSeq => {
            format!("DELETED v{version}")
        }
        Response::Deleted { version, seq } => format!("DELETED v{version} @{seq}"),
    }
}

fn replay(bug: Bug, log: &[Command]) -> (Learner, Vec<Response>) {
    let order: Vec<&Command> = match bug {
        Bug::ReplayInHashMapOrder => {
            let mut by_key: HashMap<&str, Vec<&Command>> = HashMap::new();
            for command in log {
                by_key.entry(key_of(command)).or_default().push(command);
            }
            by_key.into_values().flatten().collect()
        }
        Bug::ReplaySkipsGets => log
            .iter()
            .filter(|c| !matches!(c, Command::Get { .. }))
            .collect(),
        Bug::ReplayLastCommandPerKey => {
            let last: BTreeMap<&str, &Command> = log.iter().map(|c| (key_of(c), c)).collect();
            last.into_values().collect()
        }
        _ => log.iter().collect(),
    };
    let mut store = Learner::new(bug);
    let responses = order.into_iter().map(|c| store.apply(c.clone())).collect();
    (store, responses)
}

fn key_of(command: &Command) -> &str {
    match command {
        Command::Get { key } | Command::Set { key, .. } | Command::Del { key } => key,
    }
}

impl Subject for Broken {
    type Store = Learner;

    fn new_store(&self) -> Learner {
        Learner::new(self.0)
    }

    fn from_parts(&self, entries: BTreeMap<String, Entry>, global_seq: u64) -> Learner {
        Learner {
            bug: self.0,
            entries,
            global_seq,
        }
    }

    fn apply(&self, store: &mut Learner, command: &Command) -> Response {
        store.apply(command.clone())
    }

    fn render(&self, response: &Response) -> String {
        render(self.0, response)
    }

    fn view(&self, store: &Learner) -> reference::Store {
        reference::Store::from_parts(store.entries.clone(), store.global_seq)
    }

    fn check_invariants(&self, store: &Learner) -> Result<(), Violation> {
        store.check_invariants()
    }

    fn replay(&self, log: &[Command]) -> (Learner, Vec<Response>) {
        replay(self.0, log)
    }
}
