//! The instruments the probe plugs into a store through its three seams: a state that
//! can stand still when a chosen thread first touches it ([`LabState`]), a write hook
//! that records every write and can hold one writer inside the turnstile
//! ([`Recorder`]), and a disk that notes every file operation and can hold a save in
//! the middle of one ([`LabDisk`]). All three report to one [`Lab`].
//!
//! With them, "readers keep going while a writer is in its slow phase" is not a
//! matter of timing: the writer is *parked* in the hook until the probe lets it go,
//! and the readers either finish meanwhile or are stuck behind a lock.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, ThreadId};
use std::time::Duration;

use parking_lot::kvlab_watch::{self, LockId, Side};
use probe_kit::sync::Latch;
use state::{Command, Response};

/// The probe's own mutex: std's, so that the watched locks (parking_lot's, in this
/// crate) are only ever the store's, and a stop set on a store's thread never stops
/// it inside an instrument.
pub struct Mutex<T>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }

    /// The guard; a panic elsewhere while it was held does not hide what it guards.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How long a parked thread waits to be let go before it goes on by itself. Far
/// beyond any wait of the criteria, so it only matters if a criterion has a bug.
const PARK_LIMIT: Duration = Duration::from_secs(25);

/// How many broken rules the lab keeps: the first is the one that matters.
pub const MAX_VIOLATIONS: usize = 20;

/// A place where one thread stops: it opens `arrived` and waits for `release`.
#[derive(Default)]
pub struct Hold {
    pub arrived: Latch,
    pub release: Latch,
}

impl Hold {
    /// A hold that only reports arrival and lets the thread pass at once.
    pub fn passing() -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        hold.release.open();
        hold
    }

    /// Stops the calling thread here until the probe lets it go.
    pub fn park(&self) {
        self.arrived.open();
        self.release.wait(PARK_LIMIT);
    }
}

/// Opens a hold's `arrived` when dropped, even by a panic: a thread that ends without
/// reaching its hold says so, and nobody waits for it in vain.
pub struct ArrivesOnDrop(pub Arc<Hold>);

impl Drop for ArrivesOnDrop {
    fn drop(&mut self) {
        self.0.arrived.open();
    }
}

/// What `on_snapshot_saved` was told, and what the watched file held at that moment.
#[derive(Debug, Clone)]
pub struct SavedNotice {
    pub seq: u64,
    pub file_then: Option<Vec<u8>>,
}

/// A file operation, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskOp {
    Create,
    Write,
    Sync,
    Rename,
    SyncDir,
    Remove,
    Read,
}

impl DiskOp {
    /// The operations of a save, in the order a save makes them.
    pub const OF_A_SAVE: [DiskOp; 5] = [
        DiskOp::Create,
        DiskOp::Write,
        DiskOp::Sync,
        DiskOp::Rename,
        DiskOp::SyncDir,
    ];

    /// The operation as the `Disk` method a store calls for it.
    pub fn call(self) -> &'static str {
        match self {
            DiskOp::Create => "disk.create(temp)",
            DiskOp::Write => "a write to the file disk.create gave",
            DiskOp::Sync => "disk.sync(file)",
            DiskOp::Rename => "disk.rename(temp, path)",
            DiskOp::SyncDir => "disk.sync_dir_of(path)",
            DiskOp::Remove => "disk.remove(..)",
            DiskOp::Read => "disk.read(..)",
        }
    }
}

/// What happened on the lab's disk, and when the hook heard of a saved snapshot, in
/// the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskEvent {
    Create(PathBuf),
    Write(PathBuf, usize),
    Sync(PathBuf),
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    SyncDir(PathBuf),
    Remove(PathBuf),
    Read(PathBuf),
    /// `on_snapshot_saved(seq)`.
    Saved(u64),
}

impl std::fmt::Display for DiskEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |path: &Path| {
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        };
        match self {
            DiskEvent::Create(path) => write!(f, "create {}", name(path)),
            DiskEvent::Write(path, n) => write!(f, "write {n} bytes to {}", name(path)),
            DiskEvent::Sync(path) => write!(f, "sync {}", name(path)),
            DiskEvent::Rename { from, to } => write!(f, "rename {} to {}", name(from), name(to)),
            DiskEvent::SyncDir(path) => write!(f, "sync the directory of {}", name(path)),
            DiskEvent::Remove(path) => write!(f, "remove {}", name(path)),
            DiskEvent::Read(path) => write!(f, "read {}", name(path)),
            DiskEvent::Saved(seq) => write!(f, "on_snapshot_saved({seq})"),
        }
    }
}

