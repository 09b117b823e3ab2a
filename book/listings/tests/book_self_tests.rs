//! The chapters' self-tests, checked for the shape `book/theme/self-test.js` reads.
//!
//! Each question of a "## Self-test" section sits in a
//! `<div class="self-test" data-answer="N">` block: its question, a Markdown list of
//! choices (for a multiple-choice one), and one folded `<details>` explanation. A
//! `data-answer` past the end of its list would make the page call a wrong choice
//! right, and a question outside a block would get no button: both fail here.

use std::fs;
use std::path::Path;

/// Each chapter's Self-test section: from its heading to the next `## ` heading.
fn self_test_sections() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let mut sections = Vec::new();
    for entry in fs::read_dir(src).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".md") {
            continue;
        }
        let text = fs::read_to_string(entry.path()).unwrap();
        let Some((_, after)) = text.split_once("\n## Self-test\n") else {
            continue;
        };
        let section = after.split("\n## ").next().unwrap().to_owned();
        sections.push((name, section));
    }
    assert!(sections.len() >= 10, "every chapter has a self-test");
    sections
}

#[test]
fn every_question_is_a_block_whose_answer_is_one_of_its_choices() {
    for (chapter, section) in self_test_sections() {
        let mut blocks = 0;
        let mut rest = section.as_str();
        while let Some(start) = rest.find("<div class=\"self-test\"") {
            let outside = &rest[..start];
            assert!(
                !outside
                    .lines()
                    .any(|l| l.starts_with("**") && l.contains(".**")),
                "{chapter}: a question outside a self-test block: {outside:?}"
            );
            let block = &rest[start..];
            let end = block
                .find("\n</div>")
                .unwrap_or_else(|| panic!("{chapter}: a self-test block is never closed"));
            let (block, after) = block.split_at(end);
            rest = after.trim_start_matches("\n</div>");
            blocks += 1;

            let open_tag = block.lines().next().unwrap();
            let before_details = block
                .split("<details>")
                .next()
                .expect("a block has text before its explanation");
            assert_eq!(
                block.matches("<details>").count(),
                1,
                "{chapter}: block {blocks} needs one folded explanation"
            );
            let choices = before_details
                .lines()
                .filter(|l| l.starts_with("- "))
                .count();
            match open_tag.split_once("data-answer=\"") {
                Some((_, tail)) => {
                    let answer: usize = tail
                        .split('"')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("{chapter}: unreadable {open_tag}"));
                    assert!(
                        (2..=4).contains(&choices) && (1..=choices).contains(&answer),
                        "{chapter}: block {blocks} says choice {answer} of {choices}"
                    );
                }
                None => assert_eq!(
                    choices, 0,
                    "{chapter}: block {blocks} lists choices but names no answer"
                ),
            }
        }
        assert!(blocks > 0, "{chapter}: a Self-test section with no block");
        assert!(
            !rest
                .lines()
                .any(|l| l.starts_with("**") && l.contains(".**")),
            "{chapter}: a question after the last self-test block"
        );
    }
}
