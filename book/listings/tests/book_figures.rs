//! The book's measured numbers and its listings' captions, checked.
//!
//! Every measured figure in the book comes from a benchmark that writes it into
//! `book/src/generated/`, and a chapter includes that file. These tests fail when a
//! chapter's prose states a figure that the generated files it includes do not
//! contain: a number copied by hand that a new run has since changed, or one that no
//! benchmark produced at all. Figures that are specifications rather than
//! measurements (a deadline, a bucket bound, a workload's read ratio) are listed,
//! each with the reason, in `tests/specified-figures.txt`.
//!
//! They also check that every listing a chapter includes is captioned: a
//! `filename` line above it naming the file, and a `caption` line below it saying
//! what it is (the stub, the reference, a broken variant, ...).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chapters() -> Vec<(String, String)> {
    let mut chapters: Vec<(String, String)> = fs::read_dir(book_src())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read_to_string(e.path()).unwrap())
        })
        .filter(|(name, _)| name != "SUMMARY.md")
        .collect();
    chapters.sort();
    assert!(chapters.len() >= 10, "found the chapters");
    chapters
}

/// The target of every `{{#include PATH}}` or `{{#include PATH:ANCHOR}}` in `text`,
/// without the anchor or line range.
fn includes(text: &str) -> Vec<String> {
    text.match_indices("{{#include ")
        .map(|(at, _)| {
            let rest = &text[at + "{{#include ".len()..];
            let end = rest.find("}}").expect("an include is closed");
            let target = rest[..end].trim();
            target.split(':').next().unwrap().to_owned()
        })
        .collect()
}

/// Removes HTML comments, which the rendered book does not show.
fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

const UNITS: [&str; 10] = [
    "M op/s", "M ops/s", "million", "MiB", "ms", "µs", "ns", "s", "%", "×",
];

/// Every figure in `text` that looks measured: a number followed by a unit of time,
/// a percentage, a throughput or a size, normalized to "NUMBER UNIT". Integers
/// followed by a bare "s" are left out (those are deadlines and durations of
/// configuration, like "a 10 s deadline", never measurements in this book).
fn figures(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_number = chars[i].is_ascii_digit()
            && (i == 0
                || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '.' || chars[i - 1] == ','));
        if !starts_number {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len()
            && (chars[j].is_ascii_digit()
                || ((chars[j] == '.' || chars[j] == ',')
                    && chars.get(j + 1).is_some_and(char::is_ascii_digit)))
        {
            j += 1;
        }
        let number: String = chars[i..j].iter().collect();
        let mut k = j;
        if chars.get(k) == Some(&' ') {
            k += 1;
        }
        let rest: String = chars[k..chars.len().min(k + 8)].iter().collect();
        let unit = UNITS.iter().find(|u| {
            rest.starts_with(**u)
                && !rest[u.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() && !u.ends_with('%'))
        });
        if let Some(unit) = unit {
            let integer = !number.contains('.');
            let deadline_like = integer && *unit == "s";
            if !deadline_like {
                found.push(format!("{number} {unit}"));
            }
        }
        i = j.max(i + 1);
    }
    found
}

/// `specified-figures.txt`: chapter, figure, and why it is not a measurement.
fn specified() -> BTreeMap<String, BTreeSet<String>> {
    let text = include_str!("specified-figures.txt");
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        assert!(
            parts.len() == 3 && !parts[2].is_empty(),
            "specified-figures.txt: `{line}` needs `chapter | figure | why`"
        );
        allowed
            .entry(parts[0].to_owned())
            .or_default()
            .insert(parts[1].to_owned());
    }
    allowed
}

