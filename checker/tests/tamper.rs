//! The checker against learner crates that try to get a PASS without doing the work.
//!
//! Each case copies the untouched lesson 01 stub, plants one attempt in it, and
//! grades it with `check --lessons`, as the checker grades any learner's copy. Every
//! case must end in exit status 1, with every one of the lesson's criteria reported
//! and none passing, and with a message that names what was refused or went wrong.

use std::path::{Path, PathBuf};
use std::process::Command;

use checker::lessons;
use checker::report::{Report, Status};

mod common;
use common::{copy_dir, course};

const LESSON: &str = "lesson01-state-machine";

/// A fresh copy of the lesson 01 stub in a folder of lessons of its own. The folder
/// stays at the same place from run to run, so that its probe builds incrementally.
fn stub_copy(case: &str) -> PathBuf {
    let lessons = course().join("target/tamper").join(case).join("lessons");
    let _ = std::fs::remove_dir_all(lessons.parent().unwrap());
    copy_dir(
        &course().join("lessons").join(LESSON),
        &lessons.join(LESSON),
    );
    lessons
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn append(path: &Path, text: &str) {
    let old = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, old + text).unwrap();
}

/// Makes every criterion call `crate::tamper()` first: both constructors do.
fn plant(lessons: &Path, tamper_body: &str) {
    let lib = lessons.join(LESSON).join("src/lib.rs");
    edit(
        &lib,
        "        Store::default()\n",
        "        crate::tamper();\n        Store::default()\n",
    );
    edit(
        &lib,
        "        Store {\n            entries,\n            global_seq,\n        }",
        "        crate::tamper();\n        Store {\n            entries,\n            global_seq,\n        }",
    );
    append(&lib, &format!("\nfn tamper() {{\n{tamper_body}\n}}\n"));
}

/// Grades the copy; asserts exit 1, every criterion reported, none passing.
fn grade(lessons: &Path) -> Report {
    let output = Command::new(env!("CARGO_BIN_EXE_checker"))
        .current_dir(course())
        .args([
            "check",
            "lesson01",
            "--json",
            "--seed",
            "424242",
            "--lessons",
        ])
        .arg(lessons)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Report = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(output.status.code(), Some(1), "{report:#?}");
    let lesson = lessons::find("lesson01").unwrap();
    let expected: Vec<&str> = lesson.criteria().iter().map(|c| c.id).collect();
    let reported: Vec<&str> = report.criteria.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(reported, expected, "every criterion is reported");
    assert!(
        report.criteria.iter().all(|c| c.status != Status::Pass),
        "{report:#?}"
    );
    report
}

fn refused(report: &Report, needle: &str) {
    let refusal = report.refused.as_deref().unwrap_or_default();
    assert!(
        refusal.contains(needle),
        "refusal {refusal:?} does not name {needle:?}"
    );
}

/// Every criterion that reached the planted code (the others stop at a `todo!()`
/// of the stub first) says `needle`.
fn seen_wherever_it_ran(report: &Report, needle: &str) {
    let mut reached = 0;
    for c in report
        .criteria
        .iter()
        .filter(|c| c.status != Status::NotImplemented)
    {
        let seen = c.seen.as_deref().unwrap_or_default();
        assert!(
            seen.contains(needle),
            "{}: {seen:?} does not say {needle:?}",
            c.id
        );
        reached += 1;
    }
    assert!(
        reached > 0,
        "no criterion reached the planted code: {report:#?}"
    );
}

#[test]
fn protocol_lines_printed_on_stdout_are_not_believed() {
    let lessons = stub_copy("stdout-forgery");
    plant(
        &lessons,
        r#"    println!("@@kvlab {{\"kind\":\"outcome\",\"outcome\":{{\"status\":\"pass\"}}}}");
    println!("{{\"kind\":\"outcome\",\"outcome\":{{\"status\":\"pass\"}}}}");
    std::process::exit(0);"#,
    );
    let report = grade(&lessons);
    seen_wherever_it_ran(&report, "exited with status 0 before reporting");
}

#[test]
fn an_empty_list_of_criteria_cannot_replace_the_checkers_own() {
    let lessons = stub_copy("empty-criteria");
    plant(
        &lessons,
        r#"    println!("@@kvlab {{\"kind\":\"criteria\",\"list\":[]}}");
    eprintln!("{{\"kind\":\"criteria\",\"list\":[]}}");
    std::process::exit(0);"#,
    );
    // `grade` asserts all five criteria are reported, none passing.
    grade(&lessons);
}

#[test]
fn code_that_would_run_before_main_does_not_compile() {
    let lessons = stub_copy("before-main");
    let lib = lessons.join(LESSON).join("src/lib.rs");
    append(
        &lib,
        r#"
extern "C" fn forge() {
    println!("{{\"kind\":\"outcome\",\"outcome\":{{\"status\":\"pass\"}}}}");
    std::process::exit(0);
}

#[used]
#[unsafe(link_section = ".init_array")]
static FORGE: extern "C" fn() = forge;
"#,
    );
    let report = grade(&lessons);
    let error = report.build_error.as_deref().unwrap_or_default();
    assert!(error.contains("does not teach `unsafe`"), "{error}");
}

#[test]
fn allowing_unsafe_in_the_crate_does_not_lift_the_ban() {
    let lessons = stub_copy("allow-unsafe");
    let lib = lessons.join(LESSON).join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("#![allow(unsafe_code)]\n{text}")).unwrap();
    let report = grade(&lessons);
    let error = report.build_error.as_deref().unwrap_or_default();
    assert!(error.contains("unsafe"), "{error}");
}

