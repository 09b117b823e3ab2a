//! The written argument of the policy: for a person to read. The checker only says
//! what is there (how many words, which points have a section, which still say TODO,
//! which alternatives the granularity section weighs) and never grades it: twenty
//! words that say nothing would count as many as twenty that argue.

use std::fmt::Write as _;

use probe_kit::{Ctx, Review};

use crate::Subject;

/// The sections POLICY.md must have, as `## ` headings.
pub const SECTIONS: [&str; 5] = [
    "Single-writer rule",
    "Read consistency",
    "Lock granularity",
    "Snapshot rule",
    "Ordering argument",
];

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

pub fn policy_argument<S: Subject>(subject: &S, ctx: &Ctx) -> Review {
    ctx.progress("reading POLICY.md");
    review_policy(subject.policy())
}

/// What the five points of the argument hold, for the person who reads them.
pub fn review_policy(text: &str) -> Review {
    let found = sections(text);
    let mut words = 0;
    let mut argued = 0;
    let mut detail = String::new();
    for section in SECTIONS {
        let body = found
            .iter()
            .find(|(heading, _)| same_heading(heading, section))
            .map(|(_, body)| body);
        let line = match body {
            None => "no section (no `## ` heading with this name)".to_owned(),
            Some(body) if body.contains("TODO") => "still says TODO".to_owned(),
            Some(body) => {
                let count = body.split_whitespace().count();
                words += count;
                argued += 1;
                let mut line = format!("{count} words");
                if section == "Lock granularity" {
                    let (items, named) = trade_offs(body);
                    let _ = write!(
                        line,
                        "; {items} listed trade-off(s), weighing {}",
                        match named.is_empty() {
                            true => "none of store-level, striped, per-key, lock-free".to_owned(),
                            false => named.join(", "),
                        }
                    );
                }
                line
            }
        };
        let _ = writeln!(detail, "{section}: {line}");
    }
    let _ = write!(
        detail,
        "A person reads the argument: the checker counts, it does not judge."
    );
    Review {
        summary: format!(
            "{words} words of argument; {argued} of the {} points written",
            SECTIONS.len()
        ),
        detail: Some(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_says_what_is_there_and_what_is_not() {
        let review = review_policy(reference::POLICY);
        assert!(
            review.summary.ends_with("5 of the 5 points written"),
            "{review:?}"
        );
        let skeleton: String = SECTIONS
            .iter()
            .map(|s| format!("## {s}\n\nTODO: say it, in twenty words or more.\n\n"))
            .collect();
        let review = review_policy(&skeleton);
        assert_eq!(
            review.summary,
            "0 words of argument; 0 of the 5 points written"
        );
        assert!(
            review
                .detail
                .unwrap()
                .contains("Snapshot rule: still says TODO")
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
