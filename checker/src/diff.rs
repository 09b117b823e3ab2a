//! `checker diff`: a learner's crate against the reference, step by step.
//!
//! The steps are the stub's: each `todo!("step N: ...")` of the stub as committed
//! sits in one function, and that function is compared on both sides, with the
//! criteria that exercise the step (`Info::steps`) and their status from the last
//! check beside it. What the steps do not cover follows: the code outside functions
//! (types, fields, imports), given code the learner changed, the learner's own
//! helpers, and what only the reference has. Files are summarised, not dumped: the
//! manifest by what differs beyond the package's name, a file on one side only by
//! its length.
//!
//! [`compare`] builds one [`Comparison`]; it is printed as a unified diff, side by
//! side on a wide terminal, or as HTML in the class report of `checker grade`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use similar::{ChangeTag, TextDiff};

use crate::functions::{self, FnKey, Function};
use crate::lessons::Lesson;
use crate::report::{Paint, Report, Status};
use crate::workspace::Workspace;

/// Everything `diff` shows, before it is laid out.
pub struct Comparison {
    pub title: String,
    /// Where the statuses come from, or why there are none.
    pub statuses: String,
    pub files: Vec<(String, String)>,
    pub steps: Vec<Step>,
    /// What no step covers, in the order it is shown.
    pub rest: Vec<Piece>,
    /// Criteria that name no step, with their status.
    pub whole_lesson: Vec<(String, Option<Status>)>,
}

pub struct Step {
    pub number: u8,
    pub label: String,
    pub criteria: Vec<(String, Option<Status>)>,
    pub pieces: Vec<Piece>,
}

/// One thing compared: a function, the code outside functions, a text file.
pub struct Piece {
    pub title: String,
    pub mine: Option<String>,
    pub reference: Option<String>,
}

impl Piece {
    fn same(&self) -> bool {
        match (&self.mine, &self.reference) {
            (Some(a), Some(b)) => functions::normalized(a) == functions::normalized(b),
            _ => false,
        }
    }

    /// Whether the code is shown under the verdict: where the two differ and the
    /// learner has code of their own there. What only the reference has is
    /// named, not dumped.
    fn shows_code(&self) -> bool {
        self.mine.is_some() && !self.same()
    }

    /// One line on how the two sides differ.
    fn verdict(&self) -> String {
        let lines = |t: &str| t.lines().count();
        match (&self.mine, &self.reference) {
            _ if self.same() => "the same as the reference".into(),
            (Some(a), Some(b)) => format!(
                "differs: {} lines yours, {} the reference's",
                lines(a),
                lines(b)
            ),
            (Some(a), None) => format!("yours only, {} lines", lines(a)),
            (None, Some(b)) => format!("not in your crate ({} lines in the reference)", lines(b)),
            (None, None) => "in neither".into(),
        }
    }
}

