//! Grading lesson 03: the stress test.
//!
//! Here the learner's code is the *test*, so it is graded by what it catches. The
//! criteria run it on the correct store of lesson 02, on stores with a planted
//! bug ([`planted`]), and on a recording store that shows which operations each
//! thread really performed. The fixtures are broken stress tests.

mod criteria;
pub mod fixtures;
pub mod hints;
pub mod planted;
pub mod variants;
pub mod watched;

use std::sync::Arc;

use probe_kit::{Graded, Probe};
use reference::{Check, Command, KvStore, Response, StressConfig, StressReport};

// The adapter macro names these through `$crate`, so that a generated probe crate
// can expand it with no dependency of its own on the reference.
#[doc(hidden)]
pub use reference;

/// One implementation of lesson 03, seen through the reference's types.
pub trait Subject: Clone + Send + Sync + 'static {
    fn plan(&self, config: &StressConfig, thread: usize) -> Vec<Command>;
    /// Step 4 on its own: what the readers saw, judged against what the writers did.
    fn check_reads(
        &self,
        config: &StressConfig,
        plans: &[Vec<Command>],
        seen: &[Vec<Response>],
    ) -> Check;
    fn run_stress(&self, store: Arc<dyn KvStore>, config: &StressConfig) -> StressReport;
    /// The report as the implementation's `Display` prints it.
    fn render(&self, report: &StressReport) -> String;
}

/// Implements [`Subject`] for a crate with lesson 03's public API, converting its
/// configuration and report types field by field, and its `KvStore` trait for
/// [`Bridge`]. The learner's crate and the reference both go through here.
#[macro_export]
macro_rules! adapt_crate {
    ($subject:ident, $krate:ident) => {
        #[derive(Clone, Copy)]
        pub struct $subject;

        /// Any store of the probe's, behind the crate's own `KvStore` trait.
        pub struct Bridge(pub ::std::sync::Arc<dyn $crate::reference::KvStore>);

        impl $krate::KvStore for Bridge {
            fn get(&self, key: &str) -> $crate::reference::Response {
                self.0.get(key)
            }

            fn set(&self, key: &str, value: &str) -> $crate::reference::Response {
                self.0.set(key, value)
            }

            fn del(&self, key: &str) -> $crate::reference::Response {
                self.0.del(key)
            }

            fn check_invariants(&self) -> Result<(), $crate::reference::Violation> {
                self.0.check_invariants()
            }
        }

        impl $subject {
            fn config(c: &$crate::reference::StressConfig) -> $krate::StressConfig {
                $krate::StressConfig {
                    writers: c.writers,
                    readers: c.readers,
                    ops_per_thread: c.ops_per_thread,
                    keys: c.keys,
                    seed: c.seed,
                    deadline: c.deadline,
                }
            }

            fn check_in(check: &$crate::reference::Check) -> $krate::Check {
                match check.clone() {
                    $crate::reference::Check::Pass => $krate::Check::Pass,
                    $crate::reference::Check::Fail(why) => $krate::Check::Fail(why),
                    $crate::reference::Check::Skipped(why) => $krate::Check::Skipped(why),
                }
            }

            fn check_out(check: $krate::Check) -> $crate::reference::Check {
                match check {
                    $krate::Check::Pass => $crate::reference::Check::Pass,
                    $krate::Check::Fail(why) => $crate::reference::Check::Fail(why),
                    $krate::Check::Skipped(why) => $crate::reference::Check::Skipped(why),
                }
            }
        }

        impl $crate::Subject for $subject {
            fn plan(
                &self,
                config: &$crate::reference::StressConfig,
                thread: usize,
            ) -> Vec<$crate::reference::Command> {
                $krate::plan(&Self::config(config), thread)
            }

            fn check_reads(
                &self,
                config: &$crate::reference::StressConfig,
                plans: &[::std::vec::Vec<$crate::reference::Command>],
                seen: &[::std::vec::Vec<$crate::reference::Response>],
            ) -> $crate::reference::Check {
                Self::check_out($krate::check_reads(&Self::config(config), plans, seen))
            }

            fn run_stress(
                &self,
                store: ::std::sync::Arc<dyn $crate::reference::KvStore>,
                config: &$crate::reference::StressConfig,
            ) -> $crate::reference::StressReport {
                let store = ::std::sync::Arc::new(Bridge(store));
                let report = $krate::run_stress(store, &Self::config(config));
                $crate::reference::StressReport {
                    threads: report.threads,
                    operations: report.operations,
                    finished: Self::check_out(report.finished),
                    invariants: Self::check_out(report.invariants),
                    reads: Self::check_out(report.reads),
                    elapsed: report.elapsed,
                }
            }

            fn render(&self, report: &$crate::reference::StressReport) -> String {
                $krate::StressReport {
                    threads: report.threads,
                    operations: report.operations,
                    finished: Self::check_in(&report.finished),
                    invariants: Self::check_in(&report.invariants),
                    reads: Self::check_in(&report.reads),
                    elapsed: report.elapsed,
                }
                .to_string()
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

/// What the checker compiles in for lesson 03: the reference, the fixtures and the
/// correct variants. A `static`, not a `const`: see [`probe_kit::Builtins`].
pub static BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    reference: || probe(Reference),
    fixtures: fixtures::FIXTURES,
    variants: variants::VARIANTS,
};