/// A point in the store's code where the lab notes which watched locks the thread
/// holds: how a probe learns what each lock guards and what each path holds where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seam {
    /// The hook's `on_write`.
    Hook,
    /// The hook's `on_snapshot_saved`.
    Saved,
    /// A write applied to a state.
    Apply,
    /// A read of a state, through `view`.
    Read,
    /// A copy of a state, through `clone`.
    Copy,
    /// An operation on the lab's disk.
    Disk(DiskOp),
    /// A write to the output `write_snapshot` was given.
    Output,
}

/// The watched locks a thread held at a seam.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldAt {
    pub seam: Seam,
    pub held: Vec<(LockId, Side)>,
}

/// Everything the instruments saw during one criterion.
pub struct Lab {
    /// Every write the hook has finished receiving, in the order it received them.
    log: Mutex<Vec<(u64, Command)>>,
    /// Broken rules the instrumented state saw as they happened.
    violations: Mutex<Vec<String>>,
    /// Whether each change of the state must follow its hook call (off for states
    /// loaded by restore, which have no hook of their own).
    check_applies: bool,
    /// Makes the hook give up the processor once per write, so that writers pile up
    /// at the turnstile: any window in which a number is taken outside it widens.
    yield_in_hook: AtomicBool,
    /// The next write to reach the hook parks here.
    hook_hold: Mutex<Option<Arc<Hold>>>,
    /// The first access to the state from this thread parks here.
    access_hold: Mutex<Option<(ThreadId, Arc<Hold>)>>,
    access_hold_armed: AtomicBool,
    saved: Mutex<Vec<SavedNotice>>,
    watched_file: Mutex<Option<PathBuf>>,
    /// Writes that have taken effect, counted as they do.
    applied: AtomicU64,
    /// The snapshot whose copy is being watched: on which thread, and the writes that
    /// had taken effect at its first and at its latest access to the store's state.
    copy_watch: Mutex<Option<CopyWatch>>,
    copy_watch_armed: AtomicBool,
    /// Every operation on the lab's disk, and every saved-snapshot notice.
    journal: Mutex<Vec<DiskEvent>>,
    /// The next disk operation of this kind parks here.
    disk_hold: Mutex<Option<(DiskOp, Arc<Hold>)>>,
    /// The next disk operation of this kind fails, as a full disk would.
    disk_fault: Mutex<Option<DiskOp>>,
    /// What watched threads held at each seam they passed, in order.
    held_at: Mutex<Vec<HeldAt>>,
}

struct CopyWatch {
    thread: ThreadId,
    first: Option<u64>,
    latest: u64,
}

impl Lab {
    pub fn new() -> Arc<Lab> {
        Arc::new(Lab::with_checks(true))
    }

    fn with_checks(check_applies: bool) -> Lab {
        Lab {
            log: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            check_applies,
            yield_in_hook: AtomicBool::new(false),
            hook_hold: Mutex::new(None),
            access_hold: Mutex::new(None),
            access_hold_armed: AtomicBool::new(false),
            saved: Mutex::new(Vec::new()),
            watched_file: Mutex::new(None),
            applied: AtomicU64::new(0),
            copy_watch: Mutex::new(None),
            copy_watch_armed: AtomicBool::new(false),
            journal: Mutex::new(Vec::new()),
            disk_hold: Mutex::new(None),
            disk_fault: Mutex::new(None),
            held_at: Mutex::new(Vec::new()),
        }
    }

    /// Notes the locks the calling thread holds at `seam`, if it is watched.
    pub fn note_seam(&self, seam: Seam) {
        if kvlab_watch::watched() {
            let held = kvlab_watch::held();
            self.held_at.lock().push(HeldAt { seam, held });
        }
    }

    /// Takes what the seams noted, leaving the list empty.
    pub fn take_held_at(&self) -> Vec<HeldAt> {
        std::mem::take(&mut self.held_at.lock())
    }

