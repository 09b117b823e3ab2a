//! The written policy: the checker checks that every point is there; what it says is
//! for the instructor to read.

use probe_kit::{Ctx, Failure, Verdict};

use crate::Subject;

/// The sections POLICY.md must have, as `## ` headings.
pub const SECTIONS: [&str; 5] = [
    "Single-writer rule",
    "Read consistency",
    "Lock granularity",
    "Snapshot rule",
    "Ordering argument",
];

/// Fewer words than this is a placeholder, not an argument.
const MIN_WORDS: usize = 20;

/// The granularities a trade-off can weigh, each with the words that name it.
const ALTERNATIVES: [(&str, &[&str]); 4] = [
    (
        "store-level",
        &[
            "store-level",
            "store level",
            "global lock",
            "single lock",
            "one lock",
        ],
    ),
    ("striped", &["striped", "stripe", "bucket", "shard"]),
    ("per-key", &["per-key", "per key", "key-level", "key level"]),
    (
        "lock-free",
        &[
            "lock-free",
            "lock free",
            "mvcc",
            "copy-on-write",
            "copy on write",
            "rcu",
        ],
    ),
];

/// The `## ` sections of a markdown text: heading and body.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            found.push((heading.trim().to_owned(), String::new()));
        } else if line.starts_with("# ") {
            // A top-level heading ends the section before it.
            found.push((String::new(), String::new()));
        } else if let Some((_, body)) = found.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    found.retain(|(heading, _)| !heading.is_empty());
    found
}

fn same_heading(a: &str, b: &str) -> bool {
    let simple = |s: &str| {
        s.to_lowercase()
            .replace(['-', '_'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    simple(a) == simple(b)
}

/// The bulleted, numbered or table lines that name an alternative, and the
/// alternatives they name.
fn trade_offs(body: &str) -> (usize, Vec<&'static str>) {
    let mut lines = 0;
    let mut named = Vec::new();
    for line in body.lines().map(str::trim) {
        let listed = line.starts_with("- ")
            || line.starts_with("* ")
            || line.starts_with("+ ")
            || line.starts_with('|')
            || line
                .split_once(". ")
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty());
        if !listed {
            continue;
        }
        let lower = line.to_lowercase();
        let here: Vec<&str> = ALTERNATIVES
            .iter()
            .filter(|(_, words)| words.iter().any(|w| lower.contains(w)))
            .map(|(name, _)| *name)
            .collect();
        if !here.is_empty() {
            lines += 1;
            for name in here {
                if !named.contains(&name) {
                    named.push(name);
                }
            }
        }
    }
    (lines, named)
}

pub fn policy_document<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("reading POLICY.md");
    check_policy(subject.policy())
}

pub fn check_policy(text: &str) -> Verdict {
    let found = sections(text);
    let headings: Vec<String> = found.iter().map(|(h, _)| format!("{h:?}")).collect();
    for section in SECTIONS {
        let Some((_, body)) = found.iter().find(|(h, _)| same_heading(h, section)) else {
            return Err(Failure::new(
                format!("POLICY.md has a section `## {section}`"),
                match headings.is_empty() {
                    true => "it has no `## ` headings at all".to_owned(),
                    false => format!("its `## ` headings are {}", headings.join(", ")),
                },
            ));
        };
        if body.contains("TODO") {
            return Err(Failure::new(
                format!("the section `## {section}` states your policy"),
                "it still says TODO",
            ));
        }
        let words = body.split_whitespace().count();
        if words < MIN_WORDS {
            return Err(Failure::new(
                format!("the section `## {section}` argues its point (at least {MIN_WORDS} words)"),
                format!("it has {words}"),
            ));
        }
        if section == "Lock granularity" {
            let (lines, named) = trade_offs(body);
            if lines < 3 || named.len() < 3 {
                return Err(Failure::new(
                    "`## Lock granularity` gives at least three trade-offs, one list item or \
                     table row each, naming at least three of store-level, striped, per-key \
                     and lock-free",
                    format!(
                        "it has {lines} such item(s), naming {}",
                        match named.is_empty() {
                            true => "none of them".to_owned(),
                            false => named.join(", "),
                        }
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_policy_passes_and_a_skeleton_does_not() {
        assert_eq!(check_policy(reference::POLICY), Ok(()));
        let skeleton: String = SECTIONS
            .iter()
            .map(|s| format!("## {s}\n\nTODO: say it, in twenty words or more.\n\n"))
            .collect();
        assert_eq!(
            check_policy(&skeleton).unwrap_err().seen,
            "it still says TODO"
        );
    }

    #[test]
    fn trade_offs_are_counted_from_list_items_and_table_rows() {
        let body = "Decision: store-level.\n\n- store-level: simple\n* striped: faster\n| per-key | most parallel |\n\nlock-free is hard.\n";
        assert_eq!(
            trade_offs(body),
            (3, vec!["store-level", "striped", "per-key"])
        );
    }
}
