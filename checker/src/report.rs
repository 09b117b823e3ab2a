//! The graded report: built from the probes' outcomes, printed as a table for the
//! learner or as one JSON document for scripts.

use std::fmt::Write as _;
use std::io::IsTerminal;

use probe_kit::Info;
use probe_kit::protocol::Outcome;
use serde::{Deserialize, Serialize};

use crate::probe::{Ended, Run};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `lesson01`
    pub lesson: String,
    pub title: String,
    /// What was graded: `your crate (lessons/...)`, `reference (solutions/...)`, `fixture <name>`.
    pub graded: String,
    /// The folder of the graded crate, for the learner's crate (absolute).
    pub crate_path: Option<String>,
    /// Who last committed to that folder, as git says (`Name <email>`), if anyone.
    pub author: Option<String>,
    pub seed: u64,
    /// The compiler's output when the crate does not build; then no criterion ran.
    pub build_error: Option<String>,
    /// Why the checker would not build or run the crate; then no criterion ran.
    pub refused: Option<String>,
    pub criteria: Vec<CriterionReport>,
    /// How many graded criteria passed, of `total`; items for review count in neither.
    pub passed: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    NotImplemented,
    /// The crate did not build, so the criterion could not run.
    NotRun,
    /// An item a person reads (a written argument): the checker never grades it.
    ForReview,
}

impl Status {
    /// The four letters a report shows.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::NotImplemented => "TODO",
            Status::NotRun => "----",
            Status::ForReview => "READ",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The code ran and did the wrong thing.
    Wrong,
    Panic,
    Hang,
    Crash,
    /// The probe process did something the harness never does.
    Untrusted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CriterionReport {
    pub id: String,
    pub title: String,
    /// False for an item for review: it neither passes nor fails. (Results saved
    /// before items for review existed have no such field: all were graded.)
    #[serde(default = "graded_by_default")]
    pub graded: bool,
    pub status: Status,
    pub failure: Option<FailureKind>,
    pub expected: Option<String>,
    pub seen: Option<String>,
    /// More evidence: a diff, where in the random input it happened.
    pub detail: Option<String>,
    /// What the code printed while the criterion ran.
    pub output: Option<String>,
    pub hint: String,
    /// The book section, as `chapter.html#section`.
    pub book: String,
    pub elapsed_ms: u128,
}

fn graded_by_default() -> bool {
    true
}

impl Report {
    pub fn new(
        lesson: String,
        title: String,
        graded: String,
        seed: u64,
        criteria: Vec<CriterionReport>,
    ) -> Self {
        let passed = criteria.iter().filter(|c| c.status == Status::Pass).count();
        let total = criteria.iter().filter(|c| c.graded).count();
        Report {
            lesson,
            title,
            graded,
            crate_path: None,
            author: None,
            seed,
            build_error: None,
            refused: None,
            criteria,
            passed,
            total,
        }
    }

    pub fn all_pass(&self) -> bool {
        self.build_error.is_none() && self.refused.is_none() && self.passed == self.total
    }
}

impl CriterionReport {
    pub fn not_run(info: &Info) -> Self {
        Self::blank(info, Status::NotRun)
    }

    fn blank(info: &Info, status: Status) -> Self {
        CriterionReport {
            id: info.id.to_owned(),
            title: info.title.to_owned(),
            graded: info.graded,
            status,
            failure: None,
            expected: None,
            seen: None,
            detail: None,
            output: None,
            hint: info.hint.to_owned(),
            book: info.book.to_owned(),
            elapsed_ms: 0,
        }
    }

