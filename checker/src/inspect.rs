//! What the checker looks at in a learner's crate before any of its code runs.
//!
//! Building a crate can run code (a build script, a procedural macro), and a crate
//! can reach outside its folder (a `[lib] path`, a path dependency, `#[path]`,
//! `include_str!`, a symlink). The checker builds the learner's `src/lib.rs` under a
//! manifest it writes itself (see `build`), so none of those can take effect; this
//! module is what *tells* the learner, before building, which part of their crate
//! the checker refuses and why, and checks after compiling (and before running)
//! that every source file the compiler read lies inside the lesson's folder.
//!
//! The rule behind every refusal: the checker runs learner code under its own
//! harness and believes only what it can verify, so a lesson crate holds only what
//! the lesson ships: its own source files, in its own folder, with the lesson's
//! dependencies.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use toml::{Table, Value};

use crate::lessons::Lesson;
use crate::workspace::Workspace;

/// Why the checker will not build or run a learner's crate, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The file at fault, as the learner sees it (relative to the course).
    pub file: String,
    pub what: String,
    pub fix: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}\n{}", self.file, self.what, self.fix)
    }
}

/// The dependencies a lesson's crate is built with: exactly those of the lesson's
/// reference (a stub has the reference's public API, so it needs nothing else),
/// with path dependencies made absolute.
pub type Dependencies = Table;

/// Checks the learner's folder and manifest against what the lesson allows.
pub fn crate_folder(workspace: &Workspace, lesson: &Lesson) -> Result<Result<(), Refusal>> {
    let dir = workspace.lesson_dir(lesson);
    let shown = |path: &Path| workspace.show(path);
    let refuse = |file: &Path, what: String, fix: String| {
        Ok(Err(Refusal {
            file: shown(file),
            what,
            fix,
        }))
    };

    // A folder that is a symlink (to the reference, say) is not the learner's crate.
    let real = dir
        .canonicalize()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    if real != workspace.lessons.canonicalize()?.join(lesson.dir_name()) {
        return refuse(
            &dir,
            format!("is a link to {}, not a folder of its own", real.display()),
            "Your lesson crate must be a real folder. Remove the link and restore the \
             lesson with `git checkout -- lessons/`."
                .into(),
        );
    }

    let manifest_path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest: Table = match text.parse() {
        Ok(manifest) => manifest,
        Err(error) => {
            return refuse(
                &manifest_path,
                format!(
                    "is not a valid Cargo.toml: {}",
                    error.to_string().trim_end()
                ),
                format!(
                    "Fix the line above, or restore the file as the lesson shipped it with \
                     `git checkout -- {}` (your code under src/ is not touched).",
                    shown(&manifest_path)
                ),
            );
        }
    };

    if dir.join("build.rs").exists() {
        return refuse(
            &dir.join("build.rs"),
            "is a build script: code that runs on your machine while the crate builds, \
             before the checker can look at it"
                .into(),
            "No lesson needs one. Delete build.rs.".into(),
        );
    }
    let package = manifest.get("package").and_then(Value::as_table);
    for (key, why) in [
        (
            "build",
            "names a build script, which runs code while the crate builds",
        ),
        (
            "links",
            "links a native library, which needs a build script",
        ),
    ] {
        if package
            .is_some_and(|p| p.contains_key(key) && p.get(key) != Some(&Value::Boolean(false)))
        {
            return refuse(
                &manifest_path,
                format!("`package.{key}` {why}"),
                format!("No lesson needs it. Remove the `{key}` line from [package]."),
            );
        }
    }
    for table in ["patch", "replace", "build-dependencies"] {
        if manifest.contains_key(table) {
            return refuse(
                &manifest_path,
                format!(
                    "has a [{table}] section, which swaps or adds code the lesson does not ship"
                ),
                format!("Remove the [{table}] section."),
            );
        }
    }
    if let Some(lib) = manifest.get("lib").and_then(Value::as_table) {
        if lib.get("proc-macro") == Some(&Value::Boolean(true)) {
            return refuse(
                &manifest_path,
                "declares a procedural macro crate, whose code runs inside the compiler".into(),
                "Remove `proc-macro = true` from [lib].".into(),
            );
        }
        if let Some(path) = lib.get("path").and_then(Value::as_str)
            && Path::new(path) != Path::new("src/lib.rs")
        {
            return refuse(
                &manifest_path,
                format!("points [lib] at `{path}`; the checker grades src/lib.rs"),
                "Remove the `path` line from [lib] and keep your library in src/lib.rs.".into(),
            );
        }
    }
    for section in ["bin", "example", "test", "bench"] {
        let targets = manifest.get(section).and_then(Value::as_array);
        for target in targets.into_iter().flatten() {
            if let Some(path) = target.get("path").and_then(Value::as_str)
                && !stays_inside(Path::new(path))
            {
                return refuse(
                    &manifest_path,
                    format!("points a [[{section}]] at `{path}`, outside the lesson's folder"),
                    format!("Keep every file of the lesson inside {}.", shown(&dir)),
                );
            }
        }
    }

    if let Some((file, hidden)) = names_checker_only(&dir)? {
        let name = hidden.name;
        return refuse(
            &file,
            format!(
                "names `{name}`, {}, which only the checker's probe may use",
                hidden.what
            ),
            format!("No lesson needs it. Remove every use of `{name}` from your crate."),
        );
    }

    let allowed = reference_dependencies(workspace, lesson)?;
    for (section, deps) in dependency_tables(&manifest) {
        for (name, spec) in deps {
            if let Some(why) = dependency_refused(&workspace.root, &dir, name, spec, &allowed) {
                let names: Vec<&str> = allowed.keys().map(String::as_str).collect();
                let may = if names.is_empty() {
                    format!("{} uses no dependencies", lesson.id())
                } else {
                    format!("{} may use only {}", lesson.id(), names.join(" and "))
                };
                return refuse(
                    &manifest_path,
                    format!("[{section}] `{name}` {why}"),
                    format!(
                        "{may}, as the lesson ships them. Remove `{name}`, or restore the line as it was."
                    ),
                );
            }
        }
    }
    Ok(Ok(()))
}

