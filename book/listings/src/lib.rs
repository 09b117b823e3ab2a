//! The listings of the book's theory chapters.
//!
//! Every concept is a small module that a chapter includes by anchor, so the
//! code a reader sees is the code these tests compile and run. The comments
//! explain *why* a lock or an ordering is there; the tests prove the property
//! the chapter claims, with barriers, joins, invariants and deadlines, never
//! with sleeps that hope for the best.
//!
//! - [`primitives`]: races, mutexes, semaphores, condition variables,
//!   reader-writer locks, barriers, deadlock, lock-free counters, spin locks.
//! - [`proving`]: a reader-writer lock built as a monitor, with its invariants
//!   written next to the code and checked at every transition.
//! - [`publication`]: handing data to readers with release and acquire,
//!   copy-and-swap, and freeing the old copy safely.
//!
//! - [`memory_model`]: happens-before, the orderings, `SeqCst` and store
//!   buffering, fences, and `compare_exchange`'s two orderings, each checked
//!   under loom.
//!
//! - [`does_it_compile`]: the mistakes the compiler rejects, one doc test each.
//!
//! Some modules are also model-checked; see the `loom` notes in
//! [`memory_model`], [`proving`] and [`publication`].

pub mod does_it_compile;
pub mod memory_model;
pub mod primitives;
pub mod proving;
pub mod publication;
pub mod sync;

#[cfg(test)]
pub(crate) mod testing;
