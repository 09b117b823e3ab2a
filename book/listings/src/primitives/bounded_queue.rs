//! A bounded queue: producers wait while it is full, consumers while it is
//! empty. Two condition variables, one per reason to wait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

// ANCHOR: queue
#[derive(Debug)]
pub struct BoundedQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    // Separate condition variables so a push wakes a consumer, never another
    // producer that could do nothing with the news.
    not_empty: Condvar,
    not_full: Condvar,
    // Changed only with `items` locked: whoever holds the lock and reads `n`
    // knows `n` consumers are inside `wait`. The tests rely on it.
    consumers_asleep: AtomicUsize,
}

impl<T> BoundedQueue<T> {
    pub fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "a queue of capacity 0 could never accept an item"
        );
        Self {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            consumers_asleep: AtomicUsize::new(0),
        }
    }

    pub fn push(&self, item: T) {
        let mut items = self.items.lock().unwrap();
        while items.len() == self.capacity {
            // `wait` releases the lock while asleep and takes it back before
            // returning, so the condition is re-checked under the lock.
            items = self.not_full.wait(items).unwrap();
        }
        items.push_back(item);
        drop(items);
        // Notify after unlocking: the woken consumer's first act is to take
        // the lock, which it could not do while we still held it.
        self.not_empty.notify_one();
    }

    pub fn pop(&self) -> T {
        let mut items = self.items.lock().unwrap();
        while items.is_empty() {
            self.consumers_asleep.fetch_add(1, Ordering::Relaxed);
            items = self.not_empty.wait(items).unwrap();
            self.consumers_asleep.fetch_sub(1, Ordering::Relaxed);
        }
        let item = items
            .pop_front()
            .expect("the loop left only when non-empty");
        drop(items);
        self.not_full.notify_one();
        item
    }
    // ANCHOR_END: queue

    // ANCHOR: pop_with_if
    /// WRONG, kept to show why the wait is a loop: after one wait it assumes
    /// the queue holds an item. Returns `None` when that assumption failed.
    pub fn pop_with_if(&self) -> Option<T> {
        let mut items = self.items.lock().unwrap();
        if items.is_empty() {
            self.consumers_asleep.fetch_add(1, Ordering::Relaxed);
            items = self.not_empty.wait(items).unwrap();
            self.consumers_asleep.fetch_sub(1, Ordering::Relaxed);
        }
        // Between the notification and this thread getting the lock back,
        // any other consumer may have taken the item.
        let item = items.pop_front();
        drop(items);
        self.not_full.notify_one();
        item
    }
    // ANCHOR_END: pop_with_if

    /// For tests: the queue's lock, held to play a competing consumer at a
    /// chosen moment.
    #[cfg(test)]
    fn lock_items(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        self.items.lock().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{finishes, wait_until};
    use std::sync::{Arc, MutexGuard};
    use std::thread;

    fn spawn_consumer<T: Send + 'static>(
        queue: &Arc<BoundedQueue<T>>,
        pop: fn(&BoundedQueue<T>) -> Option<T>,
    ) -> thread::JoinHandle<Option<T>> {
        let queue = Arc::clone(queue);
        thread::spawn(move || pop(&queue))
    }

    /// Returns with the queue locked and its one consumer provably inside
    /// `wait`: it counted itself under the lock, and we now hold that lock.
    fn lock_with_consumer_asleep<T>(queue: &BoundedQueue<T>) -> MutexGuard<'_, VecDeque<T>> {
        let mut held = None;
        wait_until("the consumer is waiting", || {
            let items = queue.lock_items();
            let asleep = queue.consumers_asleep.load(Ordering::Relaxed) == 1;
            held = asleep.then_some(items);
            asleep
        });
        held.expect("set when the wait ended")
    }

    // ANCHOR: stolen_wakeup
    /// The notified consumer wakes, but another consumer (played here by the
    /// test, holding the lock) takes the item before it gets the lock back.
    fn steal_the_wakeup(queue: &BoundedQueue<u32>) {
        let mut items = lock_with_consumer_asleep(queue);
        items.push_back(7);
        queue.not_empty.notify_one();
        // Still holding the lock: the woken thread cannot look yet.
        assert_eq!(items.pop_front(), Some(7));
    }

    #[test]
    fn with_if_the_woken_consumer_finds_nothing() {
        let queue = Arc::new(BoundedQueue::new(4));
        let consumer = spawn_consumer(&queue, BoundedQueue::pop_with_if);
        steal_the_wakeup(&queue);
        assert_eq!(consumer.join().unwrap(), None, "woke up to an empty queue");
    }

    #[test]
    fn with_while_the_woken_consumer_waits_again() {
        let queue = Arc::new(BoundedQueue::new(4));
        let consumer = spawn_consumer(&queue, |q| Some(q.pop()));
        steal_the_wakeup(&queue);
        queue.push(8);
        assert_eq!(consumer.join().unwrap(), Some(8));
    }
    // ANCHOR_END: stolen_wakeup

    #[test]
    fn a_full_queue_makes_the_producer_wait_until_a_pop() {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.push(1);
        let producer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.push(2))
        };
        assert_eq!(queue.pop(), 1);
        producer.join().unwrap();
        assert_eq!(queue.pop(), 2);
    }

    #[test]
    fn every_item_arrives_exactly_once() {
        const PRODUCERS: u64 = 3;
        const ITEMS: u64 = 2_000;
        let received = finishes("producers and consumers", || {
            let queue = BoundedQueue::new(8);
            let mut received = Vec::new();
            thread::scope(|s| {
                for p in 0..PRODUCERS {
                    let queue = &queue;
                    s.spawn(move || (0..ITEMS).for_each(|i| queue.push(p * ITEMS + i)));
                }
                let consumers: Vec<_> = (0..PRODUCERS)
                    .map(|_| s.spawn(|| (0..ITEMS).map(|_| queue.pop()).collect::<Vec<_>>()))
                    .collect();
                for consumer in consumers {
                    received.extend(consumer.join().unwrap());
                }
            });
            received
        });
        let mut received = received;
        received.sort_unstable();
        assert_eq!(received, (0..PRODUCERS * ITEMS).collect::<Vec<_>>());
    }
}
