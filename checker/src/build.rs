//! Building the probe for the learner's crate.
//!
//! The checker generates a small cargo workspace of its own under
//! `target/kvlab/probes/`: a probe binary (the lesson's probe crate, bound to the
//! learner's code by the lesson's adapter macro) and a package for the learner's
//! `src/lib.rs` under a manifest the checker writes. So:
//!
//! - cargo never reads a manifest under `lessons/` (a broken one cannot break any
//!   other lesson, the reference or `cargo test`); the learner's Cargo.toml is only
//!   inspected, for a clear refusal (see `inspect`);
//! - no build script, procedural macro, `[patch]` or outside path can take part;
//! - `unsafe` code is forbidden in the learner's crate unless the lesson teaches it;
//! - the target folder, the lock file and the profiles are the course's own, so
//!   compiled dependencies are shared with every other build of the course.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use toml::{Table, Value};

use crate::inspect::{self, Refusal};
use crate::lessons::Lesson;
use crate::workspace::{Workspace, folder_key};

/// The probe binary, the compiler's output explaining why it did not build, or why
/// the checker will not build or run it.
pub enum Built {
    Probe(PathBuf),
    CompileError(String),
    Refused(Refusal),
}

/// Builds the lesson's criteria against the learner's crate, telling `progress` each
/// crate cargo starts compiling. Warnings are shown only when the build fails.
pub fn learner_probe(
    workspace: &Workspace,
    lesson: &Lesson,
    progress: &mut dyn FnMut(&str),
) -> Result<Built> {
    if let Err(refusal) = inspect::crate_folder(workspace, lesson)? {
        return Ok(Built::Refused(refusal));
    }
    let generated = generate(workspace, lesson)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let color = if std::io::stderr().is_terminal() {
        "always"
    } else {
        "never"
    };
    let mut child = Command::new(&cargo)
        .current_dir(&generated.dir)
        .env("CARGO_TARGET_DIR", workspace.target_dir())
        .args(["build", "--color", color])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(generated.dir.join("Cargo.toml"))
        .args(["--bin", &generated.binary])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo: is the Rust toolchain installed and on PATH?")?;
    let mut stdout = child.stdout.take().context("cargo's stdout")?;
    let artifacts = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    // Cargo's status lines are progress; everything else on stderr is diagnostics.
    let mut diagnostics = String::new();
    for line in BufReader::new(child.stderr.take().context("cargo's stderr")?)
        .lines()
        .map_while(Result::ok)
    {
        let status = strip_ansi(&line);
        let status = status.trim_start();
        if let Some(what) = [
            "Compiling ",
            "Blocking ",
            "Updating ",
            "Downloading ",
            "Downloaded ",
            "Locking ",
        ]
        .iter()
        .find_map(|verb| status.starts_with(verb).then_some(status))
        {
            progress(what);
        } else if !status.starts_with("Finished ") {
            diagnostics.push_str(&line);
            diagnostics.push('\n');
        }
    }
    let status = child.wait().context("cargo did not finish")?;
    let stdout = artifacts.join().unwrap_or_default();
    if !status.success() {
        return Ok(Built::CompileError(explain_compile_error(
            workspace,
            lesson,
            &diagnostics,
        )));
    }

    // Cargo names what it built in its JSON messages: the learner's library (whose
    // dep-info lists every file the compiler read) and the probe executable.
    let messages: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let learner_rlib = messages
        .iter()
        .filter(|m| m["target"]["name"] == lesson.crate_name().as_str())
        .filter_map(|m| m["filenames"].as_array())
        .flatten()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".rlib") || f.ends_with(".rmeta"))
        .map(PathBuf::from)
        .context("cargo built your crate but did not say where it put it")?;
    if let Err(refusal) = inspect::sources_inside(workspace, lesson, &dep_info_of(&learner_rlib))? {
        return Ok(Built::Refused(refusal));
    }
    let executable = messages
        .iter()
        .filter(|m| m["target"]["name"] == generated.binary.as_str())
        .find_map(|m| m["executable"].as_str().map(PathBuf::from));
    executable.map(Built::Probe).with_context(|| {
        format!(
            "cargo built {} but did not say where it put it",
            generated.binary
        )
    })
}

