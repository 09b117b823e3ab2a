//! Snapshots: the copy, the write-out, the file, restore, and all of it together with
//! writers and readers.

use std::fs::{self, File};
use std::io::{self, Read as _, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use probe_kit::{Ctx, Failure, Verdict, snapshot};
use reference::SnapshotError;
use state::{Command, Response};

use super::reads::prefilled;
use super::tour::{LockNames, Step, locks_seen, tour};
use super::{
    BLOCKED_AFTER, PHASE_LIMIT, Scratch, doing_write, join_while_held, join_within, keys,
    random_write, stuck,
};
use crate::Subject;
use crate::history::{History, numbering_problem, state_difference};
use crate::lab::{ArrivesOnDrop, DiskEvent, DiskOp, Hold, Lab, Mutex};
use parking_lot::kvlab_watch::Side;
use probe_kit::sync::Crew;

/// Reads a snapshot's bytes back, without judging whether the state in it could be:
/// that is what the comparison with the log does, with better words. The format is
/// given code, so the reference's header checks read the learner's snapshots too;
/// the learner's own decoder (step 6) is asked only if they fail, so these criteria
/// do not wait for step 6.
fn read_back<S: Subject>(subject: &S, bytes: &[u8], what: &str) -> Result<state::Store, Failure> {
    let decoded = match reference::decode(bytes) {
        Err(SnapshotError::Invalid(_)) => {
            reference::parse_body(&bytes[reference::HEADER_LEN..]).map_err(SnapshotError::Malformed)
        }
        Err(_) => subject.decode(bytes),
        ok => ok,
    };
    decoded.map_err(|error| {
        Failure::new(
            format!("{what} reads back as a snapshot"),
            format!("it does not: {error}"),
        )
    })
}

/// Checks a snapshot against the replay of the log up to its own sequence number.
fn matches_history(snapshot: &state::Store, history: &History, what: &str) -> Verdict {
    let seq = snapshot.global_seq();
    if seq > history.len() {
        return Err(Failure::new(
            format!(
                "{what} is taken at a sequence number that exists (at most {})",
                history.len()
            ),
            format!("it claims sequence {seq}"),
        ));
    }
    match state_difference(&history.state_at(seq), snapshot) {
        None => Ok(()),
        Some((want, seen)) => Err(Failure::new(
            format!("{what}, taken at sequence {seq}, equals the state after write #{seq}: {want}"),
            format!("it holds {seen}"),
        )
        .with_detail(
            "A snapshot must be one moment of the store. This one mixes entries from before \
             and after its own sequence point: writes landed while it was being copied.",
        )),
    }
}

fn history_of(lab: &Lab) -> Result<History, Failure> {
    let log = lab.log();
    match numbering_problem(&log) {
        Some(problem) => Err(Failure::new(
            "the hook receives writes #1, #2, #3, ... in order",
            problem,
        )),
        None => Ok(History::replay(&log)),
    }
}

/// A snapshot, and the writes that took effect in the middle of its copy, if any.
type Taken = (Vec<u8>, Option<(u64, u64)>);

/// Takes one snapshot into memory, with its copy watched by the lab.
fn take_snapshot<S: Subject>(subject: &S, store: &S::Store, lab: &Lab) -> Taken {
    let mut bytes = Vec::new();
    lab.copy_begins();
    let written = subject.write_snapshot(store, &mut bytes);
    let moved = lab.copy_ends();
    written.expect("writing a snapshot into memory cannot fail");
    (bytes, moved)
}

/// A snapshot thread that is held at its first access to the state.
fn snapshot_thread<S: Subject>(
    crew: &mut Crew<Taken>,
    subject: &S,
    store: &Arc<S::Store>,
    lab: &Arc<Lab>,
) -> (Arc<Hold>, Arc<AtomicBool>) {
    let hold = Arc::new(Hold::default());
    let finished = Arc::new(AtomicBool::new(false));
    let (subject, store, lab) = (subject.clone(), Arc::clone(store), Arc::clone(lab));
    let (mine, done) = (Arc::clone(&hold), Arc::clone(&finished));
    crew.spawn("snapshot", move |doing| {
        lab.hold_first_state_access_here(Arc::clone(&mine));
        doing.set("write_snapshot(..)");
        let taken = take_snapshot(&subject, &store, &lab);
        done.store(true, Ordering::Release);
        mine.arrived.open(); // whoever waits for the hold must not wait for nothing
        taken
    });
    (hold, finished)
}

const ROUNDS: usize = 6;

pub fn snapshot_consistent<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let lab = Lab::new();
    let keys = keys(20);
    let store = prefilled(subject, &lab, &keys)?;
    // The key a copy in key order reaches last: a write to it that lands anywhere in
    // the middle of such a copy shows in the snapshot.
    let last = keys.iter().max().expect("there are keys").clone();
    let mut snapshots = Vec::new();
    // First, a write is made to arrive exactly while a snapshot is being copied.
    for round in 1..=ROUNDS {
        ctx.progress(format_args!(
            "snapshot {round}: a write arrives while the copy is being taken"
        ));
        let mut crew = Crew::new();
        let (hold, finished) = snapshot_thread(&mut crew, subject, &store, &lab);
        hold.arrived.wait(BLOCKED_AFTER);
        let mut writer = Crew::new();
        let mut writer_arrived = true;
        if !finished.load(Ordering::Acquire) {
            let watch = lab.watch_next_write();
            let command = Command::set(&last, &format!("round-{round}"));
            let (subject, store) = (subject.clone(), Arc::clone(&store));
            writer.spawn("writer", move |doing| {
                doing.set(doing_write(&command));
                let _ = subject.write(&store, command);
            });
            // A store whose copy holds the writer mutex keeps the writer out: fine, and
            // then there is no point in more rounds like this one.
            writer_arrived = watch.arrived.wait(Duration::from_secs(2));
        }
        hold.release.open();
        let deadline = Instant::now() + PHASE_LIMIT;
        let mut threads = Vec::new();
        let copied = crew.join_by(deadline).unwrap_or_else(|stuck| {
            threads.extend(stuck);
            Vec::new()
        });
        if let Err(stuck) = writer.join_by(deadline) {
            threads.extend(stuck);
        }
        if !threads.is_empty() {
            return Err(stuck(
                "a snapshot and a write that meet both finish",
                &threads,
                PHASE_LIMIT,
                "Each thread holds a lock the other needs, or a lock was never given back.",
            ));
        }
        snapshots.extend(copied);
        if !writer_arrived {
            break;
        }
    }
    // Then writers at full speed while snapshots are taken one after another.
    ctx.progress("3 writers at full speed while 25 snapshots are taken");
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Crew::new();
    for writer in 0..3 {
        let mut rng = ctx.rng(500 + writer as u64);
        let commands: Vec<Command> = (0..400)
            .map(|n| random_write(&mut rng, &keys, writer, n))
            .collect();
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        writers.spawn(format!("writer-{writer}"), move |doing| {
            for command in commands {
                doing.set(doing_write(&command));
                let _ = subject.write(&store, command);
            }
        });
    }
    let mut snapshotter = Crew::new();
    {
        let (subject, store, lab, writing) = (
            subject.clone(),
            Arc::clone(&store),
            Arc::clone(&lab),
            Arc::clone(&writing),
        );
        snapshotter.spawn("snapshot", move |doing| {
            let mut taken = Vec::new();
            while taken.len() < 25 || (writing.load(Ordering::Relaxed) && taken.len() < 200) {
                doing.set(format_args!(
                    "write_snapshot(..), snapshot {}",
                    taken.len() + 1
                ));
                taken.push(take_snapshot(&subject, &store, &lab));
            }
            taken
        });
    }
    // One deadline for both crews, so that a hang names every stuck thread, the
    // snapshot's included.
    let deadline = Instant::now() + PHASE_LIMIT;
    let written = writers.join_by(deadline);
    writing.store(false, Ordering::Relaxed);
    let taken = snapshotter.join_by(deadline);
    let mut threads = Vec::new();
    if let Err(stuck) = &written {
        threads.extend(stuck.iter().cloned());
    }
    match taken {
        Ok(taken) if threads.is_empty() => snapshots.extend(taken.into_iter().flatten()),
        Ok(_) => {}
        Err(stuck) => threads.extend(stuck),
    }
    if !threads.is_empty() {
        return Err(stuck(
            "writers and snapshots running together all finish",
            &threads,
            PHASE_LIMIT,
            "Threads that never finish wait for a lock nobody gives back, or for each \
             other: two locks taken in opposite orders on the write path and the snapshot \
             path.",
        ));
    }
    let history = history_of(&lab)?;
    for (n, (bytes, moved)) in snapshots.iter().enumerate() {
        let what = format!("snapshot {} of {}", n + 1, snapshots.len());
        let state = read_back(subject, bytes, &what)?;
        matches_history(&state, &history, &what)?;
        if let Some((before, after)) = moved {
            let writes = match after - before {
                1 => format!("write #{after} took effect"),
                _ => format!("writes #{} to #{after} took effect", before + 1),
            };
            return Err(Failure::new(
                format!("{what} is copied in one moment: no write takes effect during its copy"),
                format!(
                    "{writes} while it was being copied: it looked at the state after write \
                     #{before} and again after write #{after}"
                ),
            )
            .with_detail(
                "The copy took the lock more than once, and writes landed in between. This \
                 time the bytes happened to match a real state; next time they will not.",
            ));
        }
    }
    Ok(())
}

