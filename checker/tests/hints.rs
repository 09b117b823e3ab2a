//! The hint ladder on an untouched stub: `hint`, then `hint --more` twice, gives
//! three different hints for the first criterion that does not pass, numbered 1, 2
//! and 3 (that each is closer to the code than the last is the order of the
//! lesson's hint table, which a person reviews); asking again without `--more`
//! repeats the last.

use std::process::Command;

use checker::workspace::Workspace;

mod common;
use common::{copy_dir, course};

const LESSON: &str = "lesson02-rwlock-layer";

fn hint(lessons: &std::path::Path, more: bool) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_checker"));
    command
        .current_dir(course())
        .args(["hint", "lesson02", "--lessons"])
        .arg(lessons);
    if more {
        command.arg("--more");
    }
    let output = command.output().expect("the checker runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// The hint itself: the indented paragraph under "hint K of N:".
fn body(shown: &str) -> &str {
    shown
        .split("\n\n")
        .find(|p| p.starts_with("  "))
        .unwrap_or_else(|| panic!("no hint in {shown:?}"))
        .trim()
}

#[test]
fn hint_then_more_twice_climbs_the_ladder_of_the_first_failing_criterion() {
    let lessons = course().join("target/hints-test/lessons");
    let _ = std::fs::remove_dir_all(lessons.parent().unwrap());
    copy_dir(
        &course().join("lessons").join(LESSON),
        &lessons.join(LESSON),
    );
    // The ladder's place is kept per folder of lessons: start from the bottom.
    let state = Workspace::locate()
        .and_then(|w| w.with_lessons(&lessons))
        .expect("the course is found")
        .state_dir();
    let _ = std::fs::remove_dir_all(&state);

    let first = hint(&lessons, false);
    let second = hint(&lessons, true);
    let third = hint(&lessons, true);
    let again = hint(&lessons, false);

    assert!(first.starts_with("Where to start: "), "{first}");
    let heading = |shown: &str, k: usize| {
        shown
            .lines()
            .find(|l| l.contains(&format!(", hint {k} of ")))
            .unwrap_or_else(|| panic!("no \"hint {k} of\" in {shown}"))
            .to_owned()
    };
    // The same criterion, one rung higher each time.
    let criterion = |line: &str| line.split('`').nth(1).unwrap_or_default().to_owned();
    let rungs = [heading(&first, 1), heading(&second, 2), heading(&third, 3)];
    assert!(
        rungs.iter().all(|r| criterion(r) == criterion(&rungs[0])),
        "{rungs:#?}"
    );
    let bodies = [body(&first), body(&second), body(&third)];
    assert!(
        bodies[0] != bodies[1] && bodies[1] != bodies[2] && bodies[0] != bodies[2],
        "{bodies:#?}"
    );
    assert!(second.contains("--more` gives the next one"), "{second}");
    assert_eq!(body(&again), bodies[2], "without --more the hint stays");
    let _ = std::fs::remove_dir_all(&state);
}