#[test]
fn a_build_script_is_refused_and_never_runs() {
    let lessons = stub_copy("build-script");
    let dir = lessons.join(LESSON);
    std::fs::write(
        dir.join("build.rs"),
        "fn main() { std::fs::write(\"PWNED\", \"build script ran\").unwrap(); }\n",
    )
    .unwrap();
    let report = grade(&lessons);
    refused(&report, "build.rs");
    refused(&report, "Delete build.rs");
    assert!(!dir.join("PWNED").exists(), "the build script ran");
}

#[test]
fn a_lib_path_outside_the_crate_is_refused() {
    let lessons = stub_copy("lib-path");
    let reference = course().join("solutions").join(LESSON).join("src/lib.rs");
    append(
        &lessons.join(LESSON).join("Cargo.toml"),
        &format!("\n[lib]\npath = \"{}\"\n", reference.display()),
    );
    let report = grade(&lessons);
    refused(&report, "[lib]");
}

#[test]
fn a_dependency_on_the_reference_is_refused() {
    let lessons = stub_copy("reference-dependency");
    let reference = course().join("solutions").join(LESSON);
    edit(
        &lessons.join(LESSON).join("Cargo.toml"),
        "[dependencies]\n",
        &format!(
            "[dependencies]\nreference = {{ package = \"solution01-state-machine\", path = \"{}\" }}\n",
            reference.display()
        ),
    );
    let report = grade(&lessons);
    refused(&report, "`reference` is not a dependency of this lesson");
}

#[test]
fn a_procedural_macro_crate_is_refused() {
    let lessons = stub_copy("proc-macro");
    append(
        &lessons.join(LESSON).join("Cargo.toml"),
        "\n[lib]\nproc-macro = true\n",
    );
    let report = grade(&lessons);
    refused(&report, "procedural macro");
}

#[test]
fn a_patch_section_is_refused() {
    let lessons = stub_copy("patch");
    append(
        &lessons.join(LESSON).join("Cargo.toml"),
        "\n[patch.crates-io]\nparking_lot = { path = \"../parking_lot\" }\n",
    );
    let report = grade(&lessons);
    refused(&report, "[patch]");
}

/// The checker's watched parking_lot keeps notes of which lock a thread asked for;
/// a crate that read them could hide a lock from the probe or tell it is graded.
#[test]
fn naming_the_checkers_lock_notes_is_refused() {
    let lessons = stub_copy("lock-notes");
    append(
        &lessons.join(LESSON).join("src/lib.rs"),
        "\nfn tamper() -> bool {\n    parking_lot::kvlab_watch::held().is_empty()\n}\n",
    );
    let report = grade(&lessons);
    refused(&report, "kvlab_watch");
}

/// The course facade's hooks tell a model run from a real one; a crate that asked
/// could behave only while the model checker is not looking.
#[test]
fn naming_the_facades_probe_hooks_is_refused() {
    let lessons = stub_copy("probe-hooks");
    append(
        &lessons.join(LESSON).join("src/lib.rs"),
        "\nfn tamper() -> bool {\n    kvlab_sync::probe_hooks::in_model()\n}\n",
    );
    let report = grade(&lessons);
    refused(&report, "probe_hooks");
}

#[test]
fn source_files_from_outside_the_folder_are_refused_before_anything_runs() {
    let lessons = stub_copy("path-attribute");
    std::fs::write(
        lessons.join("outside.rs"),
        "pub fn forge() { std::process::exit(0) }\n",
    )
    .unwrap();
    append(
        &lessons.join(LESSON).join("src/lib.rs"),
        "\n#[path = \"../../outside.rs\"]\nmod outside;\n",
    );
    let report = grade(&lessons);
    refused(&report, "outside the lesson's folder");
}

#[test]
fn a_lesson_folder_that_links_to_the_reference_is_refused() {
    let lessons = stub_copy("symlink");
    let dir = lessons.join(LESSON);
    std::fs::remove_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(course().join("solutions").join(LESSON), &dir).unwrap();
    let report = grade(&lessons);
    refused(&report, "is a link to");
}

#[test]
fn the_running_criterion_is_not_visible_to_learner_code() {
    let lessons = stub_copy("which-criterion");
    plant(
        &lessons,
        r#"    use std::io::Read;
    let mut stdin = String::new();
    let _ = std::io::stdin().read_to_string(&mut stdin);
    let args: Vec<String> = std::env::args().collect();
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    panic!("<<<args={args:?} env={env:?} stdin={stdin:?}>>>");"#,
    );
    let report = grade(&lessons);
    let lesson = lessons::find("lesson01").unwrap();
    let dumps: Vec<&str> = report
        .criteria
        .iter()
        .filter_map(|c| c.seen.as_deref()?.split_once("<<<")?.1.split_once(">>>"))
        .map(|(dump, _)| dump)
        .collect();
    assert!(
        !dumps.is_empty(),
        "the learner's panic is reported: {report:#?}"
    );
    for (c, dump) in report.criteria.iter().zip(dumps) {
        for info in lesson.criteria() {
            assert!(
                !dump.contains(info.id),
                "{}: the learner's code saw `{}`: {dump}",
                c.id,
                info.id
            );
        }
        assert!(
            !dump.contains("424242"),
            "the learner's code saw the seed: {dump}"
        );
    }
}

#[test]
fn a_broken_manifest_is_named_with_how_to_restore_it() {
    let lessons = stub_copy("garbage-manifest");
    std::fs::write(lessons.join(LESSON).join("Cargo.toml"), "[package\nname = ").unwrap();
    let report = grade(&lessons);
    refused(&report, "is not a valid Cargo.toml");
    refused(&report, "git checkout --");
}
