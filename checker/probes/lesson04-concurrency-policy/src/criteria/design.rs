//! The design POLICY.md declares, in its ```` ```design ```` block, checked against
//! what a watched tour of the store saw: every claim the code contradicts fails, and
//! the report quotes the claim beside what was seen.
//!
//! The block names the store's locks; the code has only addresses. The checker
//! matches the two by trying every way of giving the declared names to the locks it
//! saw (of the right kinds) and keeping the one that leaves the fewest claims false:
//! a learner is never failed for a naming the checker guessed wrong.

use std::fmt::Write as _;

use parking_lot::kvlab_watch::{Kind, LockId, Side};
use probe_kit::{Ctx, Failure, Verdict};

use super::tour::{LockNames, Walk, kind_name, locks_seen, tour, with_side};
use crate::Subject;
use crate::lab::{DiskOp, Seam};

/// The forms a claim takes, for a block the checker cannot read.
const FORMS: &str = "The block holds one claim per line:
  lock NAME: Mutex|RwLock, guards WHAT[, WHAT...]   (one line per lock the store takes)
  order: NAME, NAME, ...                           (the order a thread takes them in)
  read holds: NAME SIDE, ... | nothing             (while get reads the state)
  snapshot copy holds: NAME SIDE, ... | nothing    (while a snapshot copies the state)
  snapshot write holds: NAME SIDE, ... | nothing   (while a snapshot is written or saved)
SIDE is shared or exclusive (a Mutex has no side: write its name alone). The checker
observes what `guards the hook` and `guards the state` mean (held whenever the hook is
called, held whenever a write is applied); other things a lock guards are for the reader.";

/// One line of the block, for quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    number: usize,
    text: String,
}

