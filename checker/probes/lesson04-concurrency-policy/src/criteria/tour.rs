//! A watched tour of the store: every path run once, alone, on a thread of its own,
//! with every request it made of a watched lock (parking_lot's `Mutex` and `RwLock`)
//! and what it held at each seam it passed. The lock-order stage of `no-deadlock`
//! and the check of the policy's declared design both read this one record.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use parking_lot::kvlab_watch::{Kind, LockId, Request, Side, watching};
use probe_kit::sync::Crew;
use probe_kit::{Ctx, Failure};
use state::Command;

use super::reads::prefilled;
use super::{BLOCKED_AFTER, Scratch, join_within, keys};
use crate::Subject;
use crate::lab::{HeldAt, Lab, Seam};

/// What one path did, alone with the store.
pub struct Walk {
    /// The path as a call: `set(..)`, `get(..)`.
    pub path: &'static str,
    pub requests: Vec<Request>,
    pub held_at: Vec<HeldAt>,
}

impl Walk {
    /// Each step of the order in which this path takes locks: while holding one lock
    /// it asked for another (asking again for a lock it holds is an upgrade, not a step).
    pub fn steps(&self) -> impl Iterator<Item = Step> + '_ {
        self.requests.iter().flat_map(|request| {
            let asked = (request.lock, request.side);
            request
                .holding
                .iter()
                .filter(move |held| held.0 != asked.0)
                .map(move |&held| Step { held, asked })
        })
    }

    /// What the path held at each seam of one kind.
    pub fn held_at(&self, seam: impl Fn(Seam) -> bool) -> impl Iterator<Item = &[(LockId, Side)]> {
        self.held_at
            .iter()
            .filter(move |at| seam(at.seam))
            .map(|at| at.held.as_slice())
    }
}

/// One step of a path's lock order: while holding `held`, it asked for `asked`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub held: (LockId, Side),
    pub asked: (LockId, Side),
}

/// A path of the store, ready to run on a thread of its own.
type StorePath = Box<dyn FnOnce() + Send>;

/// Runs every path of the store once, alone and watched, on a store holding a few keys.
pub fn tour<S: Subject>(subject: &S, ctx: &Ctx) -> Result<Vec<Walk>, Failure> {
    let scratch = Scratch::new(ctx, "tour");
    let path = scratch.path("store.snap");
    let lab = Lab::new();
    let store = prefilled(subject, &lab, &keys(3))?;
    ctx.progress("each path of the store alone, watching the locks it takes");
    let call = |f: fn(&S, &S::Store, &Path, &Arc<Lab>)| -> StorePath {
        let (subject, store, path, lab) = (
            subject.clone(),
            Arc::clone(&store),
            path.clone(),
            Arc::clone(&lab),
        );
        Box::new(move || f(&subject, &store, &path, &lab))
    };
    let paths: [(&'static str, StorePath); 6] = [
        (
            "set(..)",
            call(|s, st, _, _| drop(s.write(st, Command::set("k0", "x")))),
        ),
        (
            "del(..)",
            call(|s, st, _, _| drop(s.write(st, Command::del("k1")))),
        ),
        ("get(..)", call(|s, st, _, _| drop(s.get(st, "k0")))),
        ("copy_state()", call(|s, st, _, _| drop(s.copy_state(st)))),
        (
            "write_snapshot(..)",
            call(|s, st, _, lab| {
                drop(s.write_snapshot(st, &mut NotedOutput(Arc::clone(lab))));
            }),
        ),
        (
            "save_snapshot(..)",
            call(|s, st, p, _| drop(s.save_snapshot(st, p))),
        ),
    ];
    let mut walks = Vec::new();
    for (name, run) in paths {
        lab.take_held_at();
        let mut alone = Crew::new();
        alone.spawn(name, move |doing| {
            doing.set(format_args!("{name}, alone with the store"));
            watching(run).1
        });
        let requests = join_within(
            alone,
            BLOCKED_AFTER,
            &format!("{name}, alone with the store, finishes"),
            "Nobody else was using the store, so the call waits for itself: a lock taken \
             twice on one thread (a guard still alive when the same lock is asked for again).",
        )?
        .remove(0);
        walks.push(Walk {
            path: name,
            requests,
            held_at: lab.take_held_at(),
        });
    }
    Ok(walks)
}

/// The output `write_snapshot` writes to on the tour: each write notes what is held.
struct NotedOutput(Arc<Lab>);

impl Write for NotedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.note_seam(Seam::Output);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every watched lock the tour saw, in the order the paths first asked for them.
pub fn locks_seen(walks: &[Walk]) -> Vec<LockId> {
    let mut seen = Vec::new();
    for request in walks.iter().flat_map(|walk| &walk.requests) {
        if !seen.contains(&request.lock) {
            seen.push(request.lock);
        }
    }
    seen
}

/// Names for watched locks nobody has named, by kind and in the order they were seen:
/// `the store's Mutex`, or `the store's RwLock #2` when there are two.
pub struct LockNames(pub Vec<LockId>);

impl LockNames {
    pub fn name(&self, lock: LockId) -> String {
        let kind = kind_name(lock.kind());
        let same_kind: Vec<_> = self.0.iter().filter(|l| l.kind() == lock.kind()).collect();
        match same_kind.iter().position(|l| **l == lock) {
            Some(at) if same_kind.len() > 1 => format!("the store's {kind} #{}", at + 1),
            _ => format!("the store's {kind}"),
        }
    }

    pub fn side(&self, held: (LockId, Side)) -> String {
        with_side(self.name(held.0), held)
    }
}

pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Mutex => "Mutex",
        Kind::RwLock => "RwLock",
    }
}

/// A lock's name with the side held, where the lock has sides.
pub fn with_side(name: String, (lock, side): (LockId, Side)) -> String {
    match (lock.kind(), side) {
        (Kind::Mutex, _) => name,
        (_, Side::Shared) => format!("{name} (shared)"),
        (_, Side::Exclusive) => format!("{name} (exclusive)"),
        (_, Side::Upgradable) => format!("{name} (upgradable)"),
    }
}
