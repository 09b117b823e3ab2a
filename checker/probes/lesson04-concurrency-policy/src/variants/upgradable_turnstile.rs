//! One reader-writer lock for the state, whose *upgradable* side is the turnstile: a
//! writer takes it (readers still get in, no other writer does), takes its number,
//! calls the hook, and upgrades to exclusive only to apply. The hook sits in a mutex
//! of its own that only the turnstile's holder and a finished save ever take.

use std::io::{self, Write};
use std::path::Path;

use parking_lot::{Mutex, RwLock, RwLockUpgradableReadGuard};
use state::{Command, Response};

pub use super::given::*;

/// This design's policy: its claims are what the checker tests against the code.
pub const POLICY: &str = r#"# Concurrency policy: an upgradable turnstile

## Design

```design
lock state: RwLock, guards the state
lock hook: Mutex, guards the hook
order: state, hook
read holds: state shared
snapshot copy holds: state shared
snapshot write holds: nothing
```

## Single-writer rule

A writer takes the state's upgradable side, which only one thread holds at a time
while readers still get in: it numbers the write, calls the hook and upgrades to
apply, so writes form one ordered log.

## Read consistency

A read takes the shared side and returns the entry and `global_seq` from under it.

## Lock granularity

- store-level: one lock for the state, its upgradable side as the turnstile (chosen).
- striped: parallel writes, one order per stripe only.
- per-key: the most parallel, and a lock per key to keep.

## Snapshot rule

The copy is taken under the shared side; the encoding and every file operation run
with no lock held, and the hook hears of the save last.

## Ordering argument

The upgradable side is exclusive among writers, so numbers are unique, gap-free and
applied in order. The write path takes the state, then the hook; the save takes the
hook alone, holding nothing else, so no cycle can form.
"#;

pub struct Store<S, H, D> {
    state: RwLock<S>,
    hook: Mutex<H>,
    disk: D,
}

pub struct Read {
    pub entry: Option<state::Entry>,
    pub as_of: u64,
}

impl<S: StateMachine, H: WriteHook, D: Disk> Store<S, H, D> {
    pub fn from_parts(state: S, hook: H, disk: D) -> Self {
        Store {
            state: RwLock::new(state),
            hook: Mutex::new(hook),
            disk,
        }
    }

    pub fn write(&self, command: Command) -> Result<Response, WriteError> {
        validate(&command)?;
        let turnstile = self.state.upgradable_read();
        let view = turnstile.view();
        if let Command::Del { key } = &command
            && view.lookup(key).is_none()
        {
            return Ok(Response::NotFound);
        }
        let seq = view.global_seq() + 1;
        self.hook.lock().on_write(seq, &command);
        Ok(RwLockUpgradableReadGuard::upgrade(turnstile).apply(command))
    }

    pub fn get(&self, key: &str) -> Read {
        let state = self.state.read();
        let (entry, as_of) = (state.view().lookup(key).cloned(), state.view().global_seq());
        Read { entry, as_of }
    }

    pub fn copy_state(&self) -> S {
        S::clone(&self.state.read())
    }

    pub fn write_snapshot<W: Write>(&self, mut out: W) -> io::Result<SnapshotInfo> {
        let copy = self.copy_state();
        let bytes = encode(copy.view());
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(SnapshotInfo {
            seq: copy.view().global_seq(),
            entries: copy.view().entries().len(),
            bytes: bytes.len() as u64,
        })
    }

    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotInfo, SnapshotError> {
        let temp = temp_path_for(path);
        let mut file = self.disk.create(&temp)?;
        let info = match self
            .write_snapshot(&mut file)
            .and_then(|info| self.disk.sync(&mut file).map(|()| info))
        {
            Ok(info) => info,
            Err(error) => {
                drop(file);
                let _ = self.disk.remove(&temp);
                return Err(error.into());
            }
        };
        drop(file);
        self.disk.rename(&temp, path)?;
        self.disk.sync_dir_of(path)?;
        self.hook.lock().on_snapshot_saved(info.seq);
        Ok(info)
    }

    pub fn restore(path: &Path, hook: H, disk: D) -> Result<Self, SnapshotError> {
        let state = decode(&disk.read(path)?)?;
        Ok(Store::from_parts(S::from_store(state), hook, disk))
    }
}
