//! The hints a learner asks for one at a time (`just hint`), per criterion: each
//! closer to the code than the one before, never the answer, then the book section.

use probe_kit::Ladder;

use crate::criteria::{
    NO_DEADLOCK, POLICY_DESIGN, READERS_NOT_BLOCKED, READERS_SIDE_BY_SIDE, READS_CONSISTENT,
    RESTORE_ROUNDTRIP, SEQUENCE_GAP_FREE, SNAPSHOT_CONSISTENT, SNAPSHOT_FILE_ATOMIC,
    SNAPSHOT_OUTSIDE_LOCK, STATE_FOLLOWS_LOG, TORN_SNAPSHOT_REFUSED,
};

pub const LADDERS: &[Ladder] = &[
    Ladder {
        criterion: &SEQUENCE_GAP_FREE,
        more: &[
            "Decide everything about a write's number after entering the turnstile: whether \
             the command is a write at all (a DEL of a missing key is not, and takes no \
             number), and which number it gets, read from the state as it is now. A number \
             read or counted before entering can be taken twice.",
            "In write: validate, lock the writer mutex and keep its guard (it is also the \
             hook), read the state's global sequence under a short read guard, return early \
             for a DEL with nothing to delete, then call `on_write` with the next number \
             while the mutex is still held.",
        ],
    },
    Ladder {
        criterion: &STATE_FOLLOWS_LOG,
        more: &[
            "Nothing may come between telling the hook and applying: the same writer, still \
             inside the turnstile, applies the very command it announced, and only then lets \
             the next writer in.",
            "After `on_write`, a short `write()` guard on the state around `apply`, all while \
             the writer mutex's guard is still alive; that guard is dropped only when write \
             returns.",
        ],
    },
    Ladder {
        criterion: &READS_CONSISTENT,
        more: &[
            "Take both parts of the Read from the state itself, under one shared guard, and \
             make every change to the state in one step under its exclusive guard, so no \
             moment exists where the entries and the sequence disagree.",
            "In get: one `read()` guard on the state, then the entry `lookup` lends, cloned into \
             an owned Option, and the state's global sequence, both taken through that guard \
             before it is dropped.",
        ],
    },
    Ladder {
        criterion: &READERS_NOT_BLOCKED,
        more: &[
            "During on_write the writer holds the turnstile and nothing on the state; the \
             state's exclusive side is taken only for the apply. A reader never touches the \
             turnstile at all.",
            "Check where each guard lives: the read guard used to find the next number must end \
             before `on_write` (a block of its own does it), the state's `write()` is taken \
             after the hook returns, and get takes only the state's `read()`.",
        ],
    },
    Ladder {
        criterion: &READERS_SIDE_BY_SIDE,
        more: &[
            "Every path that only looks at the state (a get, the copy of a snapshot) asks for \
             the shared side of its lock; the exclusive side is for the one moment a write \
             changes the state.",
            "In get and copy_state, the state's guard comes from `read()`, never `write()`, and \
             no Mutex stands in front of it.",
        ],
    },
    Ladder {
        criterion: &SNAPSHOT_CONSISTENT,
        more: &[
            "Copy the whole machine, entries and sequence together, under one shared guard. \
             A copy put together key by key or in several sections lets writes land in the \
             middle of it.",
            "copy_state: one shared guard on the state and a clone of what it protects, \
             returned as an owned value; the machine type is Clone for exactly this.",
        ],
    },
    Ladder {
        criterion: &SNAPSHOT_OUTSIDE_LOCK,
        more: &[
            "write_snapshot works only on the owned copy: once copy_state has returned, no \
             guard of the store may still be alive while encoding or writing.",
            "Call copy_state, keep its owned result, then `encode` it and `write_all` and \
             `flush` the bytes; a guard taken in write_snapshot itself and kept in a local \
             would live to the end of the function. The same goes for save_snapshot: no \
             guard (the writer's included) may be alive across disk.create, a write, \
             disk.sync, disk.rename or disk.sync_dir_of.",
        ],
    },
    Ladder {
        criterion: &SNAPSHOT_FILE_ATOMIC,
        more: &[
            "Write the new snapshot somewhere else first, make it durable, then swap names in \
             one step and make the swap durable too. Only then is it saved, and only then is \
             the hook told.",
            "In save_snapshot, all through `self.disk`: `create` the file at \
             `temp_path_for(path)`, write_snapshot into it, `sync` it, `rename` it over the \
             path, `sync_dir_of(path)`, and last `on_snapshot_saved` through the writer mutex; \
             `remove` the temporary file if writing or syncing fails.",
        ],
    },
    Ladder {
        criterion: &TORN_SNAPSHOT_REFUSED,
        more: &[
            "Check from the outside in, each check needing only what the previous ones proved: \
             is there a whole header, does it start with MAGIC, is the file exactly as long as \
             the header says, does the checksum match; only then parse the body, then check \
             lesson 01's invariants.",
            "In decode: a length test against HEADER_LEN, `split_at`, a comparison with MAGIC, \
             `u64::from_le_bytes` for the body length (add with saturation), Truncated or \
             TrailingBytes by comparing lengths, `crc32` of the body against the stored u32, \
             then `parse_body` and `check_invariants`, each error mapped to its variant.",
        ],
    },
    Ladder {
        criterion: &RESTORE_ROUNDTRIP,
        more: &[
            "A tombstone holds its key's version: leave it out of the snapshot and the key \
             restarts at v1 and the versions stop adding up. The sequence must come back \
             exactly, not be recomputed from the entries.",
            "restore: read the whole file with `disk.read`, `decode` it, and build the store \
             with `from_parts` from the machine `from_store` makes, the hook and the disk \
             given; every error comes back through `?`.",
        ],
    },
    Ladder {
        criterion: &NO_DEADLOCK,
        more: &[
            "The risky path is the snapshot: it takes the state to copy and the turnstile to \
             tell the hook. It must never hold the state while it waits for the turnstile.",
            "In save_snapshot the only state guard lives inside copy_state and is gone before \
             the file is written; the writer mutex is locked only at the end, for \
             `on_snapshot_saved`, with no other guard alive.",
        ],
    },
    Ladder {
        criterion: &POLICY_DESIGN,
        more: &[
            "The report quotes the claim and what a watched run of the store did. Decide \
             which one is your design: sometimes the code is right and the claim is a \
             slip, sometimes the claim is the design and the code drifted from it.",
            "The checker names your locks by your claims: it gives the declared names to \
             the locks it saw, of the same kinds, in the way that makes the most claims \
             true. So a lock the block does not declare, or declares as the wrong kind, \
             is reported before anything else.",
            "`read holds` is what get() holds while it reads the state through view(); \
             `snapshot copy holds` is what copy_state() holds while it clones the state; \
             `snapshot write holds` is what write_snapshot and save_snapshot hold at each \
             write to their output and each file operation. Each is exact: every lock \
             held, with its side, and nothing else.",
        ],
    },
];