/// An output that stops at its first write until the probe lets it go.
struct SlowSink {
    hold: Arc<Hold>,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Write for SlowSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.hold.arrived.is_open() {
            self.hold.arrived.open();
            self.hold.release.wait(Duration::from_secs(25));
        }
        self.bytes.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub fn snapshot_outside_lock<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    written_out_beside_others(subject, ctx)?;
    saved_beside_others(subject, ctx)
}

/// `write_snapshot`, held in its first write to the output, keeps nobody waiting.
fn written_out_beside_others<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let lab = Lab::new();
    let keys = keys(30);
    let store = prefilled(subject, &lab, &keys)?;
    let hold = Arc::new(Hold::default());
    let finished = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let mut snapshot = Crew::new();
    {
        let mut sink = SlowSink {
            hold: Arc::clone(&hold),
            bytes: Arc::clone(&bytes),
        };
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        let (hold, finished) = (Arc::clone(&hold), Arc::clone(&finished));
        snapshot.spawn("snapshot", move |doing| {
            doing.set("write_snapshot(..), writing out");
            let info = subject.write_snapshot(&store, &mut sink);
            finished.store(true, Ordering::Release);
            hold.arrived.open();
            info.map(|_| ()).map_err(|e| e.to_string())
        });
    }
    ctx.progress("a snapshot held in its first write to the output");
    if !hold.arrived.wait(BLOCKED_AFTER) {
        return Err(Failure::new(
            format!(
                "write_snapshot writes to its output within {}s",
                BLOCKED_AFTER.as_secs()
            ),
            "it had written nothing yet",
        ));
    }
    if finished.load(Ordering::Acquire) && bytes.lock().is_empty() {
        return Err(Failure::new(
            "write_snapshot writes the snapshot to its output",
            "it returned without writing a byte",
        ));
    }
    ctx.progress("2 writers and 2 readers while the snapshot is being written out");
    let mut crew = Crew::new();
    for writer in 0..2 {
        let mut rng = ctx.rng(600 + writer as u64);
        let commands: Vec<Command> = (0..25)
            .map(|n| random_write(&mut rng, &keys, writer, n))
            .collect();
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        crew.spawn(format!("writer-{writer}"), move |doing| {
            for command in commands {
                doing.set(doing_write(&command));
                let _ = subject.write(&store, command);
            }
        });
    }
    for reader in 0..2 {
        let (subject, store, keys) = (subject.clone(), Arc::clone(&store), keys.clone());
        crew.spawn(format!("reader-{reader}"), move |doing| {
            for key in keys.iter().take(25) {
                doing.set(format_args!("get({key:?})"));
                subject.get(&store, key);
            }
        });
    }
    join_while_held(
        crew,
        BLOCKED_AFTER,
        "writers and readers finish while the snapshot is being written out",
        "The snapshot was held in its first write to the output. Whatever lock it still \
         held there kept these threads waiting, for as long as the disk takes to write the \
         whole file. Copy under the lock, let the guard go, then encode and write.",
    )?;
    hold.release.open();
    let result = join_within(
        snapshot,
        PHASE_LIMIT,
        "the snapshot finishes once its output is let go",
        "",
    )?;
    if let Some(Err(error)) = result.into_iter().next() {
        return Err(Failure::new(
            "write_snapshot succeeds",
            format!("it failed: {error}"),
        ));
    }
    let history = history_of(&lab)?;
    let state = read_back(
        subject,
        &bytes.lock(),
        "the snapshot written during the writes",
    )?;
    matches_history(&state, &history, "the snapshot written during the writes")
}