#[test]
fn every_measured_figure_in_a_chapter_is_in_the_generated_file_it_includes() {
    let allowed = specified();
    let mut problems = Vec::new();
    let mut used_allowances = BTreeSet::new();
    for (name, text) in chapters() {
        let generated: Vec<String> = includes(&text)
            .into_iter()
            .filter(|target| target.starts_with("generated/"))
            .collect();
        let mut measured = BTreeSet::new();
        for target in &generated {
            let path = book_src().join(target);
            let body = match fs::read_to_string(&path) {
                Ok(body) => body,
                Err(e) => {
                    problems.push(format!(
                        "{name} includes {target}, which cannot be read: {e}"
                    ));
                    continue;
                }
            };
            for needed in ["Measured on ", "rustc ", "To reproduce: `"] {
                if !body.contains(needed) {
                    problems.push(format!(
                        "{target} (included by {name}) does not say where, with what and how it was measured: no `{needed}`"
                    ));
                }
            }
            measured.extend(figures(&body));
        }
        let prose = without_comments(&text);
        for figure in figures(&prose) {
            if measured.contains(&figure) {
                continue;
            }
            if allowed.get(&name).is_some_and(|a| a.contains(&figure)) {
                used_allowances.insert((name.clone(), figure));
                continue;
            }
            problems.push(if generated.is_empty() {
                format!(
                    "{name}: `{figure}` looks measured, but the chapter includes no generated file"
                )
            } else {
                format!(
                    "{name}: `{figure}` is in the prose but in none of {}",
                    generated.join(", ")
                )
            });
        }
    }
    for (chapter, figures) in &allowed {
        for figure in figures {
            if !used_allowances.contains(&(chapter.clone(), figure.clone())) {
                problems.push(format!(
                    "specified-figures.txt lists `{figure}` for {chapter}, which no longer states it"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "measured figures that do not come from a generated file (rerun the benchmark, \
         then quote its figures exactly, or list a specification in \
         tests/specified-figures.txt):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_figure_scanner_finds_what_it_should() {
    let text = "stalled 18.3 ms, lost 16.6% (3,335,766 of 4,000,000), a 10 s deadline, \
                2.98 M op/s, 6.2 MiB, 75 ns, key1 5ms";
    assert_eq!(
        figures(text),
        [
            "18.3 ms",
            "16.6 %",
            "2.98 M op/s",
            "6.2 MiB",
            "75 ns",
            "5 ms"
        ],
        "counts without a unit and integer seconds are not figures; a unit after a space is"
    );
}

/// `path` relative to `base`, with `..` resolved, as a path from the repository root.
fn resolve(base: &Path, target: &str) -> String {
    let mut parts: Vec<String> = base
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for component in Path::new(target).components() {
        match component {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

#[test]
fn every_included_listing_is_captioned_with_its_file_and_what_it_is() {
    let mut problems = Vec::new();
    for (name, text) in chapters() {
        // The file named by the last `filename` line, until a `caption` line closes it.
        let mut open: Option<(String, usize, bool)> = None;
        let mut in_fence = false;
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let trimmed = line.trim();
            if let Some(rest) = trimmed.strip_prefix("<span class=\"filename\">") {
                if let Some((file, at, _)) = &open {
                    problems.push(format!(
                        "{name}:{at}: the listing of {file} has no caption line below it"
                    ));
                }
                let file = rest
                    .trim_start_matches("Filename: ")
                    .split(" ")
                    .next()
                    .unwrap()
                    .trim_end_matches("</span>")
                    .to_owned();
                open = Some((file, line_no, false));
                continue;
            }
            if trimmed.starts_with("<span class=\"caption\">") {
                match &open {
                    Some((_, _, true)) => open = None,
                    _ => problems.push(format!(
                        "{name}:{line_no}: a caption with no captioned listing above it"
                    )),
                }
                continue;
            }
            if trimmed.starts_with("```") {
                in_fence = !in_fence;
                continue;
            }
            if in_fence && trimmed.starts_with("{{#include ") {
                let target = includes(trimmed).remove(0);
                if target.starts_with("generated/") {
                    continue;
                }
                let file = resolve(Path::new("book/src"), &target);
                assert!(
                    repo_root().join(&file).exists(),
                    "{name}:{line_no}: includes {file}, which does not exist"
                );
                match &mut open {
                    Some((named, _, seen)) if *named == file => *seen = true,
                    Some((named, _, _)) => problems.push(format!(
                        "{name}:{line_no}: the listing of {file} is captioned as {named}"
                    )),
                    None => problems.push(format!(
                        "{name}:{line_no}: the listing of {file} has no filename line above it"
                    )),
                }
            }
        }
        if let Some((file, at, _)) = open {
            problems.push(format!(
                "{name}:{at}: the listing of {file} has no caption line below it"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "uncaptioned listings:\n  {}",
        problems.join("\n  ")
    );
}