/// A module that only the checker's probe may use: learner code that read it could
/// hide what the checker watches, or tell that it is being graded.
struct CheckerOnly {
    name: &'static str,
    what: &'static str,
}

const CHECKER_ONLY: &[CheckerOnly] = &[
    CheckerOnly {
        name: "kvlab_watch",
        what: "the checker's notes of which lock a thread asked for (its parking_lot is a \
               watched copy)",
    },
    CheckerOnly {
        name: "probe_hooks",
        what: "the course facade's hooks for the checker's model runs (they tell a model \
               run from a real one and write its timeline)",
    },
];

/// The first Rust source in the crate's folder (outside `target/`) that contains one
/// of the identifiers in [`CHECKER_ONLY`]. Without procedural macros, which are
/// refused, an identifier cannot be put together from pieces, so a use of the module
/// must spell it out in some file; a file the compiler does not read is refused too,
/// to keep the rule one that a learner can check with a search.
fn names_checker_only(dir: &Path) -> Result<Option<(PathBuf, &'static CheckerOnly)>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() && entry.file_name() != "target" {
            if let Some(found) = names_checker_only(&path)? {
                return Ok(Some(found));
            }
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "rs") {
            let text =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let text = String::from_utf8_lossy(&text);
            if let Some(hidden) = CHECKER_ONLY
                .iter()
                .find(|h| contains_identifier(&text, h.name))
            {
                return Ok(Some((path, hidden)));
            }
        }
    }
    Ok(None)
}