    pub fn log(&self) -> Vec<(u64, Command)> {
        self.log.lock().clone()
    }

    /// How many writes the hook has finished receiving.
    pub fn writes_logged(&self) -> usize {
        self.log.lock().len()
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().clone()
    }

    pub fn saved(&self) -> Vec<SavedNotice> {
        self.saved.lock().clone()
    }

    pub fn yield_in_hook(&self, on: bool) {
        self.yield_in_hook.store(on, Ordering::Relaxed);
    }

    /// Parks the next write that reaches the hook, before the hook records it.
    pub fn hold_next_write(&self) -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        *self.hook_hold.lock() = Some(Arc::clone(&hold));
        hold
    }

    /// Reports (without parking) when the next write reaches the hook.
    pub fn watch_next_write(&self) -> Arc<Hold> {
        let hold = Hold::passing();
        *self.hook_hold.lock() = Some(Arc::clone(&hold));
        hold
    }

    /// Parks the calling thread at its first access to the state from now on (a
    /// read through `view`, or a copy with `clone`), at `hold`.
    pub fn hold_first_state_access_here(&self, hold: Arc<Hold>) {
        *self.access_hold.lock() = Some((thread::current().id(), hold));
        self.access_hold_armed.store(true, Ordering::Release);
    }

    /// Watches the copy of the snapshot the calling thread is about to take: every
    /// access it makes to the store's own state (not to a copy) notes how many writes
    /// had taken effect, and gives the processor away once, so that waiting writers get
    /// every chance to land in a gap between two lock acquisitions.
    pub fn copy_begins(&self) {
        *self.copy_watch.lock() = Some(CopyWatch {
            thread: thread::current().id(),
            first: None,
            latest: 0,
        });
        self.copy_watch_armed.store(true, Ordering::Release);
    }

    /// Ends the watch, and says which writes took effect between the first and the
    /// last access of the copy, if any: then the copy was not one moment.
    pub fn copy_ends(&self) -> Option<(u64, u64)> {
        self.copy_watch_armed.store(false, Ordering::Release);
        let watch = self.copy_watch.lock().take()?;
        let first = watch.first?;
        (watch.latest != first).then_some((first, watch.latest))
    }

    /// Takes what the disk journal holds, leaving it empty.
    pub fn take_journal(&self) -> Vec<DiskEvent> {
        std::mem::take(&mut self.journal.lock())
    }

    /// Parks the next disk operation of kind `op` before it is made.
    pub fn hold_next_disk_op(&self, op: DiskOp) -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        *self.disk_hold.lock() = Some((op, Arc::clone(&hold)));
        hold
    }

    /// Whether a disk hold is still waiting for its operation.
    pub fn disk_hold_pending(&self) -> bool {
        self.disk_hold.lock().is_some()
    }

    /// Forgets a disk hold that nothing reached.
    pub fn clear_disk_hold(&self) {
        self.disk_hold.lock().take();
    }

    /// Makes the next disk operation of kind `op` fail, as a full disk would.
    pub fn fail_next_disk_op(&self, op: DiskOp) {
        *self.disk_fault.lock() = Some(op);
    }

    /// One disk operation: parked if a hold waits for it, failed if a fault does,
    /// journaled if it is made.
    fn disk_op<T>(
        &self,
        op: DiskOp,
        event: DiskEvent,
        make: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        let hold = {
            let mut armed = self.disk_hold.lock();
            match armed.as_ref() {
                Some((kind, _)) if *kind == op => armed.take().map(|(_, hold)| hold),
                _ => None,
            }
        };
        if let Some(hold) = hold {
            hold.park();
        }
        self.note_seam(Seam::Disk(op));
        let fault = {
            let mut armed = self.disk_fault.lock();
            (*armed == Some(op)).then(|| armed.take())
        };
        if fault.is_some() {
            return Err(io::Error::other(format!(
                "no space left on the device (the checker failed this {} on purpose)",
                op.call()
            )));
        }
        let made = make()?;
        self.journal.lock().push(event);
        Ok(made)
    }

    /// Reads this file whenever the hook hears that a snapshot was saved.
    pub fn watch_file(&self, path: PathBuf) {
        *self.watched_file.lock() = Some(path);
    }

    fn hook_called(&self, seq: u64, command: &Command) {
        self.note_seam(Seam::Hook);
        if self.yield_in_hook.load(Ordering::Relaxed) {
            thread::yield_now();
        }
        let hold = self.hook_hold.lock().take();
        if let Some(hold) = hold {
            hold.park();
        }
        self.log.lock().push((seq, command.clone()));
    }

    fn snapshot_saved(&self, seq: u64) {
        self.note_seam(Seam::Saved);
        let watched = self.watched_file.lock().clone();
        let file_then = watched.and_then(|path| std::fs::read(path).ok());
        self.saved.lock().push(SavedNotice { seq, file_then });
        self.journal.lock().push(DiskEvent::Saved(seq));
    }

    fn state_accessed(&self, original: bool) {
        if original && self.copy_watch_armed.load(Ordering::Acquire) {
            self.note_copy_access();
        }
        if !self.access_hold_armed.load(Ordering::Acquire) {
            return;
        }
        let hold = {
            let mut armed = self.access_hold.lock();
            match armed.as_ref() {
                Some((thread, _)) if *thread == thread::current().id() => {
                    self.access_hold_armed.store(false, Ordering::Release);
                    armed.take().map(|(_, hold)| hold)
                }
                _ => None,
            }
        };
        if let Some(hold) = hold {
            hold.park();
        }
    }

    fn note_copy_access(&self) {
        let applied = self.applied.load(Ordering::SeqCst);
        let watched = match self.copy_watch.lock().as_mut() {
            Some(watch) if watch.thread == thread::current().id() => {
                watch.first.get_or_insert(applied);
                watch.latest = applied;
                true
            }
            _ => false,
        };
        if watched {
            thread::yield_now();
        }
    }

    fn violation(&self, what: String) {
        let mut violations = self.violations.lock();
        if violations.len() < MAX_VIOLATIONS {
            violations.push(what);
        }
    }
}

