//! Correct designs of lesson 04 that differ from the reference: the turnstile as an
//! upgradable read of the state's own lock, a copy-on-write state behind an `Arc`, and
//! the number counted in the turnstile with a buffered, self-cleaning save. Each
//! declares its own design in its policy. A fourth is the reference's code with an
//! argument of filler: its true claims pass, and its argument is for review like
//! every other, never passed. Every criterion must accept each of
//! them; a criterion that rejects one grades the reference's code, not the rule.
//!
//! Each is a whole store with the lesson's public API, graded through the same
//! [`adapt_crate!`](crate::adapt_crate) as a learner's crate.

mod boilerplate_argument;
mod copy_on_write;
mod counted_turnstile;
mod upgradable_turnstile;

use probe_kit::Variant;

/// The lesson's given parts (the traits, the errors, the format), which every variant
/// shares with the reference as a learner's crate does.
mod given {
    pub use reference::{
        Disk, SnapshotError, SnapshotInfo, StateMachine, WriteError, WriteHook, decode, encode,
        temp_path_for, validate,
    };
}

mod adapters {
    pub mod upgradable {
        crate::adapt_crate!(Subject, store);
        use super::super::upgradable_turnstile as store;
    }
    pub mod copy_on_write {
        crate::adapt_crate!(Subject, store);
        use super::super::copy_on_write as store;
    }
    pub mod boilerplate_argument {
        crate::adapt_crate!(Subject, store);
        use super::super::boilerplate_argument as store;
    }
    pub mod counted_turnstile {
        crate::adapt_crate!(Subject, store);
        use super::super::counted_turnstile as store;
    }
}

pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "upgradable-turnstile",
        make: || crate::probe(adapters::upgradable::Subject),
    },
    Variant {
        name: "copy-on-write-arc",
        make: || crate::probe(adapters::copy_on_write::Subject),
    },
    Variant {
        name: "counted-turnstile-buffered-save",
        make: || crate::probe(adapters::counted_turnstile::Subject),
    },
    Variant {
        name: "boilerplate-argument",
        make: || crate::probe(adapters::boilerplate_argument::Subject),
    },
];
