//! Grading lesson 02: the reader-writer layer.
//!
//! The criteria are written once, against the [`Subject`] trait, and run unchanged
//! on the learner's crate, on the reference and on the broken fixtures. Every store
//! under test wraps an [`Instrumented`] state machine: the lesson's `StateMachine`
//! trait is the seam through which the probe watches the critical sections from
//! inside. The lesson's types (`Command`, `Response`, ...) are lesson 01's, shared
//! by every crate, so no conversion is needed.

mod allocations;
pub mod blocked;
mod criteria;
pub mod fixtures;
pub mod hints;
pub mod history;
pub mod machine;
pub mod variants;

use probe_kit::{Graded, Probe};
use reference::{Command, Response, Violation};

pub use machine::{Census, Instrumented, Side, Watch};

// The adapter macro names these through `$crate`, so that a generated probe crate
// can expand it with no dependency of its own on the reference.
#[doc(hidden)]
pub use reference;

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

        /// A probe instrument wrapped in a type of this crate, so that this crate may
        /// implement the lesson crate's trait for it (the orphan rule forbids that for
        /// the probe's own type).
        pub struct Seam<T>(pub T);

        impl $krate::StateMachine for Seam<$crate::Instrumented> {
            fn lookup(&self, key: &str) -> Option<&$crate::reference::Entry> {
                $crate::Instrumented::lookup(&self.0, key)
            }

            fn apply(
                &mut self,
                command: $crate::reference::Command,
            ) -> $crate::reference::Response {
                $crate::Instrumented::apply(&mut self.0, command)
            }

            fn check_invariants(&self) -> Result<(), $crate::reference::Violation> {
                $crate::Instrumented::check_invariants(&self.0)
            }
        }

        impl $crate::Subject for $subject {
            type Store = $krate::ConcurrentStore<Seam<$crate::Instrumented>>;

            fn new_store(&self, machine: $crate::Instrumented) -> Self::Store {
                $krate::ConcurrentStore::with_machine(Seam(machine))
            }

            fn get(&self, store: &Self::Store, key: &str) -> $crate::reference::Response {
                store.get(key)
            }

            fn set(
                &self,
                store: &Self::Store,
                key: &str,
                value: &str,
            ) -> $crate::reference::Response {
                store.set(key, value)
            }

            fn del(&self, store: &Self::Store, key: &str) -> $crate::reference::Response {
                store.del(key)
            }

            fn check_invariants(
                &self,
                store: &Self::Store,
            ) -> Result<(), $crate::reference::Violation> {
                store.check_invariants()
            }
        }
    };
}

/// The reference, adapted; in a module of its own because the adapter defines its
/// helper types by fixed names.
mod reference_adapter {
    crate::adapt_crate!(Reference, reference);
}
pub use reference_adapter::Reference;

/// The lesson's criteria bound to one implementation: what a probe process runs.
pub fn probe<S: Subject + 'static>(subject: S) -> Box<dyn Probe> {
    Box::new(Graded::new(subject, criteria::all()))
}

/// A store written the way a learner writes `ConcurrentStore`, around the probe's
/// machine: how the fixtures and the variants are written, each in its own type.
pub trait Layer: Send + Sync + 'static {
    fn with_machine(machine: Instrumented) -> Self;
    fn get(&self, key: &str) -> Response;
    fn set(&self, key: &str, value: &str) -> Response;
    fn del(&self, key: &str) -> Response;
    fn check_invariants(&self) -> Result<(), Violation>;
}

/// A [`Layer`] seen as a [`Subject`].
pub struct Layered<L>(std::marker::PhantomData<fn() -> L>);

impl<L> Default for Layered<L> {
    fn default() -> Self {
        Layered(std::marker::PhantomData)
    }
}

impl<L> Clone for Layered<L> {
    fn clone(&self) -> Self {
        Layered(std::marker::PhantomData)
    }
}

impl<L: Layer> Subject for Layered<L> {
    type Store = L;

    fn new_store(&self, machine: Instrumented) -> L {
        L::with_machine(machine)
    }

    fn get(&self, store: &L, key: &str) -> Response {
        store.get(key)
    }

    fn set(&self, store: &L, key: &str, value: &str) -> Response {
        store.set(key, value)
    }

    fn del(&self, store: &L, key: &str) -> Response {
        store.del(key)
    }

    fn check_invariants(&self, store: &L) -> Result<(), Violation> {
        store.check_invariants()
    }
}

/// The probe for a [`Layer`].
pub fn layered<L: Layer>() -> Box<dyn Probe> {
    probe(Layered::<L>(std::marker::PhantomData))
}

/// What the checker compiles in for lesson 02: the reference, the broken fixtures
/// and the correct variants. A `static`, not a `const`: see [`probe_kit::Builtins`].
pub static BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    reference: || probe(Reference),
    fixtures: fixtures::FIXTURES,
    variants: variants::VARIANTS,
};
