//! The command line, as README.md, the Justfile and the book describe it.

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "checker",
    version,
    about = "Grades your kvlab lessons: behaviour and invariants, not just \"it compiles\"."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Every lesson, with its state
    List,
    /// Grade a lesson: every criterion, PASS or FAIL, with the reason
    Check(CheckArgs),
    /// The next hint for the first criterion that does not pass, one at a time
    Hint {
        /// lesson01, 01 or 1
        lesson: String,
        /// The next hint, closer to the code than the last one
        #[arg(long)]
        more: bool,
        /// The hint for the lesson crate in this folder of lessons instead of lessons/
        #[arg(long, value_name = "DIR")]
        lessons: Option<std::path::PathBuf>,
    },
    /// Check a lesson again on every save of its crate (h: next hint, q: quit)
    Watch {
        /// lesson01, 01 or 1
        lesson: String,
        /// Watch the lesson crate in this folder of lessons instead of lessons/
        #[arg(long, value_name = "DIR")]
        lessons: Option<std::path::PathBuf>,
    },
    /// Show your crate against the reference, step by step
    Diff {
        /// lesson01, 01 or 1
        lesson: String,
        /// Compare the lesson crate in this folder of lessons instead of lessons/
        #[arg(long, value_name = "DIR")]
        lessons: Option<std::path::PathBuf>,
        /// Yours and the reference's side by side (the default on a terminal at
        /// least 150 columns wide)
        #[arg(long, conflicts_with = "unified")]
        side_by_side: bool,
        /// One column, - lines yours and + lines the reference's (the default when
        /// piped or on a narrower terminal)
        #[arg(long)]
        unified: bool,
    },
    /// Instructors: grade a class's submissions with this course's own checker
    Grade {
        /// Each learner's submission: a copy of the course, a git repository, a folder
        /// of lesson crates, or a .tar/.tar.gz archive of one
        #[arg(required = true)]
        submissions: Vec<std::path::PathBuf>,
        /// Grade only this lesson (repeat for more); all lessons by default
        #[arg(long = "lesson", value_name = "LESSON")]
        lessons: Vec<String>,
        /// Where results.jsonl, results.csv, results.html and the staged crates go
        #[arg(long, default_value = "target/kvlab/grades", value_name = "DIR")]
        out: std::path::PathBuf,
        /// Seed for every learner's random inputs (one seed makes learners comparable)
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Maintainers: prove every lesson crate under lessons/ is still an unsolved stub
    VerifyStubs,
    /// Internal: run one criterion of a built-in implementation in this process, as
    /// the request on stdin says (the checker starts itself this way)
    #[command(hide = true)]
    Probe {
        lesson: String,
        implementation: String,
    },
}

#[derive(Args)]
pub struct CheckArgs {
    /// lesson01, 01 or 1
    pub lesson: String,
    /// Grade the reference under solutions/ instead of your crate
    #[arg(long, conflicts_with = "fixture")]
    pub solution: bool,
    /// Grade one of the checker's built-in implementations: a deliberately broken
    /// fixture or a correct variant (an unknown name lists them all)
    #[arg(long)]
    pub fixture: Option<String>,
    /// Run only this criterion (its id, as the report shows it)
    #[arg(long, value_name = "CRITERION")]
    pub only: Option<String>,
    /// Print the report as one JSON document on one line
    #[arg(long)]
    pub json: bool,
    /// Seed for the random inputs (printed in every report, to replay a failure)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Grade the lesson crate found in this folder of lessons (a learner's copy of
    /// lessons/) with this course's checker, instead of this course's lessons/
    #[arg(long, value_name = "DIR", conflicts_with_all = ["solution", "fixture"])]
    pub lessons: Option<std::path::PathBuf>,
}
