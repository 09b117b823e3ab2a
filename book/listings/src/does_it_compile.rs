//! Mistakes the compiler catches, for all three theory chapters. Each snippet lives in its own file so the
//! book can include it, and is a doc test here, so a snippet that suddenly
//! compiled (or failed for a different reason) would fail `cargo test`.

/// Two threads incrementing one plain integer.
///
/// ```compile_fail,E0499
#[doc = include_str!("../compile_fail/two_threads_one_counter.rs")]
/// ```
///
/// The same with a mutex compiles and counts to two:
///
/// ```
#[doc = include_str!("../compiles/two_threads_one_counter.rs")]
/// ```
pub struct TwoThreadsOneCounter;

/// Sending an `Rc` to another thread.
///
/// ```compile_fail,E0277
#[doc = include_str!("../compile_fail/rc_across_threads.rs")]
/// ```
pub struct RcAcrossThreads;

/// Sharing a `Cell` between threads.
///
/// ```compile_fail,E0277
#[doc = include_str!("../compile_fail/cell_shared.rs")]
/// ```
pub struct CellShared;

/// Moving a standard `MutexGuard` to another thread.
///
/// ```compile_fail,E0277
#[doc = include_str!("../compile_fail/guard_to_thread.rs")]
/// ```
pub struct GuardToThread;

/// Returning a reference into locked data.
///
/// ```compile_fail,E0515
#[doc = include_str!("../compile_fail/reference_outlives_guard.rs")]
/// ```
pub struct ReferenceOutlivesGuard;

/// Mutating through a reentrant guard.
///
/// ```compile_fail,E0594
#[doc = include_str!("../compile_fail/reentrant_guard_mut.rs")]
/// ```
pub struct ReentrantGuardMut;

/// Using the data without taking the lock.
///
/// ```compile_fail,E0599
#[doc = include_str!("../compile_fail/data_without_lock.rs")]
/// ```
pub struct DataWithoutLock;

/// Touching a monitor's state without its lock (proving-a-lock chapter).
///
/// ```compile_fail,E0609
#[doc = include_str!("../compile_fail/state_without_lock.rs")]
/// ```
pub struct StateWithoutLock;

/// Waiting on a condition variable without holding the lock.
///
/// ```compile_fail,E0308
#[doc = include_str!("../compile_fail/wait_without_guard.rs")]
/// ```
pub struct WaitWithoutGuard;

/// Sharing an `UnsafeCell` between threads without promising anything
/// (publication chapter).
///
/// ```compile_fail,E0277
#[doc = include_str!("../compile_fail/unsafecell_shared.rs")]
/// ```
pub struct UnsafeCellShared;

/// Asking for a consume ordering.
///
/// ```compile_fail,E0599
#[doc = include_str!("../compile_fail/consume_ordering.rs")]
/// ```
pub struct ConsumeOrdering;
