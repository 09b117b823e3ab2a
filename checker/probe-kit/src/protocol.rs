//! The lines a probe writes to stdout for the checker.
//!
//! Learner code may print whatever it likes, so protocol lines carry a prefix
//! ([`PREFIX`]) followed by one JSON document; every other line is the learner's
//! own output, which the checker keeps as evidence.

use std::io::Write;

use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "@@kvlab ";

/// Criterion metadata as it travels to the checker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CriterionInfo {
    pub id: String,
    pub title: String,
    pub hint: String,
    pub book: String,
    pub deadline_secs: u64,
}

impl From<&crate::Info> for CriterionInfo {
    fn from(info: &crate::Info) -> Self {
        CriterionInfo {
            id: info.id.into(),
            title: info.title.into(),
            hint: info.hint.into(),
            book: info.book.into(),
            deadline_secs: info.deadline_secs,
        }
    }
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Message {
    Criteria { list: Vec<CriterionInfo> },
    Progress { what: String },
    Outcome { outcome: Outcome },
}

/// Writes one protocol line and flushes it at once, so that it survives a hang
/// or an abort that follows.
pub fn emit(message: &Message) {
    let json = serde_json::to_string(message).expect("protocol messages always serialize");
    let mut out = std::io::stdout().lock();
    // A closed stdout means the checker is gone; nobody is left to tell.
    let _ = writeln!(out, "{PREFIX}{json}");
    let _ = out.flush();
}

/// Reads a protocol line back; `None` for the learner's own output.
pub fn parse(line: &str) -> Option<Message> {
    serde_json::from_str(line.strip_prefix(PREFIX)?).ok()
}
