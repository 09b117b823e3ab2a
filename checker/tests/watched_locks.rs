//! The learner's crate is built against the checker's watched parking_lot, so a
//! criterion sees a lock taken where no answer shows it. Proved on the path a
//! learner's crate takes (`check --lessons`), not only on the fixtures compiled into
//! the checker: lesson 05's reference passes `stats-while-writing`, and the same
//! crate with one `try_read()` added to `stats()` fails it, naming the call.

use std::path::{Path, PathBuf};
use std::process::Command;

use checker::report::{Report, Status};

mod common;
use common::{copy_dir, course};

const LESSON: &str = "lesson05-observability";

/// The lesson's stub folder with the reference's sources in it, as a learner who
/// finished the lesson would have it.
fn finished_copy() -> PathBuf {
    let lessons = course().join("target/watched-locks/lessons");
    let _ = std::fs::remove_dir_all(&lessons);
    let crate_dir = lessons.join(LESSON);
    copy_dir(&course().join("lessons").join(LESSON), &crate_dir);
    std::fs::remove_dir_all(crate_dir.join("src")).unwrap();
    copy_dir(
        &course().join("solutions").join(LESSON).join("src"),
        &crate_dir.join("src"),
    );
    lessons
}

fn stats_while_writing(lessons: &Path) -> (Status, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_checker"))
        .current_dir(course())
        .args(["check", "05", "--only", "stats-while-writing", "--json"])
        .arg("--lessons")
        .arg(lessons)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Report = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let criterion = &report.criteria[0];
    (criterion.status, criterion.seen.clone().unwrap_or_default())
}

#[test]
fn a_stats_that_tries_the_store_lock_is_seen_in_a_learners_crate() {
    let lessons = finished_copy();
    let (status, seen) = stats_while_writing(&lessons);
    assert_eq!(
        status,
        Status::Pass,
        "the reference, built as a learner's crate: {seen}"
    );

    let lib = lessons.join(LESSON).join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    let body = "    pub fn stats(&self) -> Stats {\n        self.metrics.stats()\n";
    assert!(
        text.contains(body),
        "the reference's stats() changed: update this test"
    );
    let tried = "    pub fn stats(&self) -> Stats {\n        let _quiet = self.state.try_read();\n        self.metrics.stats()\n";
    std::fs::write(&lib, text.replacen(body, tried, 1)).unwrap();
    let (status, seen) = stats_while_writing(&lessons);
    assert_eq!(status, Status::Fail, "{seen}");
    assert!(seen.contains("try_read()"), "{seen}");
}
