//! Data too big for one atomic, updated in place by a writer: build a new
//! copy, then swap one pointer. The hard part is not the swap but deciding
//! when the old copy may be freed.

use crate::sync::Mutex;
use crate::sync::atomic::{AtomicPtr, Ordering};

// ANCHOR: retire_on_drop
/// Readers follow one pointer to the current copy; a writer builds a whole
/// new copy and swaps the pointer. Old copies are *retired*, not freed: a
/// reader may still be inside one, and nothing here can tell when it leaves.
/// They are freed only when the structure itself is dropped, and the borrow
/// checker guarantees no reader's `&T` outlives that.
pub struct RetireOnDrop<T> {
    current: AtomicPtr<T>,
    retired: Mutex<Vec<*mut T>>,
}

// SAFETY: readers on many threads share `&T` (so `T: Sync`); copies are made
// on one thread and dropped on another (so `T: Send`).
unsafe impl<T: Send + Sync> Sync for RetireOnDrop<T> {}
unsafe impl<T: Send + Sync> Send for RetireOnDrop<T> {}

impl<T> RetireOnDrop<T> {
    pub fn new(value: T) -> Self {
        Self {
            current: AtomicPtr::new(Box::into_raw(Box::new(value))),
            retired: Mutex::new(Vec::new()),
        }
    }

    pub fn load(&self) -> &T {
        // Acquire, not relaxed: the reader needs the copy's *contents*, which
        // were written before the pointer was published. (The address
        // dependency orders this on real hardware, but Rust's memory model,
        // like C++'s, promises nothing for it; see the loom test below.)
        let current = self.current.load(Ordering::Acquire);
        // SAFETY: `current` came from `Box::into_raw` and is freed only in
        // `drop`, which cannot run while `&self` is borrowed.
        unsafe { &*current }
    }

    pub fn store(&self, value: T) {
        let new = Box::into_raw(Box::new(value));
        // Release publishes the new copy's contents (see `load`). The acquire
        // half of `AcqRel` is more than needed: this thread never reads the
        // old copy. The swap hands back the old pointer; readers may still be
        // using it.
        let old = self.current.swap(new, Ordering::AcqRel);
        self.retired.lock().unwrap().push(old);
    }
}

impl<T> Drop for RetireOnDrop<T> {
    fn drop(&mut self) {
        // `&mut self`: every reader's borrow has ended. Now, and only now,
        // can the old copies go.
        let retired = std::mem::take(&mut *self.retired.lock().unwrap());
        let current = self.current.load(Ordering::Acquire);
        for copy in retired.into_iter().chain([current]) {
            // SAFETY: each pointer came from `Box::into_raw` and appears once.
            drop(unsafe { Box::from_raw(copy) });
        }
    }
}
// ANCHOR_END: retire_on_drop

/// Freeing old copies while readers run, by reference counting.
#[cfg(not(loom))]
pub mod counted {
    use arc_swap::ArcSwap;
    use std::sync::{Arc, Mutex};

    // ANCHOR: arc_cell
    /// Copy-and-swap with `Arc`: every reader holds a counted reference to
    /// the copy it reads, so the copy lives exactly as long as someone reads
    /// it. The mutex is held only to clone or replace the `Arc`, never while
    /// anybody reads the data.
    pub struct ArcCell<T> {
        current: Mutex<Arc<T>>,
    }

    impl<T> ArcCell<T> {
        pub fn new(value: T) -> Self {
            Self {
                current: Mutex::new(Arc::new(value)),
            }
        }

        pub fn load(&self) -> Arc<T> {
            Arc::clone(&self.current.lock().unwrap())
        }

        pub fn store(&self, value: T) {
            let new = Arc::new(value); // built before taking the lock
            let old = std::mem::replace(&mut *self.current.lock().unwrap(), new);
            // `old` is dropped here, after the lock is released. If a reader
            // still holds a clone, this only lowers the count; the reader's
            // own drop frees the copy later.
            drop(old);
        }
    }
    // ANCHOR_END: arc_cell

    // ANCHOR: arc_swap
    /// The same idea with no lock at all on the read side: `ArcSwap` loads
    /// and counts the reference without a window in which the writer could
    /// free the copy between "read the pointer" and "count myself in".
    pub struct Config {
        pub version: u64,
        pub routes: Vec<String>,
    }

    pub fn read_routes(config: &ArcSwap<Config>) -> (u64, usize) {
        // A cheap guard for a short read; `load_full` gives an owned `Arc`
        // to keep for longer.
        let current = config.load();
        (current.version, current.routes.len())
    }

    pub fn add_route(config: &ArcSwap<Config>, route: &str) {
        // Read, copy, modify, swap: `rcu` retries the closure if another
        // writer swapped in between, so no update is lost.
        config.rcu(|old| {
            let mut routes = old.routes.clone();
            routes.push(route.to_owned());
            Config {
                version: old.version + 1,
                routes,
            }
        });
    }
    // ANCHOR_END: arc_swap
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::counted::{ArcCell, Config, add_route, read_routes};
    use super::*;
    use crate::testing::finishes;
    use arc_swap::ArcSwap;
    use std::sync::{Arc, Weak};
    use std::thread;