/// A cargo status line without its colours.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // An escape sequence runs to its final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `deps/libname-hash.rlib` -> `deps/name-hash.d`, where rustc writes the list of
/// sources it read.
fn dep_info_of(artifact: &Path) -> PathBuf {
    let stem = artifact
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    artifact.with_file_name(format!("{}.d", stem.strip_prefix("lib").unwrap_or(stem)))
}

/// Compile errors as cargo printed them, with paths shown relative to the course,
/// and a word on why `unsafe` is refused when that is the error.
fn explain_compile_error(workspace: &Workspace, lesson: &Lesson, stderr: &str) -> String {
    let root = format!("{}/", workspace.root.display());
    let mut text = stderr.replace(&root, "");
    if stderr.contains("unsafe-code") || stderr.contains("unsafe_code") {
        text.push_str(&format!(
            "\n{} does not teach `unsafe`, so the checker compiles your crate with `unsafe` \
             code forbidden. Safe Rust is enough for everything the lesson asks; `unsafe` \
             would also let code run before the checker's harness (link sections) or read \
             past a lock's lifetime, which no criterion could see. Remove it.\n",
            lesson.id()
        ));
    }
    text
}

struct Generated {
    dir: PathBuf,
    binary: String,
}

/// Writes the probe workspace for this lesson and this learner folder. Files are
/// rewritten only when their content changes, so a warm check rebuilds nothing.
fn generate(workspace: &Workspace, lesson: &Lesson) -> Result<Generated> {
    let learner_dir = workspace.lesson_dir(lesson).canonicalize()?;
    // One generated crate per graded folder, so that two folders graded from one
    // course never overwrite each other's probe binary.
    let key = folder_key(&learner_dir);
    let binary = format!("kvlab-probe-{}-{key}", lesson.id());
    // The learner's package sits in a folder named by the key too: cargo tells path
    // packages apart by their path inside their workspace, so under one folder name
    // every graded folder's build of a lesson would write the same files in the
    // shared target, and one check could read another's dep-info.
    let member = format!("learner-{key}");
    let dir = workspace
        .target_dir()
        .join("kvlab")
        .join("probes")
        .join(&binary);

    let course: Table = read_toml(&workspace.root.join("Cargo.toml"))?;
    let course_workspace = course.get("workspace").and_then(Value::as_table);
    let mut ws = Table::new();
    ws.insert("resolver".into(), "3".into());
    ws.insert("members".into(), Value::Array(vec![member.as_str().into()]));
    if let Some(package) = course_workspace.and_then(|w| w.get("package")) {
        ws.insert("package".into(), package.clone());
    }
    if let Some(Value::Table(deps)) = course_workspace.and_then(|w| w.get("dependencies")) {
        ws.insert(
            "dependencies".into(),
            Value::Table(absolute_paths(deps, &workspace.root)),
        );
    }
    let edition = course_workspace
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("edition"))
        .cloned()
        .unwrap_or_else(|| "2024".into());

    let mut root = Table::new();
    root.insert("workspace".into(), Value::Table(ws));
    if let Some(profile) = course.get("profile") {
        root.insert("profile".into(), profile.clone());
    }
    root.insert("package".into(), package(&binary, &edition));
    let probe_crate = workspace
        .root
        .join("checker/probes")
        .join(lesson.dir_name());
    let mut deps = Table::new();
    deps.insert(format!("probe-{}", lesson.id()), path_dep(&probe_crate));
    deps.insert(
        "probe-kit".into(),
        path_dep(&workspace.root.join("checker/probe-kit")),
    );
    deps.insert(lesson.dir_name(), path_dep(Path::new(&member)));
    root.insert("dependencies".into(), Value::Table(deps));

    let mut learner = Table::new();
    let mut learner_package = package(&lesson.dir_name(), &edition);
    if let Value::Table(p) = &mut learner_package {
        // Nothing but src/lib.rs: no build script, no binaries, no tests.
        for key in [
            "build",
            "autobins",
            "autoexamples",
            "autotests",
            "autobenches",
        ] {
            p.insert(key.into(), false.into());
        }
    }
    learner.insert("package".into(), learner_package);
    let mut lib = Table::new();
    lib.insert(
        "path".into(),
        learner_dir.join("src/lib.rs").display().to_string().into(),
    );
    learner.insert("lib".into(), Value::Table(lib));
    let mut learner_deps = inspect::reference_dependencies(workspace, lesson)?;
    watch_locks(&mut learner_deps, workspace);
    learner.insert("dependencies".into(), Value::Table(learner_deps));
    if !lesson.allows_unsafe {
        let mut rust = Table::new();
        rust.insert("unsafe_code".into(), "forbid".into());
        let mut lints = Table::new();
        lints.insert("rust".into(), Value::Table(rust));
        learner.insert("lints".into(), Value::Table(lints));
    }

    let crate_name = lesson.crate_name();
    let main = format!(
        "//! Generated by the kvlab checker to grade {shown}; rewritten on every check.\n\
         #![forbid(unsafe_code)]\n\n\
         probe_{id}::adapt_crate!(Learner, {crate_name});\n\n\
         fn main() {{\n    probe_kit::probe_main(probe_{id}::probe(Learner).as_ref())\n}}\n",
        shown = workspace.show(&workspace.lesson_dir(lesson)),
        id = lesson.id(),
    );
    let header = format!(
        "# Generated by the kvlab checker to grade {}; rewritten on every check.\n",
        workspace.show(&workspace.lesson_dir(lesson))
    );
    write_if_changed(
        &dir.join("Cargo.toml"),
        &(header.clone() + &root.to_string()),
    )?;
    write_if_changed(
        &dir.join(&member).join("Cargo.toml"),
        &(header + &learner.to_string()),
    )?;
    write_if_changed(&dir.join("src/main.rs"), &main)?;
    // The course's lock file, so that the probe is built from the very versions the
    // course is, and every compiled dependency is shared.
    let lock = std::fs::read_to_string(workspace.root.join("Cargo.lock")).unwrap_or_default();
    write_if_changed(&dir.join("Cargo.lock"), &lock)?;
    Ok(Generated { dir, binary })
}

