//! Lesson 04: the concurrency policy.
//!
//! Your task: design the store (which locks, what each guards, in which order they
//! are taken: the fields of [`Store`] are yours), write the functions, each to the
//! contract its doc comment states (step 6 is `decode` in `format.rs`), then say in
//! `POLICY.md` what you chose and why (step 8). The types, the traits, `validate`, the
//! snapshot format, the file helpers and the [`Disk`] are given. The book's chapter
//! "Lesson 04: the concurrency policy" weighs the designs, `just hint lesson04` gives
//! a hint at a time, and `just check lesson04` grades your work and says what to fix
//! next.
//!
//! A store that many threads use at once, with a written policy and code that keeps it:
//!
//! - **one writer at a time.** Every write is validated, numbered and handed to the
//!   [`WriteHook`] before it takes effect, one write after another, so the writes form
//!   one ordered log;
//! - **shared reads.** Readers run side by side, and wait at most for the short moment
//!   a write changes the state, never for a writer's slow hook;
//! - **snapshots outside the lock.** A snapshot is one moment of the state, and no
//!   lock a writer or a reader needs is held while it is encoded or goes to disk;
//!   restoring refuses any file that is not exactly what was written.
//!
//! The policy itself, and why it is right, is in `POLICY.md` ([`POLICY`]).

// The stubs below (here and in `format.rs`) ignore their arguments until you write
// them, `write_snapshot` declares `mut out` for the writing you will add, and the
// imports wait for the fields you will choose; without this line the compiler's
// warnings about them would bury the errors that matter.
#![allow(unused_variables, unused_mut, unused_imports, dead_code)]

mod format;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

pub use format::{HEADER_LEN, MAGIC, SnapshotError, crc32, decode, encode, parse_body};
pub use state::{Command, Entry, Response};

/// The written policy, compiled in so that the checker reads the very file you wrote.
pub const POLICY: &str = include_str!("../POLICY.md");

// ANCHOR: state_machine
/// What the store needs from the state it guards. Lesson 01's `Store` is the state
/// the course uses; the checker plugs in one that can pause, to watch your locks work.
pub trait StateMachine: Clone + Send + Sync {
    /// The state, for reading.
    fn view(&self) -> &state::Store;
    /// Applies one write: the only way the state changes.
    fn apply(&mut self, command: Command) -> Response;
    /// Wraps a state loaded from a snapshot.
    fn from_store(store: state::Store) -> Self;
}

impl StateMachine for state::Store {
    fn view(&self) -> &state::Store {
        self
    }

    fn apply(&mut self, command: Command) -> Response {
        state::Store::apply(self, command)
    }

    fn from_store(store: state::Store) -> Self {
        store
    }
}
// ANCHOR_END: state_machine

// ANCHOR: write_hook
/// Hears about every write, in order. The write-ahead log of a later lesson plugs in
/// here: a write it has not recorded must not take effect.
pub trait WriteHook: Send {
    /// Called inside the turnstile for every write, once it has its sequence number and
    /// before it changes the state. Calls come one at a time, in sequence order.
    fn on_write(&mut self, seq: u64, command: &Command);

    /// Called after a snapshot up to `seq` is safely in its file: what the log holds up
    /// to `seq` is no longer needed to recover.
    fn on_snapshot_saved(&mut self, seq: u64) {
        let _ = seq;
    }
}

/// The hook of a store that needs none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHook;

impl WriteHook for NoHook {
    fn on_write(&mut self, _seq: u64, _command: &Command) {}
}
// ANCHOR_END: write_hook

// ANCHOR: read
/// What a read returns: the key's live entry (value, version and the sequence number
/// of the write that produced it) in the state after writes 1 to `as_of`, and no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub entry: Option<Entry>,
    pub as_of: u64,
}
// ANCHOR_END: read

// ANCHOR: write_error
/// Why a write was refused. A refused write takes no sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// GET is a read: it goes through [`Store::get`].
    NotAWrite,
    EmptyKey,
    KeyTooLong {
        len: usize,
    },
    ValueTooLong {
        len: usize,
    },
}
// ANCHOR_END: write_error

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::NotAWrite => write!(f, "GET is not a write; use get()"),
            WriteError::EmptyKey => write!(f, "the key is empty"),
            WriteError::KeyTooLong { len } => {
                write!(
                    f,
                    "the key is {len} bytes long; at most {MAX_KEY_LEN} are allowed"
                )
            }
            WriteError::ValueTooLong { len } => {
                write!(
                    f,
                    "the value is {len} bytes long; at most {MAX_VALUE_LEN} are allowed"
                )
            }
        }
    }
}

