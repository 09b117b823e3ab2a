//! `checker check`: build what is graded, run every criterion in its own process,
//! and collect the report, telling a [`Watcher`] how it goes.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use probe_kit::Info;

use crate::build::{self, Built};
use crate::lessons::Lesson;
use crate::probe::{Ended, ProbeCommand};
use crate::report::{CriterionReport, FailureKind, Report, Status};
use crate::workspace::Workspace;

/// Once one criterion has hung, how long each of the others may run. They run side by
/// side (a waiting probe uses no CPU), so one endless loop or deadlock costs its own
/// deadline and this, not a deadline per criterion that runs into the same step.
const AFTER_A_HANG: Duration = Duration::from_secs(3);

/// Whoever watches a check as it runs: the terminal, or nobody.
pub trait Watcher {
    /// Cargo started on something (`Compiling foo v0.1.0`) while building the probe.
    fn building(&mut self, _status: &str) {}
    /// The header is known: what is graded, with which seed.
    fn started(&mut self, _report: &Report, _criteria: &[&Info]) {}
    /// A criterion is still running: what it last said it was doing, and for how long.
    fn running(&mut self, _info: &Info, _doing: Option<&str>, _elapsed: Duration) {}
    fn finished(&mut self, _criterion: &CriterionReport) {}
}

/// A watcher that watches nothing (JSON output, tests).
pub struct Unwatched;

impl Watcher for Unwatched {}

/// What is graded.
pub enum Target {
    /// The learner's crate under lessons/.
    Learner,
    /// The reference under solutions/, compiled into the checker.
    Reference,
    /// One of the deliberately broken implementations, compiled into the checker.
    Fixture(String),
}

pub fn check(
    workspace: &Workspace,
    lesson: &Lesson,
    target: &Target,
    seed: u64,
    only: Option<&str>,
    watcher: &mut dyn Watcher,
) -> Result<Report> {
    let all = lesson.criteria();
    if let Some(id) = only.filter(|id| !all.iter().any(|c| c.id == *id)) {
        let ids: Vec<&str> = all.iter().map(|c| c.id).collect();
        bail!(
            "{} has no criterion `{id}`; its criteria are: {}",
            lesson.id(),
            ids.join(", ")
        );
    }
    // The checker's own list, never a probe's: a probe cannot leave one out.
    let criteria: Vec<&Info> = all
        .into_iter()
        .filter(|c| only.is_none_or(|id| c.id == id))
        .collect();
    if let Target::Fixture(name) = target
        && lesson.builtins.probe(name).is_none()
    {
        let fixtures: Vec<String> = lesson
            .builtins
            .fixtures
            .iter()
            .map(|f| format!("  {:<36} broken; rejected by {}", f.name, f.rejected_by.id))
            .collect();
        let variants: Vec<String> = lesson
            .builtins
            .variants
            .iter()
            .map(|v| format!("  {:<36} correct; passes every criterion", v.name))
            .collect();
        bail!(
            "{} has no built-in implementation `{name}`. It has:\n{}",
            lesson.id(),
            [fixtures, variants].concat().join("\n")
        );
    }
    let graded = describe(workspace, lesson, target);
    let identity = match target {
        Target::Learner => identify(&workspace.lesson_dir(lesson)),
        _ => (None, None),
    };
    let new_report = |results| {
        let mut report = Report::new(
            lesson.id(),
            lesson.title.into(),
            graded.clone(),
            seed,
            results,
        );
        (report.crate_path, report.author) = identity.clone();
        report
    };
    let not_run = || {
        criteria
            .iter()
            .map(|c| CriterionReport::not_run(c))
            .collect()
    };
    watcher.started(&new_report(Vec::new()), &criteria);
    let probe = match target {
        Target::Learner => {
            let dir = workspace.lesson_dir(lesson);
            if !dir.join("Cargo.toml").is_file() {
                bail!(
                    "your crate for {} is missing: {} has no Cargo.toml. Restore it with \
                     `git checkout -- {}`",
                    lesson.id(),
                    workspace.show(&dir),
                    workspace.show(&dir)
                );
            }
            match build::learner_probe(workspace, lesson, &mut |status| watcher.building(status))? {
                Built::Probe(program) => ProbeCommand {
                    program,
                    leading_args: vec![],
                    env: vec![],
                },
                Built::CompileError(error) => {
                    let mut report = new_report(not_run());
                    report.build_error = Some(error);
                    return Ok(report);
                }
                Built::Refused(refusal) => {
                    let mut report = new_report(not_run());
                    report.refused = Some(refusal.to_string());
                    return Ok(report);
                }
            }
        }
        Target::Reference => builtin(lesson, "reference")?,
        Target::Fixture(name) => builtin(lesson, name)?,
    };
    let mut results = Vec::new();
    let mut rest = criteria.iter();
    for info in rest.by_ref() {
        let deadline = Duration::from_secs(info.deadline_secs);
        let run = probe.run_watched(info.id, seed, deadline, &mut |doing, elapsed| {
            watcher.running(info, doing, elapsed)
        })?;
        let step = run.last_progress.clone();
        let report = CriterionReport::from_run(info, run, lesson.threads);
        // A hang the checker saw, or one the criterion saw from inside.
        let hang = (report.failure == Some(FailureKind::Hang)).then_some(step);
        watcher.finished(&report);
        results.push(report);
        if let Some(step) = hang {
            results.extend(after_a_hang(
                &probe,
                info,
                step,
                rest.as_slice(),
                seed,
                lesson.threads,
                watcher,
            )?);
            break;
        }
    }
    Ok(new_report(results))
}