/// `save_snapshot`, held in each of its file operations in turn, keeps nobody
/// waiting: whatever function of the store makes the operation, no lock a writer or
/// a reader needs may be held across it.
fn saved_beside_others<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let scratch = Scratch::new(ctx, "outside");
    let path = scratch.path("store.snap");
    let lab = Lab::new();
    let keys = keys(20);
    let store = prefilled(subject, &lab, &keys)?;
    for op in DiskOp::OF_A_SAVE {
        ctx.progress(format_args!("a save held in {}", op.call()));
        let hold = lab.hold_next_disk_op(op);
        let mut snapshot = Crew::new();
        {
            let (subject, store, path, hold) = (
                subject.clone(),
                Arc::clone(&store),
                path.clone(),
                Arc::clone(&hold),
            );
            snapshot.spawn("snapshot", move |doing| {
                // A save that ends (or panics) without making `op` says so here.
                let _ended = ArrivesOnDrop(hold);
                doing.set(format_args!("save_snapshot(..), held in {}", op.call()));
                subject
                    .save_snapshot(&store, &path)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        }
        if !hold.arrived.wait(BLOCKED_AFTER) {
            return Err(stuck_save(snapshot, op));
        }
        if lab.disk_hold_pending() {
            // The save ended without making this operation: snapshot-file-atomic says
            // what is missing; here there is nothing to hold.
            lab.clear_disk_hold();
            join_within(snapshot, PHASE_LIMIT, "the save finishes", "")?;
            continue;
        }
        let mut crew = Crew::new();
        {
            let (subject, store) = (subject.clone(), Arc::clone(&store));
            let command = Command::set(&keys[0], &format!("during-{op:?}"));
            crew.spawn("writer", move |doing| {
                doing.set(doing_write(&command));
                let _ = subject.write(&store, command);
            });
        }
        {
            let (subject, store, key) = (subject.clone(), Arc::clone(&store), keys[1].clone());
            crew.spawn("reader", move |doing| {
                doing.set(format_args!("get({key:?})"));
                subject.get(&store, &key);
            });
        }
        let kept_waiting = join_while_held(
            crew,
            BLOCKED_AFTER,
            &format!(
                "a write and a read finish while save_snapshot is in {}",
                op.call()
            ),
            &format!(
                "The save was held in {}. A lock it held there kept these threads waiting, \
                 and on a real disk they would wait as long as the operation takes (a sync \
                 takes milliseconds). Every file operation of a snapshot runs with no lock \
                 of the store held: copy under the lock, let the guard go, then create, \
                 write, sync and rename.",
                op.call()
            ),
        );
        hold.release.open();
        let saved = join_within(
            snapshot,
            PHASE_LIMIT,
            "the held save finishes once it is let go",
            "",
        );
        kept_waiting?;
        if let Some(Err(error)) = saved?.into_iter().next() {
            return Err(Failure::new(
                "save_snapshot succeeds",
                format!("it failed: {error}"),
            ));
        }
    }
    Ok(())
}

/// The failure for a save that never reached the disk operation it was to be held in.
fn stuck_save(snapshot: Crew<Result<(), String>>, op: DiskOp) -> Failure {
    match snapshot.join_by(Instant::now()) {
        Ok(_) => Failure::new(
            format!("save_snapshot reaches {}", op.call()),
            "it finished without it",
        ),
        Err(threads) => stuck(
            format!("save_snapshot, alone with the store, reaches {}", op.call()),
            &threads,
            BLOCKED_AFTER,
            "Nobody else was using the store, so the save waits for itself: a lock taken \
             twice on one thread (a guard still alive when the same lock is asked for again).",
        ),
    }
}

pub fn snapshot_file_atomic<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let scratch = Scratch::new(ctx, "atomic");
    let path = scratch.path("store.snap");
    let lab = Lab::new();
    lab.watch_file(path.clone());
    let store = prefilled(subject, &lab, &keys(40))?;
    ctx.progress("saving a first snapshot");
    let first = subject
        .save_snapshot(&store, &path)
        .map_err(|e| Failure::new("save_snapshot saves a snapshot", format!("it failed: {e}")))?;
    let old = fs::read(&path).map_err(|e| {
        Failure::new(
            format!("after save_snapshot, {} exists", path.display()),
            e.to_string(),
        )
    })?;
    told_after_the_file(&lab, first.seq, &old)?;
    made_durable_in_order(&lab.take_journal(), &path, first.seq)?;
    let mut old_file = File::open(&path).expect("the snapshot just read can be opened");

    // A bigger state, so that writing the next file takes a moment to watch.
    ctx.progress("writing 3000 more keys, so that the next save takes a moment");
    let value = "v".repeat(200);
    for n in 0..3000 {
        let _ = subject.write(&store, Command::set(&format!("big-{n}"), &value));
    }
    let watching = Arc::new(AtomicBool::new(true));
    let mut observer = Crew::new();
    {
        let (path, watching, old) = (path.clone(), Arc::clone(&watching), old.clone());
        observer.spawn("file-observer", move |doing| {
            doing.set("reading the snapshot file over and over");
            let mut seen: Vec<Option<(usize, u32)>> = Vec::new();
            while watching.load(Ordering::Relaxed) && seen.len() < 10_000 {
                let now = match fs::read(&path) {
                    Ok(bytes) if bytes == old => continue,
                    Ok(bytes) => Some((bytes.len(), reference::crc32(&bytes))),
                    Err(_) => None,
                };
                if seen.last() != Some(&now) {
                    seen.push(now);
                }
            }
            seen
        });
    }
    ctx.progress("saving a bigger snapshot over the first while another thread reads the file");
    let second = subject.save_snapshot(&store, &path);
    watching.store(false, Ordering::Relaxed);
    let seen = join_within(observer, PHASE_LIMIT, "the file observer finishes", "")?.remove(0);
    let second = second
        .map_err(|e| Failure::new("save_snapshot saves a snapshot", format!("it failed: {e}")))?;
    let new = fs::read(&path).map_err(|e| {
        Failure::new(
            format!("after save_snapshot, {} exists", path.display()),
            e.to_string(),
        )
    })?;

    let mut still_open = Vec::new();
    old_file
        .read_to_end(&mut still_open)
        .expect("an open file can be read");
    if still_open != old {
        return Err(Failure::new(
            "the old snapshot file stays whole until a new, complete file replaces it",
            format!(
                "a handle opened on the old file before the save now reads {} bytes that are \
                 not the old snapshot ({} bytes)",
                still_open.len(),
                old.len()
            ),
        )
        .with_detail(
            "save_snapshot wrote into the old file itself. If the machine stops halfway, the \
             only snapshot on disk is a torn one. Write a temporary file, then rename it over.",
        ));
    }
    let new_id = (new.len(), reference::crc32(&new));
    if let Some(torn) = seen.iter().find(|s| **s != Some(new_id)) {
        let found = match torn {
            None => "no file at all".to_owned(),
            Some((len, _)) => format!(
                "{len} bytes that are neither the old snapshot ({} bytes) nor the new one ({} bytes)",
                old.len(),
                new.len()
            ),
        };
        return Err(Failure::new(
            format!(
                "whoever reads {} during a save finds a whole snapshot, old or new",
                path.display()
            ),
            format!("a read during the save found {found}"),
        ));
    }
    let left = files_in(scratch.dir());
    if left != ["store.snap"] {
        return Err(Failure::new(
            "after the save, the directory holds only the snapshot (no temporary file left)",
            format!("it holds {left:?}"),
        ));
    }
    let state = read_back(subject, &new, "the saved file")?;
    if state.global_seq() != second.seq {
        return Err(Failure::new(
            format!(
                "the saved file holds the state at the sequence save_snapshot answered ({})",
                second.seq
            ),
            format!("it holds sequence {}", state.global_seq()),
        ));
    }
    told_after_the_file(&lab, second.seq, &new)?;
    made_durable_in_order(&lab.take_journal(), &path, second.seq)?;
    for op in [DiskOp::Write, DiskOp::Sync] {
        ctx.progress(format_args!("a save whose {} fails", op.call()));
        failed_save_changes_nothing(subject, &store, &lab, &scratch, op, &new)?;
    }
    Ok(())
}

