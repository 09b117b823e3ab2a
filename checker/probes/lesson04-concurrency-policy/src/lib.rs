//! Grading lesson 04: the concurrency policy.
//!
//! The criteria are written once, against the [`Subject`] trait, and run unchanged
//! on the learner's crate, on the reference and on the broken fixtures. Lesson 01's
//! types (`Command`, `Entry`, `Response`, its `Store`) are shared by every lesson 04
//! crate; the lesson's own types go through the reference's ([`reference::Read`] and
//! friends), which [`adapt_crate!`] converts to and from.
//!
//! Every store under test is built over the probe's instruments ([`lab`]): a state
//! that can pause and checks each change against the hook, and a hook that records
//! every write and can hold a writer in the turnstile.

mod criteria;
pub mod fixtures;
mod history;
pub mod lab;

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use probe_kit::{Ctx, Info, Probe, Verdict};
use reference::{Read, SnapshotError, SnapshotInfo, WriteError};
use state::{Command, Response};

pub use criteria::CRITERIA;
use lab::Lab;

/// One implementation of lesson 04, seen through the reference's types. Every store
/// it makes is wired to a [`Lab`].
pub trait Subject: Clone + Send + Sync + 'static {
    type Store: Send + Sync + 'static;
    /// An empty store with the lab's state and hook plugged in.
    fn store(&self, lab: &Arc<Lab>) -> Self::Store;
    fn write(&self, store: &Self::Store, command: Command) -> Result<Response, WriteError>;
    fn get(&self, store: &Self::Store, key: &str) -> Read;
    fn copy_state(&self, store: &Self::Store) -> state::Store;
    fn write_snapshot(&self, store: &Self::Store, out: &mut dyn Write) -> io::Result<SnapshotInfo>;
    fn save_snapshot(
        &self,
        store: &Self::Store,
        path: &Path,
    ) -> Result<SnapshotInfo, SnapshotError>;
    /// A store restored from `path`, with the lab's hook.
    fn restore(&self, path: &Path, lab: &Arc<Lab>) -> Result<Self::Store, SnapshotError>;
    fn decode(&self, bytes: &[u8]) -> Result<state::Store, SnapshotError>;
    fn encode(&self, state: &state::Store) -> Vec<u8>;
    /// The crate's POLICY.md.
    fn policy(&self) -> &'static str;
}

