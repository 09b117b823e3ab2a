//! Grading lesson 01: the state machine.
//!
//! The criteria are written once, against the [`Subject`] trait, and run unchanged
//! on the learner's crate, on the reference and on the broken fixtures. The
//! reference's own types ([`reference::Command`] and friends) serve as the common
//! language: [`adapt_crate!`] converts the learner's types to and from them.

mod criteria;
pub mod fixtures;
pub mod hints;
pub mod variants;

use std::collections::BTreeMap;

use probe_kit::{Graded, Probe};
use reference::{Command, Entry, Response, Violation};

// The adapter macro names these through `$crate`, so that a generated probe crate
// can expand it with no dependency of its own on the reference.
#[doc(hidden)]
pub use reference;

/// One implementation of lesson 01, seen through the reference's types.
pub trait Subject {
    type Store;
    fn new_store(&self) -> Self::Store;
    // Named after the lesson's `Store::from_parts`; `self` is the subject, not a store.
    #[allow(clippy::wrong_self_convention)]
    fn from_parts(&self, entries: BTreeMap<String, Entry>, global_seq: u64) -> Self::Store;
    fn apply(&self, store: &mut Self::Store, command: &Command) -> Response;
    /// The response as the implementation's `Display` prints it.
    fn render(&self, response: &Response) -> String;
    /// The store's entries and global sequence, as a reference store.
    fn view(&self, store: &Self::Store) -> reference::Store;
    fn check_invariants(&self, store: &Self::Store) -> Result<(), Violation>;
    fn replay(&self, log: &[Command]) -> (Self::Store, Vec<Response>);
}

/// Implements [`Subject`] for a crate with lesson 01's public API, by converting
/// each type field by field. The learner's crate and the reference both go through
/// here, so they are graded by exactly the same code.
#[macro_export]
macro_rules! adapt_crate {
    ($subject:ident, $krate:ident) => {
        pub struct $subject;

        impl $subject {
            fn command(command: &$crate::reference::Command) -> $krate::Command {
                match command.clone() {
                    $crate::reference::Command::Get { key } => $krate::Command::Get { key },
                    $crate::reference::Command::Set { key, value } => {
                        $krate::Command::Set { key, value }
                    }
                    $crate::reference::Command::Del { key } => $krate::Command::Del { key },
                }
            }

            fn response_in(response: &$crate::reference::Response) -> $krate::Response {
                match response.clone() {
                    $crate::reference::Response::Value { value, version } => {
                        $krate::Response::Value { value, version }
                    }
                    $crate::reference::Response::NotFound => $krate::Response::NotFound,
                    $crate::reference::Response::Stored { version, seq } => {
                        $krate::Response::Stored { version, seq }
                    }
                    $crate::reference::Response::Deleted { version, seq } => {
                        $krate::Response::Deleted { version, seq }
                    }
                }
            }

            fn response_out(response: $krate::Response) -> $crate::reference::Response {
                match response {
                    $krate::Response::Value { value, version } => {
                        $crate::reference::Response::Value { value, version }
                    }
                    $krate::Response::NotFound => $crate::reference::Response::NotFound,
                    $krate::Response::Stored { version, seq } => {
                        $crate::reference::Response::Stored { version, seq }
                    }
                    $krate::Response::Deleted { version, seq } => {
                        $crate::reference::Response::Deleted { version, seq }
                    }
                }
            }

            fn violation_out(violation: $krate::Violation) -> $crate::reference::Violation {
                use $crate::reference::Violation as R;
                use $krate::Violation as V;
                match violation {
                    V::SeqFromTheFuture {
                        key,
                        seq,
                        global_seq,
                    } => R::SeqFromTheFuture {
                        key,
                        seq,
                        global_seq,
                    },
                    V::DuplicateSeq { seq, first, second } => {
                        R::DuplicateSeq { seq, first, second }
                    }
                    V::ImpossibleVersion { key, version, seq } => {
                        R::ImpossibleVersion { key, version, seq }
                    }
                    V::WritesUnaccounted {
                        versions_total,
                        global_seq,
                    } => R::WritesUnaccounted {
                        versions_total,
                        global_seq,
                    },
                }
            }
        }

        impl $crate::Subject for $subject {
            type Store = $krate::Store;

            fn new_store(&self) -> Self::Store {
                $krate::Store::new()
            }

            fn from_parts(
                &self,
                entries: ::std::collections::BTreeMap<String, $crate::reference::Entry>,
                global_seq: u64,
            ) -> Self::Store {
                let entries = entries
                    .into_iter()
                    .map(|(key, e)| {
                        (
                            key,
                            $krate::Entry {
                                value: e.value,
                                version: e.version,
                                seq: e.seq,
                            },
                        )
                    })
                    .collect();
                $krate::Store::from_parts(entries, global_seq)
            }

            fn apply(
                &self,
                store: &mut Self::Store,
                command: &$crate::reference::Command,
            ) -> $crate::reference::Response {
                Self::response_out(store.apply(Self::command(command)))
            }

            fn render(&self, response: &$crate::reference::Response) -> String {
                Self::response_in(response).to_string()
            }

            fn view(&self, store: &Self::Store) -> $crate::reference::Store {
                let entries = store
                    .entries()
                    .iter()
                    .map(|(key, e)| {
                        let entry = $crate::reference::Entry {
                            value: e.value.clone(),
                            version: e.version,
                            seq: e.seq,
                        };
                        (key.clone(), entry)
                    })
                    .collect();
                $crate::reference::Store::from_parts(entries, store.global_seq())
            }

            fn check_invariants(
                &self,
                store: &Self::Store,
            ) -> Result<(), $crate::reference::Violation> {
                store.check_invariants().map_err(Self::violation_out)
            }

            fn replay(
                &self,
                log: &[$crate::reference::Command],
            ) -> (Self::Store, Vec<$crate::reference::Response>) {
                let log: Vec<_> = log.iter().map(Self::command).collect();
                let (store, responses) = $krate::replay(&log);
                (
                    store,
                    responses.into_iter().map(Self::response_out).collect(),
                )
            }
        }
    };
}

adapt_crate!(Reference, reference);

/// The lesson's criteria bound to one implementation: what a probe process runs.
pub fn probe<S: Subject + 'static>(subject: S) -> Box<dyn Probe> {
    Box::new(Graded::new(subject, criteria::all()))
}

/// What the checker compiles in for lesson 01: the reference, the broken fixtures
/// and the correct variants. A `static`, not a `const`: see [`probe_kit::Builtins`].
pub static BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    reference: || probe(Reference),
    fixtures: fixtures::FIXTURES,
    variants: variants::VARIANTS,
};
