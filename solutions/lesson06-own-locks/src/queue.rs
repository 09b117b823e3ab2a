//! A bounded blocking queue: the warm-up monitor.

use std::collections::VecDeque;

use kvlab_sync::{Condvar, Mutex};

/// First in, first out, holding at most `capacity` items: `push` waits while it is
/// full, `pop` waits while it is empty.
pub struct BoundedQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    /// Signalled when an item arrives: what a waiting `pop` waits for.
    not_empty: Condvar,
    /// Signalled when an item leaves: what a waiting `push` waits for.
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
    /// Adds `item` at the back, waiting while the queue is full.
    pub fn push(&self, item: T) {
        let mut items = self.items.lock();
        // A loop, not an `if`: waking up only says "something changed". Another
        // pusher may have filled the free place first.
        while items.len() == self.capacity {
            items = self.not_full.wait(items);
        }
        items.push_back(item);
        // One item arrived, so one waiting pop can go on. Poppers wait on their own
        // condition variable, so this cannot wake a pusher instead.
        self.not_empty.notify_one();
    }
    // ANCHOR_END: push

    // ANCHOR: pop
    /// Takes the item at the front, waiting while the queue is empty.
    pub fn pop(&self) -> T {
        let mut items = self.items.lock();
        let item = loop {
            match items.pop_front() {
                Some(item) => break item,
                None => items = self.not_empty.wait(items),
            }
        };
        self.not_full.notify_one();
        item
    }
    // ANCHOR_END: pop

    /// Adds `item` if there is room now; gives it back if the queue is full.
    pub fn try_push(&self, item: T) -> Result<(), T> {
        let mut items = self.items.lock();
        if items.len() == self.capacity {
            return Err(item);
        }
        items.push_back(item);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Takes the front item if there is one now.
    pub fn try_pop(&self) -> Option<T> {
        let item = self.items.lock().pop_front()?;
        self.not_full.notify_one();
        Some(item)
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
