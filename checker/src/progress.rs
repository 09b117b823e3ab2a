//! What `checker list` shows: how far each lesson is, from the learner's crate and
//! the last check of it.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::lessons::{LESSONS, Lesson};
use crate::report::Report;
use crate::workspace::Workspace;

/// Remembers the learner's last report of a lesson, for `checker list`.
pub fn save(workspace: &Workspace, report: &Report) -> Result<()> {
    let dir = workspace.state_dir();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{}.json", report.lesson));
    fs::write(&path, serde_json::to_string(report)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The last full check of the learner's crate, if nothing in the crate changed since.
pub fn last_report_if_fresh(workspace: &Workspace, lesson: &Lesson) -> Option<Report> {
    let (report, when) = last_report(workspace, lesson)?;
    let changed = last_change(&workspace.lesson_dir(lesson))?;
    (changed <= when).then_some(report)
}

fn last_report(workspace: &Workspace, lesson: &Lesson) -> Option<(Report, SystemTime)> {
    let path = workspace.state_dir().join(format!("{}.json", lesson.id()));
    let when = fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    let report = serde_json::from_str(&fs::read_to_string(&path).ok()?).ok()?;
    Some((report, when))
}

/// When any file of the learner's crate last changed.
fn last_change(dir: &Path) -> Option<SystemTime> {
    let mut newest = fs::metadata(dir).and_then(|m| m.modified()).ok()?;
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let modified = if path.is_dir() {
            last_change(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(modified.unwrap_or(newest));
    }
    Some(newest)
}

/// How many `todo!(` are left in the learner's sources.
fn todos_left(workspace: &Workspace, lesson: &Lesson) -> Option<usize> {
    let src = workspace.lesson_dir(lesson).join("src");
    let mut count = 0;
    for entry in fs::read_dir(src).ok()? {
        let path = entry.ok()?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).ok()?;
            // Code only: the stubs' comments mention todo!() too.
            let code = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"));
            count += code
                .map(|line| line.matches("todo!(").count())
                .sum::<usize>();
        }
    }
    Some(count)
}

pub fn render(workspace: &Workspace) -> String {
    let mut out = String::from("lesson    topic                      todo!() left  last check\n");
    for lesson in LESSONS {
        let todos = match todos_left(workspace, lesson) {
            Some(n) => n.to_string(),
            None => "crate missing".into(),
        };
        let last = match last_report(workspace, lesson) {
            None => "not checked yet".to_owned(),
            Some((report, when)) => {
                let result = if report.refused.is_some() {
                    "refused".to_owned()
                } else if report.build_error.is_some() {
                    "does not build".to_owned()
                } else if report.all_pass() {
                    format!("all {} pass", report.total)
                } else {
                    format!("{} of {} pass", report.passed, report.total)
                };
                let stale = last_change(&workspace.lesson_dir(lesson)).is_some_and(|c| c > when);
                if stale {
                    format!("{result}, before your last change: check again")
                } else {
                    result
                }
            }
        };
        out += &format!(
            "{:<9} {:<26} {:<13} {last}\n",
            lesson.id(),
            lesson.title,
            todos
        );
    }
    out += "\nGrade a lesson with `just check lesson01` (or `cargo kvlab check lesson01`).\n";
    out
}