/// The journal of one save, as a reader follows it: `create a, write n bytes to a, ...`.
fn render_journal(events: &[DiskEvent]) -> String {
    if events.is_empty() {
        return "no operation on the store's Disk at all".to_owned();
    }
    let mut shown: Vec<String> = Vec::new();
    let mut written = 0;
    for (at, event) in events.iter().enumerate() {
        // A run of writes to one file reads as one step.
        if let DiskEvent::Write(path, n) = event {
            written += n;
            if matches!(events.get(at + 1), Some(DiskEvent::Write(next, _)) if next == path) {
                continue;
            }
            shown.push(DiskEvent::Write(path.clone(), written).to_string());
            written = 0;
        } else {
            shown.push(event.to_string());
        }
    }
    shown.join(", ")
}

/// A save's file operations, in the only order that leaves a whole, durable snapshot
/// at `path` before anyone is told: create a temporary file beside it, write it, sync
/// it, rename it over `path`, sync the directory, then `on_snapshot_saved(seq)`.
fn made_durable_in_order(events: &[DiskEvent], path: &Path, seq: u64) -> Verdict {
    let seen = || format!("the save did: {}", render_journal(events));
    let fail = |expected: String, why: &str| Err(Failure::new(expected, seen()).with_detail(why));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let position = |wanted: &dyn Fn(&DiskEvent) -> bool| events.iter().position(wanted);
    let Some(temp) = events.iter().find_map(|e| match e {
        DiskEvent::Create(created) => Some(created.clone()),
        _ => None,
    }) else {
        return fail(
            "save_snapshot creates its file through the store's Disk (disk.create)".into(),
            "Every file operation of a snapshot goes through the Disk the store was given, \
             so that the checker can see when each one runs and what is held meanwhile. A \
             file made with std::fs directly is one it cannot see.",
        );
    };
    if temp == path {
        return fail(
            format!("save_snapshot writes a temporary file, not {name} itself"),
            "Creating the snapshot file empties the old snapshot at once: until the last \
             byte is written, the only snapshot on disk is a torn one. Write \
             temp_path_for(path), then rename it over path.",
        );
    }
    if temp.parent() != path.parent() {
        return fail(
            format!("the temporary file is in {name}'s directory"),
            "A rename replaces a file in one step only within one file system; a temporary \
             file elsewhere may be copied instead, byte by byte. temp_path_for(path) gives \
             a name beside path.",
        );
    }
    let is_write = |e: &DiskEvent| matches!(e, DiskEvent::Write(p, _) if *p == temp);
    let Some(last_write) = events.iter().rposition(is_write) else {
        return fail(
            "the snapshot is written into the file that disk.create gave".into(),
            "Write the snapshot into the created file (write_snapshot takes any writer).",
        );
    };
    let renamed =
        position(&|e| matches!(e, DiskEvent::Rename { from, to } if *from == temp && to == path));
    let synced = events[last_write..]
        .iter()
        .position(|e| matches!(e, DiskEvent::Sync(p) if *p == temp))
        .map(|at| last_write + at);
    let Some(renamed) = renamed else {
        return fail(
            format!("the temporary file is renamed over {name} (disk.rename)"),
            "Only a rename puts the new snapshot in place in one step.",
        );
    };
    match synced {
        Some(synced) if synced < renamed => {}
        _ => {
            return fail(
                "the temporary file is synced after its last write and before the rename".into(),
                "Without disk.sync(file) first, a crash soon after the rename can leave the \
                 name pointing at a file whose bytes never reached the disk: an empty or torn \
                 snapshot where a whole one was.",
            );
        }
    }
    let same_dir = |p: &Path| p.parent() == path.parent();
    let dir_synced = events[renamed..]
        .iter()
        .position(|e| matches!(e, DiskEvent::SyncDir(p) if same_dir(p)))
        .map(|at| renamed + at);
    let Some(dir_synced) = dir_synced else {
        return fail(
            "the directory is synced after the rename (disk.sync_dir_of(path))".into(),
            "The rename changed the directory, not the file: until the directory is synced, \
             a crash can undo the rename and bring the old snapshot back.",
        );
    };
    match position(&|e| *e == DiskEvent::Saved(seq)) {
        Some(told) if told > dir_synced => Ok(()),
        Some(_) => fail(
            format!(
                "on_snapshot_saved({seq}) comes once the rename is durable, after the directory sync"
            ),
            "The hook may let the log drop what the snapshot holds: it must hear of the \
             snapshot only once a crash can no longer take the snapshot away.",
        ),
        None => fail(
            format!("the hook hears on_snapshot_saved({seq}) at the end of the save"),
            "Tell the hook last, holding no state lock.",
        ),
    }
}

