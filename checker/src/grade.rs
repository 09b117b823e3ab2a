//! `checker grade`: an instructor grades a class with this course's own checker.
//!
//! From each submission (a copy of the course, a git repository, a folder of lesson
//! crates, or a `.tar`/`.tar.gz` archive of one) only the lesson crates are taken:
//! copied, without following any link, into `<out>/staging/<learner>/lessons/`, and
//! graded there with `check --lessons`, so the learner's own checker, criteria and
//! snapshots never take part. Everything `check` refuses is refused here too and
//! reported, never run.
//!
//! Builds go one after another (cargo holds one lock on the target folder, and the
//! compiled dependencies are shared by all learners); checks run one at a time too,
//! so that no learner's stress criteria compete with another's for the two cores.
//! A learner whose crate hangs costs its own deadline and no one else's. Results are
//! appended as each learner's lesson is graded, so an interrupted run resumes where
//! it stopped (a crate whose content did not change is not graded again).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::check::{self, Target, Unwatched};
use crate::lessons::{self, LESSONS, Lesson};
use crate::report::{Report, Status};
use crate::workspace::Workspace;

/// One learner's lesson, graded: a line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Graded {
    pub learner: String,
    /// Who last committed in the submission, where it is a git repository.
    pub author: Option<String>,
    pub lesson: String,
    /// `graded`, `missing` (no crate for this lesson) or `refused` (the submission
    /// holds something the checker will not copy: a link).
    pub outcome: String,
    pub passed: usize,
    pub total: usize,
    /// The full report, when the lesson was graded.
    pub report: Option<Report>,
    /// Why it was not graded, when it was not.
    pub reason: Option<String>,
    /// The course's commit, so results from two checkers are never mixed.
    pub checker_version: String,
    /// A hash of the staged crate's files: unchanged content is not graded again.
    pub content_hash: String,
    pub elapsed_ms: u128,
    /// How alike the learner's code is to the reference's (0 to 1), and to the most
    /// similar other learner's, with that learner's name. Numbers for the
    /// instructor to judge, never a verdict.
    pub similar_to_reference: Option<f32>,
    pub most_similar_learner: Option<(String, f32)>,
}

pub struct Options {
    pub submissions: Vec<PathBuf>,
    pub lessons: Vec<String>,
    pub out: PathBuf,
    pub seed: u64,
}