/// Lesson 01's state, instrumented: it checks every change against the hook's log,
/// and can park the first access of a chosen thread.
pub struct LabState {
    inner: state::Store,
    lab: Arc<Lab>,
    /// The store's own state, not a copy of it.
    original: bool,
}

impl LabState {
    pub fn new(lab: &Arc<Lab>) -> Self {
        LabState {
            inner: state::Store::new(),
            lab: Arc::clone(lab),
            original: true,
        }
    }

    /// A state loaded by restore: it has no hook of its own to be checked against.
    pub fn detached(store: state::Store) -> Self {
        LabState {
            inner: store,
            lab: Arc::new(Lab::with_checks(false)),
            original: true,
        }
    }

    pub fn into_inner(self) -> state::Store {
        self.inner
    }

    pub fn view(&self) -> &state::Store {
        self.lab.note_seam(Seam::Read);
        self.lab.state_accessed(self.original);
        &self.inner
    }

    pub fn apply(&mut self, command: Command) -> Response {
        self.lab.note_seam(Seam::Apply);
        let before = self.inner.global_seq();
        let response = self.inner.apply(command.clone());
        let after = self.inner.global_seq();
        if after != before {
            self.lab.applied.fetch_add(1, Ordering::SeqCst);
        }
        if self.lab.check_applies && after != before {
            let last = self.lab.log.lock().last().cloned();
            if let Some(what) = out_of_turn(after, &command, last) {
                self.lab.violation(what);
            }
        }
        response
    }
}

/// Why a write that took effect as number `seq` should not have, given the last
/// write the hook had received; `None` when it is exactly that write.
fn out_of_turn(seq: u64, command: &Command, last: Option<(u64, Command)>) -> Option<String> {
    match last {
        Some((logged, ref logged_command)) if logged == seq && logged_command == command => None,
        None => Some(format!(
            "`{command}` took effect as write #{seq} before the hook had received any write"
        )),
        Some((logged, logged_command)) if logged == seq => Some(format!(
            "write #{seq} took effect as `{command}`, but the hook received `{logged_command}` \
             under that number"
        )),
        Some((logged, _)) if logged < seq => Some(format!(
            "`{command}` took effect as write #{seq} before the hook received it (the last \
             write the hook had was #{logged})"
        )),
        Some((logged, _)) => Some(format!(
            "`{command}` took effect as write #{seq} after the hook had already received \
             write #{logged}: writes took effect out of sequence order"
        )),
    }
}