/// Compares the learner's crate of `lesson` in `workspace` with the reference;
/// `report` gives each criterion's status, when there is one to trust.
pub fn compare(
    workspace: &Workspace,
    lesson: &Lesson,
    report: Option<&Report>,
) -> Result<Comparison> {
    let (mine, reference) = (workspace.lesson_dir(lesson), workspace.solution_dir(lesson));
    if !mine.join("Cargo.toml").is_file() {
        anyhow::bail!(
            "there is no crate to compare at {}: restore it with `git checkout -- {}`",
            workspace.show(&mine),
            workspace.show(&mine)
        );
    }
    let status_of =
        |id: &str| report.and_then(|r| r.criteria.iter().find(|c| c.id == id).map(|c| c.status));
    let statuses = match report {
        Some(r) if r.build_error.is_some() || r.refused.is_some() => format!(
            "The last check of this crate ran no criterion: the crate {}. `just check {}` \
             says why.",
            if r.refused.is_some() {
                "was refused"
            } else {
                "did not build"
            },
            lesson.id()
        ),
        Some(r) => format!(
            "Statuses from the last check of this crate (seed {}): {} of {} pass.",
            r.seed, r.passed, r.total
        ),
        None => format!(
            "No check of this crate since it last changed: `just check {}` adds each \
             criterion's status here.",
            lesson.id()
        ),
    };

    let mut files = Vec::new();
    let mut rest = Vec::new();
    let (my_files, their_files) = (source_files(&mine)?, source_files(&reference)?);
    let all: BTreeSet<&PathBuf> = my_files.iter().chain(&their_files).collect();
    // Rust sources both sides have, read once, with their functions.
    let mut sources: BTreeMap<PathBuf, (Source, Source)> = BTreeMap::new();
    for file in all {
        let name = file.display().to_string();
        let (a, b) = (read(&mine, file), read(&reference, file));
        match (&a, &b) {
            (Some(_), None) => files.push((name, format!("yours only, {} lines", lines(&a)))),
            (None, Some(_)) => {
                files.push((name, format!("only in the reference, {} lines", lines(&b))))
            }
            _ if file == Path::new("Cargo.toml") => {
                files.push((name, manifest_note(a.as_deref(), b.as_deref())))
            }
            _ if file.extension().is_some_and(|e| e == "rs") => {
                sources.insert(file.clone(), (Source::new(a), Source::new(b)));
            }
            _ if a == b => {}
            _ => {
                files.push((name.clone(), "differs: compared below".into()));
                rest.push(Piece {
                    title: name,
                    mine: a,
                    reference: b,
                });
            }
        }
    }

    // The steps, from the stub; each step's functions compared where they are.
    let mut covered: BTreeSet<(PathBuf, FnKey)> = BTreeSet::new();
    let mut steps: Vec<Step> = Vec::new();
    for (number, label, file, key) in stub_steps(workspace, lesson) {
        let piece = match sources.get(&file) {
            Some((a, b)) => Piece {
                title: format!("{} ({})", key.label(), file.display()),
                mine: a.function(&key),
                reference: b.function(&key),
            },
            None => continue,
        };
        covered.insert((file, key));
        match steps.iter_mut().find(|s| s.number == number) {
            Some(step) => step.pieces.push(piece),
            None => steps.push(Step {
                number,
                label,
                criteria: Vec::new(),
                pieces: vec![piece],
            }),
        }
    }
    steps.sort_by_key(|s| s.number);
    let mut whole_lesson = Vec::new();
    for info in lesson.criteria() {
        let status = status_of(info.id);
        let mut placed = false;
        for step in steps.iter_mut().filter(|s| info.steps.contains(&s.number)) {
            step.criteria.push((info.id.to_owned(), status));
            placed = true;
        }
        if !placed {
            whole_lesson.push((info.id.to_owned(), status));
        }
    }

    // What no step covers.
    for (file, (a, b)) in &sources {
        let shown = file.display();
        rest.push(Piece {
            title: format!("outside functions: types, fields, imports ({shown})"),
            mine: a.outside(),
            reference: b.outside(),
        });
        let keys: BTreeSet<&FnKey> = a.keys().chain(b.keys()).collect();
        // The reference's own functions (its unit tests, its helpers): named, not shown.
        let (mut theirs_only, mut their_code) = (Vec::new(), String::new());
        for key in keys {
            if covered.contains(&(file.clone(), key.clone())) {
                continue;
            }
            let (ours, theirs) = (a.function(key), b.function(key));
            let title = match (&ours, &theirs) {
                (Some(_), Some(_)) => format!("given code: {} ({shown})", key.label()),
                (Some(_), None) => format!("your own: {} ({shown})", key.label()),
                _ => {
                    theirs_only.push(key.label());
                    their_code += theirs.as_deref().unwrap_or_default();
                    continue;
                }
            };
            rest.push(Piece {
                title,
                mine: ours,
                reference: theirs,
            });
        }
        if !theirs_only.is_empty() {
            rest.push(Piece {
                title: format!("the reference's own ({shown}): {}", theirs_only.join(", ")),
                mine: None,
                reference: Some(their_code),
            });
        }
    }
    Ok(Comparison {
        title: format!(
            "{} ({}): your crate ({}) against the reference ({})",
            lesson.id(),
            lesson.title,
            workspace.show(&mine),
            workspace.show(&reference)
        ),
        statuses,
        files,
        steps,
        rest,
        whole_lesson,
    })
}

/// One side's Rust file, with its functions found.
struct Source {
    text: Option<String>,
    functions: Vec<Function>,
}

impl Source {
    fn new(text: Option<String>) -> Self {
        let functions = text
            .as_deref()
            .map(functions::functions)
            .unwrap_or_default();
        Source { text, functions }
    }

