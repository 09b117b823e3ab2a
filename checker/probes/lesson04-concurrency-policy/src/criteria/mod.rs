//! The criteria of lesson 04. Each takes the subject and the run's context and either
//! passes or says what it expected and what it saw.
//!
//! Concurrency is proved by *holding* threads at the store's seams (a writer parked
//! in the hook, a snapshot parked in its copy or its output) and checking what the
//! other threads can and cannot do meanwhile, then by history checks: every number,
//! read and snapshot is compared with the replay of the log the hook recorded.

mod design;
mod policy;
mod reads;
mod snapshots;
mod tour;
mod writes;

pub use policy::SECTIONS as POLICY_SECTIONS;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use probe_kit::{Criterion, Ctx, Failure, Info};
use rand::{Rng, RngExt};
use state::Command;

use crate::Subject;
use crate::lab::Hold;
use parking_lot::kvlab_watch::Moment;
use probe_kit::sync::{Crew, Stuck, name_stuck};

pub const SEQUENCE_GAP_FREE: Info = Info {
    id: "sequence-gap-free",
    title: "concurrent writers get unique, gap-free numbers, and the hook sees them in order",
    hint: "The turnstile is the one place writers pass one at a time (the chapter's picture \
           of the policy): a number is only safe to hand out by the writer inside it, \
           because no other write can start until this one has been applied.",
    book: "lesson04-concurrency-policy.html#step-1-the-turnstile",
    deadline_secs: 30,
    graded: true,
    steps: &[0, 1],
};

pub const STATE_FOLLOWS_LOG: Info = Info {
    id: "state-follows-log",
    title: "each write takes effect right after the hook gets it, in sequence order",
    hint: "The hook is the log: the state must take each write in exactly the order the hook \
           was told, one after another (the book's \"The hook before the apply\").",
    book: "lesson04-concurrency-policy.html#the-hook-before-the-apply",
    deadline_secs: 30,
    graded: true,
    steps: &[1],
};

pub const READS_CONSISTENT: Info = Info {
    id: "reads-consistent",
    title: "every read shows one moment: value, version, seq and as_of from the same state",
    hint: "A read describes one moment: the entry and the sequence it is as of must come from \
           the same state (the book's step 2). Anything kept or read apart from the state \
           can pair one moment's entry with another's number.",
    book: "lesson04-concurrency-policy.html#step-2-reads-share-the-state",
    deadline_secs: 30,
    graded: true,
    steps: &[2],
};

pub const READERS_NOT_BLOCKED: Info = Info {
    id: "readers-not-blocked",
    title: "readers keep going while a writer is in its slow phase (the hook)",
    hint: "The hook may be slow (it stands for writing a log to disk), so readers must not \
           wait for it: they wait only for the short apply (the book's \"Readers wait only \
           for the apply\").",
    book: "lesson04-concurrency-policy.html#readers-wait-only-for-the-apply",
    deadline_secs: 30,
    graded: true,
    steps: &[0, 1, 2],
};

pub const READERS_SIDE_BY_SIDE: Info = Info {
    id: "readers-side-by-side",
    title: "two readers, or a reader and a snapshot's copy, are inside the state at once",
    hint: "A read changes nothing, so any number of reads may run at once: that is the whole \
           point of a reader-writer lock (lesson 02). Only a change needs the state alone.",
    book: "lesson04-concurrency-policy.html#step-2-reads-share-the-state",
    deadline_secs: 30,
    graded: true,
    steps: &[2, 3],
};

pub const SNAPSHOT_CONSISTENT: Info = Info {
    id: "snapshot-consistent",
    title: "a snapshot taken while writers run equals the replay of the log up to its seq",
    hint: "A snapshot is one moment of the state, like a read: it must equal the replay of \
           the log up to its own sequence number (the book's step 3).",
    book: "lesson04-concurrency-policy.html#step-3-copy-under-a-short-lock",
    deadline_secs: 30,
    graded: true,
    steps: &[3, 4],
};

pub const SNAPSHOT_OUTSIDE_LOCK: Info = Info {
    id: "snapshot-outside-lock",
    title: "writers and readers complete while a snapshot is written out or saved, at every file operation",
    hint: "Encoding and writing out take long; the lock protects the state only for as long \
           as the copy takes (the book's step 4). After the copy, nobody needs to wait.",
    book: "lesson04-concurrency-policy.html#step-4-write-the-snapshot-outside-any-lock",
    deadline_secs: 30,
    graded: true,
    steps: &[3, 4, 5],
};