    /// Turns what happened to one probe run into the learner's terms; `threads` says
    /// whether the lesson's code runs threads (a hang then may be a deadlock).
    pub fn from_run(info: &Info, run: Run, threads: bool) -> Self {
        let mut report = Self::blank(info, Status::Fail);
        report.elapsed_ms = run.elapsed.as_millis();
        report.output = Some(run.output).filter(|o| !o.trim().is_empty());
        let during = run
            .last_progress
            .map(|p| format!(" while {p}"))
            .unwrap_or_default();
        // Set when the criterion chose a hint for what it saw: that one stays.
        let mut chose_hint = false;
        let (kind, expected, seen, detail) = match run.ended {
            // Only the harness reports, and it reports a pass only for what is graded
            // and a review only for what is not; anything else is not its report.
            Ended::Reported(Outcome::Pass | Outcome::ForReview { .. })
                if matches!(run.ended, Ended::Reported(Outcome::Pass)) != info.graded =>
            {
                (
                    FailureKind::Untrusted,
                    "a report from the checker's own harness".to_owned(),
                    "a pass for an item that is only ever reviewed, or a review for a graded \
                     criterion: the probe was built from other sources than the checker"
                        .to_owned(),
                    None,
                )
            }
            Ended::Reported(Outcome::ForReview { summary, detail }) => {
                report.status = Status::ForReview;
                report.seen = Some(summary);
                report.detail = detail;
                report.output = None;
                return report;
            }
            Ended::Reported(Outcome::Pass) => {
                report.status = Status::Pass;
                report.output = None;
                return report;
            }
            Ended::Reported(Outcome::NotImplemented { step }) => {
                report.status = Status::NotImplemented;
                report.seen = Some(format!("not implemented yet: {step}"));
                report.output = None;
                return report;
            }
            Ended::Reported(Outcome::Fail {
                expected,
                seen,
                detail,
                hint,
                stuck,
            }) => {
                if let Some(hint) = hint {
                    report.hint = hint;
                    chose_hint = true;
                }
                let kind = if stuck {
                    FailureKind::Hang
                } else {
                    FailureKind::Wrong
                };
                (kind, expected, seen, detail)
            }
            Ended::Reported(Outcome::Panic { message, location }) => (
                FailureKind::Panic,
                "no panic".to_owned(),
                match location {
                    Some(at) => format!("panicked{during} at {at}: {message}"),
                    None => format!("panicked{during}: {message}"),
                },
                None,
            ),
            Ended::Hung { after } => (
                FailureKind::Hang,
                format!("a result within the {}s deadline", info.deadline_secs),
                format!(
                    "no result after {:.1}s{during}, so the checker stopped it",
                    after.as_secs_f64(),
                ),
                None,
            ),
            Ended::Crashed { status } => (
                FailureKind::Crash,
                "a result".to_owned(),
                format!("the process {status} before reporting{during}"),
                None,
            ),
            Ended::Untrusted { why } => (
                FailureKind::Untrusted,
                "a report from the checker's own harness".to_owned(),
                format!(
                    "{why}{during}. The checker believes only its harness, so this run \
                     does not count as passed."
                ),
                None,
            ),
        };
        // A hang, a crash or a run the checker cannot believe says nothing about the
        // criterion's rule, so its fixed hint would point at the wrong step.
        if let Some(hint) = kind.hint(threads).filter(|_| !chose_hint) {
            report.hint = hint.to_owned();
        }
        report.failure = Some(kind);
        report.expected = Some(expected);
        report.seen = Some(seen);
        report.detail = detail;
        report
    }
}

impl FailureKind {
    /// The hint for a failure that is not about the criterion's rule.
    fn hint(self, threads: bool) -> Option<&'static str> {
        match self {
            FailureKind::Wrong | FailureKind::Panic => None,
            FailureKind::Hang if threads => Some(
                "The step named under `seen` never returned: a deadlock (a lock taken twice, \
                 or two locks taken in different orders by two threads), a thread waiting for \
                 a wake-up that never comes, or a loop whose condition never changes.",
            ),
            FailureKind::Hang => Some(
                "The step named under `seen` never returned: this lesson runs no threads and \
                 takes no locks, so look for a loop whose condition never changes, or a \
                 recursion that never reaches its base case.",
            ),
            FailureKind::Crash => Some(
                "Your code ended the process before the criterion finished: look for \
                 `process::exit`, `abort`, or recursion without end (a stack overflow aborts) \
                 in the step named under `seen`.",
            ),
            FailureKind::Untrusted => Some(
                "Nothing in a lesson needs to talk to the checker: remove whatever prints, \
                 connects or exits on the checker's behalf.",
            ),
        }
    }
}

/// Colours for a terminal, and nothing otherwise (or with NO_COLOR set).
pub(crate) struct Paint(pub(crate) bool);

