//! Lesson 01: the state machine at the heart of the store.
//!
//! Your task: fill in the six functions that end in `todo!()`, in order (steps 1 to
//! 6). Everything else (the types, the constructors, `apply` itself) is given. The
//! book's chapter "Lesson 01: the state machine" walks through every step, and
//! `just check lesson01` grades your work and says what to fix next.
//!
//! Each doc comment below is a contract: what the function must do and what must stay
//! true. How to get there is yours to work out; `just hint lesson01` gives one hint
//! at a time when you are stuck, each closer to the code than the last.
//!
//! Every change goes through [`Store::apply`], one [`Command`] at a time. Each
//! mutation takes the next number of one global sequence, so the whole history of the
//! store is a single ordered log, and replaying that log rebuilds the same state.

// The stubs below ignore their arguments until you write them, and the helper
// `next_seq` has no caller until your steps call it; without this line the compiler's
// warnings about them would bury the errors that matter.
#![allow(unused_variables, dead_code)]

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
    /// Step 4. Prints a response exactly as the transcript shows it, on one line and
    /// with nothing around it:
    ///
    /// | response                              | printed as             |
    /// |---------------------------------------|------------------------|
    /// | `Value { value: "red", version: 3 }`  | `VALUE "red" v3`       |
    /// | `NotFound`                            | `NOT_FOUND`            |
    /// | `Stored { version: 2, seq: 7 }`       | `STORED v2 @7`         |
    /// | `Deleted { version: 3, seq: 9 }`      | `DELETED v3 @9`        |
    ///
    /// Any value must stay readable and unambiguous: it is printed in double quotes,
    /// with quotes and other special characters inside it escaped the way Rust's
    /// debug output of a string escapes them, so an empty value prints as `""`.
    /// Book: "Step 4: print responses".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("step 4: Display for Response")
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
    /// Step 1. Reads `key`. A read is never a write: the store, its entries and its
    /// global sequence are exactly the same afterwards.
    ///
    /// - A live key answers `Response::Value` with the key's current value and
    ///   version.
    /// - A key that was never written, or whose entry is a tombstone, answers
    ///   `Response::NotFound`.
    /// - The response owns what it carries: it borrows nothing from the store.
    ///
    /// Book: "Step 1: read with get".
    pub fn get(&self, key: &str) -> Response {
        todo!("step 1: Store::get")
    }
    // ANCHOR_END: get

    // ANCHOR: set
    /// Step 2. Writes `value` under `key`. A SET is always a write, and every write
    /// keeps these rules:
    ///
    /// - It has exactly one number of its own from the global sequence, one more than
    ///   the last write's (the first write of a store is number 1); afterwards
    ///   [`Store::global_seq`] is that number.
    /// - The key's version goes up by exactly one: 1 for a key never written, the
    ///   old version plus one for any key with an entry, *including* a tombstone.
    /// - Afterwards the key's entry is live with `value`, the new version and this
    ///   write's number; no other key's entry changes.
    /// - It answers `Response::Stored` with that version and that number.
    ///
    /// Book: "Step 2: write with set".
    fn set(&mut self, key: String, value: String) -> Response {
        todo!("step 2: Store::set")
    }
    // ANCHOR_END: set

    // ANCHOR: del
    /// Step 3. Deletes `key`. What counts as a write decides everything here:
    ///
    /// - The DEL of a key with no live value (never written, or already a tombstone)
    ///   is *not* a write: the store is exactly the same afterwards, global sequence
    ///   included, and it answers `Response::NotFound`.
    /// - The DEL of a live key is a write, under the same rules as a SET (one new
    ///   number of its own, the key's version up by one, no other entry touched).
    ///   The key keeps an entry: a tombstone (`value: None`) carrying the new version
    ///   and this write's number. It answers `Response::Deleted` with those two.
    ///
    /// Book: "Step 3: delete with del".
    fn del(&mut self, key: String) -> Response {
        todo!("step 3: Store::del")
    }
    // ANCHOR_END: del

    /// Takes the next number of the global sequence: one per write, never reused.
    fn next_seq(&mut self) -> u64 {
        self.global_seq += 1;
        self.global_seq
    }

    // ANCHOR: check_invariants
    /// Step 5. Judges any state, however it was built: `Ok(())` exactly when it keeps
    /// the four invariants every state reachable through `apply` keeps, and
    /// otherwise `Err` with the [`Violation`] of a rule it breaks:
    ///
    /// 1. no entry's `seq` is beyond `global_seq` (`SeqFromTheFuture`);
    /// 2. no entry's `version` is 0 or greater than its own `seq` (`ImpossibleVersion`);
    /// 3. no two entries share a `seq` (`DuplicateSeq`);
    /// 4. the versions of all entries add up to `global_seq` (`WritesUnaccounted`).
    ///
    /// What must stay true of the answer:
    ///
    /// - Tombstones are entries: every rule applies to them, and their versions count.
    /// - The violation carries the numbers and keys exactly as the state has them:
    ///   for rule 3, `first` is the key that comes earlier in key order and `second`
    ///   the later one; for rule 4, `versions_total` is the sum over every entry.
    /// - When several rules are broken, any one of them may be reported: the order in
    ///   which you test the rules is yours. But it must be one the state really
    ///   breaks, with the keys and numbers of that one entry, pair or sum.
    /// - Valid states include an empty store, a store of tombstones only, and numbers
    ///   as large as `u64::MAX`; none of them is an error.
    ///
    /// The state is only read. Build states of your own for tests with
    /// [`Store::from_parts`]. Book: "Step 5: check the invariants".
    pub fn check_invariants(&self) -> Result<(), Violation> {
        todo!("step 5: Store::check_invariants")
    }
    // ANCHOR_END: check_invariants
}

// ANCHOR: replay
/// Step 6. The store that applying `log` to a new store reaches, and the responses
/// on the way: one per command, in log order, each the very response `apply` gives
/// for that command at that point of the log.
///
/// Nothing but the log decides the outcome: replaying the same log again, in the
/// same program or another, gives an equal store and equal responses. The log is
/// only borrowed and stays as it was. Book: "Step 6: replay the log".
pub fn replay(log: &[Command]) -> (Store, Vec<Response>) {
    todo!("step 6: replay")
}
// ANCHOR_END: replay
