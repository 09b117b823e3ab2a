//! The reference's code and its design block, with an argument that says nothing:
//! every section is the same filler, long enough to look like work. The design's
//! claims are true, so they pass; the argument is reported for review like any
//! other, never as passed, because no count of words can tell it from a real one.

pub use crate::watched_reference::*;

const FILLER: &str = "This section explains the rule. The store follows this rule carefully \
    and correctly in every case, as the code shows, so it is always safe, fast and \
    correct for every thread.";

/// The same filler under every heading, after the reference's design block.
pub static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let design_ends = crate::watched_reference::POLICY
        .find("## Single-writer rule")
        .expect("the reference's policy has its sections");
    let mut policy = crate::watched_reference::POLICY[..design_ends].to_owned();
    for heading in crate::criteria::POLICY_SECTIONS {
        policy += &format!("## {heading}\n\n{FILLER}\n\n");
    }
    policy
});
