//! Runs lesson 05's live example on the reference, as a learner would, and writes
//! what it printed (up to the Prometheus text) to
//! `book/src/generated/lesson05-live.md`, which the lesson 05 chapter includes:
//!
//!     cargo run --release -p kvlab-bench --bin lesson05-live-sample
//!
//! The example itself runs as `cargo run` builds it by default (a debug build),
//! because that is what the chapter tells the learner to run.

use std::process::Command;

const EXAMPLE: &str = "cargo run -q -p solution05-observability --example live";

fn main() {
    let mut report = kvlab_bench::Report::new(
        "lesson05-live",
        "cargo run --release -p kvlab-bench --bin lesson05-live-sample",
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "run",
            "-q",
            "-p",
            "solution05-observability",
            "--example",
            "live",
        ])
        .current_dir(kvlab_bench::workspace_root())
        .output()
        .expect("run the live example");
    assert!(
        output.status.success(),
        "the live example failed: {output:?}"
    );
    let text = String::from_utf8(output.stdout).expect("the example prints text");
    // The table of half seconds; the Prometheus text after it is the chapter's
    // exposition section, not a measurement.
    let table: Vec<&str> = text
        .lines()
        .take_while(|line| !line.starts_with('#') && !line.starts_with("The same numbers"))
        .collect();
    report.line(format!(
        "The output of `{EXAMPLE}` (a debug build), up to its Prometheus text:\n"
    ));
    report.line("```text");
    for line in table
        .iter()
        .rev()
        .skip_while(|l| l.trim().is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        report.line(line);
    }
    report.line("```");
    report.write();
}
