//! When the data fits in one atomic, the atomic *is* the guard: relaxed
//! loads and stores are enough, because there is nothing else to order.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

// ANCHOR: packed
/// A `(generation, size)` pair that readers must never see half-updated.
/// Packed into one `u64`, every store replaces both halves at once.
#[derive(Debug, Default)]
pub struct PackedPair {
    bits: AtomicU64,
}

impl PackedPair {
    pub fn store(&self, generation: u32, size: u32) {
        // Relaxed: the pair is all there is to see. No other memory is
        // published through it, so there is nothing to order it against.
        self.bits.store(
            u64::from(generation) << 32 | u64::from(size),
            Ordering::Relaxed,
        );
    }

    pub fn load(&self) -> (u32, u32) {
        let bits = self.bits.load(Ordering::Relaxed);
        ((bits >> 32) as u32, bits as u32)
    }
}
// ANCHOR_END: packed

// ANCHOR: split
/// The same pair as two atomics: each half is atomic, the pair is not.
#[derive(Debug, Default)]
pub struct SplitPair {
    generation: AtomicU32,
    size: AtomicU32,
}

impl SplitPair {
    /// `between` runs after the first half is stored: the window in which a
    /// reader sees a new generation with an old size.
    pub fn store_with(&self, generation: u32, size: u32, between: impl FnOnce()) {
        self.generation.store(generation, Ordering::Relaxed);
        between();
        self.size.store(size, Ordering::Relaxed);
    }

    pub fn load(&self) -> (u32, u32) {
        (
            self.generation.load(Ordering::Relaxed),
            self.size.load(Ordering::Relaxed),
        )
    }
}
// ANCHOR_END: split

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::thread;

    fn size_of(generation: u32) -> u32 {
        generation.wrapping_mul(3)
    }

    #[test]
    fn a_packed_pair_is_never_torn_and_never_goes_back() {
        let pair = PackedPair::default();
        thread::scope(|s| {
            s.spawn(|| {
                for generation in 1..=100_000 {
                    pair.store(generation, size_of(generation));
                }
            });
            for _ in 0..2 {
                s.spawn(|| {
                    let mut last = 0;
                    for _ in 0..100_000 {
                        let (generation, size) = pair.load();
                        assert_eq!(size, size_of(generation), "torn pair");
                        // Even relaxed, one atomic's values are seen in one
                        // order by everyone: a reader never goes backwards.
                        assert!(generation >= last, "went back from {last} to {generation}");
                        last = generation;
                    }
                });
            }
        });
    }

    #[test]
    fn a_split_pair_can_be_seen_half_written() {
        let pair = SplitPair::default();
        let half_written = Barrier::new(2);
        let reader_looked = Barrier::new(2);
        thread::scope(|s| {
            s.spawn(|| {
                pair.store_with(1, size_of(1), || {
                    half_written.wait();
                    reader_looked.wait();
                })
            });
            half_written.wait();
            assert_eq!(pair.load(), (1, 0), "new generation, old size");
            reader_looked.wait();
        });
        assert_eq!(pair.load(), (1, 3));
    }
}