pub fn run(course: &Workspace, options: &Options) -> Result<()> {
    let lessons: Vec<&'static Lesson> = if options.lessons.is_empty() {
        LESSONS.iter().collect()
    } else {
        options
            .lessons
            .iter()
            .map(|l| lessons::find(l))
            .collect::<Result<_>>()?
    };
    fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;
    let version = checker_version(&course.root);
    let results_path = options.out.join("results.jsonl");
    let mut done: BTreeMap<(String, String), Graded> = read_results(&results_path);

    // Stage every submission first: the similarity numbers need them all.
    let mut staged = Vec::new();
    for submission in &options.submissions {
        let learner = learner_name(submission);
        let dir = options.out.join("staging").join(&learner);
        let staging = stage(submission, &dir)
            .with_context(|| format!("cannot take the lessons from {}", submission.display()))?;
        staged.push((
            learner,
            git_author(submission),
            dir.join("lessons"),
            staging,
        ));
    }

    let total = staged.len() * lessons.len();
    let started = Instant::now();
    let mut count = 0;
    for (learner, author, lessons_dir, staging) in &staged {
        for lesson in &lessons {
            count += 1;
            let crate_dir = lessons_dir.join(lesson.dir_name());
            let hash = content_hash(&crate_dir);
            let key = (learner.clone(), lesson.id());
            if done.get(&key).is_some_and(|g| {
                g.content_hash == hash
                    && g.checker_version == version
                    && g.report.as_ref().is_none_or(|r| r.seed == options.seed)
            }) {
                eprintln!(
                    "[{count}/{total}] {learner} {}: already graded, kept",
                    lesson.id()
                );
                continue;
            }
            eprint!("[{count}/{total}] {learner} {} ... ", lesson.id());
            let began = Instant::now();
            let mut graded = Graded {
                learner: learner.clone(),
                author: author.clone(),
                lesson: lesson.id(),
                outcome: "graded".into(),
                passed: 0,
                total: lesson.criteria().iter().filter(|c| c.graded).count(),
                report: None,
                reason: None,
                checker_version: version.clone(),
                content_hash: hash,
                elapsed_ms: 0,
                similar_to_reference: None,
                most_similar_learner: None,
            };
            if let Some(link) = &staging.refused {
                graded.outcome = "refused".into();
                graded.reason = Some(format!(
                    "the submission holds a link ({link}); links can point at the reference, \
                     so nothing of it was graded"
                ));
            } else if !crate_dir.join("Cargo.toml").is_file() {
                graded.outcome = "missing".into();
                graded.reason = Some(format!(
                    "no lessons/{} in the submission",
                    lesson.dir_name()
                ));
            } else {
                let workspace = course.clone().with_lessons(lessons_dir)?;
                let report = check::check(
                    &workspace,
                    lesson,
                    &Target::Learner,
                    options.seed,
                    None,
                    &mut Unwatched,
                )?;
                graded.passed = report.passed;
                graded.report = Some(report);
            }
            graded.elapsed_ms = began.elapsed().as_millis();
            eprintln!(
                "{} ({:.1} s)",
                describe(&graded),
                began.elapsed().as_secs_f64()
            );
            append(&results_path, &graded)?;
            done.insert(key, graded);
        }
    }

    add_similarity(
        course,
        &staged
            .iter()
            .map(|s| (s.0.clone(), s.2.clone()))
            .collect::<Vec<_>>(),
        &lessons,
        &mut done,
    );
    let results: Vec<&Graded> = done.values().collect();
    rewrite_results(&results_path, &results)?;
    fs::write(options.out.join("results.csv"), csv(&results, &lessons))?;
    let learners: Vec<(String, PathBuf)> =
        staged.iter().map(|s| (s.0.clone(), s.2.clone())).collect();
    let page = html(
        course,
        &learners,
        &results,
        &lessons,
        &version,
        options.seed,
    );
    fs::write(options.out.join("results.html"), page)?;
    print!("{}", summary(&results, &lessons));
    println!(
        "\n{} results in {:.0} s. Written: {}, {} and {}",
        count,
        started.elapsed().as_secs_f64(),
        results_path.display(),
        options.out.join("results.csv").display(),
        options.out.join("results.html").display()
    );
    Ok(())
}

fn describe(graded: &Graded) -> String {
    match (&graded.report, graded.outcome.as_str()) {
        (Some(r), _) if r.refused.is_some() => "refused".into(),
        (Some(r), _) if r.build_error.is_some() => "does not build".into(),
        (Some(r), _) => format!("{} of {} pass", r.passed, r.total),
        (None, outcome) => outcome.to_owned(),
    }
}

/// A name for the submission: its folder's, or its archive's without the extension.
fn learner_name(submission: &Path) -> String {
    let name = submission
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "learner".into());
    let name = [".tar.gz", ".tgz", ".tar"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name)
        .to_owned();
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What was taken from a submission.
struct Staging {
    /// The first link found in a lesson crate, if any: then nothing is graded.
    refused: Option<String>,
}

/// Copies the submission's lesson crates into `dir/lessons/`, never following a link
/// and leaving out build output.
fn stage(submission: &Path, dir: &Path) -> Result<Staging> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let source = if submission.is_file() {
        let unpacked = dir.join("unpacked");
        fs::create_dir_all(&unpacked)?;
        let status = Command::new("tar")
            .arg("-xf")
            .arg(submission)
            .arg("-C")
            .arg(&unpacked)
            .status()
            .context("cannot run tar")?;
        if !status.success() {
            bail!("tar could not unpack it");
        }
        find_lessons(&unpacked).unwrap_or(unpacked)
    } else {
        find_lessons(submission).unwrap_or_else(|| submission.to_path_buf())
    };
    // A link on the way down to the lesson crates could lead anywhere, the
    // course's own solutions/ included.
    let top = if submission.is_file() {
        dir.join("unpacked")
    } else {
        submission.to_path_buf()
    };
    let mut refused = link_on_the_way(&top, &source);
    let into = dir.join("lessons");
    fs::create_dir_all(&into)?;
    for lesson in LESSONS {
        let from = source.join(lesson.dir_name());
        if refused.is_none() && fs::symlink_metadata(&from).is_ok() {
            copy_tree(&from, &into.join(lesson.dir_name()), &mut refused)?;
        }
    }
    if refused.is_some() {
        let _ = fs::remove_dir_all(&into);
        fs::create_dir_all(&into)?;
    }
    Ok(Staging { refused })
}

