//! `checker diff`: the learner's crate against the reference, file by file.

use std::collections::BTreeSet;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use similar::TextDiff;

use crate::lessons::Lesson;
use crate::workspace::Workspace;

pub fn render(workspace: &Workspace, lesson: &Lesson) -> Result<String> {
    let (mine, reference) = (workspace.lesson_dir(lesson), workspace.solution_dir(lesson));
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let files: BTreeSet<PathBuf> = [&mine, &reference]
        .into_iter()
        .map(|root| source_files(root))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut out = String::new();
    for file in files {
        let read = |root: &Path| fs::read_to_string(root.join(&file)).unwrap_or_default();
        let (left, right) = (read(&mine), read(&reference));
        if left == right || same_manifest(&file, &left, &right) {
            continue;
        }
        let left_name = workspace.show(&mine.join(&file));
        let right_name = workspace.show(&reference.join(&file));
        let diff = TextDiff::from_lines(&left, &right);
        for line in diff
            .unified_diff()
            .context_radius(3)
            .header(&left_name, &right_name)
            .to_string()
            .lines()
        {
            let painted = match line.chars().next() {
                Some('-') if color && !line.starts_with("---") => format!("\x1b[31m{line}\x1b[0m"),
                Some('+') if color && !line.starts_with("+++") => format!("\x1b[32m{line}\x1b[0m"),
                Some('@') if color => format!("\x1b[36m{line}\x1b[0m"),
                _ => line.to_owned(),
            };
            out += &painted;
            out.push('\n');
        }
    }
    if out.is_empty() {
        out = format!(
            "{} and {} are identical.\n",
            workspace.show(&mine),
            workspace.show(&reference)
        );
    } else {
        out = format!("--- is your crate, +++ the reference.\n\n{out}");
    }
    Ok(out)
}

/// The two manifests differ only in the package's name and description, by design.
fn same_manifest(file: &Path, left: &str, right: &str) -> bool {
    let essentials = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("name =") && !l.starts_with("description ="))
            .map(str::to_owned)
            .collect()
    };
    file == Path::new("Cargo.toml") && essentials(left) == essentials(right)
}

/// Every file of the crate but its build output, relative to `root`.
fn source_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    pending.push(path);
                }
            } else {
                found.push(path.strip_prefix(root)?.to_path_buf());
            }
        }
    }
    Ok(found)
}
