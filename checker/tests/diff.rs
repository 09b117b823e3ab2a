//! `checker diff` compares step by step: every stub step is found on both sides,
//! every step is graded, and a change shows under its step beside the criteria
//! that exercise it, with their statuses.

mod common;

use checker::diff::{self, Layout};
use checker::lessons::LESSONS;
use checker::report::{Report, Status};
use checker::workspace::Workspace;

fn course_workspace() -> Workspace {
    let root = common::course();
    Workspace {
        lessons: root.join("lessons"),
        root,
    }
}

#[test]
fn every_step_of_every_stub_is_found_in_the_stub_and_the_reference() {
    let workspace = course_workspace();
    for lesson in LESSONS {
        let comparison = diff::compare(&workspace, lesson, None).unwrap();
        assert!(
            !comparison.steps.is_empty(),
            "{}: no steps found",
            lesson.id()
        );
        for step in &comparison.steps {
            for piece in &step.pieces {
                assert!(
                    piece
                        .mine
                        .as_deref()
                        .is_some_and(|c| c.contains("todo!(\"step")),
                    "{} step {}: {} not found in the stub",
                    lesson.id(),
                    step.number,
                    piece.title
                );
                assert!(
                    piece.reference.is_some(),
                    "{} step {}: {} not found in the reference",
                    lesson.id(),
                    step.number,
                    piece.title
                );
            }
        }
    }
}

/// `Info::steps` is written by hand: a step no graded criterion names would be
/// ungraded, and a number no stub step has is a typo.
#[test]
fn every_step_is_graded_and_every_criterion_names_real_steps() {
    let workspace = course_workspace();
    for lesson in LESSONS {
        let comparison = diff::compare(&workspace, lesson, None).unwrap();
        let numbers: Vec<u8> = comparison.steps.iter().map(|s| s.number).collect();
        for info in lesson.criteria() {
            for n in info.steps {
                assert!(
                    numbers.contains(n),
                    "{} {}: names step {n}, which the stub does not have ({numbers:?})",
                    lesson.id(),
                    info.id
                );
            }
        }
        for n in &numbers {
            assert!(
                lesson
                    .criteria()
                    .iter()
                    .any(|info| info.graded && info.steps.contains(n)),
                "{} step {n}: no graded criterion exercises it",
                lesson.id()
            );
        }
    }
}

#[test]
fn a_change_shows_under_its_step_with_the_criteria_and_their_status() {
    let lesson = checker::lessons::find("lesson01").unwrap();
    let course = course_workspace();
    let copy = tempdir("diff-lesson01");
    let crate_dir = copy.join(lesson.dir_name());
    common::copy_dir(&course.lesson_dir(lesson), &crate_dir);
    let reference =
        std::fs::read_to_string(course.solution_dir(lesson).join("src/lib.rs")).unwrap();
    // The reference, with one line of step 1 changed and a helper of the learner's.
    let get_body = "match self.lookup(key) {";
    assert!(
        reference.contains(get_body),
        "the reference's get changed: update this test"
    );
    let mine = reference.replacen(get_body, "match self.lookup(key.trim()) {", 1)
        + "\nfn my_helper() -> u8 {\n    7\n}\n";
    std::fs::write(crate_dir.join("src/lib.rs"), mine).unwrap();
    let workspace = course.clone().with_lessons(&copy).unwrap();

    let mut report = Report::new(
        lesson.id(),
        lesson.title.into(),
        "a copy".into(),
        5,
        Vec::new(),
    );
    for info in lesson.criteria() {
        let mut c = checker::report::CriterionReport::not_run(info);
        c.status = if info.id == "transcript" {
            Status::Fail
        } else {
            Status::Pass
        };
        report.criteria.push(c);
    }
    let comparison = diff::compare(&workspace, lesson, Some(&report)).unwrap();
    let text = diff::render_text(&comparison, Layout::Unified);
    let step1 = text
        .split("\nStep ")
        .find(|s| s.starts_with("1: "))
        .unwrap_or_else(|| panic!("no step 1 in:\n{text}"));
    assert!(step1.contains("transcript FAIL"), "{step1}");
    assert!(step1.contains("versions-sequence PASS"), "{step1}");
    assert!(
        step1.contains("- ") && step1.contains("key.trim()"),
        "{step1}"
    );
    assert!(step1.contains("+ ") && step1.contains(get_body), "{step1}");
    // The other steps are the reference's own code: nothing to show.
    let step2 = text
        .split("\nStep ")
        .find(|s| s.starts_with("2: "))
        .unwrap();
    assert!(step2.contains("the same as the reference"), "{step2}");
    assert!(text.contains("your own: my_helper"), "{text}");

    let html = diff::render_html(&comparison);
    assert!(html.contains("key.trim()") && html.contains("<h3>Step 1: Store::get</h3>"));
    let _ = std::fs::remove_dir_all(copy);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kvlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