impl std::error::Error for WriteError {}

pub const MAX_KEY_LEN: usize = 256;
pub const MAX_VALUE_LEN: usize = 64 * 1024;

// ANCHOR: validate
/// The checks a write passes before it may take a number. They look at the command
/// alone, never at the state, so they need no lock.
pub fn validate(command: &Command) -> Result<(), WriteError> {
    let (key, value) = match command {
        Command::Get { .. } => return Err(WriteError::NotAWrite),
        Command::Set { key, value } => (key, Some(value)),
        Command::Del { key } => (key, None),
    };
    if key.is_empty() {
        return Err(WriteError::EmptyKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(WriteError::KeyTooLong { len: key.len() });
    }
    match value {
        Some(value) if value.len() > MAX_VALUE_LEN => {
            Err(WriteError::ValueTooLong { len: value.len() })
        }
        _ => Ok(()),
    }
}
// ANCHOR_END: validate

/// What a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The sequence number of the last write in the snapshot.
    pub seq: u64,
    /// Entries, tombstones included.
    pub entries: usize,
    /// The size of the snapshot file.
    pub bytes: u64,
}

// ANCHOR: store
/// The store: one writer at a time, readers side by side.
///
/// Its fields are your design: which locks (parking_lot's `Mutex` and `RwLock` are
/// imported; std's work too), what each one guards (the state `S`, the hook `H`, the
/// disk `D`), and in which order a path that needs two takes them. The book's
/// "Designing the store" weighs the choices; `POLICY.md` says which you made.
pub struct Store<S = state::Store, H = NoHook, D = OsDisk> {
    /// Replace with your fields.
    design: std::marker::PhantomData<(S, H, D)>,
}
// ANCHOR_END: store

