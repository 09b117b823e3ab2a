//! The hints a learner asks for one at a time (`just hint`), per criterion: each
//! closer to the code than the one before, never the answer, then the book section.

use probe_kit::Ladder;

use crate::criteria::{
    INVARIANTS_SHARED, LINEARIZABLE, NO_DEADLOCK, READERS_PARALLEL, SINGLE_THREAD,
    WRITER_NOT_STARVED, WRITERS_EXCLUSIVE,
};

pub const LADDERS: &[Ladder] = &[
    Ladder {
        criterion: &SINGLE_THREAD,
        more: &[
            "Which side of the lock a method needs follows from what it does to the machine: \
             `lookup` and the invariant check only look (they need `&M`, the shared side, \
             which many threads hold at once), `apply` changes it (`&mut M`, the exclusive \
             side, held alone). The book's model draws the two sides.",
            "The lock hands out access as guards: one side's guard derefs to `&M`, the \
             other's to `&mut M`, and the access ends when the guard is dropped. The entry \
             `lookup` lends lives no longer than its guard, so GET builds its Response, with \
             an owned copy of the value, while the guard is still alive.",
            "The shape: in GET, the shared guard in a local and a `match` on what `lookup` \
             returns, one arm for an entry whose value is there and one for everything else; \
             in SET and DEL, the Command built first, then one expression that takes the \
             exclusive guard and applies the command through it; check_invariants is one \
             expression through a shared guard.",
        ],
    },
    Ladder {
        criterion: &READERS_PARALLEL,
        more: &[
            "A reader-writer lock lets many threads in only through its shared side; its \
             exclusive side, a Mutex, or any other lock held around the lookup lets in one \
             GET at a time. The picture in the book's step 1 has two GETs inside together.",
            "List every lock your GET holds between entering the machine and leaving it: only \
             the shared guard of the store's own lock may be alive while `lookup` runs, and \
             nothing in GET needs the machine mutably.",
            "In code: one `read()` guard on the store's lock, alive across the `lookup` call \
             and the building of the Response, and nothing else: no `write()`, no \
             `upgradable_read()`, no `apply`.",
        ],
    },
    Ladder {
        criterion: &INVARIANTS_SHARED,
        more: &[
            "Checking the invariants only reads, so it belongs with the readers: it must be \
             able to run while GETs and other checks are inside (the book's step 4).",
            "Only the plain shared side admits every reader at once: the exclusive side keeps \
             everyone out, and an upgradable read admits one such reader at a time.",
            "The machine already has the check. All the layer adds is the shared guard around \
             that one call, returning its Result as it is: no copy of the machine, no second \
             lock.",
        ],
    },
    Ladder {
        criterion: &WRITERS_EXCLUSIVE,
        more: &[
            "A write must be alone in the machine: no reader may see it halfway, and no second \
             writer may start from the same state (the book's step 2, and the lost update it \
             prevents).",
            "The command is applied to the machine behind the lock, with the exclusive side \
             held from the start of `apply` to its end. Copying the machine under one guard, \
             changing the copy and putting it back under another leaves a gap that others \
             walk into.",
            "The shape: build the Command, then take `write()` on the store's lock and call the \
             machine's `apply` through that guard, returning its Response; the guard goes away \
             once the response is in hand.",
        ],
    },
    Ladder {
        criterion: &LINEARIZABLE,
        more: &[
            "Every answer must be explained by one order of the operations, each taking effect \
             at one instant between its call and its return (the book's \"Results that a \
             legal order explains\"). An answer stitched together from two moments has no \
             such instant.",
            "Look for two critical sections in one operation: a GET that takes the value under \
             one guard and the version under another, or a DEL that first asks GET and then \
             writes. All an answer depends on is read, and for a write decided, in one \
             section.",
            "One guard per operation: in GET one shared guard alive across the `lookup` and the \
             building of both fields of the Value; in SET and DEL one exclusive guard around \
             the machine's `apply`, which decides and writes in one go.",
        ],
    },
    Ladder {
        criterion: &WRITER_NOT_STARVED,
        more: &[
            "Fairness is the lock's job: parking_lot's RwLock queues new readers behind a \
             waiting writer, so a SET that asks and waits always gets in (the book's \
             \"Fairness in parking_lot 0.13\"). Your code only has to ask in the way that \
             queues.",
            "A writer that polls, waits for the readers to drain, or uses a lock that prefers \
             readers can be overtaken forever by GETs that overlap one another. Ask once, and \
             block until the lock is yours.",
            "In SET and DEL: the plain blocking `write()` of the store's own lock, with no \
             retry loop, no `try_` variant and no check of who else is inside before it.",
        ],
    },
    Ladder {
        criterion: &NO_DEADLOCK,
        more: &[
            "parking_lot's locks are not reentrant: a thread that asks for a lock it already \
             holds, on either side, waits for itself forever, and a second shared request can \
             hang too once a writer queues between the two (the book's \"Deadlocks: a lock \
             taken twice\").",
            "Follow each method from its first lock to its return: does it call another method \
             of the store (`self.get` inside `del`, say), or ask for the lock again while a \
             guard is still alive? Does it take another lock while holding this one?",
            "Each method takes the store's lock exactly once and lets the machine do the rest: \
             no call of the store's own methods from inside another, and a guard kept in a \
             local is gone before anything else asks for a lock.",
        ],
    },
];
