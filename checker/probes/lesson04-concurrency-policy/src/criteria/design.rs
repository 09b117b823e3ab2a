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
const FORMS: &str = "The block holds one claim per line (case and a final full stop do not matter):
  lock NAME: Mutex|RwLock, guards WHAT[, WHAT]     (one line per lock the store takes)
  order: NAME, NAME, ...                           (the order a thread takes them in)
  read holds: NAME SIDE, ... | nothing             (while get reads the state)
  snapshot copy holds: NAME SIDE, ... | nothing    (while a snapshot copies the state)
  snapshot write holds: NAME SIDE, ... | nothing   (while a snapshot is written or saved)
WHAT is `the hook` (the lock is held at every call of the hook) or `the state` (held at
every write applied to the state; its entries and its sequence count as the state), or
`nothing`; anything else goes in parentheses, for the reader. SIDE is shared, exclusive or upgradable (a Mutex has no side: write its name
alone). A snapshot claim covers every path that snapshots (copy_state, write_snapshot,
save_snapshot); to say what one path holds, add `in PATH`, as in
`snapshot write holds in save_snapshot: NAME`.";

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

/// What a path holds at one kind of moment, as declared: for every path of the
/// moment, or (`in PATH`) for one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HoldsClaim {
    line: Line,
    moment: &'static Moment,
    path: Option<&'static str>,
    held: Vec<Held>,
}

/// The declared design.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Design {
    locks: Vec<LockClaim>,
    order: Option<(Line, Vec<String>)>,
    holds: Vec<HoldsClaim>,
}

