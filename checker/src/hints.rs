//! `checker hint`: the next hint for the first criterion that does not pass, one at
//! a time. The first hint is the one the evidence chose (the report's); asking for
//! more climbs that criterion's ladder, closer to the code each time, and ends at the
//! book section. How far the learner has climbed is kept per lesson, under target/.

use std::fs;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::check::{self, Target, Unwatched};
use crate::lessons::Lesson;
use crate::progress;
use crate::report::{Report, Status};
use crate::workspace::Workspace;

/// How far up one criterion's ladder the learner has gone.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Climbed {
    criterion: String,
    level: usize,
}

/// The hint for `checker hint`: from the last full check if it is newer than the
/// crate, or from a check run now.
pub fn for_lesson(workspace: &Workspace, lesson: &Lesson, more: bool) -> Result<String> {
    let report = match progress::last_report_if_fresh(workspace, lesson) {
        Some(report) => report,
        None => {
            let seed = check::fresh_seed();
            let report = check::check(
                workspace,
                lesson,
                &Target::Learner,
                seed,
                None,
                &mut Unwatched,
            )?;
            progress::save(workspace, &report)?;
            report
        }
    };
    next(workspace, lesson, &report, more)
}

/// The hint for the first criterion of `report` that does not pass: the one the
/// learner is at, or with `more` the next one, remembered for next time.
pub fn next(workspace: &Workspace, lesson: &Lesson, report: &Report, more: bool) -> Result<String> {
    if report.refused.is_some() || report.build_error.is_some() {
        return Ok(format!(
            "Your crate for {} cannot be graded yet (`just check {}` says why): that comes \
             before any hint.",
            lesson.id(),
            lesson.id()
        ));
    }
    let Some(first) = report
        .criteria
        .iter()
        .find(|c| c.graded && c.status != Status::Pass)
    else {
        return Ok(format!(
            "Every criterion of {} passes: no hint needed. Compare your design with the \
             reference's, if you like: `just diff {}`.",
            lesson.id(),
            lesson.id()
        ));
    };
    let more_hints = lesson
        .hints
        .iter()
        .find(|l| l.criterion.id == first.id)
        .map_or(&[][..], |l| l.more);
    let mut ladder: Vec<String> = vec![first.hint.clone()];
    ladder.extend(more_hints.iter().map(|h| h.to_string()));
    ladder.push(format!(
        "The book section {} explains this step and shows the code it needs. Read it, then \
         write the code yourself.",
        first.book
    ));

    let path = workspace
        .state_dir()
        .join("hints")
        .join(format!("{}.json", lesson.id()));
    let climbed: Climbed = fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    // A new first failure starts a new ladder.
    let level = match (climbed.criterion == first.id, more) {
        (true, true) => climbed.level + 1,
        (true, false) => climbed.level,
        (false, _) => 0,
    }
    .min(ladder.len() - 1);
    fs::create_dir_all(path.parent().unwrap_or(&path))?;
    let state = Climbed {
        criterion: first.id.clone(),
        level,
    };
    fs::write(&path, serde_json::to_string(&state)?)
        .with_context(|| format!("cannot write {}", path.display()))?;

    let status = match first.status {
        Status::NotImplemented => first.seen.clone().unwrap_or_default(),
        Status::Fail => "fails".to_owned(),
        Status::NotRun => "not run".to_owned(),
        Status::Pass | Status::ForReview => unreachable!("the first graded criterion that fails"),
    };
    let next = if level + 1 < ladder.len() {
        format!("`just hint {} --more` gives the next one.", lesson.id())
    } else {
        "That is the last hint.".to_owned()
    };
    let untouched = report
        .criteria
        .iter()
        .all(|c| !c.graded || c.status == Status::NotImplemented);
    let start = if untouched && level == 0 {
        format!("Where to start: {}\n\n", lesson.start)
    } else {
        String::new()
    };
    Ok(format!(
        "{start}{} `{}` ({status}), hint {} of {}:\n\n  {}\n\n{next}\n",
        lesson.id(),
        first.id,
        level + 1,
        ladder.len(),
        ladder[level]
    ))
}
