//! Work in phases: nobody starts phase two until everybody finished phase one.

use std::sync::{Barrier, OnceLock};
use std::thread;

// ANCHOR: phases
/// For each chunk, the sum of all the chunks before it: where that chunk's
/// output would start if the chunks were laid end to end. One thread per
/// chunk.
pub fn chunk_offsets(chunks: &[Vec<u64>]) -> Vec<u64> {
    // One slot per worker, written once in phase one, read by all in phase
    // two. `OnceLock` makes each value safely visible to other threads;
    // the barrier makes sure it has been written before anyone looks.
    let totals: Vec<OnceLock<u64>> = chunks.iter().map(|_| OnceLock::new()).collect();
    let phase_one_done = Barrier::new(chunks.len());

    thread::scope(|s| {
        let workers: Vec<_> = chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let (totals, phase_one_done) = (&totals, &phase_one_done);
                s.spawn(move || {
                    // Phase one: everyone works on their own chunk.
                    totals[i]
                        .set(chunk.iter().sum())
                        .expect("each slot is set once");

                    phase_one_done.wait();

                    // Phase two: everyone reads what the others wrote.
                    totals[..i]
                        .iter()
                        .map(|slot| slot.get().expect("the barrier waited for every writer"))
                        .sum::<u64>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    })
}
// ANCHOR_END: phases

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn offsets_match_a_sequential_prefix_sum() {
        let chunks: Vec<Vec<u64>> = (1..=6).map(|n| (0..n * 100).collect()).collect();
        let expected: Vec<u64> = chunks
            .iter()
            .scan(0, |before, chunk| {
                let here = *before;
                *before += chunk.iter().sum::<u64>();
                Some(here)
            })
            .collect();
        // Repeat: a missing barrier would show up as an occasional `expect`
        // failure, so a single run proves little.
        for _ in 0..50 {
            assert_eq!(chunk_offsets(&chunks), expected);
        }
    }

    #[test]
    fn a_barrier_can_be_reused_and_elects_one_leader_per_round() {
        const THREADS: usize = 4;
        const ROUNDS: usize = 10;
        let barrier = Barrier::new(THREADS);
        let leaders = Mutex::new(vec![0; ROUNDS]);
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for round in 0..ROUNDS {
                        if barrier.wait().is_leader() {
                            leaders.lock().unwrap()[round] += 1;
                        }
                    }
                });
            }
        });
        assert_eq!(*leaders.lock().unwrap(), vec![1; ROUNDS]);
    }
}
