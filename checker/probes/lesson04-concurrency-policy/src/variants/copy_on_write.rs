//! The state behind an `Arc`: a reader clones the pointer under a lock held for that
//! one instant and reads with no lock at all; a snapshot copies a state nobody can
//! change any more, so writers never wait for it. A writer changes the state in place
//! when no reader holds it, and on a fresh copy when one does (`Arc::make_mut`).

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use state::{Command, Response};

pub use super::given::*;

/// This design's policy: its claims are what the checker tests against the code.
pub const POLICY: &str = r#"# Concurrency policy: a copy-on-write state

## Design

```design
lock writer: Mutex, guards the hook
lock current: RwLock, guards the state
order: writer, current
read holds: nothing
snapshot copy holds: nothing
snapshot write holds: nothing
```

## Single-writer rule

Every write passes the writer mutex, where it is numbered from the current state,
handed to the hook and applied, so writes form one ordered log.

## Read consistency

A read clones the `Arc` of the current state under the read lock, lets go, and reads
a state nobody changes any more: one moment, with no lock held while it reads.

## Lock granularity

- store-level: one writer mutex, one total order (chosen).
- striped or per-key: parallel writes, but no single order of all writes.
- copy-on-write (this design): readers hold a lock only to clone a pointer; a writer
  copies the state when a reader still holds the old one.

## Snapshot rule

A snapshot takes the current `Arc` and encodes it with no lock held: the state it
points at never changes. The file is written beside its path, synced, renamed over
and its directory synced before the hook hears of it.

## Ordering argument

Writes hold the writer mutex from numbering to applying, so numbers are unique,
gap-free and applied in order. Only the write path holds two locks, writer then
current; the save takes the writer mutex alone, so no cycle can form.
"#;

pub struct Store<S, H, D> {
    /// The turnstile, and the hook it guards.
    writer: Mutex<H>,
    current: RwLock<Arc<S>>,
    disk: D,
}

pub struct Read {
    pub entry: Option<state::Entry>,
    pub as_of: u64,
}

impl<S: StateMachine, H: WriteHook, D: Disk> Store<S, H, D> {
    pub fn from_parts(state: S, hook: H, disk: D) -> Self {
        Store {
            writer: Mutex::new(hook),
            current: RwLock::new(Arc::new(state)),
            disk,
        }
    }

    /// The state as it is now, which no writer will change under the caller.
    fn now(&self) -> Arc<S> {
        Arc::clone(&self.current.read())
    }

    pub fn write(&self, command: Command) -> Result<Response, WriteError> {
        validate(&command)?;
        let mut hook = self.writer.lock();
        let seq = {
            let now = self.now();
            if let Command::Del { key } = &command
                && now.view().lookup(key).is_none()
            {
                return Ok(Response::NotFound);
            }
            now.view().global_seq() + 1
        };
        hook.on_write(seq, &command);
        let mut current = self.current.write();
        Ok(Arc::make_mut(&mut current).apply(command))
    }

    pub fn get(&self, key: &str) -> Read {
        let now = self.now();
        let state = now.view();
        Read {
            entry: state.lookup(key).cloned(),
            as_of: state.global_seq(),
        }
    }

    pub fn copy_state(&self) -> S {
        S::clone(&self.now())
    }

    pub fn write_snapshot<W: Write>(&self, out: W) -> io::Result<SnapshotInfo> {
        let now = self.now();
        let state = now.view();
        let mut out = BufWriter::new(out);
        let bytes = encode(state);
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(SnapshotInfo {
            seq: state.global_seq(),
            entries: state.entries().len(),
            bytes: bytes.len() as u64,
        })
    }

    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotInfo, SnapshotError> {
        let temp = temp_path_for(path);
        let saved = (|| {
            let mut file = self.disk.create(&temp)?;
            let info = self.write_snapshot(&mut file)?;
            self.disk.sync(&mut file)?;
            Ok::<_, io::Error>(info)
        })();
        let info = saved.inspect_err(|_| {
            let _ = self.disk.remove(&temp);
        })?;
        self.disk.rename(&temp, path)?;
        self.disk.sync_dir_of(&temp)?; // the same directory as `path`
        self.writer.lock().on_snapshot_saved(info.seq);
        Ok(info)
    }

    pub fn restore(path: &Path, hook: H, disk: D) -> Result<Self, SnapshotError> {
        let bytes = disk.read(path)?;
        let state = S::from_store(decode(&bytes)?);
        Ok(Store::from_parts(state, hook, disk))
    }
}