    fn function(&self, key: &FnKey) -> Option<String> {
        let text = self.text.as_deref()?;
        let f = self.functions.iter().find(|f| &f.key == key)?;
        Some(text[f.span.clone()].to_owned())
    }

    fn keys(&self) -> impl Iterator<Item = &FnKey> {
        self.functions.iter().map(|f| &f.key)
    }

    fn outside(&self) -> Option<String> {
        let text = self.text.as_deref()?;
        let rest = functions::outside_functions(text, &self.functions);
        // Without comment lines (the stub's doc comments state contracts, the
        // reference's explain; neither is code) and the blank lines each function
        // left behind.
        let mut out = String::new();
        let mut blank = true;
        for line in rest.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("//") {
                continue;
            }
            let is_blank = trimmed.is_empty();
            if !(is_blank && blank) {
                out.push_str(line);
                out.push('\n');
            }
            blank = is_blank;
        }
        Some(out)
    }
}

/// The stub's steps: number, label, file and the function its `todo!` is in. Read
/// from the stub as committed, so that a learner's crate, whose `todo!`s are gone,
/// still has its steps; from the course's `lessons/` on disk where git cannot tell.
fn stub_steps(workspace: &Workspace, lesson: &Lesson) -> Vec<(u8, String, PathBuf, FnKey)> {
    let stub = PathBuf::from("lessons").join(lesson.dir_name());
    let committed = |file: &Path| {
        let spec = format!("HEAD:{}", stub.join(file).display());
        Command::new("git")
            .arg("-C")
            .arg(&workspace.root)
            .args(["show", &spec])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let on_disk = workspace.root.join(&stub);
    let files = source_files(&on_disk).unwrap_or_default();
    let mut steps = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let text = committed(file)
            .filter(|t| t.contains("todo!(\"step"))
            .or_else(|| fs::read_to_string(on_disk.join(file)).ok())
            .unwrap_or_default();
        let found = functions::functions(&text);
        for f in &found {
            let body = &text[f.span.clone()];
            let Some(at) = body.find("todo!(\"step ") else {
                continue;
            };
            let after = &body[at + "todo!(\"step ".len()..];
            let Some((number, label)) = after.split_once(": ") else {
                continue;
            };
            let Ok(number) = number.parse::<u8>() else {
                continue;
            };
            let label = label.split('"').next().unwrap_or_default();
            steps.push((number, label.to_owned(), file.clone(), f.key.clone()));
        }
    }
    steps
}

fn read(root: &Path, file: &Path) -> Option<String> {
    fs::read_to_string(root.join(file)).ok()
}

fn lines(text: &Option<String>) -> usize {
    text.as_deref().map_or(0, |t| t.lines().count())
}

/// What differs between the two manifests where it matters: the dependencies, by
/// name. The rest differs by design (the lesson crate is a workspace of its own,
/// the reference inherits the course's settings, and their names differ).
fn manifest_note(mine: Option<&str>, reference: Option<&str>) -> String {
    let dependencies = |text: Option<&str>| -> Option<BTreeSet<String>> {
        let table: toml::Table = text?.parse().ok()?;
        let mut names = BTreeSet::new();
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            if let Some(deps) = table.get(section).and_then(|d| d.as_table()) {
                names.extend(deps.keys().map(|name| format!("{section}.{name}")));
            }
        }
        Some(names)
    };
    let (Some(a), Some(b)) = (dependencies(mine), dependencies(reference)) else {
        return "differs, and one of the two is not valid TOML".into();
    };
    if a == b && a.is_empty() {
        return "no dependencies, as in the reference; the rest differs by design".into();
    }
    if a == b {
        let names: Vec<&str> = a
            .iter()
            .map(|d| d.trim_start_matches("dependencies."))
            .collect();
        return format!(
            "the same dependencies ({}); the rest differs by design",
            names.join(", ")
        );
    }
    let list = |names: Vec<&String>| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut note = String::from("the dependencies differ:");
    let (extra, lacking): (Vec<&String>, Vec<&String>) =
        (a.difference(&b).collect(), b.difference(&a).collect());
    if !extra.is_empty() {
        let _ = write!(note, " yours adds {}", list(extra));
    }
    if !lacking.is_empty() {
        let _ = write!(
            note,
            "{} yours lacks {}",
            if note.ends_with(':') { "" } else { ";" },
            list(lacking)
        );
    }
    note
}

