//! Helpers shared by the benchmarks: the binaries under `src/bin/` and the criterion
//! benchmark under `benches/`.

pub mod strategies;

use std::time::Duration;

/// The median of `runs` timings of `f`, which the book reports (less noisy than the mean
/// on a shared machine).
pub fn median_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

/// One line naming the machine, printed above every table.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores available, {} {}, release build",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
