//! The hints a learner asks for one at a time (`just hint`), per criterion: each
//! closer to the code than the one before, never the answer, then the book section.

use probe_kit::Ladder;

use crate::criteria::{INVARIANTS_CHECK, INVARIANTS_HOLD, REPLAY, TRANSCRIPT, VERSIONS_SEQUENCE};

pub const LADDERS: &[Ladder] = &[
    Ladder {
        criterion: &TRANSCRIPT,
        more: &[
            "Each transcript line is one command, the response the rules give it, and that \
             response as Display prints it, so the lines come right in the order of the \
             steps: get, then set and del, then Display. Start from the book's model: a key \
             has no entry, a live entry or a tombstone, and only a live entry has a value \
             to read.",
            "Step 1 first: the given `lookup` already hides missing keys and tombstones, so \
             get only turns the `Option<&Entry>` it lends into a Response that owns a copy \
             of the value. Then set and del: the old entry, tombstones included, gives the \
             version, and a write's number comes from the sequence helper, asked once and \
             only when the command really is a write.",
            "The shapes: get is one `match` on what `lookup` returns, an arm for an entry \
             whose value is there and a catch-all for NotFound; set and del find the old \
             entry with the map's own `get`, take one number, and `insert` one new Entry \
             (del only after a `let ... else` found a live entry); Display is one `match` on \
             the response with one `write!` into the formatter per variant, the value through \
             the debug specifier.",
        ],
    },
    Ladder {
        criterion: &VERSIONS_SEQUENCE,
        more: &[
            "Sort the commands into writes and non-writes before anything else (the book's \
             picture in \"Versions and the global sequence\"). A write moves the global \
             sequence by exactly one and one key's version by exactly one; a non-write \
             leaves the store equal to what it was. The evidence's expected line says which \
             kind the failing command is.",
            "The version comes from the key's old entry, whatever it is; the number comes \
             from the global sequence. The usual slips: finding the old entry in a way that \
             hides tombstones (a SET after a DEL then restarts at v1), taking a number \
             before knowing a DEL is a write, or storing the old entry's number in the new \
             one.",
            "In code: the map's own `get` (not `lookup`) for the old version, with 1 when \
             there is none; `next_seq` called once per write and never on the NOT_FOUND \
             path; one `insert` of an Entry built from those two numbers. In del, a \
             `let ... else` that binds the live entry or returns early reads well.",
        ],
    },
    Ladder {
        criterion: &INVARIANTS_HOLD,
        more: &[
            "The four invariants (the book's \"The invariants\") are what the transition rules \
             promise, so read the broken one as a question about the step in the evidence: \
             rule 4 breaks when a step moves the sequence without a version or the other way \
             round, rule 3 when two entries keep one number, rule 1 when an entry holds a \
             number the sequence never handed out.",
            "Walk the named command through your code by hand, with the state before it: \
             how many numbers did it take, which entry did it write, and which version and \
             seq did that entry end up with? A DEL must leave a tombstone, since removing \
             the entry takes its versions out of the sum.",
            "The shape of every write: one `next_seq` call whose result is kept in a local, \
             the version from the old entry plus one, then a single `insert` of the new \
             Entry carrying both. Nothing else in a write touches the global sequence or \
             another key's entry.",
        ],
    },
    Ladder {
        criterion: &INVARIANTS_CHECK,
        more: &[
            "This step is graded on its own, on states built with from_parts: valid ones at \
             the edges (empty, tombstones only, a version equal to its seq, numbers at \
             u64::MAX), corrupted ones that break exactly one rule in one place, and a few \
             that break several (any one of their violations will do, reported exactly). \
             Decide by hand which rules the state in the evidence breaks, if any, then find \
             why your check disagrees.",
            "One walk over the entries in key order settles rules 1 to 3 entry by entry, \
             tombstones included. Rule 3 needs memory of which key claimed every seq seen so \
             far, not only the previous one; rule 4 needs the total of all versions, so it \
             can only be judged after the walk.",
            "The shape: a map from seq to key and a running total before the loop over the \
             entries; inside it, three early returns of the matching Violation with the \
             fields copied from the entry (a map's `insert` hands back the key that claimed \
             the seq before); after it, the comparison for rule 4, then `Ok(())`.",
        ],
    },
    Ladder {
        criterion: &REPLAY,
        more: &[
            "Replay is why the store keeps one ordered log: the outcome may depend on nothing \
             but the commands and their order. The checker replays each log twice and also \
             applies it command by command; all three must agree, response by response.",
            "Use one new store and feed it every command through `apply`, exactly in log \
             order, keeping each response as it comes. No grouping by key, no sorting, no \
             hash map deciding an order, no second store.",
            "`apply` takes a Command by value while the log only lends them, so each one is \
             cloned on its way in; an iterator over the log, mapped through the store's \
             `apply` and collected, gives the responses in order, and the store goes back \
             with them as a pair.",
        ],
    },
];