    #[test]
    fn retired_copies_stay_readable_until_the_structure_goes() {
        let snapshots = RetireOnDrop::new(vec![1, 2, 3]);
        let old = snapshots.load();
        snapshots.store(vec![4, 5]);
        assert_eq!(old, &[1, 2, 3], "the old copy is retired, not freed");
        assert_eq!(snapshots.load(), &[4, 5]);
    }

    #[test]
    fn readers_see_whole_copies_while_a_writer_swaps() {
        let snapshots = RetireOnDrop::new(vec![0u64; 16]);
        thread::scope(|s| {
            s.spawn(|| (1..2_000u64).for_each(|n| snapshots.store(vec![n; 16])));
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..2_000 {
                        let copy = snapshots.load();
                        assert!(
                            copy.iter().all(|x| *x == copy[0]),
                            "a copy changed under a reader"
                        );
                    }
                });
            }
        });
    }

    // ANCHOR: reclamation_test
    #[test]
    fn the_old_copy_lives_exactly_as_long_as_its_last_reader() {
        let cell = ArcCell::new(String::from("v1"));
        let reader_copy = cell.load();
        let watch: Weak<String> = Arc::downgrade(&reader_copy);

        cell.store(String::from("v2"));
        // The writer has moved on, but a reader is still inside v1.
        assert_eq!(watch.upgrade().as_deref().map(String::as_str), Some("v1"));
        assert_eq!(*cell.load(), "v2");

        drop(reader_copy);
        // The last reader left: v1 is gone, freed by that reader's drop.
        assert!(watch.upgrade().is_none());
    }
    // ANCHOR_END: reclamation_test

    #[test]
    fn arc_swap_frees_the_old_copy_after_its_last_reader() {
        let config = ArcSwap::from_pointee(Config {
            version: 1,
            routes: vec![],
        });
        let held = config.load_full();
        let watch = Arc::downgrade(&held);
        add_route(&config, "/a");
        assert!(watch.upgrade().is_some(), "a reader still holds version 1");
        drop(held);
        assert!(watch.upgrade().is_none(), "version 1 freed");
        assert_eq!(read_routes(&config), (2, 1));
    }

    #[test]
    fn concurrent_writers_lose_no_update_and_readers_see_consistent_copies() {
        let config = Arc::new(ArcSwap::from_pointee(Config {
            version: 0,
            routes: vec![],
        }));
        finishes("writers and readers on an ArcSwap", {
            let config = Arc::clone(&config);
            move || {
                thread::scope(|s| {
                    for w in 0..2 {
                        let config = &config;
                        s.spawn(move || {
                            (0..500).for_each(|i| add_route(config, &format!("/{w}/{i}")))
                        });
                    }
                    for _ in 0..2 {
                        s.spawn(|| {
                            for _ in 0..2_000 {
                                let (version, routes) = read_routes(&config);
                                assert_eq!(version as usize, routes, "a half-made copy");
                            }
                        });
                    }
                });
            }
        });
        assert_eq!(read_routes(&config), (1_000, 1_000));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::{Arc, UnsafeCell, thread};
    use crate::testing::explore;

    /// A copy whose contents loom can watch: each access is checked against
    /// happens-before.
    struct Watched(UnsafeCell<u64>);
    // SAFETY: written before publication only; loom verifies exactly that.
    unsafe impl Sync for Watched {}
    unsafe impl Send for Watched {}

    fn publish_then_read(reader_order: Ordering) {
        explore(
            &format!("pointer load with {reader_order:?}"),
            None,
            move || {
                let snapshots = Arc::new(RetireOnDrop::new(Watched(UnsafeCell::new(0))));
                let writer = {
                    let snapshots = Arc::clone(&snapshots);
                    thread::spawn(move || {
                        let copy = Watched(UnsafeCell::new(0));
                        copy.0.with_mut(|v| unsafe { *v = 42 });
                        snapshots.store(copy);
                    })
                };
                // Follow the pointer with the given ordering.
                let current = snapshots.current.load(reader_order);
                let seen = unsafe { &*current }.0.with(|v| unsafe { *v });
                assert!(seen == 0 || seen == 42);
                writer.join().unwrap();
            },
        );
    }

    // ANCHOR: loom_pointer
    #[test]
    fn loom_acquire_pointer_load_sees_the_new_copy_whole() {
        publish_then_read(Ordering::Acquire);
    }

    #[test]
    #[should_panic(expected = "Causality violation")]
    fn loom_relaxed_pointer_load_is_not_enough() {
        publish_then_read(Ordering::Relaxed);
    }
    // ANCHOR_END: loom_pointer
}