/// The first link among `top` and the folders between it and `source`.
fn link_on_the_way(top: &Path, source: &Path) -> Option<String> {
    source
        .ancestors()
        .take_while(|dir| dir.starts_with(top))
        .find(|dir| fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()))
        .map(|dir| dir.display().to_string())
}

/// The folder of lesson crates in a copy of the course: `lessons/` at its top or one
/// level down (an archive usually holds one folder), or the folder itself.
fn find_lessons(root: &Path) -> Option<PathBuf> {
    let has_lesson = |dir: &Path| LESSONS.iter().any(|l| dir.join(l.dir_name()).exists());
    if has_lesson(root) {
        return Some(root.to_path_buf());
    }
    if has_lesson(&root.join("lessons")) {
        return Some(root.join("lessons"));
    }
    for entry in fs::read_dir(root).ok()?.flatten() {
        let candidate = entry.path().join("lessons");
        if has_lesson(&candidate) {
            return Some(candidate);
        }
    }
    None
}

fn copy_tree(from: &Path, to: &Path, refused: &mut Option<String>) -> Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        refused.get_or_insert_with(|| from.display().to_string());
        return Ok(());
    }
    if meta.is_dir() {
        if from
            .file_name()
            .is_some_and(|n| n == "target" || n == ".git")
        {
            return Ok(());
        }
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), refused)?;
        }
    } else if meta.is_file() {
        fs::copy(from, to)?;
    }
    Ok(())
}

/// Who last committed, where the submission is a git repository of its own (not a
/// folder that merely sits inside one, such as the instructor's clone).
fn git_author(submission: &Path) -> Option<String> {
    if !submission.join(".git").exists() {
        return None;
    }
    let output = Command::new("git")
        .arg("-C")
        .arg(submission)
        .args(["log", "-1", "--format=%an <%ae>"])
        .output()
        .ok()?;
    let author = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !author.is_empty()).then_some(author)
}

/// The course's commit the checker was built from, marked when its sources have
/// uncommitted changes.
fn checker_version(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    // The last commit that changed what the checker is built from: a commit to the
    // book alone does not make every result stale.
    let built_from = ["checker", "solutions", "Cargo.toml", "Cargo.lock"];
    let commit = git(&[&["log", "-1", "--format=%h", "--"][..], &built_from].concat())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let dirty = git(&[&["status", "--porcelain", "--"][..], &built_from].concat())
        .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{commit}+changes")
    } else {
        commit
    }
}

/// Every file of a crate, hashed in path order (FNV-1a: stable across releases).
fn content_hash(dir: &Path) -> String {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = fs::read(&file).unwrap_or_default();
        let name = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        for b in name.bytes().chain(bytes) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn collect_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, into);
        } else {
            into.push(path);
        }
    }
}

/// The crate's Rust code with comments and blank space taken out, so that
/// reformatting or rewording comments does not change how alike two crates look.
fn normalized_code(dir: &Path) -> String {
    let mut files = Vec::new();
    collect_files(&dir.join("src"), &mut files);
    files.sort();
    let mut code = String::new();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        for line in fs::read_to_string(file).unwrap_or_default().lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            if !line.is_empty() {
                code.push_str(line);
                code.push('\n');
            }
        }
    }
    code
}

fn similarity(a: &str, b: &str) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    similar::TextDiff::from_words(a, b).ratio()
}

