//! How long a warm `checker check N --solution` takes, per lesson: the learner's
//! loop should not wait on a passing lesson. Runs the already built checker binary
//! (build it first with `cargo build -p checker`), 11 times per lesson, interleaved,
//! and prints the median and the slowest run. A benchmark, never a test: the
//! machine is shared and its timings are noisy.
//!
//!     cargo run --release -p kvlab-bench --bin warm-check [path/to/checker]

use std::process::Command;
use std::time::{Duration, Instant};

const ROUNDS: usize = 11;
const LESSONS: [&str; 5] = ["lesson01", "lesson02", "lesson03", "lesson04", "lesson05"];

fn main() {
    let checker = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/debug/checker".to_owned());
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); LESSONS.len()];
    for round in 0..ROUNDS {
        for (i, lesson) in LESSONS.iter().enumerate() {
            let started = Instant::now();
            let output = Command::new(&checker)
                .args(["check", lesson, "--solution", "--seed", &round.to_string()])
                .output()
                .unwrap_or_else(|e| panic!("cannot run {checker}: {e} (build it first)"));
            let took = started.elapsed();
            assert!(
                output.status.success(),
                "{lesson} --solution failed:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
            times[i].push(took);
        }
    }
    println!("| lesson | median | slowest | runs |");
    println!("|---|---|---|---|");
    for (lesson, mut runs) in LESSONS.iter().zip(times) {
        runs.sort();
        println!(
            "| {lesson} | {:.2} s | {:.2} s | {ROUNDS} |",
            runs[ROUNDS / 2].as_secs_f64(),
            runs[ROUNDS - 1].as_secs_f64()
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nload average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
