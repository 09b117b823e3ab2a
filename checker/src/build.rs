//! Building the probe for the learner's crate with cargo.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::lessons::Lesson;
use crate::workspace::Workspace;

/// Either the probe binary, or the compiler's output explaining why it did not build.
pub enum Built {
    Probe(PathBuf),
    CompileError(String),
}

/// Builds `probe-lessonNN-learner`, the lesson's criteria compiled against the
/// learner's crate. Warnings are shown only when the build fails.
pub fn learner_probe(workspace: &Workspace, lesson: &Lesson) -> Result<Built> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let color = if std::io::stdout().is_terminal() {
        "always"
    } else {
        "never"
    };
    let output = Command::new(&cargo)
        .current_dir(&workspace.root)
        .args([
            "build",
            "--quiet",
            "--color",
            color,
            "--message-format=json-render-diagnostics",
        ])
        .args([
            "--package",
            &lesson.probe_package(),
            "--features",
            "learner",
        ])
        .args(["--bin", &lesson.learner_probe_bin()])
        .output()
        .context("cannot run cargo: is the Rust toolchain installed and on PATH?")?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Ok(Built::CompileError(stderr));
    }
    // Cargo names the freshly built executable in its JSON messages.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let executable = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == lesson.learner_probe_bin().as_str())
        .find_map(|message| message["executable"].as_str().map(PathBuf::from));
    executable.map(Built::Probe).with_context(|| {
        format!(
            "cargo built {} but did not say where it put it",
            lesson.learner_probe_bin()
        )
    })
}
