//! The probe process's main loop: `list` the criteria, or `run` one of them.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use crate::protocol::{self, CriterionInfo, Message, Outcome};
use crate::{Ctx, Probe};

const USAGE: &str = "usage: <probe> list | run <criterion-id> --seed <n>";

/// The message `todo!("...")` panics with, before its argument.
const TODO_PREFIX: &str = "not yet implemented";

/// Where the panic hook leaves the first panic it saw, with its location.
static FIRST_PANIC: Mutex<Option<(String, Option<String>)>> = Mutex::new(None);

/// Runs a probe with the given command-line arguments (without the program name).
/// Never returns: the process exits as soon as the outcome is written, because a
/// thread stuck in learner code would otherwise keep it alive.
pub fn probe_main(probe: &dyn Probe, args: &[String]) -> ! {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["list"] => {
            let list = probe.criteria().iter().map(CriterionInfo::from).collect();
            protocol::emit(&Message::Criteria { list });
            std::process::exit(0)
        }
        ["run", id, "--seed", seed] => {
            let Ok(seed) = seed.parse() else {
                usage_error()
            };
            if !probe.criteria().iter().any(|c| c.id == *id) {
                eprintln!("unknown criterion `{id}`");
                std::process::exit(2)
            }
            let outcome = run_caught(probe, id, &Ctx::new(seed));
            protocol::emit(&Message::Outcome { outcome });
            std::process::exit(0)
        }
        _ => usage_error(),
    }
}

fn usage_error() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

/// Runs the criterion, turning a panic anywhere in the process into an outcome.
fn run_caught(probe: &dyn Probe, id: &str, ctx: &Ctx) -> Outcome {
    // Record the first panic with its location, and keep the default hook quiet:
    // the learner gets a one-line reason, not a backtrace.
    panic::set_hook(Box::new(|info| {
        let message = info
            .payload_as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| "a panic with a non-text payload".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        let mut first = FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert((message, location));
    }));

    let result = panic::catch_unwind(AssertUnwindSafe(|| probe.run(id, ctx)));
    // A panic on another thread may have been turned into a failure or a hang by the
    // criterion; the first panic is still the most useful thing to report.
    let first_panic = take_recorded_panic();
    match (result, first_panic) {
        (_, Some((message, location))) => classify_panic(message, location),
        (Ok(Ok(())), None) => Outcome::Pass,
        (Ok(Err(f)), None) => Outcome::Fail {
            expected: f.expected,
            seen: f.seen,
            detail: f.detail,
        },
        (Err(_), None) => Outcome::Panic {
            message: "panicked".into(),
            location: None,
        },
    }
}

/// Takes the panic recorded so far, if any. A criterion that *expects* a panic (a
/// planted broken store that panics, say) calls this so that the panic it provoked
/// is not reported against the implementation under test.
pub fn take_recorded_panic() -> Option<(String, Option<String>)> {
    FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take()
}

fn classify_panic(message: String, location: Option<String>) -> Outcome {
    match message.strip_prefix(TODO_PREFIX) {
        Some(rest) => {
            let step = rest.trim_start_matches(':').trim();
            let step = if step.is_empty() {
                "a todo!() without a message"
            } else {
                step
            };
            Outcome::NotImplemented {
                step: step.to_owned(),
            }
        }
        None => Outcome::Panic { message, location },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todo_messages_become_not_implemented() {
        let outcome = classify_panic("not yet implemented: step 2: Store::set".into(), None);
        assert_eq!(
            outcome,
            Outcome::NotImplemented {
                step: "step 2: Store::set".into()
            }
        );
    }

    #[test]
    fn other_panics_keep_message_and_location() {
        let outcome = classify_panic("index out of bounds".into(), Some("src/lib.rs:3".into()));
        assert!(matches!(outcome, Outcome::Panic { .. }));
    }
}
