//! Part 1: a bounded blocking queue, the warm-up monitor.

use std::collections::VecDeque;

use kvlab_sync::{Condvar, Mutex};

/// First in, first out, holding at most `capacity` items: `push` waits while the
/// queue is full, `pop` waits while it is empty.
pub struct BoundedQueue<T> {
    /// The items, oldest at the front. Every look and every change holds this mutex.
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    /// Where a `pop` waits for an item to arrive.
    not_empty: Condvar,
    /// Where a `push` waits for a place to come free.
    not_full: Condvar,
}

impl<T> BoundedQueue<T> {
    /// A queue that holds at most `capacity` items.
    ///
    /// # Panics
    /// If `capacity` is 0: such a queue could never take an item.
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a bounded queue holds at least one item");
        BoundedQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }
    }

    // ANCHOR: push
    /// Step 1. Adds `item` at the back, waiting while the queue is full. What must
    /// stay true:
    ///
    /// - The queue never holds more than `capacity` items, however many threads push
    ///   at once, and whatever woke this one up.
    /// - While it waits, it sleeps on a condition variable: no spinning, and the
    ///   mutex is not held, so a `pop` can get in and make room.
    /// - A `pop` waiting on an empty queue learns that an item arrived: no waiting
    ///   thread sleeps on while there is something it could take.
    ///
    /// Book: "Part 1: a bounded queue".
    pub fn push(&self, item: T) {
        todo!("step 1: BoundedQueue::push")
    }
    // ANCHOR_END: push

    // ANCHOR: pop
    /// Step 2. Takes the item at the front, waiting while the queue is empty. What
    /// must stay true:
    ///
    /// - Every item pushed comes out exactly once, and the items of one pusher in the
    ///   order it pushed them.
    /// - It never takes from an empty queue, whatever woke it up: another popper may
    ///   have taken the item it was woken for.
    /// - A `push` waiting on a full queue learns that a place came free.
    ///
    /// Book: "Part 1: a bounded queue" and "Waiting in a loop".
    pub fn pop(&self) -> T {
        todo!("step 2: BoundedQueue::pop")
    }
    // ANCHOR_END: pop

    /// Step 3. Adds `item` now if there is room, and gives it back in `Err` if the
    /// queue is full; never waits. A waiting `pop` learns of the item as after
    /// `push`.
    pub fn try_push(&self, item: T) -> Result<(), T> {
        todo!("step 3: BoundedQueue::try_push")
    }

    /// Step 4. Takes the front item now if there is one, `None` otherwise; never
    /// waits. A waiting `push` learns of the free place as after `pop`.
    pub fn try_pop(&self) -> Option<T> {
        todo!("step 4: BoundedQueue::try_pop")
    }

    /// How many items the queue holds now.
    pub fn len(&self) -> usize {
        self.items.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}
