//! The reference explored by the model checker, as the checker explores a learner's.

use std::sync::Arc;

use kvlab_sync::probe_hooks::{Bounds, Outcome, model, thread};
use solution06_own_locks::{BoundedQueue, RwLock};

const BOUNDS: Bounds = Bounds {
    preemptions: 3,
    max_branches: 10_000,
};

fn passes(outcome: Outcome) -> usize {
    match outcome {
        Outcome::AllPassed { interleavings } => interleavings,
        Outcome::Failed {
            message, timeline, ..
        } => panic!("{message}\n{}", kvlab_sync::probe_hooks::render(&timeline)),
    }
}

#[test]
fn two_consumers_one_producer() {
    let n = passes(model(BOUNDS, || {
        let queue = Arc::new(BoundedQueue::new(1));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || queue.pop())
            })
            .collect();
        queue.push(1);
        queue.push(2);
        let mut got: Vec<u64> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        got.sort();
        assert_eq!(got, [1, 2]);
    }));
    eprintln!("queue: {n} interleavings");
}

#[test]
fn two_writers_one_reader() {
    let n = passes(model(BOUNDS, || {
        let lock = Arc::new(RwLock::new(0u64));
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || *lock.write() += 1)
            })
            .collect();
        let seen = *lock.read();
        assert!(seen <= 2);
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(*lock.read(), 2);
    }));
    eprintln!("lock: {n} interleavings");
}