/// Implements [`Subject`] for a crate with lesson 04's public API: the lab's
/// instruments get the crate's two traits, and the crate's own types are converted
/// to the reference's. The learner's crate and the reference both go through here,
/// so they are graded by exactly the same code.
#[macro_export]
macro_rules! adapt_crate {
    ($subject:ident, $krate:ident) => {
        #[derive(Clone, Copy)]
        pub struct $subject;

        impl $krate::StateMachine for $crate::lab::LabState {
            fn view(&self) -> &::state::Store {
                $crate::lab::LabState::view(self)
            }

            fn apply(&mut self, command: ::state::Command) -> ::state::Response {
                $crate::lab::LabState::apply(self, command)
            }

            fn from_store(store: ::state::Store) -> Self {
                $crate::lab::LabState::detached(store)
            }
        }

        impl $krate::WriteHook for $crate::lab::Recorder {
            fn on_write(&mut self, seq: u64, command: &::state::Command) {
                $crate::lab::Recorder::on_write(self, seq, command)
            }

            fn on_snapshot_saved(&mut self, seq: u64) {
                $crate::lab::Recorder::on_snapshot_saved(self, seq)
            }
        }

        impl $subject {
            fn write_error(error: $krate::WriteError) -> ::reference::WriteError {
                use ::reference::WriteError as R;
                use $krate::WriteError as E;
                match error {
                    E::NotAWrite => R::NotAWrite,
                    E::EmptyKey => R::EmptyKey,
                    E::KeyTooLong { len } => R::KeyTooLong { len },
                    E::ValueTooLong { len } => R::ValueTooLong { len },
                }
            }

            fn snapshot_error(error: $krate::SnapshotError) -> ::reference::SnapshotError {
                use ::reference::SnapshotError as R;
                use $krate::SnapshotError as E;
                match error {
                    E::Io(error) => R::Io(error),
                    E::Truncated { expected, found } => R::Truncated { expected, found },
                    E::NotASnapshot => R::NotASnapshot,
                    E::TrailingBytes { expected, found } => R::TrailingBytes { expected, found },
                    E::ChecksumMismatch { stored, computed } => {
                        R::ChecksumMismatch { stored, computed }
                    }
                    E::Malformed(what) => R::Malformed(what),
                    E::Invalid(violation) => R::Invalid(violation),
                }
            }

            fn info(info: $krate::SnapshotInfo) -> ::reference::SnapshotInfo {
                ::reference::SnapshotInfo {
                    seq: info.seq,
                    entries: info.entries,
                    bytes: info.bytes,
                }
            }
        }

        impl $crate::Subject for $subject {
            type Store = $krate::Store<$crate::lab::LabState, $crate::lab::Recorder>;

            fn store(&self, lab: &::std::sync::Arc<$crate::lab::Lab>) -> Self::Store {
                $krate::Store::from_parts(
                    $crate::lab::LabState::new(lab),
                    $crate::lab::Recorder::new(lab),
                )
            }

            fn write(
                &self,
                store: &Self::Store,
                command: ::state::Command,
            ) -> Result<::state::Response, ::reference::WriteError> {
                store.write(command).map_err(Self::write_error)
            }

            fn get(&self, store: &Self::Store, key: &str) -> ::reference::Read {
                let read = store.get(key);
                ::reference::Read {
                    entry: read.entry,
                    as_of: read.as_of,
                }
            }

            fn copy_state(&self, store: &Self::Store) -> ::state::Store {
                store.copy_state().into_inner()
            }

            fn write_snapshot(
                &self,
                store: &Self::Store,
                out: &mut dyn ::std::io::Write,
            ) -> ::std::io::Result<::reference::SnapshotInfo> {
                store.write_snapshot(out).map(Self::info)
            }

            fn save_snapshot(
                &self,
                store: &Self::Store,
                path: &::std::path::Path,
            ) -> Result<::reference::SnapshotInfo, ::reference::SnapshotError> {
                store
                    .save_snapshot(path)
                    .map(Self::info)
                    .map_err(Self::snapshot_error)
            }

            fn restore(
                &self,
                path: &::std::path::Path,
                lab: &::std::sync::Arc<$crate::lab::Lab>,
            ) -> Result<Self::Store, ::reference::SnapshotError> {
                $krate::Store::restore(path, $crate::lab::Recorder::new(lab))
                    .map_err(Self::snapshot_error)
            }

            fn decode(&self, bytes: &[u8]) -> Result<::state::Store, ::reference::SnapshotError> {
                $krate::decode(bytes).map_err(Self::snapshot_error)
            }

            fn encode(&self, state: &::state::Store) -> Vec<u8> {
                $krate::encode(state)
            }

            fn policy(&self) -> &'static str {
                $krate::POLICY
            }
        }
    };
}

adapt_crate!(Reference, reference);

#[cfg(feature = "learner")]
adapt_crate!(Learner, lesson04_concurrency_policy);

/// The lesson's criteria bound to one subject.
pub struct Lesson04<S>(pub S);

impl<S: Subject> Probe for Lesson04<S> {
    fn criteria(&self) -> &'static [Info] {
        CRITERIA
    }

    fn run(&self, id: &str, ctx: &Ctx) -> Verdict {
        criteria::run(&self.0, id, ctx)
    }
}

/// What the checker compiles in for lesson 04: the reference and the fixtures.
pub const BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    criteria: CRITERIA,
    reference: || Box::new(Lesson04(Reference)),
    fixtures: fixtures::FIXTURES,
};
