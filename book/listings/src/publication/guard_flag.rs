//! The guard-variable pattern: write the data, then raise a flag with a
//! release store; a reader that sees the flag with an acquire load sees the
//! data too, however big it is.

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Arc, UnsafeCell};
use std::mem::MaybeUninit;

// ANCHOR: slot
struct Shared<T> {
    /// The guard variable: `true` once `value` is written, never reset.
    ready: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: `value` is written once, by the publisher, before `ready` is set,
// and only read after `ready` is seen set (see `publish` and `get`). It is
// shared as `&T` by many threads (so `T: Sync`) and dropped by whichever
// thread lets go last (so `T: Send`).
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

/// The writing end. `publish` takes `self`: the type system, not a comment,
/// guarantees the value is written at most once.
pub struct Publisher<T> {
    shared: Arc<Shared<T>>,
}

/// A reading end; clone one per reader.
pub struct Subscriber<T> {
    shared: Arc<Shared<T>>,
}

pub fn slot<T>() -> (Publisher<T>, Subscriber<T>) {
    let shared = Arc::new(Shared {
        ready: AtomicBool::new(false),
        value: UnsafeCell::new(MaybeUninit::uninit()),
    });
    (
        Publisher {
            shared: Arc::clone(&shared),
        },
        Subscriber { shared },
    )
}
// ANCHOR_END: slot

// ANCHOR: publish
impl<T> Publisher<T> {
    pub fn publish(self, value: T) {
        // SAFETY: nobody reads `value` before `ready` is true, and `ready`
        // is still false: we are its only writer and have not set it yet.
        self.shared
            .value
            .with_mut(|slot| unsafe { (*slot).write(value) });
        // Release: every write this thread made before this store (the whole
        // value, however many bytes) happens-before anything a thread does
        // after an acquire load that reads this `true`.
        self.shared.ready.store(true, Ordering::Release);
    }
}

impl<T> Subscriber<T> {
    pub fn get(&self) -> Option<&T> {
        // Acquire: pairs with the release store above. With Relaxed here,
        // seeing the flag would not order the read below after the write in
        // `publish`: the two would be a data race, undefined behaviour, not
        // merely a read of old bytes.
        if self.shared.ready.load(Ordering::Acquire) {
            // SAFETY: `ready` was set after the value was written, and the
            // acquire load made that write visible to us. No one writes it again.
            Some(
                self.shared
                    .value
                    .with(|slot| unsafe { (*slot).assume_init_ref() }),
            )
        } else {
            None
        }
    }
}
// ANCHOR_END: publish

impl<T> Clone for Subscriber<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // `&mut self`: no other thread can hold a reference any more.
        if self.ready.load(Ordering::Acquire) {
            // SAFETY: written (ready is set) and dropped only here, once.
            self.value
                .with_mut(|slot| unsafe { (*slot).assume_init_drop() });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::testing::{finishes, wait_until};
    use std::sync::Barrier;
    use std::thread;

    /// Bigger than any atomic: 64 bytes that must be seen all or nothing.
    #[derive(Debug, Clone, PartialEq)]
    struct Table([u64; 8]);

    #[test]
    fn readers_see_nothing_or_everything() {
        for round in 0..200u64 {
            let (publisher, subscriber) = slot();
            let start = Arc::new(Barrier::new(4));
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let (subscriber, start) = (subscriber.clone(), Arc::clone(&start));
                    thread::spawn(move || {
                        start.wait();
                        // Until the flag is up there is nothing to see; once
                        // it is up, the table must be complete.
                        let mut table = None;
                        wait_until("the table is published", || {
                            table = subscriber.get().cloned();
                            table.is_some()
                        });
                        table.unwrap()
                    })
                })
                .collect();
            start.wait();
            publisher.publish(Table([round; 8]));
            for reader in readers {
                assert_eq!(reader.join().unwrap(), Table([round; 8]));
            }
        }
    }

    #[test]
    fn the_value_is_dropped_once_by_the_last_owner() {
        let witness = Arc::new(());
        let (publisher, subscriber) = slot();
        publisher.publish(Arc::clone(&witness));
        let reader = subscriber.clone();
        finishes("a reader on another thread", move || {
            assert!(reader.get().is_some())
        });
        assert_eq!(Arc::strong_count(&witness), 2, "still held by the slot");
        drop(subscriber);
        assert_eq!(Arc::strong_count(&witness), 1, "dropped with the last end");
    }

    #[test]
    fn an_unpublished_slot_reads_nothing_and_drops_nothing() {
        let (publisher, subscriber) = slot::<String>();
        assert!(subscriber.get().is_none());
        drop(publisher);
        assert!(subscriber.get().is_none());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::thread;
    use crate::testing::explore;

    // ANCHOR: loom_ok
    #[test]
    fn loom_release_acquire_publishes_the_whole_value() {
        explore("release/acquire flag", None, || {
            let (publisher, subscriber) = slot();
            let writer = thread::spawn(move || publisher.publish([1u64, 2, 3]));
            if let Some(value) = subscriber.get() {
                assert_eq!(*value, [1, 2, 3]);
            }
            writer.join().unwrap();
        });
    }
    // ANCHOR_END: loom_ok

    // ANCHOR: relaxed_broken
    /// The same pattern with both orderings relaxed: the flag is atomic,
    /// but nothing orders the data's write before the flag's.
    struct RelaxedFlag {
        ready: AtomicBool,
        value: UnsafeCell<u64>,
    }

    #[test]
    #[should_panic(expected = "Causality violation")]
    fn loom_relaxed_flag_can_show_the_flag_before_the_data() {
        explore("relaxed flag", None, || {
            let shared = Arc::new(RelaxedFlag {
                ready: AtomicBool::new(false),
                value: UnsafeCell::new(0),
            });
            let writer = {
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    shared.value.with_mut(|v| unsafe { *v = 42 });
                    shared.ready.store(true, Ordering::Relaxed); // WRONG
                })
            };
            if shared.ready.load(Ordering::Relaxed) {
                // WRONG
                let seen = shared.value.with(|v| unsafe { *v });
                assert_eq!(seen, 42);
            }
            writer.join().unwrap();
        });
    }
    // ANCHOR_END: relaxed_broken

    // SAFETY (for the test type): loom checks every access to `value`.
    unsafe impl Sync for RelaxedFlag {}
}
