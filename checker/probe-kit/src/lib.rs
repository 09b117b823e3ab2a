//! The probe side of the checker.
//!
//! A *probe* is a small program that runs one grading criterion against one
//! implementation of a lesson (the learner's crate, the reference, or a deliberately
//! broken fixture) and reports the outcome to the checker. The checker starts one
//! probe process per criterion, so a deadlock, an infinite loop or an abort in
//! learner code only ever takes down that one process, which the checker kills at
//! its deadline.
//!
//! Every lesson's probe crate provides its table of [`Criterion`]s; this crate
//! supplies the rest: the criterion metadata ([`Info`]), the verdict types, the one
//! [`Probe`] implementation ([`Graded`]), the harness and its private channel to the
//! checker ([`probe_main`], [`protocol`]), panic capture that turns `todo!()` into
//! "not implemented yet", and expected-output snapshots ([`snapshot`]).

pub mod protocol;
mod runner;
pub mod snapshot;
pub mod sync;

use std::fmt;

use rand::SeedableRng;
use rand::rngs::StdRng;

pub use runner::{forget_recorded_panic, probe_main, take_recorded_panic};

/// What the checker shows for a criterion before and after running it.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    /// Stable identifier, used on the command line, in JSON and in the tests.
    pub id: &'static str,
    /// One line saying what the criterion proves.
    pub title: &'static str,
    /// What to look at when it fails.
    pub hint: &'static str,
    /// Chapter and section of the book that explains it, as `file.html#anchor`.
    pub book: &'static str,
    /// The hang detector: the checker kills the probe after this long. Generous on
    /// purpose; a passing run takes a small fraction of it.
    pub deadline_secs: u64,
    /// False for an item a person reads rather than the checker grades (a written
    /// argument, say): it is reported "for review", never as passed or failed.
    pub graded: bool,
    /// The lesson's steps (the stub's `todo!("step N: ...")`s) whose code this
    /// criterion exercises: `checker diff` shows it beside them, and every step has
    /// at least one graded criterion (a test in the checker says so).
    pub steps: &'static [u8],
}

/// Why a criterion failed: what the criterion expected and what it saw instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub expected: String,
    pub seen: String,
    /// A longer piece of evidence, such as a diff against the expected output.
    pub detail: Option<String>,
    /// A hint chosen for the evidence seen, in place of the criterion's own: a
    /// criterion that can tell a wrong version from a lost update says which.
    pub hint: Option<String>,
    /// The criterion saw a thread that never came back (it gave up waiting on it):
    /// the checker treats this like a hang it saw itself.
    pub stuck: bool,
}

impl Failure {
    pub fn new(expected: impl fmt::Display, seen: impl fmt::Display) -> Self {
        Failure {
            expected: expected.to_string(),
            seen: seen.to_string(),
            detail: None,
            hint: None,
            stuck: false,
        }
    }

    pub fn with_detail(mut self, detail: impl fmt::Display) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    /// Marks the failure as a thread that never returned (a deadlock, an endless loop).
    pub fn stuck(mut self) -> Self {
        self.stuck = true;
        self
    }

    /// Replaces the criterion's hint with one that follows this evidence.
    pub fn with_hint(mut self, hint: impl fmt::Display) -> Self {
        self.hint = Some(hint.to_string());
        self
    }
}

/// The result of running one criterion to completion.
pub type Verdict = Result<(), Failure>;

/// What an item for review found, for the person who reads it: a one-line summary
/// (its size, which points it covers) and, if there is more, the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub summary: String,
    pub detail: Option<String>,
}

/// How one criterion or review item ended, as the probe tells the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Pass,
    Fail(Failure),
    ForReview(Review),
}

/// Fails with `expected`/`seen` unless `ok`; keeps criteria short and readable.
pub fn ensure(ok: bool, expected: impl fmt::Display, seen: impl fmt::Display) -> Verdict {
    if ok {
        Ok(())
    } else {
        Err(Failure::new(expected, seen))
    }
}

/// What a running criterion can use: its seed and a way to say what it is doing.
pub struct Ctx {
    seed: u64,
}

