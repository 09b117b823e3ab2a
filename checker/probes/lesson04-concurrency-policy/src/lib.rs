//! Grading lesson 04: the concurrency policy.
//!
//! The criteria are written once, against the [`Subject`] trait, and run unchanged
//! on the learner's crate, on the reference and on the broken fixtures. Lesson 01's
//! types (`Command`, `Entry`, `Response`, its `Store`) are shared by every lesson 04
//! crate; the lesson's own types go through the reference's ([`reference::Read`] and
//! friends), which [`adapt_crate!`] converts to and from.
//!
//! Every store under test is built over the probe's instruments ([`lab`]): a state
//! that can pause and checks each change against the hook, a hook that records
//! every write and can hold a writer in the turnstile, and a disk that journals
//! every file operation and can hold a save in the middle of one.

mod criteria;
pub mod fixtures;
pub mod hints;
mod history;
pub mod lab;
mod variants;

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use probe_kit::{Graded, Probe};
use reference::{Read, SnapshotError, SnapshotInfo, WriteError};
use state::{Command, Response};

use lab::Lab;

// The adapter macro names these through `$crate`, so that a generated probe crate
// can expand it with no dependency of its own on the reference.
#[doc(hidden)]
pub use reference;
#[doc(hidden)]
pub use state;

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

        /// A probe instrument wrapped in a type of this crate, so that this crate may
        /// implement the lesson crate's trait for it (the orphan rule forbids that for
        /// the probe's own type).
        #[derive(Clone)]
        pub struct Seam<T>(pub T);

        impl $krate::StateMachine for Seam<$crate::lab::LabState> {
            fn view(&self) -> &$crate::state::Store {
                $crate::lab::LabState::view(&self.0)
            }

            fn apply(&mut self, command: $crate::state::Command) -> $crate::state::Response {
                $crate::lab::LabState::apply(&mut self.0, command)
            }

            fn from_store(store: $crate::state::Store) -> Self {
                Seam($crate::lab::LabState::detached(store))
            }
        }

        impl $krate::WriteHook for Seam<$crate::lab::Recorder> {
            fn on_write(&mut self, seq: u64, command: &$crate::state::Command) {
                $crate::lab::Recorder::on_write(&mut self.0, seq, command)
            }

            fn on_snapshot_saved(&mut self, seq: u64) {
                $crate::lab::Recorder::on_snapshot_saved(&mut self.0, seq)
            }
        }

        impl $krate::Disk for Seam<$crate::lab::LabDisk> {
            type File = $crate::lab::LabFile;

            fn create(&self, path: &::std::path::Path) -> ::std::io::Result<Self::File> {
                self.0.create(path)
            }

            fn sync(&self, file: &mut Self::File) -> ::std::io::Result<()> {
                self.0.sync(file)
            }

            fn rename(
                &self,
                from: &::std::path::Path,
                to: &::std::path::Path,
            ) -> ::std::io::Result<()> {
                self.0.rename(from, to)
            }

            fn sync_dir_of(&self, path: &::std::path::Path) -> ::std::io::Result<()> {
                self.0.sync_dir_of(path)
            }

            fn remove(&self, path: &::std::path::Path) -> ::std::io::Result<()> {
                self.0.remove(path)
            }

            fn read(&self, path: &::std::path::Path) -> ::std::io::Result<Vec<u8>> {
                self.0.read(path)
            }
        }

        impl $subject {
            fn write_error(error: $krate::WriteError) -> $crate::reference::WriteError {
                use $crate::reference::WriteError as R;
                use $krate::WriteError as E;
                match error {
                    E::NotAWrite => R::NotAWrite,
                    E::EmptyKey => R::EmptyKey,
                    E::KeyTooLong { len } => R::KeyTooLong { len },
                    E::ValueTooLong { len } => R::ValueTooLong { len },
                }
            }

            fn snapshot_error(error: $krate::SnapshotError) -> $crate::reference::SnapshotError {
                use $crate::reference::SnapshotError as R;
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

            fn info(info: $krate::SnapshotInfo) -> $crate::reference::SnapshotInfo {
                $crate::reference::SnapshotInfo {
                    seq: info.seq,
                    entries: info.entries,
                    bytes: info.bytes,
                }
            }
        }

        impl $crate::Subject for $subject {
            type Store = $krate::Store<
                Seam<$crate::lab::LabState>,
                Seam<$crate::lab::Recorder>,
                Seam<$crate::lab::LabDisk>,
            >;

            fn store(&self, lab: &::std::sync::Arc<$crate::lab::Lab>) -> Self::Store {
                $krate::Store::from_parts(
                    Seam($crate::lab::LabState::new(lab)),
                    Seam($crate::lab::Recorder::new(lab)),
                    Seam($crate::lab::LabDisk::new(lab)),
                )
            }

            fn write(
                &self,
                store: &Self::Store,
                command: $crate::state::Command,
            ) -> Result<$crate::state::Response, $crate::reference::WriteError> {
                store.write(command).map_err(Self::write_error)
            }

            fn get(&self, store: &Self::Store, key: &str) -> $crate::reference::Read {
                let read = store.get(key);
                $crate::reference::Read {
                    entry: read.entry,
                    as_of: read.as_of,
                }
            }

            fn copy_state(&self, store: &Self::Store) -> $crate::state::Store {
                store.copy_state().0.into_inner()
            }

            fn write_snapshot(
                &self,
                store: &Self::Store,
                out: &mut dyn ::std::io::Write,
            ) -> ::std::io::Result<$crate::reference::SnapshotInfo> {
                store.write_snapshot(out).map(Self::info)
            }

            fn save_snapshot(
                &self,
                store: &Self::Store,
                path: &::std::path::Path,
            ) -> Result<$crate::reference::SnapshotInfo, $crate::reference::SnapshotError> {
                store
                    .save_snapshot(path)
                    .map(Self::info)
                    .map_err(Self::snapshot_error)
            }

            fn restore(
                &self,
                path: &::std::path::Path,
                lab: &::std::sync::Arc<$crate::lab::Lab>,
            ) -> Result<Self::Store, $crate::reference::SnapshotError> {
                $krate::Store::restore(
                    path,
                    Seam($crate::lab::Recorder::new(lab)),
                    Seam($crate::lab::LabDisk::new(lab)),
                )
                .map_err(Self::snapshot_error)
            }

            fn decode(
                &self,
                bytes: &[u8],
            ) -> Result<$crate::state::Store, $crate::reference::SnapshotError> {
                $krate::decode(bytes).map_err(Self::snapshot_error)
            }

            fn encode(&self, state: &$crate::state::Store) -> Vec<u8> {
                $krate::encode(state)
            }

            fn policy(&self) -> &'static str {
                // A `&str` constant in a lesson crate; a computed static in a variant.
                &$krate::POLICY
            }
        }
    };
}

/// The reference's own source, compiled into this crate so that its locks are the
/// watched ones, as a learner's are: the `reference` crate itself (whose types the
/// criteria speak) is built against the plain parking_lot, which nobody watches.
#[path = "../../../../solutions/lesson04-concurrency-policy/src/lib.rs"]
#[allow(dead_code, unused_imports)]
mod watched_reference;

/// The reference, adapted; in a module of its own because the adapter defines its
/// helper types by fixed names.
mod reference_adapter {
    crate::adapt_crate!(Reference, watched);
    use super::watched_reference as watched;
}
pub use reference_adapter::Reference;

/// The lesson's criteria bound to one implementation: what a probe process runs.
pub fn probe<S: Subject + 'static>(subject: S) -> Box<dyn Probe> {
    Box::new(Graded::new(subject, criteria::all()).amend_failures(criteria::with_seed))
}

/// What the checker compiles in for lesson 04: the reference, the correct variants and
/// the fixtures. A `static`, not a `const`: see [`probe_kit::Builtins`].
pub static BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    reference: || probe(Reference),
    fixtures: fixtures::FIXTURES,
    variants: variants::VARIANTS,
};