/// Every file of the crate but its build output, relative to `root`, sorted.
fn source_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                if path
                    .file_name()
                    .is_some_and(|n| n != "target" && n != ".git")
                {
                    pending.push(path);
                }
            } else {
                found.push(path.strip_prefix(root)?.to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

// ---------------------------------------------------------------------------
// Layouts

/// How to lay the two sides out in a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Unified,
    /// Yours on the left, the reference on the right, in this many columns.
    SideBySide(usize),
}

/// A terminal at least this wide gets the two sides side by side unless asked
/// otherwise; asked for when piped, they get this width.
const SIDE_BY_SIDE_WIDTH: usize = 150;

impl Layout {
    /// Side by side when asked, or on a terminal wide enough; unified when asked,
    /// piped, or on a narrower terminal.
    pub fn choose(side_by_side: bool, unified: bool) -> Layout {
        let width = std::io::stdout()
            .is_terminal()
            .then(|| crossterm::terminal::size().ok())
            .flatten()
            .map(|(columns, _)| usize::from(columns));
        match width {
            _ if unified => Layout::Unified,
            Some(w) if side_by_side || w >= SIDE_BY_SIDE_WIDTH => Layout::SideBySide(w),
            None if side_by_side => Layout::SideBySide(SIDE_BY_SIDE_WIDTH),
            _ => Layout::Unified,
        }
    }
}

pub fn render_text(c: &Comparison, layout: Layout) -> String {
    let paint = Paint::detect();
    let mut out = format!("{}\n{}\n", c.title, c.statuses);
    match layout {
        Layout::Unified => {
            out += "In each difference, - lines are yours, + lines the reference's.\n"
        }
        Layout::SideBySide(_) => out += "Yours on the left, the reference's on the right.\n",
    }
    out += "\nFiles\n";
    let width = c.files.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
    for (file, note) in &c.files {
        let _ = writeln!(out, "  {file:<width$}  {note}");
    }
    let criteria = |list: &[(String, Option<Status>)]| {
        list.iter()
            .map(|(id, status)| match status {
                Some(s) => format!("{id} {}", paint.status(*s)),
                None => id.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let piece = |out: &mut String, p: &Piece| {
        let _ = writeln!(out, "  {}: {}", p.title, p.verdict());
        if p.shows_code() {
            out.push_str(&difference(p, layout, &paint));
        }
    };
    for step in &c.steps {
        let _ = writeln!(out, "\nStep {}: {}", step.number, step.label);
        if !step.criteria.is_empty() {
            let _ = writeln!(out, "  criteria: {}", criteria(&step.criteria));
        }
        for p in &step.pieces {
            piece(&mut out, p);
        }
    }
    let differing: Vec<&Piece> = c.rest.iter().filter(|p| !p.same()).collect();
    if !differing.is_empty() {
        out += "\nOutside the steps\n";
        for p in differing {
            piece(&mut out, p);
        }
    }
    if !c.whole_lesson.is_empty() {
        let _ = writeln!(
            out,
            "\nCriteria of the whole lesson: {}",
            criteria(&c.whole_lesson)
        );
    }
    out
}

/// The two sides of a piece that differs, indented under its title.
fn difference(p: &Piece, layout: Layout, paint: &Paint) -> String {
    let (a, b) = (
        p.mine.as_deref().unwrap_or(""),
        p.reference.as_deref().unwrap_or(""),
    );
    let diff = TextDiff::from_lines(a, b);
    let mut out = String::new();
    match layout {
        Layout::Unified => {
            for (k, group) in diff.grouped_ops(3).into_iter().enumerate() {
                if k > 0 {
                    out += "     ...\n";
                }
                for op in group {
                    for change in diff.iter_changes(&op) {
                        let line = change.value().trim_end_matches('\n');
                        let _ = match change.tag() {
                            ChangeTag::Equal => writeln!(out, "       {line}"),
                            ChangeTag::Delete => {
                                writeln!(out, "     {}", paint.paint("31", &format!("- {line}")))
                            }
                            ChangeTag::Insert => {
                                writeln!(out, "     {}", paint.paint("32", &format!("+ {line}")))
                            }
                        };
                    }
                }
            }
        }
        Layout::SideBySide(width) => {
            let column = width.saturating_sub(7) / 2;
            for (left, mark, right) in side_by_side(&diff) {
                let fit = |s: &str| fit(s, column);
                let (l, r) = (fit(&left), fit(&right));
                let (l, r) = match mark {
                    ' ' => (l, r),
                    _ => (paint.paint("31", &l), paint.paint("32", &r)),
                };
                let pad = column.saturating_sub(fit_len(&left, column));
                let _ = writeln!(out, "    {l}{} {mark} {r}", " ".repeat(pad));
            }
        }
    }
    out
}

/// Rows of (yours, mark, the reference's): ` ` the same, `|` changed, `<` yours
/// only, `>` the reference's only. Both sides are short (a function), so whole.
fn side_by_side(diff: &TextDiff<'_, '_, str>) -> Vec<(String, char, String)> {
    let mut rows = Vec::new();
    for op in diff.ops() {
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for change in diff.iter_changes(op) {
            let line = change.value().trim_end_matches('\n').replace('\t', "    ");
            match change.tag() {
                ChangeTag::Equal => rows.push((line.clone(), ' ', line)),
                ChangeTag::Delete => left.push(line),
                ChangeTag::Insert => right.push(line),
            }
        }
        for k in 0..left.len().max(right.len()) {
            let (l, r) = (left.get(k).cloned(), right.get(k).cloned());
            let mark = match (&l, &r) {
                (Some(_), Some(_)) => '|',
                (Some(_), None) => '<',
                _ => '>',
            };
            rows.push((l.unwrap_or_default(), mark, r.unwrap_or_default()));
        }
    }
    rows
}

fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        line.to_owned()
    } else {
        let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn fit_len(line: &str, width: usize) -> usize {
    line.chars().count().min(width)
}

/// The comparison as an HTML fragment, side by side, for the class report.
pub fn render_html(c: &Comparison) -> String {
    let mut out = format!("<p>{}</p>\n", escape(&c.statuses));
    out += "<table class=\"files\">";
    for (file, note) in &c.files {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            escape(file),
            escape(note)
        );
    }
    out += "</table>\n";
    let criteria = |list: &[(String, Option<Status>)]| {
        list.iter()
            .map(|(id, status)| {
                let word = status.map_or("", Status::word);
                format!(
                    "<span class=\"{}\">{} {word}</span>",
                    word.to_lowercase(),
                    escape(id)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let piece = |out: &mut String, p: &Piece| {
        let _ = writeln!(
            out,
            "<h4>{}: {}</h4>",
            escape(&p.title),
            escape(&p.verdict())
        );
        if p.shows_code() {
            let (a, b) = (
                p.mine.as_deref().unwrap_or(""),
                p.reference.as_deref().unwrap_or(""),
            );
            out.push_str("<table class=\"diff\"><tr><th>yours</th><th>the reference</th></tr>");
            for (left, mark, right) in side_by_side(&TextDiff::from_lines(a, b)) {
                let class = if mark == ' ' { "same" } else { "changed" };
                let _ = write!(
                    out,
                    "<tr class=\"{class}\"><td><pre>{}</pre></td><td><pre>{}</pre></td></tr>",
                    escape(&left),
                    escape(&right)
                );
            }
            out.push_str("</table>\n");
        }
    };
    for step in &c.steps {
        let _ = writeln!(
            out,
            "<h3>Step {}: {}</h3>",
            step.number,
            escape(&step.label)
        );
        if !step.criteria.is_empty() {
            let _ = writeln!(out, "<p>criteria: {}</p>", criteria(&step.criteria));
        }
        for p in &step.pieces {
            piece(&mut out, p);
        }
    }
    let differing: Vec<&Piece> = c.rest.iter().filter(|p| !p.same()).collect();
    if !differing.is_empty() {
        out += "<h3>Outside the steps</h3>\n";
        for p in differing {
            piece(&mut out, p);
        }
    }
    if !c.whole_lesson.is_empty() {
        let _ = writeln!(
            out,
            "<p>Criteria of the whole lesson: {}</p>",
            criteria(&c.whole_lesson)
        );
    }
    out
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
