//! `checker grade` on a small class: a correct crate, a broken one, one that does not
//! compile, one that hangs, one that tampers and two made of links. Each gets the row
//! it deserves, and grading changes nothing in the instructor's course.

use std::path::{Path, PathBuf};
use std::process::Command;

use checker::grade::Graded;
use checker::report::{FailureKind, Status};

mod common;
use common::{copy_dir, course};

const LESSON: &str = "lesson01-state-machine";

/// A learner's copy of the course holding lesson 01: the stub's manifest with the
/// reference's code, changed by `edit`.
fn learner(class: &Path, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let copy = class.join(name);
    let crate_dir = copy.join("lessons").join(LESSON);
    copy_dir(&course().join("lessons").join(LESSON), &crate_dir);
    std::fs::copy(
        course().join("solutions").join(LESSON).join("src/lib.rs"),
        crate_dir.join("src/lib.rs"),
    )
    .unwrap();
    edit(&crate_dir);
    copy
}

fn replace(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

fn course_state() -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(course())
        .args(["status", "--porcelain", "--", "checker", "solutions"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_class_is_graded_row_by_row_with_the_instructors_checker() {
    let class = course().join("target/grade-test/class");
    let out = course().join("target/grade-test/out");
    let _ = std::fs::remove_dir_all(class.parent().unwrap());
    let lib = |dir: &Path| dir.join("src/lib.rs");
    let submissions = [
        learner(&class, "ada", |_| {}),
        learner(&class, "bert", |dir| {
            // An overwrite that keeps the old version.
            replace(
                &lib(dir),
                "map_or(1, |entry| entry.version + 1)",
                "map_or(1, |entry| entry.version)",
            );
        }),
        learner(&class, "cleo", |dir| {
            std::fs::write(lib(dir), "pub fn broken( {}\n").unwrap();
        }),
        learner(&class, "dan", |dir| {
            replace(
                &lib(dir),
                "pub fn get(&self, key: &str) -> Response {",
                "pub fn get(&self, key: &str) -> Response {\n        loop {}\n        #[allow(unreachable_code)]",
            );
        }),
        learner(&class, "eve", |dir| {
            std::fs::write(
                dir.join("build.rs"),
                "fn main() { std::fs::write(\"PWNED\", \"\").unwrap(); }\n",
            )
            .unwrap();
        }),
        learner(&class, "finn", |dir| {
            std::fs::remove_file(lib(dir)).unwrap();
            std::os::unix::fs::symlink(
                course().join("solutions").join(LESSON).join("src/lib.rs"),
                lib(dir),
            )
            .unwrap();
        }),
        {
            // A copy whose lessons/ is a link to the course's own solutions/.
            let gus = class.join("gus");
            std::fs::create_dir_all(&gus).unwrap();
            std::os::unix::fs::symlink(course().join("solutions"), gus.join("lessons")).unwrap();
            gus
        },
    ];
    // `grade` on these submissions, with these options; its progress (stderr) back.
    let grade = |submissions: &[PathBuf], options: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_checker"))
            .current_dir(course())
            .arg("grade")
            .args(submissions)
            .args(["--lesson", "lesson01"])
            .args(options)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let progress = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{progress}");
        progress
    };
    let before = course_state();
    grade(&submissions, &[]);
    assert_eq!(
        course_state(),
        before,
        "grading changed the instructor's course"
    );

    let rows: Vec<Graded> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let row = |name: &str| {
        rows.iter()
            .find(|g| g.learner == name)
            .unwrap_or_else(|| panic!("no row for {name}"))
    };
    let report = |name: &str| {
        row(name)
            .report
            .clone()
            .unwrap_or_else(|| panic!("{name} was not graded"))
    };

    assert_eq!(
        report("ada").passed,
        report("ada").total,
        "{:#?}",
        report("ada")
    );
    let bert = report("bert");
    let versions = bert
        .criteria
        .iter()
        .find(|c| c.id == "versions-sequence")
        .unwrap();
    assert_eq!(versions.status, Status::Fail, "{bert:#?}");
    assert!(report("cleo").build_error.is_some());
    let dan = report("dan");
    assert!(
        dan.criteria
            .iter()
            .any(|c| c.failure == Some(FailureKind::Hang)),
        "{dan:#?}"
    );
    assert!(
        dan.criteria
            .iter()
            .all(|c| c.status != Status::Pass || c.id == "invariants-check")
    );
    assert!(
        report("eve")
            .refused
            .as_deref()
            .unwrap_or_default()
            .contains("build.rs")
    );
    assert!(
        !class
            .join("eve/lessons")
            .join(LESSON)
            .join("PWNED")
            .exists()
    );
    assert!(
        !out.join("staging/eve/lessons")
            .join(LESSON)
            .join("PWNED")
            .exists()
    );
    assert_eq!(row("finn").outcome, "refused");
    assert_eq!(row("gus").outcome, "refused", "{:#?}", row("gus"));
    // The class sits inside the instructor's clone: no learner is given its author.
    assert!(rows.iter().all(|g| g.author.is_none()), "{rows:#?}");
    assert!(row("ada").similar_to_reference.is_some_and(|s| s > 0.9));
    assert!(row("bert").most_similar_learner.is_some());

    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.starts_with("learner,author,lesson01 passed,lesson01:transcript"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + submissions.len(), "{csv}");

    // Graded again, nothing changed: every row is kept, none is graded twice.
    let progress = grade(&submissions, &[]);
    assert_eq!(
        progress.matches("already graded, kept").count(),
        submissions.len(),
        "{progress}"
    );

    // Another seed: the graded crates are graded again (the refused ones have no
    // seed to differ in).
    let progress = grade(&submissions[..2], &["--seed", "7"]);
    assert_eq!(
        progress.matches("already graded, kept").count(),
        0,
        "{progress}"
    );
}
