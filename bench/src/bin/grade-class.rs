//! How long `checker grade` takes for a class: 30 generated learner copies of
//! lesson 04 (correct, broken, not compiling, hanging and tampering), graded once
//! from a cold target folder (nothing compiled yet) and once more from the warm one
//! (the compiled dependencies kept, every learner graded again). Prints the wall
//! time per learner and in all, and writes `book/src/generated/grade-class.md`.
//! Runs the already built checker binary (`cargo build -p checker` first); takes
//! tens of minutes on 2 cores. A benchmark, never a test.
//!
//!     cargo run --release -p kvlab-bench --bin grade-class [path/to/checker]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LESSON: &str = "lesson04-concurrency-policy";

/// One generated learner: a kind, and what is done to a copy of the reference.
struct Learner {
    name: String,
    kind: &'static str,
    change: Box<dyn Fn(&Path)>,
}

fn main() {
    let checker = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/debug/checker".to_owned());
    let checker = fs::canonicalize(&checker)
        .unwrap_or_else(|e| panic!("cannot find {checker}: {e} (build it first)"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = fs::canonicalize(root).unwrap();
    let work = root.join("target/bench-grade");
    let _ = fs::remove_dir_all(&work);
    let class = work.join("class");
    let learners = class_of_30();
    for learner in &learners {
        let dir = class.join(&learner.name).join("lessons").join(LESSON);
        copy_dir(&root.join("lessons").join(LESSON), &dir);
        copy_dir(
            &root.join("solutions").join(LESSON).join("src"),
            &dir.join("src"),
        );
        fs::copy(
            root.join("solutions").join(LESSON).join("POLICY.md"),
            dir.join("POLICY.md"),
        )
        .unwrap();
        (learner.change)(&dir);
    }

    let mut report = kvlab_bench::Report::new(
        "grade-class",
        "cargo build -p checker && cargo run --release -p kvlab-bench --bin grade-class",
    );
    let mut rounds = Vec::new();
    for round in ["cold", "warm"] {
        let out = work.join(format!("out-{round}"));
        let started = Instant::now();
        let status = Command::new(&checker)
            .current_dir(&root)
            // A target folder of the benchmark's own: empty for the cold round, as
            // the cold round left it for the warm one.
            .env("CARGO_TARGET_DIR", work.join("target"))
            .arg("grade")
            .args(learners.iter().map(|l| class.join(&l.name)))
            .args(["--lesson", "lesson04", "--out"])
            .arg(&out)
            .status()
            .expect("cannot run the checker");
        let wall = started.elapsed();
        assert!(status.success(), "grade failed in the {round} round");
        let per_learner = read_times(&out.join("results.jsonl"));
        rounds.push((round, wall, per_learner));
    }

    let mut table = vec![
        "| learners | kind | median per learner, cold round | median per learner, warm round |"
            .to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    let kinds: Vec<&str> = {
        let mut kinds: Vec<&str> = learners.iter().map(|l| l.kind).collect();
        kinds.dedup();
        kinds
    };
    println!("learner, kind, cold, warm");
    for learner in &learners {
        let time = |r: usize| rounds[r].2.get(&learner.name).copied().unwrap_or_default();
        println!(
            "{}, {}, {:.1} s, {:.1} s",
            learner.name,
            learner.kind,
            time(0).as_secs_f64(),
            time(1).as_secs_f64()
        );
    }
    for kind in kinds {
        let names: Vec<&str> = learners
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.name.as_str())
            .collect();
        let median = |r: usize| {
            let mut times: Vec<Duration> = names
                .iter()
                .filter_map(|n| rounds[r].2.get(*n).copied())
                .collect();
            times.sort();
            times.get(times.len() / 2).copied().unwrap_or_default()
        };
        table.push(format!(
            "| {} | {kind} | {:.1} s | {:.1} s |",
            names.len(),
            median(0).as_secs_f64(),
            median(1).as_secs_f64()
        ));
    }
    let first = |r: usize| {
        rounds[r]
            .2
            .get(&learners[0].name)
            .copied()
            .unwrap_or_default()
    };
    table.push(String::new());
    table.push(format!(
        "`checker grade` on {} generated learner copies of lesson 04: {:.0} s in all from a \
         cold target folder, of which {:.0} s for the first learner, whose build compiles \
         every dependency (the same learner takes {:.1} s warm); {:.0} s in all from the \
         warm one. The time per learner is its build and its check.",
        learners.len(),
        rounds[0].1.as_secs_f64(),
        first(0).as_secs_f64(),
        first(1).as_secs_f64(),
        rounds[1].1.as_secs_f64()
    ));
    for line in table {
        report.line(line);
    }
    report.write();
}

/// The class: 14 correct (the reference, a comment apart, so the similarity numbers
/// have something to tell), 8 broken as learners break lesson 04, 3 that do not
/// compile, 3 that hang, 2 that try to get around the checker.
fn class_of_30() -> Vec<Learner> {
    let mut class = Vec::new();
    let mut add = |kind: &'static str, name: String, change: Box<dyn Fn(&Path)>| {
        class.push(Learner { name, kind, change });
    };
    for k in 1..=14 {
        add(
            "correct",
            format!("correct-{k:02}"),
            Box::new(move |dir| {
                edit_lib(dir, |text| format!("// Learner {k}'s copy.\n{text}"));
            }),
        );
    }
    let broken: [(&str, &str, &str); 8] = [
        (
            "get-under-the-write-lock",
            "        let state = self.state.read();\n        let state = state.view();\n        Read {",
            "        let state = self.state.write();\n        let state = state.view();\n        Read {",
        ),
        (
            "copy-under-the-write-lock",
            "self.state.read().clone()",
            "self.state.write().clone()",
        ),
        (
            "no-sync-before-rename",
            "            disk.sync(&mut file)?; // the data is on disk before the name points at it\n",
            "",
        ),
        (
            "no-directory-sync",
            "        disk.sync_dir_of(path)?; // and the rename itself survives a crash\n",
            "",
        ),
        (
            "snapshot-written-in-place",
            "let temp = temp_path_for(path);",
            "let temp = path.to_path_buf();",
        ),
        (
            "number-taken-outside-the-turnstile",
            "        let mut hook = self.writer.lock();\n",
            "",
        ),
        (
            "as-of-read-again",
            "            as_of: state.global_seq(),",
            "            as_of: self.state.read().view().global_seq(),",
        ),
        (
            "missing-key-deleted-with-a-number",
            "            if matches!(&command, Command::Del { key } if state.lookup(key).is_none()) {\n                return Ok(Response::NotFound); // not a write: no number, no hook\n            }\n",
            "",
        ),
    ];
    for (name, from, to) in broken {
        add(
            "broken",
            name.to_owned(),
            Box::new(move |dir| {
                edit_lib(dir, |text| {
                    assert!(
                        text.contains(from),
                        "{name}: the reference changed; update the benchmark"
                    );
                    let mut changed = text.replacen(from, to, 1);
                    if name == "number-taken-outside-the-turnstile" {
                        // The turnstile taken only for the hook, after the number.
                        changed = changed.replacen(
                        "        hook.on_write(seq, &command);",
                        "        let mut hook = self.writer.lock();\n        hook.on_write(seq, &command);",
                        1,
                    );
                    }
                    changed
                });
            }),
        );
    }
    for k in 1..=3 {
        add(
            "does not compile",
            format!("no-build-{k}"),
            Box::new(|dir| {
                edit_lib(dir, |text| text + "\npub fn unfinished( {\n");
            }),
        );
    }
    for k in 1..=3 {
        add(
            "hangs",
            format!("hangs-{k}"),
            Box::new(|dir| {
                edit_lib(dir, |text| {
                    let from = "    pub fn get(&self, key: &str) -> Read {\n";
                    assert!(text.contains(from), "the reference's get changed");
                    let to = format!(
                        "{from}        loop {{\n            std::hint::spin_loop();\n        }}\n        #[allow(unreachable_code)]\n"
                    );
                    text.replacen(from, &to, 1)
                });
            }),
        );
    }
    add(
        "tampers",
        "build-script".to_owned(),
        Box::new(|dir| {
            fs::write(dir.join("build.rs"), "fn main() {}\n").unwrap();
        }),
    );
    add(
        "tampers",
        "linked-reference".to_owned(),
        Box::new(|dir| {
            let lib = dir.join("src/lib.rs");
            fs::remove_file(&lib).unwrap();
            let reference = dir
                .join("../../../../../../solutions")
                .join(LESSON)
                .join("src/lib.rs");
            std::os::unix::fs::symlink(fs::canonicalize(reference).unwrap(), lib).unwrap();
        }),
    );
    class
}

/// Rewrites the learner's `src/lib.rs` with `edit`.
fn edit_lib(dir: &Path, edit: impl FnOnce(String) -> String) {
    let lib = dir.join("src/lib.rs");
    let text = fs::read_to_string(&lib).unwrap();
    fs::write(&lib, edit(text)).unwrap();
}

/// Each learner's time, from the results file.
fn read_times(results: &Path) -> BTreeMap<String, Duration> {
    fs::read_to_string(results)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|row| {
            let name = row["learner"].as_str()?.to_owned();
            let ms = row["elapsed_ms"].as_u64()?;
            Some((name, Duration::from_millis(ms)))
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}
