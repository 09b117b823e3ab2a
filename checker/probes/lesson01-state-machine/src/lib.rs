//! Grading lesson 01: the state machine.
//!
//! The criteria are written once, against the [`Subject`] trait, and run unchanged
//! on the learner's crate, on the reference and on the broken fixtures. The
//! reference's own types ([`reference::Command`] and friends) serve as the common
//! language: [`adapt_crate!`] converts the learner's types to and from them.

mod criteria;
pub mod fixtures;

use std::collections::BTreeMap;

use probe_kit::{Ctx, Info, Probe, Verdict};
use reference::{Command, Entry, Response, Violation};

pub use criteria::CRITERIA;

/// One implementation of lesson 01, seen through the reference's types.
pub trait Subject {
    type Store;
    fn new_store(&self) -> Self::Store;
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
            fn command(command: &::reference::Command) -> $krate::Command {
                match command.clone() {
                    ::reference::Command::Get { key } => $krate::Command::Get { key },
                    ::reference::Command::Set { key, value } => $krate::Command::Set { key, value },
                    ::reference::Command::Del { key } => $krate::Command::Del { key },
                }
            }

            fn response_in(response: &::reference::Response) -> $krate::Response {
                match response.clone() {
                    ::reference::Response::Value { value, version } => {
                        $krate::Response::Value { value, version }
                    }
                    ::reference::Response::NotFound => $krate::Response::NotFound,
                    ::reference::Response::Stored { version, seq } => {
                        $krate::Response::Stored { version, seq }
                    }
                    ::reference::Response::Deleted { version, seq } => {
                        $krate::Response::Deleted { version, seq }
                    }
                }
            }

            fn response_out(response: $krate::Response) -> ::reference::Response {
                match response {
                    $krate::Response::Value { value, version } => {
                        ::reference::Response::Value { value, version }
                    }
                    $krate::Response::NotFound => ::reference::Response::NotFound,
                    $krate::Response::Stored { version, seq } => {
                        ::reference::Response::Stored { version, seq }
                    }
                    $krate::Response::Deleted { version, seq } => {
                        ::reference::Response::Deleted { version, seq }
                    }
                }
            }

            fn violation_out(violation: $krate::Violation) -> ::reference::Violation {
                use ::reference::Violation as R;
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
                entries: ::std::collections::BTreeMap<String, ::reference::Entry>,
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
                command: &::reference::Command,
            ) -> ::reference::Response {
                Self::response_out(store.apply(Self::command(command)))
            }

            fn render(&self, response: &::reference::Response) -> String {
                Self::response_in(response).to_string()
            }

            fn view(&self, store: &Self::Store) -> ::reference::Store {
                let entries = store
                    .entries()
                    .iter()
                    .map(|(key, e)| {
                        let entry = ::reference::Entry {
                            value: e.value.clone(),
                            version: e.version,
                            seq: e.seq,
                        };
                        (key.clone(), entry)
                    })
                    .collect();
                ::reference::Store::from_parts(entries, store.global_seq())
            }

            fn check_invariants(&self, store: &Self::Store) -> Result<(), ::reference::Violation> {
                store.check_invariants().map_err(Self::violation_out)
            }

            fn replay(
                &self,
                log: &[::reference::Command],
            ) -> (Self::Store, Vec<::reference::Response>) {
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

#[cfg(feature = "learner")]
adapt_crate!(Learner, lesson01_state_machine);

/// The lesson's criteria bound to one subject.
pub struct Lesson01<S>(pub S);

impl<S: Subject> Probe for Lesson01<S> {
    fn criteria(&self) -> &'static [Info] {
        CRITERIA
    }

    fn run(&self, id: &str, ctx: &Ctx) -> Verdict {
        criteria::run(&self.0, id, ctx)
    }
}

/// What the checker compiles in for lesson 01: the reference and the fixtures.
pub const BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    criteria: CRITERIA,
    reference: || Box::new(Lesson01(Reference)),
    fixtures: fixtures::FIXTURES,
};
