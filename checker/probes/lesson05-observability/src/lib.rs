//! Grading lesson 05: observability.
//!
//! The criteria are written once, against the [`Subject`] trait, and run unchanged
//! on the learner's crate, on the reference and on the broken fixtures. Every store
//! under test is built on the lesson's two seams, `Store::with_parts(machine, clock)`,
//! with the probe's [`Instrumented`] state machine and [`FakeClock`] (see [`rig`]):
//! latencies are exactly the ones the probe plants, and an operation can be stopped
//! inside the state machine while it holds the store's lock.

mod criteria;
pub mod exposition;
pub mod fixtures;
pub mod hints;
pub mod rig;
pub mod variants;

use std::sync::Arc;
use std::time::Duration;

use probe_kit::{Graded, Probe};
use reference::{HistogramSnapshot, Rejected, Stats};
use state::{Command, Response};

pub use criteria::{render_script, script};
pub use rig::{
    FakeClock, Hold, Instrumented, Rig, held_at_clock_reads, held_inside, refusal_takes,
    set_latency,
};

// The adapter macro names these through `$crate`, so that a generated probe crate
// can expand it with no dependency of its own on the reference.
#[doc(hidden)]
pub use reference;
#[doc(hidden)]
pub use state;

/// One implementation of lesson 05, seen through the reference's types.
pub trait Subject: Copy + Send + Sync + 'static {
    type Store: Send + Sync + 'static;
    /// An empty store over the rig's instrumented state machine and fake clock.
    fn new_store(&self, rig: &Arc<Rig>) -> Self::Store;
    fn execute(&self, store: &Self::Store, command: Command) -> Result<Response, Rejected>;
    fn stats(&self, store: &Self::Store) -> Stats;
    /// `render_prometheus`, as the implementation writes it.
    fn render(&self, store: &Self::Store) -> String;
    /// `Stats::render_prometheus` of these numbers, handed to it as they are.
    fn render_stats(&self, stats: &Stats) -> String;
    /// A new histogram with every one of `samples` recorded, as a snapshot, and its
    /// percentile for each of `quantiles`.
    fn histogram(
        &self,
        samples: &[Duration],
        quantiles: &[f64],
    ) -> (HistogramSnapshot, Vec<Option<Duration>>);
}

/// Implements [`Subject`] for a crate with lesson 05's public API, and plugs the
/// probe's rig into that crate's seams. The learner's crate and the reference both go
/// through here, so they are graded by exactly the same code.
#[macro_export]
macro_rules! adapt_crate {
    ($subject:ident, $krate:ident) => {
        #[derive(Debug, Clone, Copy)]
        pub struct $subject;

        /// A probe instrument wrapped in a type of this crate, so that this crate may
        /// implement the lesson crate's trait for it (the orphan rule forbids that for
        /// the probe's own type).
        pub struct Seam<T>(pub T);

        impl $krate::StateMachine for Seam<$crate::Instrumented> {
            fn read(&self, key: &str) -> $crate::state::Response {
                $crate::Instrumented::read(&self.0, key)
            }

            fn write(&mut self, command: $crate::state::Command) -> $crate::state::Response {
                $crate::Instrumented::write(&mut self.0, command)
            }
        }

        impl $krate::Clock for Seam<$crate::FakeClock> {
            fn now(&self) -> ::std::time::Instant {
                $crate::FakeClock::now(&self.0)
            }
        }

        impl $subject {
            fn snapshot_out(h: &$krate::HistogramSnapshot) -> $crate::reference::HistogramSnapshot {
                let mut buckets = [0; $crate::reference::BUCKETS];
                for (slot, samples) in buckets.iter_mut().zip(h.buckets.iter()) {
                    *slot = *samples;
                }
                $crate::reference::HistogramSnapshot {
                    buckets,
                    sum_nanos: h.sum_nanos,
                }
            }

            fn rejected_out(rejected: $krate::Rejected) -> $crate::reference::Rejected {
                match rejected {
                    $krate::Rejected::EmptyKey => $crate::reference::Rejected::EmptyKey,
                    $krate::Rejected::KeyTooLong { len } => {
                        $crate::reference::Rejected::KeyTooLong { len }
                    }
                    $krate::Rejected::ValueTooLong { len } => {
                        $crate::reference::Rejected::ValueTooLong { len }
                    }
                }
            }
        }

        impl $crate::Subject for $subject {
            type Store = $krate::Store<Seam<$crate::Instrumented>, Seam<$crate::FakeClock>>;

            fn new_store(&self, rig: &::std::sync::Arc<$crate::Rig>) -> Self::Store {
                $krate::Store::with_parts(
                    Seam($crate::Instrumented::new(rig)),
                    Seam($crate::FakeClock::new(rig)),
                )
            }

            fn execute(
                &self,
                store: &Self::Store,
                command: $crate::state::Command,
            ) -> Result<$crate::state::Response, $crate::reference::Rejected> {
                store.execute(command).map_err(Self::rejected_out)
            }

            fn stats(&self, store: &Self::Store) -> $crate::reference::Stats {
                let stats = store.stats();
                $crate::reference::Stats {
                    gets: stats.gets,
                    sets: stats.sets,
                    dels: stats.dels,
                    hits: stats.hits,
                    misses: stats.misses,
                    errors: stats.errors,
                    latency: stats.latency.each_ref().map(Self::snapshot_out),
                }
            }

            fn render(&self, store: &Self::Store) -> String {
                store.render_prometheus()
            }

            fn render_stats(&self, stats: &$crate::reference::Stats) -> String {
                let snapshot_in =
                    |h: &$crate::reference::HistogramSnapshot| $krate::HistogramSnapshot {
                        buckets: h.buckets,
                        sum_nanos: h.sum_nanos,
                    };
                $krate::Stats {
                    gets: stats.gets,
                    sets: stats.sets,
                    dels: stats.dels,
                    hits: stats.hits,
                    misses: stats.misses,
                    errors: stats.errors,
                    latency: stats.latency.each_ref().map(snapshot_in),
                }
                .render_prometheus()
            }

            fn histogram(
                &self,
                samples: &[::std::time::Duration],
                quantiles: &[f64],
            ) -> (
                $crate::reference::HistogramSnapshot,
                Vec<Option<::std::time::Duration>>,
            ) {
                let histogram = $krate::Histogram::new();
                for &sample in samples {
                    histogram.record(sample);
                }
                let snapshot = histogram.snapshot();
                let percentiles = quantiles.iter().map(|&q| snapshot.percentile(q)).collect();
                (Self::snapshot_out(&snapshot), percentiles)
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

/// What the checker compiles in for lesson 05: the reference, the fixtures and the
/// correct variants. A `static`, not a `const`: see [`probe_kit::Builtins`].
pub static BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    reference: || probe(Reference),
    fixtures: fixtures::FIXTURES,
    variants: variants::VARIANTS,
};