/// Whether `word` occurs in `text` as a whole identifier (not inside a longer one).
fn contains_identifier(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The `[dependencies]` and `[target.*.dependencies]` tables (dev-dependencies only
/// serve the learner's own tests, which the checker never builds).
fn dependency_tables(manifest: &Table) -> Vec<(String, &Table)> {
    let mut tables = Vec::new();
    if let Some(deps) = manifest.get("dependencies").and_then(Value::as_table) {
        tables.push(("dependencies".to_owned(), deps));
    }
    let targets = manifest.get("target").and_then(Value::as_table);
    for (cfg, target) in targets.into_iter().flatten() {
        if let Some(deps) = target.get("dependencies").and_then(Value::as_table) {
            tables.push((format!("target.{cfg}.dependencies"), deps));
        }
    }
    tables
}

/// Why the learner's dependency `name = spec` is not one the lesson ships, if it is not.
fn dependency_refused(
    root: &Path,
    dir: &Path,
    name: &str,
    spec: &Value,
    allowed: &Dependencies,
) -> Option<String> {
    let Some(reference) = allowed.get(name) else {
        return Some("is not a dependency of this lesson".into());
    };
    let field = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    if spec.get("git").is_some() {
        return Some("comes from a git repository".into());
    }
    if field(spec, "package") != field(reference, "package") {
        return Some("names a different package than the lesson's".into());
    }
    match (field(spec, "path"), field(reference, "path")) {
        (None, None) => None,
        (Some(path), Some(expected))
            if same_crate(root, &dir.join(&path), Path::new(&expected)) =>
        {
            None
        }
        (Some(path), _) => Some(format!("points at `{path}`, which is not the lesson's")),
        (None, Some(_)) => Some("is not the lesson's own copy".into()),
    }
}

/// The reference's `[dependencies]`, path dependencies made absolute: the only
/// dependencies a learner crate is built with.
pub fn reference_dependencies(workspace: &Workspace, lesson: &Lesson) -> Result<Dependencies> {
    let dir = workspace.solution_dir(lesson);
    let path = dir.join("Cargo.toml");
    let manifest: Table = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut deps = manifest
        .get("dependencies")
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default();
    rewrite_paths(&mut deps, |path| normalize(&dir.join(path)));
    Ok(deps)
}

/// Rewrites the `path` of every path dependency in a dependency table.
pub fn rewrite_paths(deps: &mut Table, rewrite: impl Fn(&str) -> PathBuf) {
    let keys: Vec<String> = deps.keys().cloned().collect();
    for key in keys {
        let Some(Value::Table(spec)) = deps.get_mut(&key) else {
            continue;
        };
        if let Some(path) = spec.get("path").and_then(Value::as_str) {
            let new = rewrite(path).display().to_string();
            spec.insert("path".into(), new.into());
        }
    }
}

/// Whether a relative path stays inside the folder it is relative to.
fn stays_inside(path: &Path) -> bool {
    let mut depth = 0i32;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Whether a learner's path dependency names the crate the lesson ships
/// (`solutions/lesson01-state-machine`, `course-sync`), wherever the learner's copy of
/// the course is: the learner's path must end in the crate's path inside the course.
/// The checker builds with its own copy of that crate in any case.
fn same_crate(root: &Path, learner: &Path, reference: &Path) -> bool {
    let reference = normalize(reference);
    let inside = reference
        .strip_prefix(normalize(root))
        .unwrap_or(&reference);
    inside.components().next().is_some() && normalize(learner).ends_with(inside)
}

/// `a/b/../c` as `a/c`, without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// After compiling, before running: every source file the compiler read for the
/// learner's crate (its dep-info lists them, `#[path]` modules, `include_str!` and
/// symlinked files included) must lie inside the lesson's folder.
pub fn sources_inside(
    workspace: &Workspace,
    lesson: &Lesson,
    dep_info: &Path,
) -> Result<Result<(), Refusal>> {
    let dir = workspace.lesson_dir(lesson).canonicalize()?;
    let text = std::fs::read_to_string(dep_info).with_context(|| {
        format!(
            "cannot read the compiler's list of sources {}",
            dep_info.display()
        )
    })?;
    for source in dep_info_sources(&text) {
        let real = Path::new(&source)
            .canonicalize()
            .unwrap_or_else(|_| PathBuf::from(&source));
        if !real.starts_with(&dir) {
            return Ok(Err(Refusal {
                file: workspace.show(&workspace.lesson_dir(lesson)),
                what: format!(
                    "the crate's code reads {}, which is outside the lesson's folder",
                    workspace.show(&real)
                ),
                fix: "Keep every source file of the lesson inside its folder: no `#[path]` \
                      or `include!` reaching out, and no links to files elsewhere."
                    .into(),
            }));
        }
    }
    Ok(Ok(()))
}

/// The files a rustc dep-info file lists: after the lines of its targets, one empty
/// `path:` rule per source; spaces in paths are escaped with a backslash.
fn dep_info_sources(text: &str) -> Vec<String> {
    let mut sources: BTreeMap<String, ()> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(path) = line.strip_suffix(':')
            && !path.is_empty()
        {
            sources.insert(path.replace("\\ ", " "), ());
        }
    }
    sources.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_that_climb_out_are_caught() {
        for (path, inside) in [
            ("src/main.rs", true),
            ("src/../src/x.rs", true),
            ("../x.rs", false),
            ("src/../../x.rs", false),
            ("/etc/passwd", false),
        ] {
            assert_eq!(stays_inside(Path::new(path)), inside, "{path}");
        }
    }

    #[test]
    fn checker_only_modules_are_found_as_a_whole_identifier_only() {
        assert!(contains_identifier(
            "use parking_lot::kvlab_watch::held;",
            "kvlab_watch"
        ));
        assert!(contains_identifier(
            "kvlab_sync::probe_hooks::in_model()",
            "probe_hooks"
        ));
        assert!(contains_identifier("kvlab_watch", "kvlab_watch"));
        assert!(!contains_identifier(
            "fn my_kvlab_watcher() {}",
            "kvlab_watch"
        ));
        assert!(!contains_identifier("probe_hooks2", "probe_hooks"));
    }

    #[test]
    fn dep_info_lists_every_source_once() {
        let text = "/t/deps/x.d: /a/src/lib.rs /a/POLICY.md\n\n/a/src/lib.rs:\n/a/my\\ file.rs:\n# env-dep:X=1\n";
        assert_eq!(
            dep_info_sources(text),
            vec!["/a/my file.rs", "/a/src/lib.rs"]
        );
    }
}