impl Clone for LabState {
    /// Copying the state is an access too: a snapshot's copy can be parked here.
    fn clone(&self) -> Self {
        self.lab.note_seam(Seam::Copy);
        self.lab.state_accessed(self.original);
        LabState {
            inner: self.inner.clone(),
            lab: Arc::clone(&self.lab),
            original: false,
        }
    }
}

/// The write hook the probe plugs in.
pub struct Recorder {
    lab: Arc<Lab>,
}

impl Recorder {
    pub fn new(lab: &Arc<Lab>) -> Self {
        Recorder {
            lab: Arc::clone(lab),
        }
    }

    pub fn on_write(&mut self, seq: u64, command: &Command) {
        self.lab.hook_called(seq, command);
    }

    pub fn on_snapshot_saved(&mut self, seq: u64) {
        self.lab.snapshot_saved(seq);
    }
}

/// The disk the probe plugs in: the real file system, with every operation
/// journaled, and any one of them held or failed on request.
pub struct LabDisk {
    lab: Arc<Lab>,
}

impl LabDisk {
    pub fn new(lab: &Arc<Lab>) -> Self {
        LabDisk {
            lab: Arc::clone(lab),
        }
    }

    pub fn create(&self, path: &Path) -> io::Result<LabFile> {
        let file = self
            .lab
            .disk_op(DiskOp::Create, DiskEvent::Create(path.to_owned()), || {
                File::create(path)
            })?;
        Ok(LabFile {
            file,
            path: path.to_owned(),
            lab: Arc::clone(&self.lab),
        })
    }

    pub fn sync(&self, file: &mut LabFile) -> io::Result<()> {
        self.lab
            .disk_op(DiskOp::Sync, DiskEvent::Sync(file.path.clone()), || {
                file.file.sync_all()
            })
    }

    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let event = DiskEvent::Rename {
            from: from.to_owned(),
            to: to.to_owned(),
        };
        self.lab
            .disk_op(DiskOp::Rename, event, || fs::rename(from, to))
    }

    pub fn sync_dir_of(&self, path: &Path) -> io::Result<()> {
        self.lab
            .disk_op(DiskOp::SyncDir, DiskEvent::SyncDir(path.to_owned()), || {
                let dir = match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir,
                    _ => Path::new("."),
                };
                File::open(dir)?.sync_all()
            })
    }

    pub fn remove(&self, path: &Path) -> io::Result<()> {
        self.lab
            .disk_op(DiskOp::Remove, DiskEvent::Remove(path.to_owned()), || {
                fs::remove_file(path)
            })
    }

    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.lab
            .disk_op(DiskOp::Read, DiskEvent::Read(path.to_owned()), || {
                fs::read(path)
            })
    }
}

/// A file the lab's disk created: its writes are journaled, and can be held or failed.
pub struct LabFile {
    file: File,
    path: PathBuf,
    lab: Arc<Lab>,
}

impl Write for LabFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (file, path) = (&mut self.file, &self.path);
        self.lab.disk_op(
            DiskOp::Write,
            DiskEvent::Write(path.clone(), buf.len()),
            || file.write_all(buf).map(|()| buf.len()),
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use probe_kit::sync::spawn;

    use super::*;

    #[test]
    fn a_change_must_follow_its_hook_call() {
        let set = Command::set("k", "v");
        assert_eq!(out_of_turn(3, &set, Some((3, set.clone()))), None);
        for last in [
            None,
            Some((2, set.clone())),
            Some((4, set.clone())),
            Some((3, Command::del("k"))),
        ] {
            assert!(out_of_turn(3, &set, last).is_some());
        }
    }

    #[test]
    fn a_held_write_parks_until_released() {
        let lab = Lab::new();
        let hold = lab.hold_next_write();
        let mut recorder = Recorder::new(&lab);
        let worker = spawn("writer", move || {
            recorder.on_write(1, &Command::set("k", "v"))
        });
        assert!(hold.arrived.wait(Duration::from_secs(10)));
        assert!(lab.log().is_empty());
        hold.release.open();
        worker
            .join_by(Instant::now() + Duration::from_secs(10))
            .unwrap();
        assert_eq!(lab.log().len(), 1);
    }
}