impl Ctx {
    pub fn new(seed: u64) -> Self {
        Ctx { seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A random number generator determined by the run's seed and `stream`, so that
    /// two parts of a criterion (two threads, say) draw independent, replayable values.
    pub fn rng(&self, stream: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Tells the checker what is about to happen. If the probe never finishes, the
    /// last progress line is how the report names the operation that hung.
    pub fn progress(&self, what: impl fmt::Display) {
        protocol::send(&protocol::Message::Progress {
            what: what.to_string(),
        });
    }
}

/// One criterion: what the checker shows for it, and the function that grades a
/// subject against it. The id lives in `info` and nowhere else, so a fixture names
/// the criterion it breaks by its `Info` (a typo does not compile) and the runner
/// finds the function by the same value.
pub struct Criterion<S> {
    pub info: &'static Info,
    run: Run<S>,
}

enum Run<S> {
    Graded(fn(&S, &Ctx) -> Verdict),
    ForReview(fn(&S, &Ctx) -> Review),
}

impl<S> Criterion<S> {
    pub const fn new(info: &'static Info, run: fn(&S, &Ctx) -> Verdict) -> Self {
        assert!(info.graded, "a graded criterion's Info says `graded: true`");
        Criterion {
            info,
            run: Run::Graded(run),
        }
    }

    /// An item the checker reports for a person to read, never as passed or failed.
    pub const fn for_review(info: &'static Info, run: fn(&S, &Ctx) -> Review) -> Self {
        assert!(
            !info.graded,
            "an item for review's Info says `graded: false`"
        );
        Criterion {
            info,
            run: Run::ForReview(run),
        }
    }
}

/// A lesson's criteria bound to one implementation of the lesson: what a probe
/// process runs.
pub trait Probe {
    fn criteria(&self) -> Vec<&'static Info>;
    /// Runs criterion `id`, or `None` if the lesson has no such criterion. Panics
    /// from the implementation are caught by the caller.
    fn run(&self, id: &str, ctx: &Ctx) -> Option<Finding>;
}

/// The one [`Probe`] every lesson uses: a subject and the lesson's criteria table.
pub struct Graded<S> {
    subject: S,
    criteria: Vec<Criterion<S>>,
    /// Applied to every failure, for evidence a lesson adds to all of them.
    amend: fn(Failure, &Ctx) -> Failure,
}

impl<S> Graded<S> {
    pub fn new(subject: S, criteria: Vec<Criterion<S>>) -> Self {
        Graded {
            subject,
            criteria,
            amend: |failure, _| failure,
        }
    }

    /// Passes every failure through `amend` before it is reported.
    pub fn amend_failures(mut self, amend: fn(Failure, &Ctx) -> Failure) -> Self {
        self.amend = amend;
        self
    }
}

impl<S> Probe for Graded<S> {
    fn criteria(&self) -> Vec<&'static Info> {
        self.criteria.iter().map(|c| c.info).collect()
    }

    fn run(&self, id: &str, ctx: &Ctx) -> Option<Finding> {
        let criterion = self.criteria.iter().find(|c| c.info.id == id)?;
        Some(match criterion.run {
            Run::Graded(run) => match run(&self.subject, ctx) {
                Ok(()) => Finding::Pass,
                Err(failure) => Finding::Fail((self.amend)(failure, ctx)),
            },
            Run::ForReview(run) => Finding::ForReview(run(&self.subject, ctx)),
        })
    }
}

/// The probes a lesson compiles into the checker itself: the reference and the
/// broken fixtures. (The learner's crate gets a probe binary of its own, generated
/// and built on demand, so that its compile errors never affect these.)
///
/// Each lesson keeps its `Builtins` in a `static`, not a `const`: a `const` is
/// copied into the crate that names it, so every criterion, instantiated for the
/// reference and each variant and fixture, would be compiled again inside the
/// checker, in one crate after all the others (two and a half minutes on 2 cores,
/// under a progress bar that does not move, and again after any probe change). A
/// `static` is compiled once, in its own lesson's crate, beside the others.
pub struct Builtins {
    pub reference: fn() -> Box<dyn Probe>,
    pub fixtures: &'static [Fixture],
    /// Correct implementations written differently from the reference: every
    /// criterion must accept each of them.
    pub variants: &'static [Variant],
}

impl Builtins {
    /// The lesson's criteria, in the order they run and are reported. The checker
    /// takes them from here, never from a probe process.
    pub fn criteria(&self) -> Vec<&'static Info> {
        (self.reference)().criteria()
    }

    /// `"reference"`, or a fixture's or a variant's name.
    pub fn probe(&self, name: &str) -> Option<Box<dyn Probe>> {
        if name == "reference" {
            return Some((self.reference)());
        }
        let fixture = self
            .fixtures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.make);
        let variant = self
            .variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.make);
        fixture.or(variant).map(|make| make())
    }
}

/// The hints for one criterion after its first, which is the criterion's `hint` or
/// the one its evidence chose. Each is closer to the code than the one before; none is
/// the answer. After the last, the checker points at the book section.
pub struct Ladder {
    pub criterion: &'static Info,
    pub more: &'static [&'static str],
}

/// A correct implementation that differs from the reference (another map, std's
/// locks, helper functions): proof that the criteria grade the rule, not the code.
pub struct Variant {
    pub name: &'static str,
    pub make: fn() -> Box<dyn Probe>,
}

/// A deliberately broken implementation, and the criterion that must reject it.
pub struct Fixture {
    pub name: &'static str,
    pub rejected_by: &'static Info,
    pub make: fn() -> Box<dyn Probe>,
}
