//! Counts the allocations of one chosen size, made by any thread of the probe.
//!
//! A SET that builds its command before it asks for the lock allocates the value's
//! bytes first; one that builds it under the lock allocates them only once it is
//! in. Given a value of a length nothing else in the probe allocates, the count
//! at the moment the SET is seen waiting for the lock says which it did.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// The system allocator, with a count of the allocations of [`SIZE`] bytes.
struct Counting;

/// The size being counted; 0 counts nothing (no allocation has size 0).
static SIZE: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is handed to the system allocator unchanged; the count is
// one atomic addition, which neither allocates nor can fail.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() == SIZE.load(SeqCst) {
            COUNT.fetch_add(1, SeqCst);
        }
        // SAFETY: the caller's contract for `layout` is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts, from now on, the allocations of exactly `size` bytes.
pub fn count(size: usize) {
    COUNT.store(0, SeqCst);
    SIZE.store(size, SeqCst);
}

/// How many allocations of the counted size were made since [`count`].
pub fn counted() -> usize {
    COUNT.load(SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_of_the_counted_size_is_seen() {
        count(77);
        let value = "v".repeat(77);
        assert!(counted() >= 1);
        drop(value);
        count(0);
    }
}