pub const SNAPSHOT_FILE_ATOMIC: Info = Info {
    id: "snapshot-file-atomic",
    title: "a save replaces the file in one step and makes it durable before telling the hook; a failed save changes nothing",
    hint: "At every moment, the file at the path is either the whole old snapshot or the \
           whole new one, even if the machine crashes halfway (the book's step 5).",
    book: "lesson04-concurrency-policy.html#step-5-replace-the-file-in-one-step",
    deadline_secs: 30,
    graded: true,
    steps: &[5],
};

pub const TORN_SNAPSHOT_REFUSED: Info = Info {
    id: "torn-snapshot-refused",
    title: "a torn or corrupted snapshot is refused with a clear error, never loaded",
    hint: "Never trust bytes before checking them: a torn or flipped file must be refused, \
           each kind with its own error (the book's step 6).",
    book: "lesson04-concurrency-policy.html#step-6-refuse-a-torn-snapshot",
    deadline_secs: 30,
    graded: true,
    steps: &[6, 7],
};

pub const RESTORE_ROUNDTRIP: Info = Info {
    id: "restore-roundtrip",
    title: "restore gives back exactly the saved state and sequence, and numbering goes on",
    hint: "A restored store is the saved one: the same entries, tombstones included, and the \
           same sequence, so the next write takes the next number (the book's step 7).",
    book: "lesson04-concurrency-policy.html#step-7-restore",
    deadline_secs: 30,
    graded: true,
    steps: &[4, 6, 7],
};

pub const NO_DEADLOCK: Info = Info {
    id: "no-deadlock",
    title: "snapshots, writes and reads together never deadlock",
    hint: "Two locks can deadlock only if two paths take them in opposite orders (the book's \
           \"Why the locks cannot deadlock\"). Fix one order, turnstile then state, and keep \
           it everywhere. The checker runs each path alone and notes the order it takes \
           its locks in: the report names the two paths that disagree.",
    book: "lesson04-concurrency-policy.html#why-the-locks-cannot-deadlock",
    deadline_secs: 30,
    graded: true,
    steps: &[1, 2, 3, 4, 5],
};

pub const POLICY_DESIGN: Info = Info {
    id: "policy-design",
    title: "the design POLICY.md declares (locks, what each guards, their order, what reads and snapshots hold) is what the code does",
    hint: "Declare your design in POLICY.md's ```design block, one claim a line: each lock \
           with its kind and what it guards, the order a thread takes them in, and what a \
           read, a snapshot's copy and a snapshot's write hold. Then make the code and the \
           claims agree.",
    book: "lesson04-concurrency-policy.html#step-8-write-the-policy",
    deadline_secs: 30,
    graded: true,
    steps: &[0],
};

pub const POLICY_ARGUMENT: Info = Info {
    id: "policy-argument",
    title: "POLICY.md argues the five points: writer, reads, granularity, snapshots, ordering",
    hint: "Argue each point in your own words under its heading; an instructor reads it.",
    book: "lesson04-concurrency-policy.html#step-8-write-the-policy",
    deadline_secs: 20,
    graded: false,
    steps: &[],
};

/// The lesson's criteria, in the order they run and are reported.
pub fn all<S: Subject>() -> Vec<Criterion<S>> {
    vec![
        Criterion::new(&SEQUENCE_GAP_FREE, writes::sequence_gap_free),
        Criterion::new(&STATE_FOLLOWS_LOG, writes::state_follows_log),
        Criterion::new(&READS_CONSISTENT, reads::reads_consistent),
        Criterion::new(&READERS_NOT_BLOCKED, reads::readers_not_blocked),
        Criterion::new(&READERS_SIDE_BY_SIDE, reads::readers_side_by_side),
        Criterion::new(&SNAPSHOT_CONSISTENT, snapshots::snapshot_consistent),
        Criterion::new(&SNAPSHOT_OUTSIDE_LOCK, snapshots::snapshot_outside_lock),
        Criterion::new(&SNAPSHOT_FILE_ATOMIC, snapshots::snapshot_file_atomic),
        Criterion::new(&TORN_SNAPSHOT_REFUSED, snapshots::torn_snapshot_refused),
        Criterion::new(&RESTORE_ROUNDTRIP, snapshots::restore_roundtrip),
        Criterion::new(&NO_DEADLOCK, snapshots::no_deadlock),
        Criterion::new(&POLICY_DESIGN, design::policy_design),
        Criterion::for_review(&POLICY_ARGUMENT, policy::policy_argument),
    ]
}

