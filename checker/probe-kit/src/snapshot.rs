//! Expected outputs, kept as insta snapshot files.
//!
//! The snapshot files live in the probe crates, out of the learner's reach, and are
//! embedded in the probe with `include_str!`. Maintainers manage them with insta as
//! usual (each probe crate has a test that asserts the reference's output with
//! `insta::assert_snapshot!` against the same file); the probe only ever *reads*
//! them, so a learner's run never writes or accepts a snapshot.

use similar::TextDiff;

use crate::Failure;

/// The body of an insta `.snap` file: everything after its `---` metadata block.
pub fn body(snap_file: &str) -> &str {
    let mut parts = snap_file.splitn(3, "---\n");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(_metadata), Some(body)) => body,
        _ => snap_file,
    }
}

/// Compares `actual` with the snapshot the way insta does (trailing whitespace at the
/// end and line endings do not count) and shows a line diff when they differ.
pub fn compare(name: &str, snap_file: &str, actual: &str) -> Result<(), Failure> {
    let expected = normalize(body(snap_file));
    let actual = normalize(actual);
    if expected == actual {
        return Ok(());
    }
    let diff = TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .context_radius(3)
        .header(&format!("expected {name}"), "your output")
        .to_string();
    let first = first_difference(&expected, &actual);
    Err(Failure::new(
        format!("the {name} matches the expected output line for line"),
        first,
    )
    .with_detail(diff))
}

/// Replaces every duration (`12ms`, `3.5µs`, `1s`) with `[duration]`, so outputs that
/// include timings can still be compared.
pub fn redact_durations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let number_len = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(tail.len());
        let after = &tail[number_len..];
        let unit = ["ns", "µs", "us", "ms", "s"]
            .into_iter()
            .find(|u| after.starts_with(u) && !after[u.len()..].starts_with(char::is_alphanumeric));
        // A number glued to the end of a word (`v2`, `lesson01`) is not a duration.
        let glued = out.ends_with(|c: char| c.is_alphanumeric() || c == '_');
        match unit {
            Some(unit) if !glued => {
                out.push_str("[duration]");
                rest = &after[unit.len()..];
            }
            _ => {
                out.push_str(&tail[..number_len]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Line endings and trailing whitespace do not count; every line ends in a newline,
/// so a diff never complains about the last one.
fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end().to_owned() + "\n"
}

fn first_difference(expected: &str, actual: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    for line_no in 1.. {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(e), Some(a)) if e == a => continue,
            (Some(_), Some(a)) => return format!("line {line_no} differs: `{a}`"),
            (Some(e), None) => return format!("the output ends before line {line_no}: `{e}`"),
            (None, Some(a)) => return format!("extra line {line_no}: `{a}`"),
            (None, None) => break,
        }
    }
    "the outputs differ".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP: &str = "---\nsource: x.rs\nexpression: text\n---\nline one\nline two\n";

    #[test]
    fn matching_output_passes_and_ignores_trailing_newlines() {
        assert!(compare("transcript", SNAP, "line one\nline two").is_ok());
    }

    #[test]
    fn a_different_line_is_named_and_diffed() {
        let failure = compare("transcript", SNAP, "line one\nline 2\n").unwrap_err();
        assert_eq!(failure.seen, "line 2 differs: `line 2`");
        assert!(!failure.detail.as_ref().unwrap().contains("No newline"));
        let diff = failure.detail.unwrap();
        assert!(
            diff.contains("-line two") && diff.contains("+line 2"),
            "{diff}"
        );
    }

    #[test]
    fn durations_are_redacted_but_versions_are_not() {
        assert_eq!(
            redact_durations("time: 12ms, 3.5µs, 1s; v2 seq 10 lesson01"),
            "time: [duration], [duration], [duration]; v2 seq 10 lesson01"
        );
    }
}
