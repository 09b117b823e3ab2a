//! How a probe and the checker talk, and why the checker can believe what it hears.
//!
//! Learner code runs inside the probe process, so nothing it can reach may carry a
//! result. stdout and stderr are the learner's: the checker keeps them as evidence
//! and never reads a verdict from them. Instead:
//!
//! 1. The checker writes one [`Request`] to the probe's stdin and closes it: which
//!    criterion, which seed, a per-run secret, and the path of a Unix socket that
//!    only the checker listens on. The criterion and seed are in no argument and no
//!    environment variable, so learner code cannot see which criterion is running.
//! 2. The harness ([`crate::probe_main`]) reads the request before it calls any
//!    learner code (a lesson crate may not contain code that runs before `main`),
//!    connects to the socket and sends [`Message::Hello`] with the secret.
//! 3. The checker accepts that one connection and unlinks the socket, so no other
//!    process can connect. Safe Rust cannot write to a socket it did not open (there
//!    is no safe way to turn a descriptor number into a handle, and a socket cannot
//!    be reopened through `/proc/self/fd`), so every later message on the connection
//!    comes from the harness.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

/// What the checker asks of one probe process, on its stdin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    pub criterion: String,
    pub seed: u64,
    /// Proves to the checker that a connection is the harness's.
    pub secret: String,
    /// The Unix socket to report on.
    pub socket: String,
}

/// How a criterion ended, as far as the probe can tell. Hangs and crashes are
/// seen by the checker from outside: the probe never gets to report them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail {
        expected: String,
        seen: String,
        detail: Option<String>,
        /// A hint that follows the evidence, in place of the criterion's own.
        hint: Option<String>,
        /// A thread never returned: a hang the criterion saw from inside.
        #[serde(default)]
        stuck: bool,
    },
    /// An item for review ran: what a person should read, never a pass or a fail.
    ForReview {
        summary: String,
        detail: Option<String>,
    },
    /// The implementation reached a `todo!()`; `step` is its message.
    NotImplemented {
        step: String,
    },
    /// The implementation (or a thread it started) panicked.
    Panic {
        message: String,
        location: Option<String>,
    },
}

/// One line on the channel, from the harness to the checker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Message {
    /// The first line: the request's secret, sent back.
    Hello { secret: String },
    /// What the criterion is about to do; the last one names a hang.
    Progress { what: String },
    /// The criterion's result; the harness exits right after it.
    Outcome { outcome: Outcome },
}

/// The harness's end of the channel; unset outside a probe process (in unit tests,
/// say), where [`send`] does nothing.
static CHANNEL: OnceLock<Mutex<UnixStream>> = OnceLock::new();

/// Connects to the checker and introduces the harness. Called once, by the harness,
/// before any learner code runs.
pub(crate) fn connect(request: &Request) -> std::io::Result<()> {
    let stream = UnixStream::connect(&request.socket)?;
    CHANNEL
        .set(Mutex::new(stream))
        .map_err(|_| std::io::Error::other("the channel is already open"))?;
    send(&Message::Hello {
        secret: request.secret.clone(),
    });
    Ok(())
}

/// Sends one message as a line of JSON, at once, so that it survives a hang or an
/// abort that follows.
pub fn send(message: &Message) {
    let Some(channel) = CHANNEL.get() else {
        return;
    };
    let json = serde_json::to_string(message).expect("protocol messages always serialize");
    let mut stream = channel.lock().unwrap_or_else(|e| e.into_inner());
    // A closed channel means the checker is gone; nobody is left to tell.
    let _ = writeln!(stream, "{json}");
    let _ = stream.flush();
}

/// Reads one channel line back; `None` for a line that is not a message.
pub fn parse(line: &str) -> Option<Message> {
    serde_json::from_str(line).ok()
}
