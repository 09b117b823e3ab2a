//! Correct implementations of lesson 02 written differently from the reference:
//! std's lock instead of parking_lot's, helpers, mapped guards, an upgradable
//! read for DEL, fair unlocking. Every criterion must accept each of them; a
//! criterion that rejects one grades the reference's code rather than the rule.

use std::sync::RwLock as StdRwLock;

use parking_lot::{
    MappedRwLockReadGuard, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
};
use probe_kit::Variant;
use reference::{Command, Entry, Response, Violation};

use crate::{Instrumented, Layer, layered};

pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "std-rwlock",
        make: layered::<StdLocked>,
    },
    Variant {
        name: "mapped-guard-upgradable-del",
        make: layered::<Mapped>,
    },
];

/// `std::sync::RwLock`, a poisoned lock treated as fatal, and a `match` that
/// clones field by field.
pub struct StdLocked {
    machine: StdRwLock<Instrumented>,
}

impl Layer for StdLocked {
    fn with_machine(machine: Instrumented) -> Self {
        StdLocked {
            machine: StdRwLock::new(machine),
        }
    }

    fn get(&self, key: &str) -> Response {
        let guard = self.machine.read().expect("the store's lock is poisoned");
        if let Some(entry) = guard.lookup(key)
            && let Some(value) = &entry.value
        {
            return Response::Value {
                value: value.to_owned(),
                version: entry.version,
            };
        }
        Response::NotFound
    }

    fn set(&self, key: &str, value: &str) -> Response {
        let command = Command::Set {
            key: key.to_owned(),
            value: value.to_owned(),
        };
        let mut guard = self.machine.write().expect("the store's lock is poisoned");
        guard.apply(command)
    }

    fn del(&self, key: &str) -> Response {
        let command = Command::Del {
            key: key.to_owned(),
        };
        let mut guard = self.machine.write().expect("the store's lock is poisoned");
        guard.apply(command)
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.machine
            .read()
            .map_err(|_| "poisoned")
            .expect("the store's lock is poisoned")
            .check_invariants()
    }
}

/// parking_lot with helpers: GET maps its guard down to the entry, DEL looks under
/// an upgradable read and upgrades only for a live key, writes unlock fairly.
pub struct Mapped {
    machine: RwLock<Instrumented>,
}

impl Mapped {
    /// The live entry for `key`, still under the read lock.
    fn entry(&self, key: &str) -> Option<MappedRwLockReadGuard<'_, Entry>> {
        RwLockReadGuard::try_map(self.machine.read(), |m| m.lookup(key)).ok()
    }

    fn write(&self, command: Command) -> Response {
        let mut guard = self.machine.write();
        let response = guard.apply(command);
        RwLockWriteGuard::unlock_fair(guard);
        response
    }
}

impl Layer for Mapped {
    fn with_machine(machine: Instrumented) -> Self {
        Mapped {
            machine: RwLock::new(machine),
        }
    }

    fn get(&self, key: &str) -> Response {
        let Some(entry) = self.entry(key) else {
            return Response::NotFound;
        };
        match &entry.value {
            Some(value) => Response::Value {
                value: value.clone(),
                version: entry.version,
            },
            None => Response::NotFound,
        }
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.write(Command::set(key, value))
    }

    fn del(&self, key: &str) -> Response {
        // One upgradable guard from the look to the write: no writer can come in
        // between, so the look still holds when the tombstone is written.
        let guard = self.machine.upgradable_read();
        if guard.lookup(key).is_none() {
            return Response::NotFound;
        }
        let mut guard = RwLockUpgradableReadGuard::upgrade(guard);
        guard.apply(Command::del(key))
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        let guard = self.machine.read();
        guard.check_invariants()
    }
}
