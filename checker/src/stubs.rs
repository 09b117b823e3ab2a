//! `checker verify-stubs` proves what the course *ships* under lessons/ is unsolved,
//! so it reads the stubs as committed, not the working tree: a learner's progress,
//! or a lesson whose Cargo.toml a learner broke, says nothing about the shipped stubs
//! and must not turn the maintainer's check red.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::workspace::Workspace;

/// The workspace with its lessons read from `git HEAD` (extracted under target/),
/// or as they are on disk when the course is not a git checkout.
pub fn committed(workspace: Workspace) -> Result<Workspace> {
    let root = workspace.root.clone();
    let git = |args: &[&str]| Command::new("git").arg("-C").arg(&root).args(args).output();
    let Ok(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        println!("git is not installed: verifying lessons/ as it is on disk");
        return Ok(workspace);
    };
    if !head.status.success() {
        println!("not a git checkout: verifying lessons/ as it is on disk");
        return Ok(workspace);
    }
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let changed = git(&["status", "--porcelain", "--", "lessons"])
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    println!(
        "verifying the stubs as committed at {commit}{}",
        if changed {
            " (uncommitted changes under lessons/ are not part of it)"
        } else {
            ""
        }
    );
    let dir = workspace.target_dir().join("kvlab/committed-stubs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    extract(&root, &dir)?;
    workspace.with_lessons(&dir.join("lessons"))
}

/// `git archive HEAD lessons | tar -x`, without a shell.
fn extract(root: &Path, into: &Path) -> Result<()> {
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", "HEAD", "lessons"])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run git archive")?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(into)
        .stdin(archive.stdout.take().context("git archive's output")?)
        .status()
        .context("cannot run tar")?;
    if !archive.wait()?.success() || !tar.success() {
        bail!(
            "cannot extract the committed lessons/ into {}",
            into.display()
        );
    }
    Ok(())
}