/// The learner's `parking_lot` is the checker's watched copy of it: the same API and
/// the same locks, plus thread-local notes of which `Mutex` or `RwLock` a thread asked
/// for while holding which, and stops a probe can hold a thread at, so a criterion can
/// see a lock taken where no answer shows it (see `checker/lock-watch`).
fn watch_locks(deps: &mut Table, workspace: &Workspace) {
    if deps.contains_key("parking_lot") {
        let mut watched = Table::new();
        watched.insert("package".into(), "kvlab-lock-watch".into());
        let path = workspace.root.join("checker/lock-watch");
        watched.insert("path".into(), path.display().to_string().into());
        deps.insert("parking_lot".into(), Value::Table(watched));
    }
}

fn package(name: &str, edition: &Value) -> Value {
    let mut package = Table::new();
    package.insert("name".into(), name.into());
    package.insert("version".into(), "0.1.0".into());
    package.insert("edition".into(), edition.clone());
    package.insert("publish".into(), false.into());
    Value::Table(package)
}

fn path_dep(path: &Path) -> Value {
    let mut dep = Table::new();
    dep.insert("path".into(), path.display().to_string().into());
    Value::Table(dep)
}

/// The course's workspace dependencies, with any path made absolute.
fn absolute_paths(deps: &Table, root: &Path) -> Table {
    let mut deps = deps.clone();
    inspect::rewrite_paths(&mut deps, |path| root.join(path));
    deps
}

fn read_toml(path: &Path) -> Result<Table> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))
}

fn write_if_changed(path: &Path, content: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))
}