/// A save whose `op` fails returns the error, leaves the old snapshot in place, leaves
/// no temporary file behind, and tells the hook nothing.
fn failed_save_changes_nothing<S: Subject>(
    subject: &S,
    store: &S::Store,
    lab: &Lab,
    scratch: &Scratch,
    op: DiskOp,
    old: &[u8],
) -> Verdict {
    let path = scratch.path("store.snap");
    let _ = subject.write(store, Command::set("after-the-last-save", "x"));
    lab.fail_next_disk_op(op);
    let saved = subject.save_snapshot(store, &path);
    let events = lab.take_journal();
    let when = format!("when {} fails", op.call());
    if saved.is_ok() {
        return Err(Failure::new(
            format!("{when}, save_snapshot returns the error"),
            "it returned Ok",
        )
        .with_detail("A save that could not write or sync its file has saved nothing; say so."));
    }
    if fs::read(&path).ok().as_deref() != Some(old) {
        return Err(Failure::new(
            format!("{when}, the old snapshot stays in place"),
            format!(
                "{} no longer holds it; the save did: {}",
                path.display(),
                render_journal(&events)
            ),
        ));
    }
    let left = files_in(scratch.dir());
    if left != ["store.snap"] {
        return Err(Failure::new(
            format!("{when}, the temporary file is removed (disk.remove)"),
            format!("the directory holds {left:?}"),
        )
        .with_detail(
            "A failed save that leaves its temporary file behind fills the disk a little more \
             each time it fails. Remove it before returning the error.",
        ));
    }
    if let Some(DiskEvent::Saved(seq)) = events.iter().find(|e| matches!(e, DiskEvent::Saved(_))) {
        return Err(Failure::new(
            format!("{when}, the hook hears nothing"),
            format!("it heard on_snapshot_saved({seq})"),
        ));
    }
    Ok(())
}

/// The names of the files in `dir`.
fn files_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The hook was told about the snapshot `seq` once, when the file already held it.
fn told_after_the_file(lab: &Lab, seq: u64, file: &[u8]) -> Verdict {
    let notices = lab.saved();
    let Some(notice) = notices.last() else {
        return Err(Failure::new(
            format!("once the file is in place, the hook hears on_snapshot_saved({seq})"),
            "on_snapshot_saved was never called",
        ));
    };
    if notice.seq != seq {
        return Err(Failure::new(
            format!("the hook hears on_snapshot_saved({seq}), the snapshot's sequence"),
            format!("it heard on_snapshot_saved({})", notice.seq),
        ));
    }
    if notice.file_then.as_deref() != Some(file) {
        return Err(Failure::new(
            format!("on_snapshot_saved({seq}) comes after the new file is in place"),
            "when it was called, the file did not hold the new snapshot yet",
        )
        .with_detail("The log may drop what the snapshot holds only once the snapshot is safe."));
    }
    Ok(())
}

