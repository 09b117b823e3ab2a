//! `checker watch` in a real terminal: a scripted tmux session edits a file, sees the
//! report change, asks for a hint, quits, and finds the terminal as it was.

use std::process::Command;
use std::time::{Duration, Instant};

use checker::workspace::Workspace;

mod common;
use common::course;

const LESSON: &str = "lesson01-state-machine";
const SESSION: &str = "kvlab-watch-test";

fn tmux(args: &[&str]) -> String {
    let output = Command::new("tmux").args(args).output().expect("tmux runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn screen() -> String {
    tmux(&["capture-pane", "-p", "-t", SESSION])
}

/// Waits until the screen shows `text`; a generous deadline, only to detect a hang.
fn wait_for(text: &str) -> String {
    let until = Instant::now() + Duration::from_secs(180);
    loop {
        let shown = screen();
        if shown.contains(text) {
            return shown;
        }
        assert!(
            Instant::now() < until,
            "the screen never showed {text:?}:\n{shown}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Session;

impl Drop for Session {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", SESSION]);
    }
}

#[test]
fn watch_rechecks_on_save_shows_a_hint_and_restores_the_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have tmux for this test"
        );
        eprintln!("tmux is not installed: skipping the watch-mode session");
        return;
    }
    let lessons = course().join("target/watch-test/lessons");
    let _ = std::fs::remove_dir_all(&lessons);
    std::fs::create_dir_all(lessons.join(LESSON).join("src")).unwrap();
    // What an earlier run of this test remembered (the hint it climbed to) goes too.
    let workspace = Workspace {
        root: course(),
        lessons: lessons.clone(),
    };
    let _ = std::fs::remove_dir_all(workspace.state_dir());
    for file in ["Cargo.toml", "src/lib.rs"] {
        std::fs::copy(
            course().join("lessons").join(LESSON).join(file),
            lessons.join(LESSON).join(file),
        )
        .unwrap();
    }
    let command = format!(
        "cd {} && {} watch lesson01 --lessons {}; echo EXITED; stty -a | tr ' ;' '\\n\\n' | grep -qx icanon && echo RESTORED; sleep 60",
        course().display(),
        env!("CARGO_BIN_EXE_checker"),
        lessons.display()
    );
    tmux(&["kill-session", "-t", SESSION]);
    let _session = Session;
    tmux(&[
        "new-session",
        "-d",
        "-s",
        SESSION,
        "-x",
        "160",
        "-y",
        "60",
        &command,
    ]);

    wait_for("watching");
    wait_for("not implemented yet: step 6: replay");

    let lib = lessons.join(LESSON).join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(
        &lib,
        text.replace(
            "todo!(\"step 6: replay\")",
            "todo!(\"step 6: replay, begun\")",
        ),
    )
    .unwrap();
    wait_for("step 6: replay, begun");

    tmux(&["send-keys", "-t", SESSION, "h"]);
    wait_for("hint 1 of");

    tmux(&["send-keys", "-t", SESSION, "q"]);
    wait_for("EXITED");
    wait_for("RESTORED");
}
