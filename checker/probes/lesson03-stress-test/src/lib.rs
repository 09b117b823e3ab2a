//! Grading lesson 03: the stress test.
//!
//! Here the learner's code is the *test*, so it is graded by what it catches. The
//! criteria run it on the correct store of lesson 02, on stores with a planted
//! bug ([`planted`]), and on a recording store that shows which operations each
//! thread really performed. The fixtures are broken stress tests.

mod criteria;
pub mod fixtures;
pub mod planted;

use std::sync::Arc;

use probe_kit::{Ctx, Info, Probe, Verdict};
use reference::{Command, KvStore, StressConfig, StressReport};

pub use criteria::CRITERIA;

/// One implementation of lesson 03, seen through the reference's types.
pub trait Subject: Clone + Send + Sync + 'static {
    fn plan(&self, config: &StressConfig, thread: usize) -> Vec<Command>;
    fn run_stress(&self, store: Arc<dyn KvStore>, config: &StressConfig) -> StressReport;
    /// The report as the implementation's `Display` prints it.
    fn render(&self, report: &StressReport) -> String;
}

/// Any store of the probe's, behind whichever `KvStore` trait a crate defines.
pub struct Bridge(pub Arc<dyn KvStore>);

/// Implements [`Subject`] for a crate with lesson 03's public API, converting its
/// configuration and report types field by field, and its `KvStore` trait for
/// [`Bridge`]. The learner's crate and the reference both go through here.
#[macro_export]
macro_rules! adapt_crate {
    ($subject:ident, $krate:ident) => {
        #[derive(Clone, Copy)]
        pub struct $subject;

        impl $krate::KvStore for $crate::Bridge {
            fn get(&self, key: &str) -> ::reference::Response {
                self.0.get(key)
            }

            fn set(&self, key: &str, value: &str) -> ::reference::Response {
                self.0.set(key, value)
            }

            fn del(&self, key: &str) -> ::reference::Response {
                self.0.del(key)
            }

            fn check_invariants(&self) -> Result<(), ::reference::Violation> {
                self.0.check_invariants()
            }
        }

        impl $subject {
            fn config(c: &::reference::StressConfig) -> $krate::StressConfig {
                $krate::StressConfig {
                    writers: c.writers,
                    readers: c.readers,
                    ops_per_thread: c.ops_per_thread,
                    keys: c.keys,
                    seed: c.seed,
                    deadline: c.deadline,
                }
            }

            fn check_in(check: &::reference::Check) -> $krate::Check {
                match check.clone() {
                    ::reference::Check::Pass => $krate::Check::Pass,
                    ::reference::Check::Fail(why) => $krate::Check::Fail(why),
                    ::reference::Check::Skipped(why) => $krate::Check::Skipped(why),
                }
            }

            fn check_out(check: $krate::Check) -> ::reference::Check {
                match check {
                    $krate::Check::Pass => ::reference::Check::Pass,
                    $krate::Check::Fail(why) => ::reference::Check::Fail(why),
                    $krate::Check::Skipped(why) => ::reference::Check::Skipped(why),
                }
            }
        }

        impl $crate::Subject for $subject {
            fn plan(
                &self,
                config: &::reference::StressConfig,
                thread: usize,
            ) -> Vec<::reference::Command> {
                $krate::plan(&Self::config(config), thread)
            }

            fn run_stress(
                &self,
                store: ::std::sync::Arc<dyn ::reference::KvStore>,
                config: &::reference::StressConfig,
            ) -> ::reference::StressReport {
                let store = ::std::sync::Arc::new($crate::Bridge(store));
                let report = $krate::run_stress(store, &Self::config(config));
                ::reference::StressReport {
                    threads: report.threads,
                    operations: report.operations,
                    finished: Self::check_out(report.finished),
                    invariants: Self::check_out(report.invariants),
                    reads: Self::check_out(report.reads),
                    elapsed: report.elapsed,
                }
            }

            fn render(&self, report: &::reference::StressReport) -> String {
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

adapt_crate!(Reference, reference);

#[cfg(feature = "learner")]
adapt_crate!(Learner, lesson03_stress_test);

/// The lesson's criteria bound to one subject.
pub struct Lesson03<S>(pub S);

impl<S: Subject> Probe for Lesson03<S> {
    fn criteria(&self) -> &'static [Info] {
        CRITERIA
    }

    fn run(&self, id: &str, ctx: &Ctx) -> Verdict {
        criteria::run(&self.0, id, ctx)
    }
}

/// What the checker compiles in for lesson 03: the reference and the fixtures.
pub const BUILTINS: probe_kit::Builtins = probe_kit::Builtins {
    criteria: CRITERIA,
    reference: || Box::new(Lesson03(Reference)),
    fixtures: fixtures::FIXTURES,
};
