//! The publication chapter: handing data from a writer to readers without a
//! lock, and freeing the old data safely.
//!
//! Model checking: with `RUSTFLAGS="--cfg loom"`, the tests of [`guard_flag`]
//! and [`snapshot`] run under loom, which shows the relaxed versions broken
//! and the release/acquire versions correct.

pub mod guard_flag;
pub mod packed;
pub mod snapshot;
