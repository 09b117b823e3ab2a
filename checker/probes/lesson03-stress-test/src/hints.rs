//! The hints a learner asks for one at a time (`just hint`), per criterion: each
//! closer to the code than the one before, never the answer, then the book section.

use probe_kit::Ladder;

use crate::criteria::{
    CATCHES_DEADLOCK, CATCHES_LOST_UPDATE, CATCHES_PANIC, CATCHES_TORN_WRITE,
    CATCHES_VERSION_GOING_BACK, PASSES_ON_CORRECT_STORE, PLAN_SEEDED, REPORT_SHAPE,
};

pub const LADDERS: &[Ladder] = &[
    Ladder {
        criterion: &PLAN_SEEDED,
        more: &[
            "A stress test that cannot be replayed cannot be debugged: every operation follows \
             from the seed and the thread's number alone (the book's step 1). Two calls with \
             the same arguments agree, two threads differ, and another seed changes every \
             thread's operations.",
            "Give each thread a generator of its own, seeded from a mix of the run's seed and \
             the thread's number that keeps every bit of both, and draw each key and each \
             SET-or-DEL choice from it. Unique values need no randomness: build them from \
             what tells one write from every other. Then make sure each thread performs \
             exactly its own plan.",
            "The pieces: `StdRng::seed_from_u64` with the seed combined by XOR with a \
             per-thread number (the thread plus one, spread by a large odd multiplier), \
             `random_range` for the key index passed to `key`, another `random_range` to pick \
             one DEL in four, and a loop of `ops_per_thread` building the Commands.",
        ],
    },
    Ladder {
        criterion: &PASSES_ON_CORRECT_STORE,
        more: &[
            "On a correct store, any FAIL is a false alarm of the test (the book's step 5). A \
             read is real when some acknowledged SET wrote that key, value and version; it need \
             not be the newest, and a key's versions have gaps because DELs take versions too.",
            "Look at the line the evidence names: threads counts writers and readers; \
             operations counts the responses of the threads that finished; a reads check that \
             compares with the latest value, or compares versions across readers, fails \
             correct runs.",
            "The shape of run_stress: plans for every thread, the time taken around \
             run_threads, the lengths of the Ok results added up, the first Err turned into the \
             finished line, and only when there is none the store's invariants and check_reads.",
        ],
    },
    Ladder {
        criterion: &REPORT_SHAPE,
        more: &[
            "The report is compared with fixed text, line by line: five lines in a fixed \
             order, the time redacted (the book's step 6).",
            "Each check already prints itself through Check's Display; the report only puts a \
             label in front of each and the two counts in the first line. Nothing follows the \
             last line, and the time is the debug form of a Duration.",
            "Four `writeln!` calls into the formatter, each `?`-propagated, then one `write!` \
             for the time line, with `{}` for the counts and checks and `{:?}` for `elapsed`.",
        ],
    },
    Ladder {
        criterion: &CATCHES_LOST_UPDATE,
        more: &[
            "A lost update leaves no mark in any single answer; it shows only in the final \
             state, whose versions no longer add up to the global sequence. That is what the \
             invariants line is for (the book's \"The invariants after the run\").",
            "Ask the store for its invariants once, after every thread's outcome has come in, \
             never while threads still run. The bug happens only when writers are inside the \
             store together, so keep the starting gate and the full load.",
            "In run_stress, on the path where every thread finished: a `match` on the store's \
             `check_invariants`, Pass for Ok and a Fail carrying the violation's text for Err.",
        ],
    },
    Ladder {
        criterion: &CATCHES_TORN_WRITE,
        more: &[
            "A torn write shows a reader a pair no write ever made, a new value under an old \
             version. Only comparing what readers saw with what writers were told catches it \
             (the book's step 4).",
            "First gather every acknowledged write from the writers' plans walked alongside \
             their responses: each SET answered Stored gives one (key, version, value). Then \
             every Value a reader got must be one of them, all three together.",
            "A set of `(&str, u64, &str)` filled from the `(Command::Set, Response::Stored)` \
             pairs, then, over each reader's `(Command::Get, Response::Value)` pairs, a \
             membership test that returns a Fail worded as the contract says.",
        ],
    },
    Ladder {
        criterion: &CATCHES_VERSION_GOING_BACK,
        more: &[
            "A reader that saw v12 of a key must never see v11 of it afterwards: each observer's \
             time moves forward, even if two observers disagree about the newest (the book's \
             step 4).",
            "Keep, for each reader on its own, the last version it read of each key, compare \
             every new read of that key with it, then update it. Only Value answers count: a \
             NotFound has no version and changes nothing.",
            "Per reader, a fresh map from key to last version; on each Value read, its \
             `entry(key)` gives the slot to compare with (filled with this version the first \
             time) and then to overwrite.",
        ],
    },
    Ladder {
        criterion: &CATCHES_PANIC,
        more: &[
            "A worker's panic is a finding of the test, not a crash of it: it comes back as \
             that thread's result and ends up on the finished line (the book's step 3).",
            "Catch the panic inside the thread, around the call that performs the plan, and \
             send it like any other outcome; the collecting side then names it as the contract \
             says. Only the threads that finished add to the operations count.",
            "In the thread's closure, `panic::catch_unwind` around the perform call (wrapped in \
             `AssertUnwindSafe`, since the store is shared), the payload turned into text by \
             `panic_message`, and the result sent with the thread's number on the channel.",
        ],
    },
    Ladder {
        criterion: &CATCHES_DEADLOCK,
        more: &[
            "A deadlocked store never answers, so a test that waits without a limit never \
             reports. One deadline for the whole run; after it, stuck threads are left behind \
             (the book's step 3).",
            "Do not join the threads, since a join cannot give up. Every thread sends its \
             outcome on a channel, and the collector waits only for the time left until the one \
             deadline; whatever has not come in by then did not finish. After that, the store \
             is not called again.",
            "An `mpsc` channel whose sender is cloned into each thread and not kept by the \
             collector, one `Instant` for when to give up, and `recv_timeout` with the time left \
             until it, in a loop that runs at most once per thread and stops at the first \
             timeout; every result starts as not finished.",
        ],
    },
];
