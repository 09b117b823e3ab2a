//! Grading lesson 02: the reader-writer layer.
//!
//! The criteria are written once, against the [`Subject`] trait, and run unchanged
//! on the learner's crate, on the reference and on the broken fixtures. Every store
//! under test wraps an [`Instrumented`] state machine: the lesson's `StateMachine`
//! trait is the seam through which the probe watches the critical sections from
//! inside. The lesson's types (`Command`, `Response`, ...) are lesson 01's, shared
//! by every crate, so no conversion is needed.

mod criteria;
pub mod fixtures;
pub mod history;
pub mod machine;

use probe_kit::{Ctx, Info, Probe, Verdict};
use reference::{Command, Response, Violation};

pub use criteria::CRITERIA;
pub use machine::{Census, Instrumented, Side, Watch};

/// One implementation of lesson 02: a store shared by threads, around the probe's
/// instrumented state machine.
pub trait Subject: Clone + Send + Sync + 'static {
    type Store: Send + Sync + 'static;
    fn new_store(&self, machine: Instrumented) -> Self::Store;
    fn get(&self, store: &Self::Store, key: &str) -> Response;
    fn set(&self, store: &Self::Store, key: &str, value: &str) -> Response;
    fn del(&self, store: &Self::Store, key: &str) -> Response;
    fn check_invariants(&self, store: &Self::Store) -> Result<(), Violation>;

    /// Runs a lesson 01 command through the matching method.
    fn execute(&self, store: &Self::Store, command: &Command) -> Response {
        match command {
            Command::Get { key } => self.get(store, key),
            Command::Set { key, value } => self.set(store, key, value),
            Command::Del { key } => self.del(store, key),
        }
    }
}

/// Implements [`Subject`] for a crate with lesson 02's public API, and the crate's
/// `StateMachine` trait for the probe's [`Instrumented`] machine. The learner's
/// crate and the reference both go through here.
#[macro_export]
macro_rules! adapt_crate {
    ($subject:ident, $krate:ident) => {
        #[derive(Clone, Copy)]
        pub struct $subject;

        impl $krate::StateMachine for $crate::Instrumented {
            fn lookup(&self, key: &str) -> Option<&::reference::Entry> {
                $crate::Instrumented::lookup(self, key)
            }

            fn apply(&mut self, command: ::reference::Command) -> ::reference::Response {
                $crate::Instrumented::apply(self, command)
            }

            fn check_invariants(&self) -> Result<(), ::reference::Violation> {
                $crate::Instrumented::check_invariants(self)
            }
        }

        impl $crate::Subject for $subject {
            type Store = $krate::ConcurrentStore<$crate::Instrumented>;

            fn new_store(&self, machine: $crate::Instrumented) -> Self::Store {
                $krate::ConcurrentStore::with_machine(machine)
            }

            fn get(&self, store: &Self::Store, key: &str) -> ::reference::Response {
                store.get(key)
            }

            fn set(&self, store: &Self::Store, key: &str, value: &str) -> ::reference::Response {
                store.set(key, value)
            }

            fn del(&self, store: &Self::Store, key: &str) -> ::reference::Response {
                store.del(key)
            }

            fn check_invariants(&self, store: &Self::Store) -> Result<(), ::reference::Violation> {
                store.check_invariants()
            }
        }
    };
}

adapt_crate!(Reference, reference);

#[cfg(feature = "learner")]
adapt_crate!(Learner, lesson02_rwlock_layer);

/// The lesson's criteria bound to one subject.
pub struct Lesson02<S>(pub S);

impl<S: Subject> Probe for Lesson02<S> {
    fn criteria(&self) -> &'static [Info] {
        CRITERIA
    }

    fn run(&self, id: &str, ctx: &Ctx) -> Verdict {
        criteria::run(&self.0, id, ctx)
    }
}

/// What the checker compiles in for lesson 02: the reference and the fixtures.
pub const BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    criteria: CRITERIA,
    reference: || Box::new(Lesson02(Reference)),
    fixtures: fixtures::FIXTURES,
};