fn add_similarity(
    course: &Workspace,
    staged: &[(String, PathBuf)],
    lessons: &[&Lesson],
    done: &mut BTreeMap<(String, String), Graded>,
) {
    for lesson in lessons {
        let reference = normalized_code(&course.solution_dir(lesson));
        let codes: Vec<(String, String)> = staged
            .iter()
            .map(|(learner, dir)| {
                (
                    learner.clone(),
                    normalized_code(&dir.join(lesson.dir_name())),
                )
            })
            .collect();
        for (learner, code) in &codes {
            let Some(graded) = done.get_mut(&(learner.clone(), lesson.id())) else {
                continue;
            };
            if code.is_empty() {
                continue;
            }
            graded.similar_to_reference = Some(round(similarity(code, &reference)));
            graded.most_similar_learner = codes
                .iter()
                .filter(|(other, c)| other != learner && !c.is_empty())
                .map(|(other, c)| (other.clone(), round(similarity(code, c))))
                .max_by(|a, b| a.1.total_cmp(&b.1));
        }
    }
}

fn round(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}

fn read_results(path: &Path) -> BTreeMap<(String, String), Graded> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Graded>(line).ok())
        .map(|g| ((g.learner.clone(), g.lesson.clone()), g))
        .collect()
}

fn append(path: &Path, graded: &Graded) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(file, "{}", serde_json::to_string(graded)?)?;
    Ok(())
}

