//! Happens-before without any atomic: spawning a thread and joining it.

use super::Plain;
use crate::sync::{Arc, thread};

// ANCHOR: spawn_join
/// The main thread writes, a spawned thread reads and writes, the main
/// thread reads again. Three accesses to one plain variable on two threads,
/// and no data race: each is ordered before the next by happens-before.
pub fn spawn_then_join() -> u64 {
    let x = Arc::new(Plain::new(0));
    // SAFETY: no other thread exists yet.
    unsafe { x.set(1) };
    let child = {
        let x = Arc::clone(&x);
        // Everything before `spawn` happens-before everything in the child.
        thread::spawn(move || {
            // SAFETY: the main thread's write happens-before (spawn), and
            // it does not touch `x` again until after the join.
            unsafe { x.set(x.get() + 1) }
        })
    };
    // Everything in the child happens-before `join` returns.
    child.join().unwrap();
    // SAFETY: the child's write happens-before (join).
    unsafe { x.get() }
}
// ANCHOR_END: spawn_join

// ANCHOR: read_before_join
/// BROKEN: the main thread reads before the join, while the child may be
/// writing. Nothing orders the two accesses: a data race.
pub fn read_before_join() -> u64 {
    let x = Arc::new(Plain::new(0));
    let child = {
        let x = Arc::clone(&x);
        thread::spawn(move || unsafe { x.set(1) })
    };
    // SAFETY: none. This is the bug the listing shows.
    let seen = unsafe { x.get() };
    child.join().unwrap();
    seen
}
// ANCHOR_END: read_before_join

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_child_sees_the_parent_and_the_parent_sees_the_child() {
        for _ in 0..200 {
            assert_eq!(spawn_then_join(), 2);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::testing::outcomes;

    // ANCHOR: loom_spawn_join
    #[test]
    fn loom_spawn_and_join_order_everything() {
        let seen = outcomes("spawn, then join", spawn_then_join);
        assert_eq!(seen, [2].into());
    }
    // ANCHOR_END: loom_spawn_join

    #[test]
    #[should_panic(expected = "Causality violation")]
    fn loom_a_read_before_the_join_is_a_data_race() {
        outcomes("read before join", read_before_join);
    }
}