impl Paint {
    /// Colour on a terminal, unless `NO_COLOR` is set.
    pub(crate) fn detect() -> Self {
        Paint(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    }

    pub(crate) fn paint(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// A status as a report shows it, in its colour.
    pub(crate) fn status(&self, status: Status) -> String {
        let colour = match status {
            Status::Pass => "32",
            Status::Fail => "31",
            Status::NotImplemented => "33",
            Status::NotRun => "2",
            Status::ForReview => "36",
        };
        self.paint(colour, status.word())
    }
}

/// The report as the learner reads it in a terminal: [`render_header`], then each
/// criterion's block (or why none ran), then [`render_footer`]. A check prints the
/// same pieces as it goes, so the streamed output and this one are the same text.
pub fn render_text(report: &Report, replay_command: &str) -> String {
    let mut out = render_header(report);
    if let Some(blocked) = render_blocked(report) {
        return out + &blocked;
    }
    let width = id_width(report.criteria.iter().map(|c| c.id.as_str()));
    for c in &report.criteria {
        out += &render_criterion(c, width);
    }
    out + &render_footer(report, replay_command)
}

/// The widest criterion id, to line up the table.
pub fn id_width<'a>(ids: impl Iterator<Item = &'a str>) -> usize {
    ids.map(str::len).max().unwrap_or(0)
}

pub fn render_header(report: &Report) -> String {
    let paint = Paint::detect();
    format!(
        "{} ({}): {}, seed {}\n\n",
        paint.paint("1", &report.lesson),
        report.title,
        report.graded,
        report.seed
    )
}

/// Why no criterion ran, if none did: a refusal or a compile error.
pub fn render_blocked(report: &Report) -> Option<String> {
    let paint = Paint::detect();
    let mut out = String::new();
    if let Some(refusal) = &report.refused {
        let _ = writeln!(
            out,
            "{}\n",
            paint.paint(
                "1;31",
                "Your crate cannot be graded as it is; no criterion ran."
            )
        );
        let _ = writeln!(out, "{}", refusal.trim_end());
        return Some(out);
    }
    let error = report.build_error.as_ref()?;
    let _ = writeln!(
        out,
        "{}\n",
        paint.paint("1;31", "Your crate does not build; no criterion could run.")
    );
    let _ = writeln!(out, "{}", error.trim_end());
    let _ = writeln!(
        out,
        "\nFix the first error above, then check again. If the errors point into checker/, \
         the public API of your crate (a type, a field or a signature) differs from the \
         one the lesson gives: put it back as it was."
    );
    Some(out)
}

/// One criterion's block: its status line and, unless it passed, the evidence.
pub fn render_criterion(c: &CriterionReport, width: usize) -> String {
    let paint = Paint::detect();
    let mut out = String::new();
    let label = paint.status(c.status);
    let _ = writeln!(out, "  {label}  {:<width$}  {}", c.id, c.title);
    let indent = " ".repeat(10);
    let field = |out: &mut String, name: &str, value: &Option<String>| {
        if let Some(value) = value {
            let value = value.trim_end().replace('\n', &format!("\n{indent}    "));
            let _ = writeln!(out, "{indent}{name:<9} {value}");
        }
    };
    match c.status {
        Status::Pass => return out,
        Status::NotRun => {
            field(&mut out, "not run", &c.seen);
            return out;
        }
        Status::NotImplemented => {
            let _ = writeln!(out, "{indent}{}", c.seen.as_deref().unwrap_or_default());
        }
        Status::ForReview => {
            let _ = writeln!(
                out,
                "{indent}for review, not graded: the checker never calls it passed or failed"
            );
            field(&mut out, "found", &c.seen);
            for line in c.detail.iter().flat_map(|d| d.lines()) {
                let _ = writeln!(out, "{indent}{:<9} {line}", "");
            }
        }
        Status::Fail => {
            field(&mut out, "expected", &c.expected);
            field(&mut out, "seen", &c.seen);
            field(
                &mut out,
                "where",
                &c.detail.clone().filter(|d| !d.contains('\n')),
            );
            if let Some(detail) = c.detail.as_ref().filter(|d| d.contains('\n')) {
                for line in detail.trim_end().lines() {
                    let line = match line.chars().next() {
                        Some('-') if !line.starts_with("---") => paint.paint("31", line),
                        Some('+') if !line.starts_with("+++") => paint.paint("32", line),
                        _ => line.to_owned(),
                    };
                    let _ = writeln!(out, "{indent}  {line}");
                }
            }
            field(
                &mut out,
                "printed",
                &c.output.as_ref().map(|o| last_lines(o, 12)),
            );
            field(&mut out, "hint", &Some(c.hint.clone()));
        }
    }
    let _ = writeln!(out, "{indent}{:<9} {}", "read", c.book);
    out
}

pub fn render_footer(report: &Report, replay_command: &str) -> String {
    let mut out = String::new();
    let counted = if report.total == 1 {
        "criterion passes"
    } else {
        "criteria pass"
    };
    let reviews = report.criteria.iter().filter(|c| !c.graded).count();
    let reviewed = match reviews {
        0 => String::new(),
        1 => " One more item is for review: a person reads it, the checker does not grade it."
            .to_owned(),
        n => format!(
            " {n} more items are for review: a person reads them, the checker does not grade them."
        ),
    };
    let _ = writeln!(
        out,
        "\n{} of {} {counted}.{reviewed}",
        report.passed, report.total
    );
    if !report.all_pass() {
        let _ = writeln!(
            out,
            "The book sections above are in the course book (`just book` opens it).\n\
             {replay_command}"
        );
    }
    out
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skipped = lines.len().saturating_sub(n);
    let tail = lines[skipped..].join("\n");
    if skipped > 0 {
        format!("({skipped} earlier lines not shown)\n{tail}")
    } else {
        tail
    }
}
