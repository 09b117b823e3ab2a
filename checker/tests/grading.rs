//! The checker tested against itself: every fixture is rejected by the criterion it
//! breaks, every reference passes, and the command line keeps its contract.
//!
//! These drive the real `checker` binary, so each criterion runs in a child
//! process exactly as it does for a learner.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use checker::lessons::LESSONS;
use checker::report::{Report, Status};

fn checker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the checker binary runs")
}

fn report(args: &[&str]) -> Report {
    let output = checker(args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// What a correct crate earns on a criterion: a pass if it is graded, and "for
/// review" (never a pass) if a person reads it.
fn as_correct_code_earns(c: &checker::report::CriterionReport) -> bool {
    c.status
        == match c.graded {
            true => Status::Pass,
            false => Status::ForReview,
        }
}

/// Seeds differ between tests and runs of the suite, and every failure message
/// names the seed, so a flaky criterion is caught and can be replayed.
fn seeds() -> [u64; 3] {
    let base = std::process::id() as u64 * 7919;
    [base, base + 1, base + 2]
}

/// Runs `jobs` on a few threads at once and returns the failures. Most of a fixture
/// run is waiting (for a deadlock to reach its deadline, say), and a waiting probe
/// uses no CPU, so they can wait side by side; each criterion's deadline is a hang
/// detector with generous slack, never a time limit the load could break.
fn in_parallel<J: Sync>(jobs: &[J], run: impl Fn(&J) -> Option<String> + Sync) -> Vec<String> {
    const AT_ONCE: usize = 4;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    if let Some(failure) = run(job) {
                        failures.lock().unwrap().push(failure);
                    }
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

#[test]
fn every_fixture_is_rejected_by_the_criterion_it_breaks() {
    let jobs: Vec<_> = LESSONS
        .iter()
        .flat_map(|lesson| lesson.builtins.fixtures.iter().map(move |f| (lesson, f)))
        .flat_map(|(lesson, fixture)| seeds().map(move |seed| (lesson, fixture, seed)))
        .collect();
    let failures = in_parallel(&jobs, |(lesson, fixture, seed)| {
        let seed = seed.to_string();
        let args = [
            "check",
            &lesson.id(),
            "--fixture",
            fixture.name,
            "--only",
            fixture.rejected_by.id,
            "--json",
            "--seed",
            &seed,
        ];
        let report = report(&args);
        let criterion = &report.criteria[0];
        (criterion.status != Status::Fail).then(|| {
            format!(
                "{} fixture `{}` was not rejected by `{}` (seed {seed}): {criterion:?}",
                lesson.id(),
                fixture.name,
                fixture.rejected_by.id
            )
        })
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_reference_passes_every_criterion() {
    let jobs: Vec<_> = LESSONS
        .iter()
        .flat_map(|lesson| seeds().map(move |seed| (lesson, seed)))
        .collect();
    let failures = in_parallel(&jobs, |(lesson, seed)| {
        let seed = seed.to_string();
        let output = checker(&[
            "check",
            &lesson.id(),
            "--solution",
            "--json",
            "--seed",
            &seed,
        ]);
        let report: Report = serde_json::from_slice(&output.stdout).expect("a JSON report");
        let failing: Vec<_> = report
            .criteria
            .iter()
            .filter(|c| !as_correct_code_earns(c))
            .collect();
        (!failing.is_empty() || output.status.code() != Some(0)).then(|| {
            format!(
                "{} reference fails (seed {seed}): {failing:#?}",
                lesson.id()
            )
        })
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A criterion tuned to the reference's code rather than to its rule would reject a
/// correct implementation written another way; the variants prove it does not.
#[test]
fn every_correct_variant_passes_every_criterion() {
    let jobs: Vec<_> = LESSONS
        .iter()
        .flat_map(|lesson| lesson.builtins.variants.iter().map(move |v| (lesson, v)))
        .flat_map(|(lesson, variant)| seeds().map(move |seed| (lesson, variant, seed)))
        .collect();
    let failures = in_parallel(&jobs, |(lesson, variant, seed)| {
        let seed = seed.to_string();
        let args = [
            "check",
            &lesson.id(),
            "--fixture",
            variant.name,
            "--json",
            "--seed",
            &seed,
        ];
        let report = report(&args);
        let failing: Vec<_> = report
            .criteria
            .iter()
            .filter(|c| !as_correct_code_earns(c))
            .collect();
        (!failing.is_empty()).then(|| {
            format!(
                "{} correct variant `{}` rejected (seed {seed}): {failing:#?}",
                lesson.id(),
                variant.name
            )
        })
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The standard: a criterion no broken implementation can fail proves nothing.
#[test]
fn every_criterion_has_a_fixture_and_every_fixture_a_real_criterion() {
    for lesson in LESSONS {
        let ids: BTreeSet<&str> = lesson
            .criteria()
            .into_iter()
            .filter(|c| c.graded)
            .map(|c| c.id)
            .collect();
        let covered: BTreeSet<&str> = lesson
            .builtins
            .fixtures
            .iter()
            .map(|f| f.rejected_by.id)
            .collect();
        assert_eq!(
            ids,
            covered,
            "{}: criteria without a fixture, or fixtures naming no criterion",
            lesson.id()
        );
    }
}

#[test]
fn every_book_link_names_an_existing_section() {
    let book = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
    for lesson in LESSONS {
        for criterion in lesson.criteria() {
            let (page, anchor) = criterion
                .book
                .split_once('#')
                .expect("links name a section");
            assert_eq!(
                page,
                format!("{}.html", lesson.dir_name()),
                "{}: a criterion's link points into its own lesson's chapter",
                criterion.id
            );
            let source = book.join(page.replace(".html", ".md"));
            let text = std::fs::read_to_string(&source)
                .unwrap_or_else(|_| panic!("{} is missing", source.display()));
            let anchors: BTreeSet<String> = text
                .lines()
                .filter(|l| l.starts_with('#'))
                .map(|l| slug(l.trim_start_matches('#')))
                .collect();
            assert!(
                anchors.contains(anchor),
                "{}: no section #{anchor} in {page}; it has {anchors:?}",
                criterion.id
            );
        }
    }
}

/// A chapter that says how many bugs its lesson's tests plant ("(30 of them, two or
/// more per criterion)") says what the fixture table holds, so adding a fixture
/// without the book following fails here.
#[test]
fn the_book_counts_each_lessons_fixtures_right() {
    let book = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
    let number = |word: &str| match word {
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        other => panic!("a count the test cannot read: {other:?}"),
    };
    for lesson in LESSONS {
        let source = book.join(format!("{}.md", lesson.dir_name()));
        let text = std::fs::read_to_string(&source).expect("every lesson has a chapter");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let Some((_, after)) = text.split_once("tests plant one bug at a time") else {
            continue;
        };
        let claim = after
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(inside, _)| inside)
            .expect("the count follows in parentheses");
        let words: Vec<&str> = claim.split(' ').collect();
        let fixtures = lesson.builtins.fixtures;
        let (count, least) = match words.as_slice() {
            [
                count,
                "of",
                "them,",
                "at",
                "least",
                least,
                "per",
                "criterion",
            ]
            | [
                count,
                "of",
                "them,",
                least,
                "or",
                "more",
                "per",
                "criterion",
            ] => (count.parse::<usize>().expect("a number"), number(least)),
            _ => panic!("{}: cannot read {claim:?}", lesson.id()),
        };
        assert_eq!(
            count,
            fixtures.len(),
            "{}: the chapter says {claim:?}",
            lesson.id()
        );
        let fewest = lesson
            .criteria()
            .iter()
            .filter(|c| c.graded)
            .map(|c| fixtures.iter().filter(|f| f.rejected_by.id == c.id).count())
            .min()
            .unwrap();
        assert!(
            fewest >= least,
            "{}: the chapter says {claim:?}, but one criterion has {fewest}",
            lesson.id()
        );
    }
}

/// The anchor mdBook gives a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
            ' ' => Some('-'),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn an_unknown_lesson_is_a_usage_error_that_lists_the_lessons() {
    let output = checker(&["check", "lesson99"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for lesson in LESSONS {
        assert!(stderr.contains(&lesson.id()), "{stderr}");
    }
}

#[test]
fn json_is_one_document_with_each_criterion() {
    let output = checker(&["check", "1", "--solution", "--json", "--seed", "7"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["seed"], 7);
    for criterion in json["criteria"].as_array().unwrap() {
        for field in ["id", "title", "status", "hint", "book"] {
            assert!(
                criterion[field].is_string(),
                "{field} missing in {criterion}"
            );
        }
    }
}

#[test]
fn a_fixture_failure_names_expected_seen_and_seed() {
    let output = checker(&[
        "check",
        "01",
        "--fixture",
        "seq-bumped-on-get",
        "--only",
        "versions-sequence",
        "--seed",
        "42",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "FAIL  versions-sequence",
        "expected",
        "seen",
        "seed 42",
        "read",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

/// The report the book's introduction shows as its example of a failure, kept as a
/// snapshot so the book changes whenever the report does (the chapter includes this
/// file). Review a change with `cargo insta review`.
#[test]
fn the_books_example_report() {
    let args = [
        "check",
        "01",
        "--fixture",
        "seq-bumped-on-get",
        "--only",
        "versions-sequence",
        "--seed",
        "42",
    ];
    let text = String::from_utf8(checker(&args).stdout).unwrap();
    insta::assert_snapshot!("report_seq_bumped_on_get", text);
}

/// The failing interleaving lesson 06's chapter shows: a lost wake-up planted in the
/// reference (the last reader out wakes nobody), as the model checker reports it.
/// The model checker tries interleavings in a fixed order, so the timeline is the
/// same on every run and every machine; the chapter includes this file.
#[test]
fn the_books_lost_wakeup_timeline() {
    let args = [
        "check",
        "06",
        "--fixture",
        "last-reader-wakes-nobody",
        "--only",
        "lock-model",
        "--seed",
        "42",
    ];
    let text = String::from_utf8(checker(&args).stdout).unwrap();
    insta::assert_snapshot!("report_last_reader_wakes_nobody", text);
}