/// Makes sure the evidence names the seed, so that the failing run can be replayed.
/// (A multi-line detail is a diff of a fixed script, which no seed changes.)
pub fn with_seed(mut failure: Failure, ctx: &Ctx) -> Failure {
    let seed = ctx.seed();
    let named = |text: &str| text.contains(&format!("seed {seed}"));
    if named(&failure.seen) || failure.detail.as_deref().is_some_and(named) {
        return failure;
    }
    failure.detail = match failure.detail.take() {
        None => Some(format!("seed {seed}")),
        Some(detail) if detail.contains('\n') => Some(detail),
        Some(detail) => Some(format!("{detail} (seed {seed})")),
    };
    failure
}

/// How long a thread may take, while another is held at a seam, before the probe
/// calls it blocked. A correct store needs microseconds; this is the hang detector,
/// never a performance threshold.
const BLOCKED_AFTER: Duration = Duration::from_secs(5);

/// How long a whole phase of hammering threads may take before the probe calls it a
/// hang. A correct store needs a small fraction of it on a loaded 2-core machine.
const PHASE_LIMIT: Duration = Duration::from_secs(15);

/// A write from writer `writer`, its `n`th: mostly SETs whose value names the writer
/// and the step (so any value read back says which write produced it), some DELs,
/// and a few invalid writes, which must be refused without taking a number.
fn random_write(rng: &mut impl Rng, keys: &[String], writer: usize, n: usize) -> Command {
    let key = &keys[rng.random_range(0..keys.len())];
    match rng.random_range(0..100) {
        0..5 => Command::set("", &format!("w{writer}-{n}")),
        5..30 => Command::del(key),
        _ => Command::set(key, &format!("w{writer}-{n}")),
    }
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i}")).collect()
}

/// A write as a crew member describes what it is doing.
fn doing_write(command: &Command) -> String {
    match command {
        Command::Set { key, value } => format!("set({key:?}, {value:?})"),
        Command::Del { key } => format!("del({key:?})"),
        Command::Get { key } => format!("write(GET {key:?})"),
    }
}

/// The failure for threads that never finished although the probe held nothing they
/// could be waiting for: a hang (a deadlock, an endless loop), which the checker
/// treats like one it saw itself, so the criteria after it do not each wait it out.
fn stuck(
    expected: impl std::fmt::Display,
    stuck: &[Stuck],
    waited: Duration,
    why: &str,
) -> Failure {
    Failure::new(
        expected,
        format!(
            "still waiting after {}s: {}",
            waited.as_secs(),
            name_stuck(stuck)
        ),
    )
    .with_detail(why)
    .stuck()
}

/// Joins a crew that must finish within `limit`, with nothing held by the probe:
/// threads still running at the limit are stuck.
fn join_within<T: Send + 'static>(
    crew: Crew<T>,
    limit: Duration,
    expected: &str,
    why: &str,
) -> Result<Vec<T>, Failure> {
    crew.join_by(Instant::now() + limit)
        .map_err(|threads| stuck(expected, &threads, limit, why))
}

/// Joins a crew that must finish within `limit` while the probe holds another
/// thread at a seam. Threads still running at the limit were kept waiting, which is
/// the rule broken; they may well go on once it is let go, so this is no hang.
fn join_while_held<T: Send + 'static>(
    crew: Crew<T>,
    limit: Duration,
    expected: &str,
    why: &str,
) -> Result<Vec<T>, Failure> {
    join_within(crew, limit, expected, why).map_err(|failure| Failure {
        stuck: false,
        ..failure
    })
}

/// A fresh directory for this criterion's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(ctx: &Ctx, what: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "kvlab-lesson04-{what}-{}-{}",
            std::process::id(),
            ctx.seed()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the probe can create a temporary directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn dir(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A stop that holds its thread at the first moment `at` picks, at `hold`.
fn hold_once(
    hold: &Arc<Hold>,
    mut at: impl FnMut(Moment) -> bool + 'static,
) -> impl FnMut(Moment) + 'static {
    let hold = Arc::clone(hold);
    let mut held = false;
    move |moment| {
        if !held && at(moment) {
            held = true;
            hold.park();
        }
    }
}
