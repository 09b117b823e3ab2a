//! The course's lessons. Adding a lesson means adding its crates, its probe crate
//! and one entry here; nothing else in the checker changes.

use anyhow::{Result, bail};
use probe_kit::Builtins;

pub struct Lesson {
    pub number: u8,
    /// The topic part of the folder names, as in `lessons/lesson01-state-machine`.
    pub slug: &'static str,
    pub title: &'static str,
    /// Where to start, for `checker hint`.
    pub start: &'static str,
    pub builtins: &'static Builtins,
    /// The further hints of each criterion, asked for one at a time.
    pub hints: &'static [probe_kit::Ladder],
    /// Whether the learner's crate may contain `unsafe` code (and so attributes such
    /// as `#[link_section]` that run code before `main`). No lesson so far teaches
    /// it, so every learner crate is compiled with `unsafe_code` forbidden.
    pub allows_unsafe: bool,
    /// Whether the criteria run threads, so that a seed replays the inputs but not
    /// the interleavings.
    pub threads: bool,
}

pub const LESSONS: &[Lesson] = &[
    Lesson {
        number: 1,
        slug: "state-machine",
        title: "the state machine",
        start: "Open lessons/lesson01-state-machine/src/lib.rs and fill in the six todo!()s \
            in order: get, set, del, Display for Response, check_invariants, replay. \
            The types, constructors and apply are given.",
        allows_unsafe: false,
        threads: false,
        builtins: &probe_lesson01::BUILTINS,
        hints: probe_lesson01::hints::LADDERS,
    },
    Lesson {
        number: 2,
        slug: "rwlock-layer",
        title: "the reader-writer layer",
        start: "Open lessons/lesson02-rwlock-layer/src/lib.rs and fill in the four todo!()s \
            of ConcurrentStore in order: get, set, del, check_invariants. For each, decide \
            which side of the lock it needs and why (the chapter's question: can two of \
            them be inside together?). The trait, the struct and its constructors are \
            given.",
        allows_unsafe: false,
        threads: true,
        builtins: &probe_lesson02::BUILTINS,
        hints: probe_lesson02::hints::LADDERS,
    },
    Lesson {
        number: 3,
        slug: "stress-test",
        title: "the stress test",
        start: "Open lessons/lesson03-stress-test/src/lib.rs and fill in the six todo!()s \
            in order: plan, perform, run_threads, check_reads, run_stress, Display for \
            StressReport. The store trait, the configuration and the report types are \
            given. `just stress` runs your test on lesson 02's store.",
        allows_unsafe: false,
        threads: true,
        builtins: &probe_lesson03::BUILTINS,
        hints: probe_lesson03::hints::LADDERS,
    },
    Lesson {
        number: 4,
        slug: "concurrency-policy",
        title: "the concurrency policy",
        start: "Read the chapter's design space first: the locks are yours to choose. Then, \
            in lessons/lesson04-concurrency-policy/src/lib.rs, give Store its fields and \
            from_parts (step 0), and fill in the todo!()s in order: write (the turnstile), \
            get, copy_state, write_snapshot, save_snapshot, then decode in format.rs, then \
            restore. Last, POLICY.md: declare your design in its design block (the checker \
            tests each claim against your code) and argue it in the five sections (a person \
            reads those). The traits, the types, validate, encode and the file helpers are \
            given.",
        allows_unsafe: false,
        threads: true,
        builtins: &probe_lesson04::BUILTINS,
        hints: probe_lesson04::hints::LADDERS,
    },
    Lesson {
        number: 5,
        slug: "observability",
        title: "observability",
        start: "Open lessons/lesson05-observability/src/ and fill in the nine todo!()s step \
            by step: Counters::count (metrics.rs), bucket_index and Histogram::record \
            (histogram.rs), Store::execute (lib.rs), the three stats readers, percentile, \
            then render_prometheus (exposition.rs). The store, its lock and the clock are \
            given.",
        allows_unsafe: false,
        threads: true,
        builtins: &probe_lesson05::BUILTINS,
        hints: probe_lesson05::hints::LADDERS,
    },
    Lesson {
        number: 6,
        slug: "own-locks",
        title: "your own locks",
        start: "Open lessons/lesson06-own-locks/src/ and fill in the fourteen todo!()s in \
            order: the bounded queue (queue.rs, steps 1 to 4), the lock's ways in and out \
            and its state's invariants (rwlock.rs, steps 5 to 11), then lesson 02's store on \
            your lock (store.rs, steps 12 to 14). The state, the guards and the course's \
            Mutex and Condvar are given.",
        allows_unsafe: false,
        threads: true,
        builtins: &probe_lesson06::BUILTINS,
        hints: probe_lesson06::hints::LADDERS,
    },
];

impl Lesson {
    /// `lesson01`
    pub fn id(&self) -> String {
        format!("lesson{:02}", self.number)
    }

    /// `lesson01-state-machine`: the folder under lessons/ and solutions/, the
    /// learner's package name, and the book chapter's file name.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.id(), self.slug)
    }

    /// `lesson01_state_machine`: the learner's crate as Rust code names it.
    pub fn crate_name(&self) -> String {
        self.dir_name().replace('-', "_")
    }

    /// The lesson's criteria, as the checker knows them (never as a probe says).
    pub fn criteria(&self) -> Vec<&'static probe_kit::Info> {
        self.builtins.criteria()
    }
}

/// Finds a lesson by `lesson04`, `04` or `4`, in any case, or by its folder name
/// (`lesson04-concurrency-policy`, also as a path such as `lessons/lesson04-.../`).
pub fn find(name: &str) -> Result<&'static Lesson> {
    let lower = name.trim_end_matches('/').to_lowercase();
    let last = lower.rsplit('/').next().unwrap_or(&lower);
    if let Some(lesson) = LESSONS.iter().find(|l| l.dir_name() == last) {
        return Ok(lesson);
    }
    let digits = last.strip_prefix("lesson").unwrap_or(last);
    let number = digits
        .parse::<u8>()
        .ok()
        .filter(|_| !digits.is_empty() && digits.len() <= 2);
    if let Some(lesson) = number.and_then(|n| LESSONS.iter().find(|l| l.number == n)) {
        return Ok(lesson);
    }
    let known: Vec<String> = LESSONS
        .iter()
        .map(|l| format!("  {}  {}", l.id(), l.title))
        .collect();
    bail!(
        "there is no lesson `{name}`. The lessons are:\n{}\nName one as lesson01, 01, 1 or by \
         its folder name.",
        known.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_spelling() {
        for name in [
            "lesson01",
            "01",
            "1",
            "Lesson01",
            "LESSON01",
            "lesson01-state-machine",
            "lessons/lesson01-state-machine/",
        ] {
            assert_eq!(find(name).unwrap().number, 1, "{name}");
        }
    }

    #[test]
    fn rejects_unknown_lessons_and_lists_the_real_ones() {
        for name in ["lesson99", "99", "", "lesson", "x", "001", "-1"] {
            let message = find(name).err().expect("unknown lesson").to_string();
            assert!(message.contains("lesson01"), "{name}: {message}");
        }
    }

    #[test]
    fn numbers_are_unique_and_ordered() {
        assert!(LESSONS.windows(2).all(|w| w[0].number < w[1].number));
    }
}
