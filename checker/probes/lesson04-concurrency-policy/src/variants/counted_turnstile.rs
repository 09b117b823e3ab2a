//! The number of the last write kept beside the hook in the turnstile (counted there,
//! not read from the state), and a save that writes through a buffer and removes its
//! temporary file from a drop guard, on every way out but success.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};

use state::{Command, Response};

pub use super::given::*;

/// This design's policy: its claims are what the checker tests against the code.
pub const POLICY: &str = r#"# Concurrency policy: the number counted in the turnstile

## Design

```design
lock turnstile: Mutex, guards the hook (and the number of the last write)
lock state: RwLock, guards the state
order: turnstile, state
read holds: state shared
snapshot copy holds: state shared
snapshot write holds: nothing
```

## Single-writer rule

The turnstile mutex holds the hook and the number of the last write: a writer
counts its number there, hands the write to the hook and applies it before it lets
go.

## Read consistency

A read takes the state's shared lock and returns the entry and `global_seq` from
under it.

## Lock granularity

- store-level: one turnstile and one state lock (chosen).
- striped: parallel writes, one order per stripe only.
- lock-free: readers never wait, at the price of a copy per write.

## Snapshot rule

The copy is taken under the shared lock; the file is written through a buffer with
no lock held, and a drop guard removes the temporary file unless the save succeeds.

## Ordering argument

The turnstile is held from counting to applying, so numbers are unique, gap-free
and applied in order; the path that holds two locks takes the turnstile first.
"#;

struct Turnstile<H> {
    hook: H,
    /// The number of the last write: only the turnstile's holder changes the state,
    /// so this is the state's `global_seq` whenever the turnstile is free.
    last: u64,
}

pub struct Store<S, H, D> {
    turnstile: Mutex<Turnstile<H>>,
    state: RwLock<S>,
    disk: D,
}

pub struct Read {
    pub entry: Option<state::Entry>,
    pub as_of: u64,
}

/// Removes a temporary file unless the save that made it succeeded.
struct Cleanup<'a, D: Disk> {
    disk: &'a D,
    temp: PathBuf,
    armed: bool,
}

impl<D: Disk> Drop for Cleanup<'_, D> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.disk.remove(&self.temp);
        }
    }
}

impl<S: StateMachine, H: WriteHook, D: Disk> Store<S, H, D> {
    pub fn from_parts(state: S, hook: H, disk: D) -> Self {
        let last = state.view().global_seq();
        Store {
            turnstile: Mutex::new(Turnstile { hook, last }),
            state: RwLock::new(state),
            disk,
        }
    }

    pub fn write(&self, command: Command) -> Result<Response, WriteError> {
        validate(&command)?;
        let mut turnstile = self.turnstile.lock();
        if let Command::Del { key } = &command {
            let state = self.state.read();
            if state.view().lookup(key).is_none() {
                return Ok(Response::NotFound);
            }
        }
        let seq = turnstile.last + 1;
        turnstile.hook.on_write(seq, &command);
        let response = self.state.write().apply(command);
        turnstile.last = seq;
        Ok(response)
    }

    pub fn get(&self, key: &str) -> Read {
        let state = self.state.read();
        let view = state.view();
        Read {
            entry: view.lookup(key).cloned(),
            as_of: view.global_seq(),
        }
    }

    pub fn copy_state(&self) -> S {
        self.state.read().clone()
    }

    pub fn write_snapshot<W: Write>(&self, out: W) -> io::Result<SnapshotInfo> {
        let copy = self.copy_state();
        let state = copy.view();
        let bytes = encode(state);
        let mut out = BufWriter::with_capacity(4096, out);
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(SnapshotInfo {
            seq: state.global_seq(),
            entries: state.entries().len(),
            bytes: bytes.len() as u64,
        })
    }

    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotInfo, SnapshotError> {
        let mut cleanup = Cleanup {
            disk: &self.disk,
            temp: temp_path_for(path),
            armed: true,
        };
        let mut file = self.disk.create(&cleanup.temp)?;
        let info = self.write_snapshot(&mut file)?;
        self.disk.sync(&mut file)?;
        drop(file);
        self.disk.rename(&cleanup.temp, path)?;
        cleanup.armed = false;
        self.disk.sync_dir_of(path)?;
        self.turnstile.lock().hook.on_snapshot_saved(info.seq);
        Ok(info)
    }

    pub fn restore(path: &Path, hook: H, disk: D) -> Result<Self, SnapshotError> {
        let state = decode(&disk.read(path)?)?;
        Ok(Store::from_parts(S::from_store(state), hook, disk))
    }
}