/// The state every damaged file is made from: live values, a tombstone, an empty value.
fn sample_state() -> state::Store {
    state::replay(&[
        Command::set("apple", "red"),
        Command::set("pear", "zürich ☃"),
        Command::set("fig", ""),
        Command::del("apple"),
        Command::set("plum", "line\nbreak"),
        Command::set("pear", "ripe"),
    ])
    .0
}

/// A body with a fresh header: the damage inside passes the length and checksum.
fn reseal(body: &[u8]) -> Vec<u8> {
    let mut file = reference::MAGIC.to_vec();
    file.extend((body.len() as u64).to_le_bytes());
    file.extend(reference::crc32(body).to_le_bytes());
    file.extend(body);
    file
}

type Damage = (&'static str, Box<dyn Fn(&[u8]) -> Vec<u8>>);

fn damages(encode: &dyn Fn(&state::Store) -> Vec<u8>) -> Vec<Damage> {
    let header = reference::HEADER_LEN;
    let impossible = encode(&state::Store::from_parts(
        sample_state().entries().clone(),
        7,
    ));
    vec![
        ("intact", Box::new(|b| b.to_vec())),
        ("empty file", Box::new(|_| Vec::new())),
        (
            "cut inside the header (12 bytes left)",
            Box::new(|b| b[..12].to_vec()),
        ),
        (
            "cut right after the header",
            Box::new(move |b| b[..header].to_vec()),
        ),
        (
            "cut in the middle of the body",
            Box::new(move |b| b[..header + (b.len() - header) / 2].to_vec()),
        ),
        ("last byte missing", Box::new(|b| b[..b.len() - 1].to_vec())),
        ("one byte too many", Box::new(|b| [b, &[0]].concat())),
        ("magic: KVSNAP becomes KVSNAQ", Box::new(|b| flip(b, 5, 0))),
        (
            "length: bit 2 flipped (4 bytes off)",
            Box::new(|b| flip(b, 8, 2)),
        ),
        (
            "length: bit 63 flipped (absurdly long)",
            Box::new(|b| flip(b, 15, 7)),
        ),
        ("checksum: bit 0 flipped", Box::new(|b| flip(b, 16, 0))),
        (
            "value \"ripe\" becomes \"ripf\"",
            Box::new(|b| {
                let at = b
                    .windows(4)
                    .position(|w| w == b"ripe")
                    .expect("the sample holds \"ripe\"");
                flip(b, at + 3, 0)
            }),
        ),
        (
            "body cut short, header made to match",
            Box::new(move |b| reseal(&b[header..b.len() - 3])),
        ),
        (
            "global sequence 7 of 6 writes, checksum ok",
            Box::new(move |_| impossible.clone()),
        ),
    ]
}

fn flip(bytes: &[u8], at: usize, bit: u8) -> Vec<u8> {
    let mut damaged = bytes.to_vec();
    damaged[at] ^= 1 << bit;
    damaged
}

/// What decoding each damaged copy of the sample snapshot gives, one line each.
pub fn render_damages(
    encode: &dyn Fn(&state::Store) -> Vec<u8>,
    decode: &dyn Fn(&[u8]) -> Result<state::Store, SnapshotError>,
) -> String {
    let bytes = encode(&sample_state());
    let mut out = format!(
        "the sample snapshot: {} entries at sequence 6, {} bytes\n",
        4,
        bytes.len()
    );
    for (name, damage) in damages(encode) {
        let outcome = match decode(&damage(&bytes)) {
            Ok(state) => format!(
                "LOADED: {} entries, sequence {}",
                state.entries().len(),
                state.global_seq()
            ),
            Err(error) => format!("refused: {error}"),
        };
        out += &format!("{name:<42} {outcome}\n");
    }
    out
}

/// The refusals' expected output, maintained with insta (see the tests below).
const DAMAGES_SNAPSHOT: &str = include_str!("../../snapshots/torn-snapshots.snap");

pub fn torn_snapshot_refused<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    ctx.progress("decoding damaged copies of a snapshot");
    let encode = |state: &state::Store| subject.encode(state);
    let decode = |bytes: &[u8]| subject.decode(bytes);
    snapshot::compare(
        "list of refusals",
        DAMAGES_SNAPSHOT,
        &render_damages(&encode, &decode),
    )?;

    let scratch = Scratch::new(ctx, "torn");
    let path = scratch.path("store.snap");
    let lab = Lab::new();
    let bytes = subject.encode(&sample_state());
    let cuts = (0..bytes.len()).map(|len| {
        (
            format!("cut to {len} of {} bytes", bytes.len()),
            bytes[..len].to_vec(),
        )
    });
    let flips = (0..bytes.len() * 8).map(|bit| {
        (
            format!("bit {} of byte {} flipped", bit % 8, bit / 8),
            flip(&bytes, bit / 8, (bit % 8) as u8),
        )
    });
    ctx.progress(format_args!(
        "restoring every cut and every one-bit flip of a {}-byte snapshot file",
        bytes.len()
    ));
    for (damage, damaged) in cuts.chain(flips) {
        fs::write(&path, &damaged).expect("the probe can write its scratch file");
        match subject.restore(&path, &lab) {
            Err(SnapshotError::Io(error)) => {
                return Err(Failure::new(
                    format!("a snapshot file with {damage} is refused for what is wrong with it"),
                    format!("restore answered an I/O error: {error}"),
                )
                .with_detail("An I/O error means the disk failed; a damaged file is Truncated, NotASnapshot, ChecksumMismatch, ..."));
            }
            Err(_) => {}
            Ok(store) => {
                let state = subject.copy_state(&store);
                return Err(Failure::new(
                    format!("a snapshot file with {damage} is refused"),
                    format!(
                        "it was loaded: {} entries, sequence {}",
                        state.entries().len(),
                        state.global_seq()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Values that trip up a format: empty, non-ASCII, a newline, quotes, and long.
fn odd_values() -> Vec<Command> {
    vec![
        Command::set("empty", ""),
        Command::set("unicode", "zürich ☃ 東京"),
        Command::set("newline", "one\ntwo"),
        Command::set("quotes", "\"quoted\" and 'single'"),
        Command::set("long", &"x".repeat(5000)),
        Command::del("newline"),
    ]
}

pub fn restore_roundtrip<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let scratch = Scratch::new(ctx, "restore");
    let mut rng = ctx.rng(700);
    let keys = keys(8);
    let workloads: Vec<(&str, Vec<Command>)> = vec![
        ("an empty store", vec![]),
        ("a store with one key", vec![Command::set("only", "one")]),
        ("odd values and a tombstone", odd_values()),
        (
            "200 random SETs and DELs",
            (0..200)
                .map(|n| random_write(&mut rng, &keys, 0, n))
                .collect(),
        ),
        (
            "every key deleted",
            keys.iter()
                .map(|k| Command::set(k, "x"))
                .chain(keys.iter().map(|k| Command::del(k)))
                .collect(),
        ),
    ];
    for (n, (what, commands)) in workloads.into_iter().enumerate() {
        ctx.progress(format_args!("save and restore: {what}"));
        let lab = Lab::new();
        let store = subject.store(&lab);
        for command in commands {
            let _ = subject.write(&store, command);
        }
        let original = subject.copy_state(&store);
        let path = scratch.path(&format!("store-{n}.snap"));
        let info = subject.save_snapshot(&store, &path).map_err(|e| {
            Failure::new(
                format!("save_snapshot saves {what}"),
                format!("it failed: {e}"),
            )
        })?;
        let restored_lab = Lab::new();
        let restored = subject.restore(&path, &restored_lab).map_err(|e| {
            Failure::new(
                format!("restore loads the snapshot of {what} that save_snapshot just wrote"),
                format!("it refused it: {e}"),
            )
        })?;
        let state = subject.copy_state(&restored);
        if let Some((want, seen)) = state_difference(&original, &state) {
            return Err(Failure::new(
                format!("restoring {what} gives back exactly the saved state: {want}"),
                format!("the restored store has {seen}"),
            ));
        }
        let file_len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let want = (original.global_seq(), original.entries().len(), file_len);
        if (info.seq, info.entries, info.bytes) != want {
            return Err(Failure::new(
                format!(
                    "save_snapshot of {what} answers seq {}, {} entries, {} bytes",
                    want.0, want.1, want.2
                ),
                format!(
                    "it answered seq {}, {} entries, {} bytes",
                    info.seq, info.entries, info.bytes
                ),
            ));
        }
        let next_command = Command::set("after-restore", "x");
        let next_seq = original.global_seq() + 1;
        let next = subject.write(&restored, next_command.clone());
        let want = Ok(Response::Stored {
            version: 1,
            seq: next_seq,
        });
        if next != want {
            return Err(Failure::new(
                format!(
                    "after restoring {what}, the next write answers {}",
                    want.as_ref().unwrap()
                ),
                format!("it answered {next:?}"),
            ));
        }
        let heard = restored_lab.log();
        if heard != [(next_seq, next_command.clone())] {
            let heard = match heard.as_slice() {
                [] => "nothing".to_owned(),
                calls => calls
                    .iter()
                    .map(|(seq, command)| format!("on_write({seq}, `{command}`)"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            return Err(Failure::new(
                format!(
                    "after restoring {what}, the hook hears the next write as \
                     on_write({next_seq}, `{next_command}`)"
                ),
                format!("it heard {heard}"),
            )
            .with_detail(
                "The log goes on where the snapshot ends: after a restore, the hook must hear \
                 each write under the number the write answers. A number counted apart from \
                 the state has to start from the restored state's global_seq.",
            ));
        }
    }
    Ok(())
}

pub fn no_deadlock<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    locks_taken_in_one_order(subject, ctx)?;
    paths_meeting_and_all_at_once(subject, ctx)
}

/// Every path of the store, run once alone and watched, with the order in which it
/// takes the watched locks. Two paths that take two locks in opposite orders deadlock
/// as soon as two threads each get their first lock: no interleaving has to be found,
/// the orders say it.
fn locks_taken_in_one_order<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let walks = tour(subject, ctx)?;
    let names = LockNames(locks_seen(&walks));
    for (at, first) in walks.iter().enumerate() {
        // The exclusive requests first: they are the ones a report should show.
        let mut steps: Vec<Step> = first.steps().collect();
        steps.sort_by_key(|step| step.asked.1 != Side::Exclusive);
        for second in &walks[at..] {
            for step in &steps {
                let reversed = second
                    .steps()
                    .find(|other| other.held.0 == step.asked.0 && other.asked.0 == step.held.0);
                if let Some(other) = reversed {
                    return Err(opposite_orders(
                        &names,
                        (first.path, step),
                        (second.path, &other),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The failure for two paths that take two locks in opposite orders.
fn opposite_orders(names: &LockNames, one: (&str, &Step), other: (&str, &Step)) -> Failure {
    let order = |(path, step): (&str, &Step)| {
        format!(
            "{path} holds {} and asks for {}",
            names.side(step.held),
            names.side(step.asked)
        )
    };
    let threads = if one.0 == other.0 {
        format!("Two threads in {}", one.0)
    } else {
        format!("A thread in {} and one in {}", one.0, other.0)
    };
    Failure::new(
        "every path of the store takes its locks in one order",
        format!("{}; {}", order(one), order(other)),
    )
    .with_detail(format!(
        "{threads} can each get their first lock and then wait for the other's, forever. \
         Nothing has to be unlucky for it: the two orders are enough. Pick one order \
         (the writer's lock, then the state's, say) and take the locks in it on every \
         path, or let go of one lock before asking for the other."
    ))
}

/// A save held in its copy meets a write in the turnstile, then everything runs at
/// once: all must finish, and a hang names every stuck thread.
fn paths_meeting_and_all_at_once<S: Subject>(subject: &S, ctx: &Ctx) -> Verdict {
    let scratch = Scratch::new(ctx, "deadlock");
    let path = scratch.path("store.snap");
    let lab = Lab::new();
    let keys = keys(10);
    let store = prefilled(subject, &lab, &keys)?;

    // A save, held in its copy, meets a write that holds the writer mutex.
    ctx.progress("save_snapshot and a write meeting: the save is held in its copy");
    let hold = Arc::new(Hold::default());
    let mut crew = Crew::new();
    {
        let (subject, store, lab, hold, path) = (
            subject.clone(),
            Arc::clone(&store),
            Arc::clone(&lab),
            Arc::clone(&hold),
            path.clone(),
        );
        crew.spawn("snapshot", move |doing| {
            lab.hold_first_state_access_here(Arc::clone(&hold));
            doing.set(format_args!(
                "save_snapshot({:?})",
                path.file_name().unwrap_or_default()
            ));
            let saved = subject
                .save_snapshot(&store, &path)
                .map(|_| ())
                .map_err(|e| e.to_string());
            hold.arrived.open();
            saved
        });
    }
    hold.arrived.wait(BLOCKED_AFTER);
    let watch = lab.watch_next_write();
    {
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        crew.spawn("writer", move |doing| {
            let command = Command::set("k0", "during-save");
            doing.set(doing_write(&command));
            subject
                .write(&store, command)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    }
    watch.arrived.wait(Duration::from_secs(2));
    hold.release.open();
    let limit = BLOCKED_AFTER;
    let results = crew.join_by(Instant::now() + limit).map_err(|threads| {
        let both = threads.len() == 2;
        stuck(
            "a snapshot save and a write that meet both finish",
            &threads,
            limit,
            if both {
                "This is a deadlock: each thread holds a lock the other is waiting for. The \
                 write holds the writer mutex and waits for the state's write lock; the save \
                 still holds the state's lock and waits for the writer mutex (to call \
                 on_snapshot_saved). Take the locks in one order everywhere: writer mutex \
                 first, then the state; let the state's guard go before taking the writer mutex."
            } else {
                "A thread that never finishes waits for a lock nobody gives back: a guard that \
                 lives too long, or a lock taken twice on one thread."
            },
        )
    })?;
    if let Some(Err(error)) = results.into_iter().find(Result::is_err) {
        return Err(Failure::new(
            "the save and the write succeed",
            format!("one failed: {error}"),
        ));
    }

    // Then everything at once, many times.
    ctx.progress("writers, readers and snapshots (copies, write-outs, saves) all at once");
    let mut crew = Crew::new();
    for writer in 0..2 {
        let mut rng = ctx.rng(800 + writer as u64);
        let commands: Vec<Command> = (0..200)
            .map(|n| random_write(&mut rng, &keys, writer, n))
            .collect();
        let (subject, store) = (subject.clone(), Arc::clone(&store));
        crew.spawn(format!("writer-{writer}"), move |doing| {
            for command in commands {
                doing.set(doing_write(&command));
                let _ = subject.write(&store, command);
            }
        });
    }
    for reader in 0..2 {
        let (subject, store, keys) = (subject.clone(), Arc::clone(&store), keys.clone());
        crew.spawn(format!("reader-{reader}"), move |doing| {
            for _ in 0..40 {
                for key in &keys {
                    doing.set(format_args!("get({key:?})"));
                    subject.get(&store, key);
                }
            }
        });
    }
    {
        let (subject, store, path) = (subject.clone(), Arc::clone(&store), path.clone());
        crew.spawn("snapshot", move |doing| {
            for n in 0..30 {
                match n % 3 {
                    0 => {
                        doing.set("copy_state()");
                        subject.copy_state(&store);
                    }
                    1 => {
                        doing.set("write_snapshot(..)");
                        let _ = subject.write_snapshot(&store, &mut Vec::new());
                    }
                    _ => {
                        doing.set("save_snapshot(..)");
                        let _ = subject.save_snapshot(&store, &path);
                    }
                }
            }
        });
    }
    join_within(
        crew,
        PHASE_LIMIT,
        "writes, reads and snapshots running together all finish",
        "Threads that never finish wait for each other: look for two locks taken in \
         different orders on two paths, or a guard kept while taking the other lock.",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The maintainers' side of the refusals snapshot: review changes with
    /// `cargo insta review`. The probe compares against the same file.
    #[test]
    fn reference_refusals() {
        let text = render_damages(&|s| reference::encode(s), &|b| reference::decode(b));
        insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("torn-snapshots", text);
        });
    }

    #[test]
    fn every_damage_but_the_first_is_refused_by_the_reference() {
        let bytes = reference::encode(&sample_state());
        for (name, damage) in damages(&|s| reference::encode(s)).into_iter().skip(1) {
            assert!(reference::decode(&damage(&bytes)).is_err(), "{name}");
        }
    }
}