fn rewrite_results(path: &Path, results: &[&Graded]) -> Result<()> {
    let mut text = String::new();
    for graded in results {
        text += &serde_json::to_string(graded)?;
        text.push('\n');
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// One row per learner, a column per lesson's criterion, then the similarity.
fn csv(results: &[&Graded], lessons: &[&Lesson]) -> String {
    let mut header = vec!["learner".to_owned(), "author".to_owned()];
    for lesson in lessons {
        header.push(format!("{} passed", lesson.id()));
        for info in lesson.criteria() {
            header.push(format!("{}:{}", lesson.id(), info.id));
        }
        header.push(format!("{} similarity to reference", lesson.id()));
    }
    let mut rows = vec![
        header
            .iter()
            .map(|h| quote(h))
            .collect::<Vec<_>>()
            .join(","),
    ];
    let mut learners: Vec<&str> = results.iter().map(|g| g.learner.as_str()).collect();
    learners.dedup();
    for learner in learners {
        let mine: Vec<&&Graded> = results.iter().filter(|g| g.learner == learner).collect();
        let author = mine
            .iter()
            .find_map(|g| g.author.clone())
            .unwrap_or_default();
        let mut row = vec![quote(learner), quote(&author)];
        for lesson in lessons {
            let graded = mine.iter().find(|g| g.lesson == lesson.id());
            row.push(graded.map_or(String::new(), |g| format!("{}/{}", g.passed, g.total)));
            for info in lesson.criteria() {
                let status = graded.map_or("".to_owned(), |g| criterion_status(g, info.id));
                row.push(status);
            }
            row.push(
                graded
                    .and_then(|g| g.similar_to_reference)
                    .map_or(String::new(), |s| s.to_string()),
            );
        }
        rows.push(row.join(","));
    }
    rows.join("\n") + "\n"
}

fn criterion_status(graded: &Graded, id: &str) -> String {
    let Some(report) = &graded.report else {
        return graded.outcome.clone();
    };
    if report.refused.is_some() {
        return "refused".into();
    }
    if report.build_error.is_some() {
        return "does-not-build".into();
    }
    let status = report
        .criteria
        .iter()
        .find(|c| c.id == id)
        .map(|c| c.status);
    match status {
        Some(Status::Pass) => "pass".into(),
        Some(Status::Fail) => match report
            .criteria
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.failure)
        {
            Some(crate::report::FailureKind::Hang) => "hang".into(),
            _ => "fail".into(),
        },
        Some(Status::NotImplemented) => "todo".into(),
        Some(Status::ForReview) => "for-review".into(),
        Some(Status::NotRun) | None => "not-run".into(),
    }
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// What the instructor reads first: pass rates per criterion, and who did not build,
/// hung or was refused.
fn summary(results: &[&Graded], lessons: &[&Lesson]) -> String {
    let mut out = String::from("\nPass rate per criterion:\n");
    for lesson in lessons {
        let mine: Vec<&&Graded> = results.iter().filter(|g| g.lesson == lesson.id()).collect();
        // An item for review has no pass rate: nobody passes or fails it.
        for info in lesson.criteria().into_iter().filter(|c| c.graded) {
            let passed = mine
                .iter()
                .filter(|g| criterion_status(g, info.id) == "pass")
                .count();
            out += &format!(
                "  {} {:<28} {passed:>3} of {}\n",
                lesson.id(),
                info.id,
                mine.len()
            );
        }
    }
    let list = |what: &str, pick: &dyn Fn(&Graded) -> bool| {
        let names: Vec<String> = results
            .iter()
            .filter(|g| pick(g))
            .map(|g| format!("{} ({})", g.learner, g.lesson))
            .collect();
        format!(
            "{what}: {}\n",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )
    };
    out += "\n";
    out += &list("Did not build", &|g| {
        g.report.as_ref().is_some_and(|r| r.build_error.is_some())
    });
    out += &list("Hung", &|g| {
        g.report.as_ref().is_some_and(|r| {
            r.criteria
                .iter()
                .any(|c| c.failure == Some(crate::report::FailureKind::Hang))
        })
    });
    out += &list("Refused", &|g| {
        g.outcome == "refused" || g.report.as_ref().is_some_and(|r| r.refused.is_some())
    });
    out += &list("Missing", &|g| g.outcome == "missing");
    out
}

/// The class report as one self-contained HTML page: the summary, a row per learner
/// with every criterion's status, and each learner's code against the reference,
/// step by step, side by side.
fn html(
    course: &Workspace,
    learners: &[(String, PathBuf)],
    results: &[&Graded],
    lessons: &[&Lesson],
    version: &str,
    seed: u64,
) -> String {
    use crate::diff::escape;
    let mut page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>kvlab: class results</title>\n\
         <style>{STYLE}</style></head><body>\n<h1>kvlab: class results</h1>\n\
         <p>{} learners, graded by the checker of commit <code>{}</code>, seed {seed}. \
         Similarity is a number for you to judge, never a verdict.</p>\n",
        learners.len(),
        escape(version)
    );
    page += &format!(
        "<h2>Summary</h2>\n<pre>{}</pre>\n",
        escape(summary(results, lessons).trim())
    );
    for lesson in lessons {
        let criteria = lesson.criteria();
        page += &format!(
            "<h2>{} ({})</h2>\n<table class=\"grid\"><tr><th>learner</th><th>author</th><th>passed</th>",
            lesson.id(),
            escape(lesson.title)
        );
        for info in &criteria {
            page += &format!(
                "<th title=\"{}\">{}</th>",
                escape(info.title),
                escape(info.id)
            );
        }
        page += "<th>similar to the reference</th><th>most similar learner</th></tr>\n";
        for graded in results.iter().filter(|g| g.lesson == lesson.id()) {
            page += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}/{}</td>",
                escape(&graded.learner),
                escape(graded.author.as_deref().unwrap_or("")),
                graded.passed,
                graded.total
            );
            for info in &criteria {
                let status = criterion_status(graded, info.id);
                page += &format!("<td class=\"{status}\">{status}</td>");
            }
            let similar = graded
                .similar_to_reference
                .map_or(String::new(), |s| s.to_string());
            let other = graded
                .most_similar_learner
                .as_ref()
                .map_or(String::new(), |(who, s)| format!("{} ({s})", escape(who)));
            page += &format!("<td>{similar}</td><td>{other}</td></tr>\n");
        }
        page += "</table>\n";
        for (learner, lessons_dir) in learners {
            let Some(graded) = results
                .iter()
                .find(|g| &g.learner == learner && g.lesson == lesson.id())
            else {
                continue;
            };
            let Ok(workspace) = course.clone().with_lessons(lessons_dir) else {
                continue;
            };
            let Ok(comparison) = crate::diff::compare(&workspace, lesson, graded.report.as_ref())
            else {
                continue;
            };
            page += &format!(
                "<details><summary>{}: {} of {} against the reference</summary>\n{}</details>\n",
                escape(learner),
                graded.passed,
                graded.total,
                crate::diff::render_html(&comparison)
            );
        }
    }
    page + "</body></html>\n"
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}.pass,.PASS{background:#d4f7d4}\
.fail,.hang,.FAIL{background:#f7d4d4}.todo,.TODO,.does-not-build,.refused{background:#f7efd4}\
table.diff td{width:50%}table.diff pre{margin:0;white-space:pre-wrap}tr.changed{background:#fff3c4}\
details{margin:0.3em 0}summary{cursor:pointer}";
