//! The probe process's harness: take the request, open the channel, run one
//! criterion, report, exit.

use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use crate::protocol::{self, Message, Outcome, Request};
use crate::{Ctx, Finding, Probe};

/// The message `todo!("...")` panics with, before its argument.
const TODO_PREFIX: &str = "not yet implemented";

/// Where the panic hook leaves the first panic it saw, with its location.
static FIRST_PANIC: Mutex<Option<(String, Option<String>)>> = Mutex::new(None);

/// The `main` of every probe process. Reads the checker's [`Request`] from stdin
/// before anything else happens, so the criterion and the secret are in the
/// harness's hands before any learner code can run. Never returns: the process
/// exits as soon as the outcome is sent, because a thread stuck in learner code
/// would otherwise keep it alive.
pub fn probe_main(probe: &dyn Probe) -> ! {
    let mut input = String::new();
    let request: Request = match std::io::stdin()
        .read_to_string(&mut input)
        .ok()
        .and_then(|_| serde_json::from_str(&input).ok())
    {
        Some(request) => request,
        None => {
            eprintln!(
                "this is a kvlab probe: the checker starts it and sends it its request on \
                 stdin. To grade a lesson, run `cargo kvlab check lesson01`."
            );
            std::process::exit(2)
        }
    };
    if let Err(error) = protocol::connect(&request) {
        eprintln!(
            "the probe cannot reach the checker at {}: {error}",
            request.socket
        );
        std::process::exit(2)
    }
    let outcome = run_caught(probe, &request.criterion, &Ctx::new(request.seed));
    protocol::send(&Message::Outcome { outcome });
    std::process::exit(0)
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
        (Ok(None), _) => Outcome::Fail {
            expected: format!("a criterion `{id}` in this probe"),
            seen: "no such criterion: the probe was built from other sources than the checker"
                .into(),
            detail: None,
            hint: None,
            stuck: false,
        },
        (_, Some((message, location))) => classify_panic(message, location),
        (Ok(Some(Finding::Pass)), None) => Outcome::Pass,
        (Ok(Some(Finding::Fail(f))), None) => Outcome::Fail {
            expected: f.expected,
            seen: f.seen,
            detail: f.detail,
            hint: f.hint,
            stuck: f.stuck,
        },
        (Ok(Some(Finding::ForReview(review))), None) => Outcome::ForReview {
            summary: review.summary,
            detail: review.detail,
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

/// Forgets the panic recorded so far, unless it is a `todo!()`: for a criterion that
/// reports a panic it caught as its own evidence, while an unwritten step is still
/// reported as "not implemented yet".
pub fn forget_recorded_panic() {
    let mut first = FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
    if first
        .as_ref()
        .is_some_and(|(message, _)| !message.starts_with(TODO_PREFIX))
    {
        *first = None;
    }
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
