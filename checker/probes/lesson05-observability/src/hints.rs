//! The hints a learner asks for one at a time (`just hint`), per criterion: each
//! closer to the code than the one before, never the answer, then the book section.

use probe_kit::Ladder;

use crate::criteria::{
    COUNTERS_MONOTONIC, EXPOSITION_SNAPSHOT, EXPOSITION_VALID, HISTOGRAM_BUCKETS,
    STATS_WHILE_WRITING, TOTALS_EXACT,
};

pub const LADDERS: &[Ladder] = &[
    Ladder {
        criterion: &TOTALS_EXACT,
        more: &[
            "Many threads add to one number at once, so each addition must be one indivisible \
             step: a read followed by a write lets two threads read the same old value and \
             one count vanish (the book's step 1).",
            "Follow one call of execute to the end: it is counted once in its kind, once more \
             in exactly one of hits, misses or errors where that applies, and once in its \
             kind's histogram, refused calls included; and every latency, the slowest too, \
             lands in some bucket.",
            "Each count is a single `fetch_add(1, ...)` on the right AtomicU64, with the \
             ordering `Relaxed` is enough for; execute calls the metrics' `record` exactly \
             once, on every path, after the answer is known.",
        ],
    },
    Ladder {
        criterion: &STATS_WHILE_WRITING,
        more: &[
            "The metrics sit beside the store's lock, not behind it: reading them must never \
             wait for a writer (the book's step 5, and the store's picture in \"The store you \
             are given\").",
            "Reading the stats touches only atomics: no guard of the store's lock, shared or \
             exclusive, and no other lock around the counters either. A consistent-looking \
             view bought with a lock is exactly what this lesson avoids.",
            "The store's stats hands the work to the metrics' stats; that one loads each \
             counter and asks each histogram for its snapshot, and neither mentions `state`.",
            "In execute, the guard lives only as long as the state machine works: let \
             apply_locked take it (it drops it before returning), then read the clock and \
             record. A guard kept in a named local lives to the end of the block.",
        ],
    },
    Ladder {
        criterion: &COUNTERS_MONOTONIC,
        more: &[
            "A reader may see the counters a few operations apart from each other, but never a \
             number going down: each counter is a number that only grows (the book's \"Why \
             relaxed is enough\").",
            "Two things make a number go down: resetting an atomic when it is read, and working \
             one counter out from others loaded at different moments (misses as gets minus \
             hits). Count every number in an atomic of its own and only load it.",
            "Every field of Stats is one `load` of its own atomic, and each histogram bucket and \
             the sum likewise; no `swap`, no `store(0)`, no subtraction anywhere in the \
             readers.",
        ],
    },
    Ladder {
        criterion: &HISTOGRAM_BUCKETS,
        more: &[
            "Bucket i holds the latencies above 2^(i-1) µs up to and including 2^i µs, and the \
             last bucket everything slower: a bound belongs to its own bucket (the book's step \
             2 table). A percentile is then a bucket bound, found by counting samples.",
            "Round the latency up to whole microseconds first, so that 1001 ns counts as 2 µs \
             and lands above the 1 µs bound; then the bucket is the smallest power of two at \
             or above that count, capped at the last bucket. For a percentile, the rank wanted \
             is ceil(q * count), never below one.",
            "For the bucket: `as_nanos().div_ceil(1_000)`, then the bit length of one less than \
             that (`leading_zeros` gives it without a loop), then `min` with the last index. \
             For the percentile: walk the buckets with a running total and take the first \
             position where it reaches the rank, mapped through `upper_bound`.",
        ],
    },
    Ladder {
        criterion: &EXPOSITION_VALID,
        more: &[
            "The exposition format is line-oriented text with a few strict rules: each family \
             introduced by its HELP and TYPE lines, label values in double quotes, and \
             histogram buckets cumulative (the book's \"The exposition format\").",
            "The evidence names the first bad line; compare it with the rules. Buckets count \
             every sample at or below their bound, so they never decrease along a kind, the \
             +Inf bucket equals _count, and every number must agree with the stats rendered.",
            "Write each family with the given `header`, then its samples; for the histogram, a \
             running total per kind added up bucket by bucket, `format_seconds` for every \
             bound and for the sum, and `+Inf` for the last bound.",
        ],
    },
    Ladder {
        criterion: &EXPOSITION_SNAPSHOT,
        more: &[
            "The scripted workload runs on a fake clock, so its rendering is the same on every \
             machine, character for character (the book's step 7). Any difference is in your \
             code, not in timing.",
            "Read the diff's first differing line: a name, the label order (op before le), a \
             number of seconds written another way, or a latency that does not match the fake \
             clock because it was measured on another clock or at other moments.",
            "Latencies come from two readings of `self.clock` in execute, one before \
             validating and one once the answer is known, subtracted with \
             `saturating_duration_since`; every seconds value goes through `format_seconds`, \
             and families and kinds come in the order of the contract and of `Op::ALL`.",
        ],
    },
];
