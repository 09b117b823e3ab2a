//! `checker check`: build what is graded, run every criterion in its own process,
//! and collect the report.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use probe_kit::Info;

use crate::build::{self, Built};
use crate::lessons::Lesson;
use crate::probe::ProbeCommand;
use crate::report::{CriterionReport, Report};
use crate::workspace::Workspace;

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
    let graded = describe(workspace, lesson, target);
    let new_report = |results| Report::new(lesson.id(), lesson.title.into(), graded.clone(), seed, results);
    let not_run = || criteria.iter().map(|c| CriterionReport::not_run(c)).collect();
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
            match build::learner_probe(workspace, lesson)? {
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
        Target::Fixture(name) => {
            if lesson.builtins.probe(name).is_none() {
                let names: Vec<&str> = lesson.builtins.fixtures.iter().map(|f| f.name).collect();
                bail!(
                    "{} has no fixture `{name}`; it has: {}",
                    lesson.id(),
                    names.join(", ")
                );
            }
            builtin(lesson, name)?
        }
    };
    let results = criteria
        .iter()
        .map(|info| run_one(&probe, info, seed))
        .collect::<Result<_>>()?;
    Ok(new_report(results))
}

fn run_one(probe: &ProbeCommand, info: &Info, seed: u64) -> Result<CriterionReport> {
    let run = probe.run(info.id, seed, Duration::from_secs(info.deadline_secs))?;
    Ok(CriterionReport::from_run(info, run))
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
