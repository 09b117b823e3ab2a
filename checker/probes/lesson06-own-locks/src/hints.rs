//! The hints a learner asks for one at a time (`just hint`), per criterion: each
//! closer to the code than the one before, never the answer, then the book section.

use probe_kit::Ladder;

use crate::criteria::{
    LOCK_INVARIANTS, LOCK_MODEL, PANIC_SAFE, QUEUE_CONCURRENT, QUEUE_FIFO, QUEUE_MODEL,
    QUEUE_WAITS, READERS_NOT_STARVED, READERS_TOGETHER, STORE_ON_LOCK, WRITER_ALONE,
    WRITER_NOT_STARVED,
};

pub const LADDERS: &[Ladder] = &[
    Ladder {
        criterion: &QUEUE_FIFO,
        more: &[
            "Only one thread runs here, so nothing changes the queue between two calls: the \
             probe compares every answer of push, pop, try_push, try_pop and len with a plain \
             VecDeque's, and for the random part the evidence lists the calls made before the \
             wrong answer. The code is steps 1 to 4 in queue.rs (the book's \"Part 1: a \
             bounded queue\").",
            "The usual slips: items taken from the back, so the queue behaves like a stack; a \
             try_push that reads \"try\" as \"do not wait\" and forgets the room check; a test \
             for a full queue that is off by one, so a push waits with a place still free or \
             one item too many gets in. A refused try_push hands back the very item it was \
             given.",
            "The shape: items go in at the back of the VecDeque and come out at its front, in \
             all four methods alike. \"Full\" is one comparison of the deque's length with \
             `capacity`, the same in push's wait and in try_push's refusal, and each try_ \
             method locks once, tests, then changes the deque or returns.",
        ],
    },
    Ladder {
        criterion: &QUEUE_WAITS,
        more: &[
            "The probe parks a pop on an empty queue and a push on a full one, checks that \
             each sleeps on a condition variable, then lets the other side act with push, \
             pop, try_push or try_pop and expects the sleeper to finish. Both halves count: \
             the wait, and the wake-up each change owes the other side (the book's \"Waiting \
             in a loop\").",
            "Three ways to fail it: waiting by retrying (lock, look, yield or sleep, again) \
             instead of sleeping on a condition variable; a push that returns on a full \
             queue and drops its item; a try_push or try_pop that changes the queue and tells \
             nobody, so the thread asleep on the other side never hears of the item or the \
             free place.",
            "Each waiting method takes the mutex, then waits on its own side's condition \
             variable while the queue is not ready, handing its guard to `wait` and keeping \
             the one `wait` returns; then it changes the deque and notifies the other side's \
             condition variable. try_push and try_pop owe the same notify after a change \
             that succeeds, and none when they refuse.",
        ],
    },
    Ladder {
        criterion: &QUEUE_CONCURRENT,
        more: &[
            "Three producers and three consumers share a queue of capacity 4, and one \
             consumer mixes try_pop with pop. What keeps the items whole is that every look \
             at the deque and the change it allows happen under one hold of the mutex, and \
             that every change wakes whoever waits for it (the book's \"Waiting in a loop\").",
            "Look for a gap between the check and the change: a push that waits for room \
             under one guard, lets it go and pushes under a new one leaves the place free for \
             a second pusher, and the queue overfills. Look also for a wait in an `if`, which \
             trusts after waking a state another thread has since changed, and for a change \
             that notifies nobody, which leaves a thread asleep for good.",
            "Each method keeps one guard from its first look at the deque to its last change: \
             the wait loop gives that guard to `wait` and gets it back, and the push_back or \
             pop_front comes after the loop, on the same guard. The notify for the other side \
             follows each change, in the try_ methods too.",
        ],
    },
    Ladder {
        criterion: &QUEUE_MODEL,
        more: &[
            "The model checker runs two small programs on a queue of capacity 1, two \
             consumers beside one pusher and two producers beside one popper, in every order \
             of their steps within a bound, and shows the first that ends badly as a numbered \
             timeline of locks, waits, wake-ups and notifies. Read it from the end: which \
             thread waits for good, or which call returned what it should not, and where the \
             last notifies went (the book's \"What the model checker does\").",
            "Two mistakes show here and rarely elsewhere. A wait in an `if`: woken, the \
             thread assumes the queue changed in its favour, but a third thread may have \
             reached the mutex first, so a pop takes from an empty queue or a push overfills \
             it. One condition variable for both sides with notify_one: the notify meant for \
             a pusher can wake the other popper instead, who sleeps again, and the pusher \
             sleeps on.",
            "Each side waits on a condition variable of its own (the struct has `not_empty` \
             and `not_full`) and notifies only the other side's, so a notify_one always \
             reaches a thread that can use it. Each wait sits in a loop that tests the queue \
             again after every wake-up and leaves only when the queue is ready for this call.",
        ],
    },
    Ladder {
        criterion: &LOCK_INVARIANTS,
        more: &[
            "check_invariants looks only at the five fields it is given: the probe hands it \
             states a correct lock passes through and states it never reaches, and expects \
             `Ok` for the first kind and the exact violation for the second. For each \
             combination, ask whether some order of entries and exits leaves the lock in it \
             while nobody holds the state mutex (the book's \"Part 2: the lock's state\").",
            "Too strict and too lax fail alike. Too strict: refusing readers inside while \
             writers wait, or a writer inside while readers wait, which is only a busy lock. \
             Too lax: a test of the reader count that lets exactly one reader beside a writer \
             pass, or forgetting the second violation, the readers' turn given while no \
             reader waits to take it.",
            "Two tests, each returning its own violation: one on the writer flag together \
             with the reader count, where any reader at all is one too many and the count \
             goes into the violation; one on the turn flag together with the readers \
             waiting. Neither looks at the writers waiting, and a state that passes both is \
             `Ok`.",
        ],
    },
    Ladder {
        criterion: &WRITER_ALONE,
        more: &[
            "The probe holds one thread inside and sends a second: a writer behind a reader, \
             a reader behind a writer, a writer behind a writer. The try_ call must be \
             refused, the blocking call must sleep until the first leaves and then get in, \
             and state() must say who is inside; then two writers and two readers run at once \
             over a cell that panics the moment anyone is beside a writer (the book's \"Part \
             3: entering and leaving\").",
            "Check each way in against the whole rule for its side: a writer that waits only \
             for another writer, or a try_write that looks only at the readers, gets in beside \
             someone. Check the bookkeeping too: each way in records itself in the state, each \
             way out undoes exactly that and wakes whoever it kept out; a waiter never woken \
             shows as a thread still waiting after the first had left.",
            "Give each side one rule, a small function of the state that says whether it may \
             go in now, and use it in the blocking method as the loop's condition and in its \
             try_ twin as the one test. The writers' rule looks at the writer flag, the reader \
             count and the readers' turn. The flag or the count is set under the guard that \
             saw the rule hold, and only then is the lock's guard built.",
        ],
    },
    Ladder {
        criterion: &READERS_TOGETHER,
        more: &[
            "The probe holds one reader inside, then calls try_read, which must get in and \
             read the value, and starts a second reader, which must get in without waiting. \
             Look at what the readers' rule forbids in read and in try_read, steps 5 and 6 \
             (the book's \"Part 3: entering and leaving\").",
            "A reader that waits while the reader count is above zero, or a try_read that \
             refuses for that reason, turns the lock into a mutex with extra steps. Other \
             readers, inside or waiting, never keep a reader out; only a writer does, one \
             inside or one that was already waiting when the reader came.",
            "The readers' rule mentions no count of readers: it is about the writer inside \
             and the writers waiting, with the readers' turn as the exception, and try_read \
             tests the same rule as read. Going in adds one to the reader count; that count \
             is for writers and for leaving, not for other readers.",
        ],
    },
    Ladder {
        criterion: &WRITER_NOT_STARVED,
        more: &[
            "The probe holds a reader inside, starts a writer and sees it waiting, then sends \
             a late reader: try_read must be refused and read must wait, and once the first \
             reader leaves, the writer goes in before the late one. This is the first half of \
             the book's \"The policy: nobody starves\"; it lives in how a writer waits (step \
             7) and in what a reader looks at (steps 5 and 6).",
            "Both halves must meet. A writer that goes straight to its wait without recording \
             that it waits leaves nothing in the state for a reader to see, and readers whose \
             rule looks only at the writer flag walk past a writer who did record it. A \
             readers' turn that is never ended lets late readers pass too.",
            "In write: count the writer as waiting before its first test of the rule, and take \
             it off the count once it is through, on its way in. In the readers' rule, read's \
             and try_read's alike: a waiting writer keeps a reader out unless it is the \
             readers' turn. In read, the turn ends when the last of the readers it was given \
             to is in.",
        ],
    },
    Ladder {
        criterion: &READERS_NOT_STARVED,
        more: &[
            "The probe holds a writer inside, then sees a reader waiting and a second writer \
             waiting after it; when the first writer leaves, the reader must go in before the \
             second writer. The decision is made in leave_write, step 10, and honoured by the \
             rules of read and write, steps 5 and 7 (the book's \"The policy: nobody \
             starves\").",
            "A writer that leaves and always wakes a waiting writer first starves the readers: \
             that is a writer-preferring lock. The other ways to lose: readers who wait without \
             being counted, so the leaving writer cannot see them; a turn given to the readers \
             that the next writer ignores; or one the readers' own rule ignores, because it \
             still sees a writer waiting, and then nobody goes in at all.",
            "In leave_write, with the writer flag cleared, look first at the readers waiting: \
             if there are any, give them the turn and wake every one of them, and only when \
             there are none wake one writer. The writers' rule refuses during the readers' \
             turn, the readers' rule admits them during it whoever waits, and read counts each \
             reader as waiting from before its first test until it goes in.",
        ],
    },
    Ladder {
        criterion: &LOCK_MODEL,
        more: &[
            "The model checker runs two small programs, two writers beside one reader and two \
             readers beside one writer, in every order of their steps within a bound, and shows \
             the first that ends badly as a numbered timeline. Read it from the end: find the \
             thread that sleeps for good, then look back for the change of state that should \
             have woken it and the notify that went with it, or did not (the book's \"What the \
             model checker does\").",
            "The usual causes: a notify sent before the state changes, outside the state mutex, \
             so a waiter wakes, sees the old state, sleeps again and hears nothing more; a last \
             reader out who does not wake the writer waiting for it; a leaving writer who \
             wakes only one of the readers whose turn it is. A wait in an `if`, and a state \
             not back to all zero at the end, show up here too.",
            "Both ways out follow one order: take the state mutex, change the state, decide \
             from the new state who may go in now, and notify them while the guard is still \
             held. In leave_read that is the reader who brings the count to zero, for a waiting \
             writer; in leave_write, all the readers of the turn, or else one writer.",
        ],
    },
    Ladder {
        criterion: &PANIC_SAFE,
        more: &[
            "The probe panics on purpose inside a write, then inside a read, and afterwards \
             expects a write and a read to work and the state to be all zero. Unwinding runs \
             the guard's drop, which calls leave_write or leave_read: steps 9 and 10 are the \
             code to read (the book's \"A guard that panics\").",
            "The tempting mistake is to keep the lock shut after a panic because the data may \
             be half-changed: a leave that returns early while the thread is panicking, or a \
             guard whose drop skips leaving, leaves the state saying someone is inside for \
             good. This lock does not poison. A leave that itself panics during the unwinding \
             aborts the process, so nothing in it may fail there.",
            "leave_read and leave_write make no difference between a closure that returned and \
             one that panicked, and the given drops call them in both cases: no test of \
             `std::thread::panicking` belongs in them. Each does its whole work every time: it \
             undoes its own entry in the state and wakes whoever may now go in.",
        ],
    },
    Ladder {
        criterion: &STORE_ON_LOCK,
        more: &[
            "This criterion runs lesson 02's graded criteria, one after another, on your store \
             on your lock, and the report names the one that failed: its rule is the rule \
             here. Look at steps 12 to 14 in store.rs, and, if they are lesson 02's store over \
             again, at your lock (the book's \"Part 4: lesson 02's store on your lock\").",
            "A GET on the write side lets one GET in at a time, which lesson 02's \
             `readers-parallel` sees; a GET that takes the value under one read guard and the \
             version under another pairs two states, which `linearizable` sees. A method that \
             asks for the lock while a guard of its own is still alive can wait for itself \
             for good: your lock is not reentrant, and it queues new readers behind a waiting \
             writer.",
            "One guard per operation, of the right side: in GET one read guard alive across \
             `lookup` and the building of the Response, with owned copies of value and \
             version; in SET and DEL the Command built first, then the machine's `apply` \
             through one write guard. Nothing else changes from lesson 02's store but the lock \
             it sits on.",
        ],
    },
];
