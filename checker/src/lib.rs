//! The checker as a library: the binary in main.rs is a thin command line over it,
//! and the tests drive the same code. ARCHITECTURE.md has the map.

pub mod build;
pub mod check;
pub mod cli;
pub mod diff;
pub mod functions;
pub mod grade;
pub mod hints;
pub mod inspect;
pub mod lessons;
pub mod probe;
pub mod progress;
pub mod report;
pub mod stubs;
pub mod terminal;
pub mod watch;
pub mod workspace;