impl Line {
    fn quote(&self) -> String {
        format!("`{}` (POLICY.md line {})", self.text, self.number)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LockClaim {
    line: Line,
    name: String,
    kind: Kind,
    guards_hook: bool,
    guards_state: bool,
}

/// A lock held, as declared: by name, with its side (none for a Mutex).
type Held = (String, Option<Side>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct HoldsClaim {
    line: Line,
    held: Vec<Held>,
}

/// The declared design.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Design {
    locks: Vec<LockClaim>,
    order: Option<(Line, Vec<String>)>,
    read: HoldsClaim,
    copy: HoldsClaim,
    write: HoldsClaim,
}

pub fn policy_design<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    // The code first: a store that is not written yet is "not implemented", whatever
    // the policy says.
    let walks = tour(subject, ctx)?;
    ctx.progress("reading the design POLICY.md declares");
    let design = parse(subject.policy())?;
    check(&design, &walks)
}

fn unreadable(seen: impl std::fmt::Display) -> Failure {
    Failure::new(
        "POLICY.md declares the store's design in a ```design block",
        seen,
    )
    .with_detail(FORMS)
    .with_hint(
        "Under `## Design`, between a line ```design and a line ```, write one claim a \
         line: each lock your store takes, the order a thread takes them in, and what a \
         read, a snapshot's copy and a snapshot's write hold. The book's Step 8 shows the \
         forms, with another design's block as an example.",
    )
}

/// The block's lines, numbered as in the file.
fn block(text: &str) -> Result<Vec<Line>, Failure> {
    let mut lines = text.lines().enumerate();
    let mut found = None;
    while let Some((at, line)) = lines.next() {
        let Some(info) = line.trim().strip_prefix("```") else {
            continue;
        };
        let mut inside = Vec::new();
        let mut closed = false;
        for (at, line) in lines.by_ref() {
            if line.trim().starts_with("```") {
                closed = true;
                break;
            }
            inside.push(Line {
                number: at + 1,
                text: line.trim().to_owned(),
            });
        }
        if info.trim() != "design" {
            continue;
        }
        if !closed {
            return Err(unreadable(format!(
                "the ```design block that opens on line {} is never closed with ```",
                at + 1
            )));
        }
        if found.is_some() {
            return Err(unreadable(format!(
                "a second ```design block opens on line {}: keep one",
                at + 1
            )));
        }
        found = Some(inside);
    }
    found.ok_or_else(|| unreadable("POLICY.md has no ```design block"))
}

fn words(list: &str) -> Vec<String> {
    list.split(',')
        .flat_map(|part| part.split(" and "))
        .map(|word| word.trim().trim_start_matches("the ").trim().to_lowercase())
        .filter(|word| !word.is_empty())
        .collect()
}

fn parse(text: &str) -> Result<Design, Failure> {
    let lines: Vec<Line> = block(text)?
        .into_iter()
        .filter(|line| !line.text.is_empty() && !line.text.starts_with('#'))
        .collect();
    if let Some(todo) = lines.iter().find(|line| line.text.contains("TODO")) {
        return Err(unreadable(format!(
            "the design block still says TODO: {}",
            todo.quote()
        )));
    }
    let mut locks: Vec<LockClaim> = Vec::new();
    let mut order = None;
    let (mut read, mut copy, mut write) = (None, None, None);
    for line in &lines {
        let Some((key, value)) = line.text.split_once(':') else {
            return Err(unreadable(format!(
                "{} is not a claim: a claim is `what: value`",
                line.quote()
            )));
        };
        let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
        let key = key.to_lowercase();
        let value = value.trim();
        if let Some(name) = key.strip_prefix("lock ") {
            let name = name.trim().to_owned();
            if locks.iter().any(|lock| lock.name == name) {
                return Err(unreadable(format!(
                    "{} declares `{name}` a second time",
                    line.quote()
                )));
            }
            let (kind, guards) = value.split_once(',').unwrap_or((value, ""));
            let kind = match kind.trim().to_lowercase().as_str() {
                "mutex" => Kind::Mutex,
                "rwlock" => Kind::RwLock,
                other => {
                    return Err(unreadable(format!(
                        "{}: `{other}` is not a kind of lock the checker knows; write Mutex \
                         or RwLock (parking_lot's)",
                        line.quote()
                    )));
                }
            };
            let guards = words(guards.trim().trim_start_matches("guards"));
            locks.push(LockClaim {
                line: line.clone(),
                name,
                kind,
                guards_hook: guards.iter().any(|g| g == "hook"),
                guards_state: guards.iter().any(|g| g == "state"),
            });
        } else if key == "order" {
            let names = value
                .replace("->", ",")
                .replace(" then ", ",")
                .replace(" before ", ",");
            order = Some((
                line.clone(),
                names
                    .split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect::<Vec<String>>(),
            ));
        } else {
            let slot = match key.as_str() {
                "read holds" => &mut read,
                "snapshot copy holds" => &mut copy,
                "snapshot write holds" => &mut write,
                _ => {
                    return Err(unreadable(format!(
                        "{} is not a claim the checker knows",
                        line.quote()
                    )));
                }
            };
            *slot = Some(line.clone());
        }
    }
    if locks.is_empty() {
        return Err(unreadable(
            "the design block declares no lock: one `lock NAME: KIND, guards ...` line for \
             each lock the store takes",
        ));
    }
    let declared = |name: &str, line: &Line| -> Result<Kind, Failure> {
        let lock = locks.iter().find(|lock| lock.name == name);
        lock.map(|lock| lock.kind).ok_or_else(|| {
            unreadable(format!(
                "{} names `{name}`, which no `lock` line declares (the locks are {})",
                line.quote(),
                locks
                    .iter()
                    .map(|lock| format!("`{}`", lock.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    };
    if let Some((line, names)) = &order {
        for name in names {
            declared(name, line)?;
        }
    }
    let holds = |line: Option<Line>, what: &str| -> Result<HoldsClaim, Failure> {
        let line =
            line.ok_or_else(|| unreadable(format!("the design block has no `{what}:` line")))?;
        let value = line.text.split_once(':').map_or("", |(_, v)| v).trim();
        let mut held = Vec::new();
        if !value.eq_ignore_ascii_case("nothing") {
            for part in value.split(',') {
                let mut words = part.split_whitespace();
                let name = words.next().unwrap_or_default();
                let kind = declared(name, &line)?;
                let side = match (words.next().map(str::to_lowercase).as_deref(), kind) {
                    (None, Kind::Mutex) => None,
                    (Some("shared"), Kind::RwLock) => Some(Side::Shared),
                    (Some("exclusive"), Kind::RwLock) => Some(Side::Exclusive),
                    (Some("upgradable"), Kind::RwLock) => Some(Side::Upgradable),
                    (None, Kind::RwLock) => {
                        return Err(unreadable(format!(
                            "{}: say which side of `{name}` is held: `{name} shared` or \
                             `{name} exclusive`",
                            line.quote()
                        )));
                    }
                    (Some(other), _) => {
                        return Err(unreadable(format!(
                            "{}: `{name} {other}` is not a lock and a side (a Mutex has no \
                             side; an RwLock's is shared or exclusive)",
                            line.quote()
                        )));
                    }
                };
                held.push((name.to_owned(), side));
            }
        }
        Ok(HoldsClaim { line, held })
    };
    let read = holds(read, "read holds")?;
    let copy = holds(copy, "snapshot copy holds")?;
    let write = holds(write, "snapshot write holds")?;
    if locks.len() > 1 && order.is_none() {
        return Err(unreadable(
            "the design block declares more than one lock and no `order:` line",
        ));
    }
    Ok(Design {
        locks,
        order,
        read,
        copy,
        write,
    })
}

/// The declared names given to the locks the tour saw: `names[i]` is the name of
/// `seen[i]`.
struct Naming<'a> {
    seen: &'a [LockId],
    names: Vec<&'a str>,
}

impl Naming<'_> {
    fn name(&self, lock: LockId) -> Option<&str> {
        let at = self.seen.iter().position(|l| *l == lock)?;
        Some(self.names[at])
    }

    fn lock(&self, name: &str) -> Option<LockId> {
        let at = self.names.iter().position(|n| *n == name)?;
        Some(self.seen[at])
    }

    /// Locks held, in the policy's words.
    fn held(&self, held: &[(LockId, Side)]) -> String {
        let mut named: Vec<String> = Vec::new();
        for &(lock, side) in held {
            let name = format!("`{}`", self.name(lock).unwrap_or("?"));
            let name = with_side(name, (lock, side));
            if !named.contains(&name) {
                named.push(name);
            }
        }
        match named.len() {
            0 => "holding nothing".to_owned(),
            _ => format!("holding {}", named.join(" and ")),
        }
    }
}

fn check(design: &Design, walks: &[Walk]) -> Verdict {
    let seen = locks_seen(walks);
    let mut declared_kinds: Vec<Kind> = design.locks.iter().map(|l| l.kind).collect();
    let mut seen_kinds: Vec<Kind> = seen.iter().map(|l| l.kind()).collect();
    declared_kinds.sort();
    seen_kinds.sort();
    if declared_kinds != seen_kinds {
        return Err(Failure::new(
            "the locks POLICY.md declares are the locks the store takes",
            format!(
                "it declares {}; the store takes {}",
                count_kinds(&declared_kinds),
                count_kinds(&seen_kinds)
            ),
        )
        .with_detail(who_takes_what(walks, &seen)));
    }
    let mut best: Option<(Vec<String>, Vec<&str>)> = None;
    for names in namings(design, &seen) {
        let naming = Naming { seen: &seen, names };
        let contradictions = contradictions(design, walks, &naming);
        if best
            .as_ref()
            .is_none_or(|(fewest, _)| contradictions.len() < fewest.len())
        {
            best = Some((contradictions, naming.names));
        }
    }
    let (contradictions, names) = best.expect("kinds that match give at least one naming");
    let Some(first) = contradictions.first() else {
        return Ok(());
    };
    let naming = Naming { seen: &seen, names };
    let mut detail = String::new();
    for more in &contradictions[1..] {
        let _ = writeln!(detail, "also: {more}");
    }
    let _ = write!(detail, "{}", how_named(walks, &naming));
    Err(Failure::new(
        "the design POLICY.md declares is what the code does",
        first.clone(),
    )
    .with_detail(detail)
    .with_hint(
        "Either the code or the claim is wrong: decide which design you mean, then make \
         the other say the same. The claim is quoted with its line in POLICY.md; what the \
         code did is what a watched run of each path of the store saw.",
    ))
}

/// "a Mutex and 2 RwLocks", or "no lock the checker can see".
fn count_kinds(kinds: &[Kind]) -> String {
    if kinds.is_empty() {
        return "no lock the checker can see (it watches parking_lot's Mutex and RwLock; \
                std's are invisible to it)"
            .to_owned();
    }
    let mut parts = Vec::new();
    for (kind, plural) in [(Kind::Mutex, "Mutexes"), (Kind::RwLock, "RwLocks")] {
        match kinds.iter().filter(|k| **k == kind).count() {
            0 => {}
            1 => parts.push(format!("one {}", kind_name(kind))),
            n => parts.push(format!("{n} {plural}")),
        }
    }
    parts.join(" and ")
}

/// Each lock the tour saw, with the paths that asked for it.
fn who_takes_what(walks: &[Walk], seen: &[LockId]) -> String {
    let names = LockNames(seen.to_vec());
    let mut out = String::new();
    for &lock in seen {
        let _ = writeln!(
            out,
            "{} is taken by {}",
            names.name(lock),
            takers(walks, lock)
        );
    }
    out
}

fn takers(walks: &[Walk], lock: LockId) -> String {
    walks
        .iter()
        .filter(|walk| walk.requests.iter().any(|r| r.lock == lock))
        .map(|walk| walk.path)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the declared names were given to the locks seen, for the report.
fn how_named(walks: &[Walk], naming: &Naming) -> String {
    let mut out = String::from("The checker matched your names to the store's locks so:");
    for (lock, name) in naming.seen.iter().zip(&naming.names) {
        let _ = write!(
            out,
            "\n  `{name}` is the {} that {} ask for",
            kind_name(lock.kind()),
            takers(walks, *lock)
        );
    }
    out
}

/// Every way of giving the declared names to the locks seen, kinds matching.
fn namings<'a>(design: &'a Design, seen: &[LockId]) -> Vec<Vec<&'a str>> {
    fn extend<'a>(
        design: &'a Design,
        seen: &[LockId],
        so_far: &mut Vec<&'a str>,
        all: &mut Vec<Vec<&'a str>>,
    ) {
        let Some(lock) = seen.get(so_far.len()) else {
            all.push(so_far.clone());
            return;
        };
        for claim in &design.locks {
            if claim.kind == lock.kind() && !so_far.contains(&claim.name.as_str()) {
                so_far.push(&claim.name);
                extend(design, seen, so_far, all);
                so_far.pop();
            }
        }
    }
    let mut all = Vec::new();
    extend(design, seen, &mut Vec::new(), &mut all);
    all
}

/// Where a `... holds:` claim is checked: at which seams of which paths.
struct Moment {
    paths: &'static [&'static str],
    seam: fn(Seam) -> bool,
    /// What the path was doing there, for the report.
    did: &'static str,
}

/// `read holds`: get() reading the state.
const READING: Moment = Moment {
    paths: &["get(..)"],
    seam: |seam| seam == Seam::Read,
    did: "read the state",
};

/// `snapshot copy holds`: the copy of the state, wherever a snapshot takes it.
const COPYING: Moment = Moment {
    paths: &["copy_state()", "write_snapshot(..)", "save_snapshot(..)"],
    seam: |seam| seam == Seam::Copy,
    did: "copied the state",
};

/// `snapshot write holds`: every write to the output and every file operation.
const WRITING_OUT: Moment = Moment {
    paths: &["write_snapshot(..)", "save_snapshot(..)"],
    seam: |seam| matches!(seam, Seam::Disk(op) if op != DiskOp::Read) || seam == Seam::Output,
    did: "wrote the snapshot out",
};

/// Every claim the code contradicts under one naming, each quoted beside what was seen.
fn contradictions(design: &Design, walks: &[Walk], naming: &Naming) -> Vec<String> {
    let mut found = Vec::new();
    for claim in &design.locks {
        let Some(lock) = naming.lock(&claim.name) else {
            continue;
        };
        let guarded = [
            (
                claim.guards_hook,
                "the hook",
                "called the hook",
                &[Seam::Hook, Seam::Saved][..],
            ),
            (
                claim.guards_state,
                "the state",
                "applied a write",
                &[Seam::Apply][..],
            ),
        ];
        for (claimed, what, did, seams) in guarded {
            if !claimed {
                continue;
            }
            let unguarded = walks.iter().find_map(|walk| {
                walk.held_at(|seam| seams.contains(&seam))
                    .find(|held| !held.iter().any(|(l, _)| *l == lock))
                    .map(|held| (walk.path, held))
            });
            if let Some((path, held)) = unguarded {
                found.push(format!(
                    "{} says `{}` guards {what}, but {path} {did} {}",
                    claim.line.quote(),
                    claim.name,
                    naming.held(held)
                ));
            }
        }
    }
    if let Some((line, order)) = &design.order {
        let place = |lock| {
            naming
                .name(lock)
                .and_then(|n| order.iter().position(|o| o == n))
        };
        'walks: for walk in walks {
            for step in walk.steps() {
                let asked = naming.name(step.asked.0).unwrap_or("?");
                let held = naming.name(step.held.0).unwrap_or("?");
                let unplaced = match (place(step.held.0), place(step.asked.0)) {
                    (Some(h), Some(a)) if h < a => continue,
                    (Some(_), Some(_)) => None,
                    (None, _) => Some(held),
                    (_, None) => Some(asked),
                };
                let which = unplaced
                    .map(|name| format!(" (the order does not place `{name}`)"))
                    .unwrap_or_default();
                found.push(format!(
                    "{}, but {} held {} when it asked for {}{which}",
                    line.quote(),
                    walk.path,
                    with_side(format!("`{held}`"), step.held),
                    with_side(format!("`{asked}`"), step.asked),
                ));
                break 'walks;
            }
        }
    }
    let holds = [
        (&design.read, &READING),
        (&design.copy, &COPYING),
        (&design.write, &WRITING_OUT),
    ];
    for (claim, moment) in holds {
        let (paths, did) = (moment.paths, moment.did);
        let mut observed = 0;
        let mut wrong = None;
        for walk in walks.iter().filter(|walk| paths.contains(&walk.path)) {
            for held in walk.held_at(moment.seam) {
                observed += 1;
                if wrong.is_none() && !same_holds(&claim.held, held, naming) {
                    wrong = Some((walk.path, held));
                }
            }
        }
        if let Some((path, held)) = wrong {
            found.push(format!(
                "{}, but {path} {did} {}",
                claim.line.quote(),
                naming.held(held)
            ));
        } else if observed == 0 {
            found.push(format!(
                "{}, but no path ({}) {did} while the checker watched",
                claim.line.quote(),
                paths.join(", ")
            ));
        }
    }
    found
}

/// Whether what a path held at a seam is exactly what the claim declares.
fn same_holds(declared: &[Held], held: &[(LockId, Side)], naming: &Naming) -> bool {
    let named = |&(lock, side): &(LockId, Side)| -> Option<Held> {
        let name = naming.name(lock)?.to_owned();
        Some((name, (lock.kind() == Kind::RwLock).then_some(side)))
    };
    let mut held: Vec<Held> = held.iter().filter_map(named).collect();
    let mut declared = declared.to_vec();
    held.sort();
    held.dedup();
    declared.sort();
    declared.dedup();
    held == declared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_block_reads() {
        let design = parse(reference::POLICY).expect("the reference's block parses");
        assert_eq!(design.locks.len(), 2);
        assert!(design.locks[0].guards_hook && !design.locks[0].guards_state);
        assert_eq!(
            design.read.held,
            vec![("state".to_owned(), Some(Side::Shared))]
        );
        assert!(design.write.held.is_empty());
    }

    #[test]
    fn unreadable_blocks_say_what_is_wrong() {
        let policy = |block: &str| format!("# P\n\n## Design\n\n```design\n{block}\n```\n");
        let seen = |block: &str| parse(&policy(block)).unwrap_err().seen;
        assert!(
            parse("no block")
                .unwrap_err()
                .seen
                .contains("no ```design block")
        );
        assert!(seen("lock a: Mutex\nTODO").contains("TODO"));
        assert!(seen("lock a: Semaphore").contains("not a kind of lock"));
        assert!(seen("lock a: RwLock\nread holds: a\nsnapshot copy holds: a shared\nsnapshot write holds: nothing")
            .contains("say which side"));
        assert!(seen("lock a: Mutex\nlock b: Mutex\nread holds: nothing\nsnapshot copy holds: nothing\nsnapshot write holds: nothing")
            .contains("no `order:`"));
        assert!(seen("lock a: Mutex\norder: a, c").contains("no `lock` line declares"));
        assert!(seen("lock a: Mutex\nreads hold: a").contains("not a claim the checker knows"));
    }
}
