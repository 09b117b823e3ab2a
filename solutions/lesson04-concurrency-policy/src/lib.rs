//! Lesson 04: the concurrency policy.
//!
//! A store that many threads use at once, with a written policy and code that keeps it:
//!
//! - **one writer at a time.** Every write passes one turnstile (the writer lock),
//!   where it is validated, numbered and handed to the [`WriteHook`] before it takes
//!   effect, so the writes form one ordered log;
//! - **shared reads.** Readers take only the state's read lock, which a writer takes
//!   exclusively just for the short moment its write changes the state;
//! - **snapshots outside the lock.** The state is copied under the read lock and
//!   written to a file with no lock held; restoring refuses any file that is not
//!   exactly what was written.
//!
//! The policy itself, and why it is right, is in `POLICY.md` ([`POLICY`]).

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
/// Lock order: `writer`, then `state`. Only the write path holds both, and it takes
/// them in that order; every other path holds one lock at a time.
pub struct Store<S = state::Store, H = NoHook, D = OsDisk> {
    /// The turnstile. Its holder is the only thread that may change the state, so
    /// the sequence number it reads from the state stays its own until it applies.
    /// It guards the hook: writes reach the hook one at a time, in sequence order.
    writer: Mutex<H>,
    /// The state. Readers share it; a writer takes it exclusively only to apply.
    state: RwLock<S>,
    /// Where snapshots go. It needs no lock: each save has files of its own.
    disk: D,
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
    pub fn from_parts(state: S, hook: H, disk: D) -> Self {
        Store {
            writer: Mutex::new(hook),
            state: RwLock::new(state),
            disk,
        }
    }

    pub fn set(&self, key: &str, value: &str) -> Result<Response, WriteError> {
        self.write(Command::set(key, value))
    }

    pub fn del(&self, key: &str) -> Result<Response, WriteError> {
        self.write(Command::del(key))
    }

    // ANCHOR: write
    /// Every write goes through here, one at a time: validate, take the next sequence
    /// number, hand the write to the hook, apply it.
    pub fn write(&self, command: Command) -> Result<Response, WriteError> {
        validate(&command)?;
        // 1. Enter the turnstile. From here to the end, no other write can happen.
        let mut hook = self.writer.lock();
        // 2. Take the next number. Reading it needs only the shared lock: nobody but
        //    the turnstile's holder changes the state, so it stays ours until we apply.
        let seq = {
            let state = self.state.read();
            let state = state.view();
            if matches!(&command, Command::Del { key } if state.lookup(key).is_none()) {
                return Ok(Response::NotFound); // not a write: no number, no hook
            }
            state.global_seq() + 1
        };
        // 3. The slow part (tomorrow: a log append and its fsync). Readers carry on.
        hook.on_write(seq, &command);
        // 4. The short exclusive moment: readers wait only for this line.
        let response = self.state.write().apply(command);
        debug_assert!(matches!(
            response,
            Response::Stored { seq: s, .. } | Response::Deleted { seq: s, .. } if s == seq
        ));
        Ok(response)
    }
    // ANCHOR_END: write

    // ANCHOR: get
    /// Reads `key` under the shared lock, entry and sequence point together.
    pub fn get(&self, key: &str) -> Read {
        let state = self.state.read();
        let state = state.view();
        Read {
            entry: state.lookup(key).cloned(),
            as_of: state.global_seq(),
        }
    }
    // ANCHOR_END: get

    // ANCHOR: copy_state
    /// A copy of the whole state at one sequence point. Writers wait for the copy (the
    /// read lock keeps them from applying) but readers do not.
    pub fn copy_state(&self) -> S {
        self.state.read().clone()
    }
    // ANCHOR_END: copy_state

    // ANCHOR: write_snapshot
    /// Writes a snapshot to `out`: copied under the lock, encoded and written without.
    pub fn write_snapshot<W: Write>(&self, mut out: W) -> io::Result<SnapshotInfo> {
        let copy = self.copy_state(); // the guard is gone when this line ends
        let state = copy.view();
        let bytes = encode(state);
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(SnapshotInfo {
            seq: state.global_seq(),
            entries: state.entries().len(),
            bytes: bytes.len() as u64,
        })
    }
    // ANCHOR_END: write_snapshot

    // ANCHOR: save_snapshot
    /// Saves a snapshot to `path` so that the file there is always a whole snapshot,
    /// the old one or the new one: write a temporary file, sync it, rename it over.
    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotInfo, SnapshotError> {
        let disk = &self.disk;
        let temp = temp_path_for(path);
        let written = disk.create(&temp).and_then(|mut file| {
            let info = self.write_snapshot(&mut file)?;
            disk.sync(&mut file)?; // the data is on disk before the name points at it
            Ok(info)
        });
        let info = match written {
            Ok(info) => info,
            Err(error) => {
                let _ = disk.remove(&temp);
                return Err(error.into());
            }
        };
        disk.rename(&temp, path)?; // atomic: readers see the old file or the new one
        disk.sync_dir_of(path)?; // and the rename itself survives a crash
        // No lock is held here, so taking the turnstile keeps the lock order.
        self.writer.lock().on_snapshot_saved(info.seq);
        Ok(info)
    }
    // ANCHOR_END: save_snapshot

    // ANCHOR: restore
    /// A store holding exactly the snapshot in `path`, or the reason it was refused.
    pub fn restore(path: &Path, hook: H, disk: D) -> Result<Self, SnapshotError> {
        let bytes = disk.read(path)?;
        let state = decode(&bytes)?;
        Ok(Store::from_parts(S::from_store(state), hook, disk))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_numbered_and_reads_see_them() {
        let store = Store::new();
        assert_eq!(
            store.set("a", "1"),
            Ok(Response::Stored { version: 1, seq: 1 })
        );
        assert_eq!(store.del("b"), Ok(Response::NotFound));
        assert_eq!(store.set("", "x"), Err(WriteError::EmptyKey));
        assert_eq!(store.del("a"), Ok(Response::Deleted { version: 2, seq: 2 }));
        assert_eq!(
            store.get("a"),
            Read {
                entry: None,
                as_of: 2
            }
        );
        store.set("a", "3").unwrap();
        let read = store.get("a");
        assert_eq!(read.as_of, 3);
        assert_eq!(
            read.entry.map(|e| (e.value, e.version)),
            Some((Some("3".into()), 3))
        );
    }

    #[test]
    fn a_saved_snapshot_restores_to_the_same_state() {
        let dir = std::env::temp_dir().join(format!("kvlab-solution04-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.snap");
        let store = Store::new();
        store.set("a", "1").unwrap();
        store.set("b", "2").unwrap();
        store.del("a").unwrap();
        let info = store.save_snapshot(&path).unwrap();
        assert_eq!((info.seq, info.entries), (3, 2));
        let restored: Store = Store::restore(&path, NoHook, OsDisk).unwrap();
        assert_eq!(restored.copy_state(), store.copy_state());
        assert_eq!(
            restored.set("c", "3"),
            Ok(Response::Stored { version: 1, seq: 4 })
        );
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["store.snap"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
