//! Runs the stress test on lesson 02's store and prints its report:
//! `just stress --seed 7`, or `cargo run -- --seed 7` in this folder.

use std::process::ExitCode;
use std::sync::Arc;

use lesson03_stress_test::{ConcurrentStore, StressConfig, run_stress};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = match args.as_slice() {
        [] => 0,
        [flag, seed] if flag == "--seed" => match seed.parse() {
            Ok(seed) => seed,
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let config = StressConfig {
        seed,
        ..StressConfig::default()
    };
    let report = run_stress(Arc::new(ConcurrentStore::new()), &config);
    println!("{report}");
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: stress [--seed N]");
    ExitCode::from(2)
}