impl Store {
    /// An empty store with lesson 01's state and no hook.
    pub fn new() -> Self {
        Store::from_parts(state::Store::new(), NoHook, OsDisk)
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl<S: StateMachine, H: WriteHook, D: Disk> Store<S, H, D> {
    /// A store over `state` (its `global_seq` is the number of the last write), which
    /// hands every write to `hook` and puts its snapshots on `disk`.
    pub fn from_parts(state: S, hook: H, disk: D) -> Self {
        todo!("step 0: Store::from_parts, the fields you chose")
    }

    pub fn set(&self, key: &str, value: &str) -> Result<Response, WriteError> {
        self.write(Command::set(key, value))
    }

    pub fn del(&self, key: &str) -> Result<Response, WriteError> {
        self.write(Command::del(key))
    }

    // ANCHOR: write
    /// Step 1. Every write goes through here. The contract:
    ///
    /// - a command `validate` refuses changes nothing and takes no number;
    /// - a DEL of a key with no live value answers `Ok(Response::NotFound)`, takes no
    ///   number and never reaches the hook;
    /// - every other write takes the next number: 1, 2, 3, ..., none skipped or given
    ///   twice, in the order the writes take effect;
    /// - the hook hears it, `on_write(seq, &command)`, before it changes the state,
    ///   one write at a time, in sequence order; the write then applies at once (no
    ///   other write between the hook call and its apply) and answers the response
    ///   whose `seq` is its number;
    /// - the hook is slow (a log append and its fsync, later): readers do not wait for
    ///   it, and no lock a reader needs is held while it runs.
    ///
    /// Book: "Step 1: the turnstile".
    pub fn write(&self, command: Command) -> Result<Response, WriteError> {
        todo!("step 1: Store::write, the turnstile")
    }
    // ANCHOR_END: write

    // ANCHOR: get
    /// Step 2. Reads `key`: its live entry (value, version, and the number of the
    /// write that produced it) and `as_of`, both of one moment: exactly the state after
    /// writes 1 to `as_of`, never half a write. Readers run side by side, and wait at
    /// most for the moment a write changes the state. Book: "Step 2: reads share the
    /// state".
    pub fn get(&self, key: &str) -> Read {
        todo!("step 2: Store::get")
    }
    // ANCHOR_END: get

    // ANCHOR: copy_state
    /// Step 3. A copy of the whole state, entries and `global_seq` together, of one
    /// moment: equal to the replay of writes 1 to its `global_seq`. Readers may run
    /// beside the copy; whatever writers wait for, they wait only while it is taken.
    /// Book: "Step 3: copy under a short lock".
    pub fn copy_state(&self) -> S {
        todo!("step 3: Store::copy_state")
    }
    // ANCHOR_END: copy_state

    // ANCHOR: write_snapshot
    /// Step 4. Writes a snapshot of one moment to `out` (`encode` of a copy's `view()`),
    /// all of it, flushed, and answers what it holds: its `global_seq`, its number of
    /// entries (tombstones included) and the bytes written. No lock a writer or a
    /// reader needs is held while it encodes or writes.
    /// Book: "Step 4: write the snapshot outside any lock".
    pub fn write_snapshot<W: Write>(&self, mut out: W) -> io::Result<SnapshotInfo> {
        todo!("step 4: Store::write_snapshot")
    }
    // ANCHOR_END: write_snapshot

    // ANCHOR: save_snapshot
    /// Step 5. Saves a snapshot to `path`. The contract:
    ///
    /// - at every moment, even if the machine stops halfway, the file at `path` is a
    ///   whole snapshot, the old one or the new one;
    /// - the new snapshot is durable (its bytes, and the name that points at them)
    ///   before the hook hears `on_snapshot_saved(seq)`;
    /// - a save that fails returns the error and leaves the old snapshot, and nothing
    ///   else, behind;
    /// - every file operation goes through the store's `Disk` (the `disk` given to
    ///   `from_parts`), and none runs while a lock a writer or a reader needs is held.
    ///
    /// `temp_path_for` gives a name for a file on its way to `path`.
    /// Book: "Step 5: replace the file in one step".
    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotInfo, SnapshotError> {
        todo!("step 5: Store::save_snapshot")
    }
    // ANCHOR_END: save_snapshot

    // ANCHOR: restore
    /// Step 7. A store holding exactly the snapshot in `path` (read with `disk.read`,
    /// refused by `decode` of step 6 unless whole): the same entries, tombstones
    /// included, and the same sequence, so the next write takes the next number. Any
    /// error is returned as it is; then nothing was loaded. Book: "Step 7: restore".
    pub fn restore(path: &Path, hook: H, disk: D) -> Result<Self, SnapshotError> {
        todo!("step 7: Store::restore")
    }
    // ANCHOR_END: restore
}

// ANCHOR: file_helpers
/// A temporary name for a snapshot on its way to `path`: in the same directory,
/// because a rename is atomic only within one file system, and unique, so that no
/// other save (in this process or another) writes to the same file.
pub fn temp_path_for(path: &Path) -> PathBuf {
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let n = SAVES.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map_or_else(
        || "snapshot".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}
// ANCHOR_END: file_helpers

// ANCHOR: disk
/// Every file operation the store makes, in one seam. A snapshot goes through these
/// and nothing else, so that the checker can plug in a disk that notes each operation,
/// holds a save in the middle of one and sees who is kept waiting meanwhile.
/// [`OsDisk`] is the real one.
pub trait Disk: Send + Sync {
    /// A file open for writing.
    type File: Write;
    /// Creates the file at `path` (emptying it if it exists), for writing.
    fn create(&self, path: &Path) -> io::Result<Self::File>;
    /// Waits until everything written to `file` is on the disk itself.
    fn sync(&self, file: &mut Self::File) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` in one step.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes a rename into `path`'s directory survive a crash: the rename changed the
    /// directory, not the file, so the directory is what has to be synced.
    fn sync_dir_of(&self, path: &Path) -> io::Result<()>;
    /// Removes the file at `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// The whole content of the file at `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
}

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsDisk;

impl Disk for OsDisk {
    type File = File;

    fn create(&self, path: &Path) -> io::Result<File> {
        File::create(path)
    }

    fn sync(&self, file: &mut File) -> io::Result<()> {
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir_of(&self, path: &Path) -> io::Result<()> {
        // Only Unix can open a directory to sync it.
        #[cfg(unix)]
        {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            File::open(dir)?.sync_all()?;
        }
        #[cfg(not(unix))]
        let _ = path;
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }
}
// ANCHOR_END: disk