impl Design {
    /// The claim that says what `path` holds at `moment`: its own, or the moment's.
    fn holds(&self, moment: &Moment, path: &str) -> Option<&HoldsClaim> {
        let of_moment = || self.holds.iter().filter(|c| c.moment == moment);
        of_moment()
            .find(|c| c.path == Some(path))
            .or_else(|| of_moment().find(|c| c.path.is_none()))
    }
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
        "POLICY.md declares the store's design in a ```design block the checker can read",
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

/// A name or a word as the checker compares it: lower case, without a final full
/// stop or semicolon.
fn plain(word: &str) -> String {
    word.trim()
        .trim_end_matches(['.', ';'])
        .trim()
        .to_lowercase()
}

/// Removes the parts in parentheses: they are for the reader.
fn without_asides(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A list of names or things: split on commas and on "and".
fn items(list: &str) -> Vec<String> {
    list.split(',')
        .flat_map(|part| part.split(" and "))
        .map(plain)
        .filter(|item| !item.is_empty())
        .collect()
}

/// What a `lock` line says the lock guards: (the hook, the state).
fn guarded(line: &Line, rest: &str) -> Result<(bool, bool), Failure> {
    let rest = without_asides(rest);
    let rest = rest.trim().trim_start_matches(',').trim();
    if rest.is_empty() {
        return Ok((false, false));
    }
    let Some(things) = rest
        .strip_prefix("guards")
        .or_else(|| rest.strip_prefix("Guards"))
        .or_else(|| rest.strip_prefix("GUARDS"))
    else {
        return Err(unreadable(format!(
            "{}: after the kind, say what the lock guards: `, guards the hook`, `, guards \
             the state` or `, guards nothing`",
            line.quote()
        )));
    };
    let (mut hook, mut state) = (false, false);
    for thing in items(things) {
        match thing.trim_start_matches("the ").trim() {
            "hook" | "write hook" | "writehook" => hook = true,
            // The state is its entries and its sequence: a lock held at every write
            // applied guards all of them.
            "state"
            | "state machine"
            | "entries"
            | "map"
            | "data"
            | "global sequence"
            | "global sequence number"
            | "global_seq"
            | "sequence"
            | "sequence number" => state = true,
            "nothing" => {}
            other => {
                return Err(unreadable(format!(
                    "{}: `{other}` is not something the checker can see a lock guard. It \
                     knows `the hook` (held at every call of the hook) and `the state` (held \
                     at every write applied to the state); write anything else in \
                     parentheses, for the reader",
                    line.quote()
                )));
            }
        }
    }
    Ok((hook, state))
}

/// `read holds`, `snapshot copy holds`, `snapshot write holds`, each perhaps with
/// `in PATH`: the moment, and the one path the claim is scoped to.
fn holds_key(
    line: &Line,
    key: &str,
) -> Result<Option<(&'static Moment, Option<&'static str>)>, Failure> {
    let (key, scope) = match key.split_once(" in ") {
        Some((key, scope)) => (key.trim(), Some(scope.trim())),
        None => (key, None),
    };
    let Some(moment) = MOMENTS.into_iter().find(|m| m.key == key) else {
        return Ok(None);
    };
    let Some(scope) = scope else {
        return Ok(Some((moment, None)));
    };
    let bare = |path: &str| path.split('(').next().unwrap_or(path).trim().to_owned();
    match moment.paths.iter().find(|path| bare(path) == bare(scope)) {
        Some(path) => Ok(Some((moment, Some(*path)))),
        None => Err(unreadable(format!(
            "{}: `{}` is claimed for {}, which it does not cover (it covers {})",
            line.quote(),
            moment.key,
            bare(scope),
            moment
                .paths
                .iter()
                .map(|p| bare(p))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
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
    let mut holds_lines = Vec::new();
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
            let name = plain(name);
            if locks.iter().any(|lock| lock.name == name) {
                return Err(unreadable(format!(
                    "{} declares `{name}` a second time",
                    line.quote()
                )));
            }
            let (kind, rest) = value.split_once(',').unwrap_or((value, ""));
            let kind = match plain(kind).as_str() {
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
            let (guards_hook, guards_state) = guarded(line, rest)?;
            locks.push(LockClaim {
                line: line.clone(),
                name,
                kind,
                guards_hook,
                guards_state,
            });
        } else if key == "order" {
            let names = value
                .replace("->", ",")
                .replace(" then ", ",")
                .replace(" before ", ",");
            order = Some((line.clone(), items(&names)));
        } else if let Some(moment) = holds_key(line, &key)? {
            holds_lines.push((line.clone(), moment, value.to_owned()));
        } else {
            return Err(unreadable(format!(
                "{} is not a claim the checker knows",
                line.quote()
            )));
        }
    }
    if locks.is_empty() {
        return Err(unreadable(
            "the design block declares no lock: one `lock NAME: KIND, guards ...` line for \
             each lock the store takes",
        ));
    }
    for (what, claimed) in [
        ("the hook", locks.iter().any(|l| l.guards_hook)),
        ("the state", locks.iter().any(|l| l.guards_state)),
    ] {
        if !claimed {
            return Err(unreadable(format!(
                "no `lock` line says it guards {what}: which lock is held whenever {}?",
                match what {
                    "the hook" => "the hook is called",
                    _ => "a write is applied to the state",
                }
            )));
        }
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
    let mut holds = Vec::new();
    for (line, (moment, path), value) in holds_lines {
        let mut held = Vec::new();
        if plain(&value) != "nothing" {
            for part in value.split(',') {
                let mut words = part.split_whitespace().map(plain);
                let name = words.next().unwrap_or_default();
                let kind = declared(&name, &line)?;
                let side = match (words.next().as_deref(), kind) {
                    (None, Kind::Mutex) => None,
                    (Some("shared"), Kind::RwLock) => Some(Side::Shared),
                    (Some("exclusive"), Kind::RwLock) => Some(Side::Exclusive),
                    (Some("upgradable"), Kind::RwLock) => Some(Side::Upgradable),
                    (None, Kind::RwLock) => {
                        return Err(unreadable(format!(
                            "{}: say which side of `{name}` is held: `{name} shared`, \
                             `{name} exclusive` or `{name} upgradable`",
                            line.quote()
                        )));
                    }
                    (Some(other), _) => {
                        return Err(unreadable(format!(
                            "{}: `{name} {other}` is not a lock and a side (a Mutex has no \
                             side; an RwLock's is shared, exclusive or upgradable)",
                            line.quote()
                        )));
                    }
                };
                held.push((name, side));
            }
        }
        if let Some(twice) = holds
            .iter()
            .find(|c: &&HoldsClaim| c.moment == moment && c.path == path)
        {
            return Err(unreadable(format!(
                "{} says again what {} already says",
                line.quote(),
                twice.line.quote()
            )));
        }
        holds.push(HoldsClaim {
            line,
            moment,
            path,
            held,
        });
    }
    let design = Design {
        locks,
        order,
        holds,
    };
    for moment in MOMENTS {
        for path in moment.paths {
            if design.holds(moment, path).is_none() {
                return Err(unreadable(format!(
                    "the design block has no `{}:` line (nor one `{} in {}:`)",
                    moment.key,
                    moment.key,
                    path.split('(').next().unwrap_or(path)
                )));
            }
        }
    }
    if design.locks.len() > 1 && design.order.is_none() {
        return Err(unreadable(
            "the design block declares more than one lock and no `order:` line",
        ));
    }
    Ok(design)
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
        let claims: Vec<String> = design.locks.iter().map(|l| l.line.quote()).collect();
        let failure = Failure::new(
            "the locks POLICY.md declares are the locks the store takes",
            format!(
                "it declares {} ({}); the store takes {}",
                count_kinds(&declared_kinds),
                claims.join(", "),
                count_kinds(&seen_kinds)
            ),
        );
        return Err(match seen.is_empty() {
            true => failure.with_hint(
                "The checker sees the locks of parking_lot, the crate's dependency: build the \
                 store's locks from parking_lot's Mutex and RwLock. std's are invisible to it, \
                 so no claim about them can be tested.",
            ),
            false => failure.with_detail(who_takes_what(walks, &seen)),
        });
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
            takers(walks, lock).join(", ")
        );
    }
    out
}

fn takers(walks: &[Walk], lock: LockId) -> Vec<&'static str> {
    walks
        .iter()
        .filter(|walk| walk.requests.iter().any(|r| r.lock == lock))
        .map(|walk| walk.path)
        .collect()
}

/// How the declared names were given to the locks seen, for the report.
fn how_named(walks: &[Walk], naming: &Naming) -> String {
    let mut out = String::from("The checker matched your names to the store's locks so:");
    for (lock, name) in naming.seen.iter().zip(&naming.names) {
        let takers = takers(walks, *lock);
        let _ = write!(
            out,
            "\n  `{name}` is the {} that {} {}",
            kind_name(lock.kind()),
            takers.join(", "),
            match takers.len() {
                1 => "asks for",
                _ => "ask for",
            }
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
#[derive(Debug)]
struct Moment {
    /// The claim's key in the block.
    key: &'static str,
    paths: &'static [&'static str],
    seam: fn(Seam) -> bool,
    /// What the path was doing there, for the report.
    did: &'static str,
}

/// A moment is its key: no two have the same.
impl PartialEq for Moment {
    fn eq(&self, other: &Moment) -> bool {
        self.key == other.key
    }
}

impl Eq for Moment {}

/// `read holds`: get() reading the state.
const READING: Moment = Moment {
    key: "read holds",
    paths: &["get(..)"],
    seam: |seam| seam == Seam::Read,
    did: "read the state",
};

/// `snapshot copy holds`: the copy of the state, wherever a snapshot takes it.
const COPYING: Moment = Moment {
    key: "snapshot copy holds",
    paths: &["copy_state()", "write_snapshot(..)", "save_snapshot(..)"],
    seam: |seam| seam == Seam::Copy,
    did: "copied the state",
};

/// `snapshot write holds`: every write to the output and every file operation.
const WRITING_OUT: Moment = Moment {
    key: "snapshot write holds",
    paths: &["write_snapshot(..)", "save_snapshot(..)"],
    seam: |seam| matches!(seam, Seam::Disk(op) if op != DiskOp::Read) || seam == Seam::Output,
    did: "wrote the snapshot out",
};

const MOMENTS: [&Moment; 3] = [&READING, &COPYING, &WRITING_OUT];

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
    for claim in &design.holds {
        let moment = claim.moment;
        // The paths this claim speaks for: its own, or every path of the moment that
        // has no claim of its own.
        let paths: Vec<&str> = moment
            .paths
            .iter()
            .copied()
            .filter(|path| design.holds(moment, path) == Some(claim))
            .collect();
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
                "{}, but {path} {} {}",
                claim.line.quote(),
                moment.did,
                naming.held(held)
            ));
        } else if observed == 0 {
            found.push(format!(
                "{}, but {} never {} while the checker watched",
                claim.line.quote(),
                paths.join(" nor "),
                moment.did
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

    fn policy(block: &str) -> String {
        format!("# P\n\n## Design\n\n```design\n{block}\n```\n")
    }

    /// The three holds claims, with `state` the name of the state's RwLock.
    fn tail(state: &str) -> String {
        format!(
            "read holds: {state} shared\nsnapshot copy holds: {state} shared\n\
             snapshot write holds: nothing"
        )
    }

    fn seen(block: &str) -> String {
        parse(&policy(block)).unwrap_err().seen
    }

    #[test]
    fn the_reference_block_reads() {
        let design = parse(reference::POLICY).expect("the reference's block parses");
        assert_eq!(design.locks.len(), 2);
        assert!(design.locks[0].guards_hook && !design.locks[0].guards_state);
        let read = design.holds(&READING, "get(..)").unwrap();
        assert_eq!(read.held, vec![("state".to_owned(), Some(Side::Shared))]);
        assert!(
            design
                .holds(&WRITING_OUT, "save_snapshot(..)")
                .unwrap()
                .held
                .is_empty()
        );
    }

    #[test]
    fn case_full_stops_and_asides_do_not_matter() {
        let block = format!(
            "Lock Writer: Mutex, guards the write hook (and the number).\n\
             LOCK State: RwLock, Guards The State.\nOrder: Writer, State.\n{}",
            tail("State").replace("State shared", "State Shared.")
        );
        let design = parse(&policy(&block)).expect("it parses");
        assert_eq!(design.locks[0].name, "writer");
        assert!(design.locks[0].guards_hook && design.locks[1].guards_state);
        assert_eq!(design.order.unwrap().1, vec!["writer", "state"]);
    }

    #[test]
    fn a_claim_may_be_scoped_to_one_path() {
        let block = format!(
            "lock w: Mutex, guards the hook\nlock s: RwLock, guards the state\n\
             lock saves: Mutex, guards nothing (one save at a time)\norder: saves, w, s\n{}\n\
             snapshot write holds in save_snapshot: saves",
            tail("s")
        );
        let design = parse(&policy(&block)).expect("it parses");
        let write = |path| &design.holds(&WRITING_OUT, path).unwrap().held;
        assert!(write("write_snapshot(..)").is_empty());
        assert_eq!(
            write("save_snapshot(..)"),
            &vec![("saves".to_owned(), None)]
        );
        assert!(
            seen(&block.replace("in save_snapshot", "in get")).contains("does not cover"),
            "a path the moment does not have"
        );
    }

    #[test]
    fn unreadable_blocks_say_what_is_wrong() {
        assert!(
            parse("no block")
                .unwrap_err()
                .seen
                .contains("no ```design block")
        );
        let locks = "lock a: Mutex, guards the hook\nlock b: RwLock, guards the state\norder: a, b";
        assert!(seen(&format!("{locks}\nTODO")).contains("TODO"));
        assert!(seen("lock a: Semaphore").contains("not a kind of lock"));
        assert!(
            seen(&format!("{locks}\n{}", tail("b").replace("b shared", "b")))
                .contains("say which side")
        );
        assert!(
            seen(&format!(
                "{}\n{}",
                locks.replace("\norder: a, b", ""),
                tail("b")
            ))
            .contains("no `order:`")
        );
        assert!(
            seen("lock a: Mutex, guards the hook, the state\norder: a, c")
                .contains("no `lock` line declares")
        );
        assert!(seen(&format!("{locks}\nreads hold: a")).contains("not a claim the checker knows"));
        assert!(
            seen("lock a: Mutex, guards the files").contains("not something the checker can see")
        );
        assert!(seen("lock a: Mutex, the hook").contains("say what the lock guards"));
        assert!(seen("lock a: Mutex, guards the state").contains("guards the hook"));
        assert!(seen(locks).contains("no `read holds:` line"));
    }
}