/// Runs the criteria left after `hung` hung, side by side and each for at most
/// [`AFTER_A_HANG`]: those that finish are graded as usual; those that do not are not
/// run to the end, and say why, instead of each waiting out its own deadline.
fn after_a_hang(
    probe: &ProbeCommand,
    hung: &Info,
    step: Option<String>,
    rest: &[&Info],
    seed: u64,
    threads: bool,
    watcher: &mut dyn Watcher,
) -> Result<Vec<CriterionReport>> {
    let runs: Vec<Result<_>> = std::thread::scope(|scope| {
        let handles: Vec<_> = rest
            .iter()
            .map(|info| {
                let deadline = Duration::from_secs(info.deadline_secs).min(AFTER_A_HANG);
                scope.spawn(move || probe.run(info.id, seed, deadline))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a probe runner panicked")))
            })
            .collect()
    });
    let during = step.map(|s| format!(" while {s}")).unwrap_or_default();
    let mut reports = Vec::new();
    for (info, run) in rest.iter().zip(runs) {
        let run = run?;
        let report = if matches!(run.ended, Ended::Hung { .. }) {
            let mut report = CriterionReport::not_run(info);
            report.status = Status::NotRun;
            report.seen = Some(format!(
                "stopped after {}s: `{}` hung{during}, and this criterion did not finish \
                 either, so it most likely runs into the same step. Fix that hang first.",
                AFTER_A_HANG.as_secs(),
                hung.id
            ));
            report
        } else {
            CriterionReport::from_run(info, run, threads)
        };
        watcher.finished(&report);
        reports.push(report);
    }
    Ok(reports)
}

/// The checker runs its compiled-in probes by starting itself again, with the
/// hidden `probe` subcommand, so they get the same isolation as the learner's.
fn builtin(lesson: &Lesson, name: &str) -> Result<ProbeCommand> {
    let program = std::env::current_exe().context("cannot find the checker's own executable")?;
    Ok(ProbeCommand {
        program,
        leading_args: vec!["probe".into(), lesson.id(), name.into()],
        env: vec![],
    })
}

/// The graded crate's folder, and who last committed to it where git knows.
fn identify(dir: &std::path::Path) -> (Option<String>, Option<String>) {
    let path = std::path::absolute(dir)
        .ok()
        .map(|p| p.display().to_string());
    let author = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["log", "-1", "--format=%an <%ae>", "--", "."])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|a| !a.is_empty());
    (path, author)
}

fn describe(workspace: &Workspace, lesson: &Lesson, target: &Target) -> String {
    match target {
        Target::Learner => format!(
            "your crate ({})",
            workspace.show(&workspace.lesson_dir(lesson))
        ),
        Target::Reference => format!(
            "the reference ({})",
            workspace.show(&workspace.solution_dir(lesson))
        ),
        Target::Fixture(name) if lesson.builtins.variants.iter().any(|v| v.name == name) => {
            format!("the correct variant `{name}`")
        }
        Target::Fixture(name) => format!("the broken fixture `{name}`"),
    }
}

/// A seed for this run when none is given: different every run, printed in the
/// report so that any failure can be replayed.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)) % 1_000_000
}
