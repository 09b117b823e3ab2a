//! Moving money between two accounts takes two locks, and two locks taken in
//! opposite orders by two threads is the textbook deadlock.

use parking_lot::Mutex;
use std::time::Duration;

#[derive(Debug)]
pub struct Account {
    /// Unique and fixed for the account's life: the lock order is by id.
    pub id: u32,
    pub balance: Mutex<i64>,
}

impl Account {
    pub fn new(id: u32, balance: i64) -> Self {
        Self {
            id,
            balance: Mutex::new(balance),
        }
    }
}

// ANCHOR: naive
/// Can deadlock: thread A runs `transfer(x, y)` and holds `x`, thread B runs
/// `transfer(y, x)` and holds `y`, and each waits for the other's lock.
pub fn transfer_naive(from: &Account, to: &Account, amount: i64) {
    let mut source = from.balance.lock();
    let mut target = to.balance.lock();
    *source -= amount;
    *target += amount;
}
// ANCHOR_END: naive

// ANCHOR: ordered
/// Never deadlocks: every thread takes the lower id first, so no thread can
/// hold the higher lock while waiting for the lower one, and a cycle of
/// waiting threads cannot close.
pub fn transfer_ordered(from: &Account, to: &Account, amount: i64) {
    assert_ne!(from.id, to.id, "a transfer needs two distinct accounts");
    let (mut source, mut target);
    if from.id < to.id {
        source = from.balance.lock();
        target = to.balance.lock();
    } else {
        target = to.balance.lock();
        source = from.balance.lock();
    }
    *source -= amount;
    *target += amount;
}
// ANCHOR_END: ordered

// ANCHOR: timeout
#[derive(Debug, PartialEq, Eq)]
pub struct Busy;

/// Never blocks forever: a thread that cannot get the second lock in time
/// lets go of the first: a held lock can be taken back (from its own holder),
/// which breaks the "no preemption" a deadlock needs.
/// The caller decides what to do with [`Busy`]: retry, or report.
pub fn try_transfer(
    from: &Account,
    to: &Account,
    amount: i64,
    patience: Duration,
) -> Result<(), Busy> {
    try_transfer_with(from, to, amount, patience, || {})
}

/// `between` runs while holding the first lock only (tests use it to make
/// two threads each hold one lock before reaching for the other).
pub fn try_transfer_with(
    from: &Account,
    to: &Account,
    amount: i64,
    patience: Duration,
    between: impl FnOnce(),
) -> Result<(), Busy> {
    let mut source = from.balance.try_lock_for(patience).ok_or(Busy)?;
    between();
    // If this fails, `source` is dropped on the way out: nothing stays held.
    let mut target = to.balance.try_lock_for(patience).ok_or(Busy)?;
    *source -= amount;
    *target += amount;
    Ok(())
}
// ANCHOR_END: timeout

// ANCHOR: retry
/// Retries until it succeeds. Each attempt waits a little longer, and the
/// patience differs per call site (`salt`), so two threads that collided once
/// do not keep colliding in lockstep (that would be a livelock).
pub fn transfer_with_retry(from: &Account, to: &Account, amount: i64, salt: u64) -> u32 {
    let mut attempts = 1;
    loop {
        let patience = Duration::from_micros(50 * u64::from(attempts) + salt % 97);
        if try_transfer(from, to, amount, patience).is_ok() {
            return attempts;
        }
        attempts += 1;
    }
}
// ANCHOR_END: retry

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::finishes;
    use std::sync::{Arc, Barrier};
    use std::thread;

    fn two_accounts() -> Arc<(Account, Account)> {
        Arc::new((Account::new(1, 1_000), Account::new(2, 1_000)))
    }

    fn total(accounts: &(Account, Account)) -> i64 {
        *accounts.0.balance.lock() + *accounts.1.balance.lock()
    }

    // ANCHOR: cycle
    #[test]
    fn opposite_orders_form_a_cycle() {
        let accounts = two_accounts();
        let both_hold_one = Arc::new(Barrier::new(2));
        let both_tried = Arc::new(Barrier::new(2));
        let threads: Vec<_> = [false, true]
            .into_iter()
            .map(|reversed| {
                let (accounts, both_hold_one, both_tried) = (
                    Arc::clone(&accounts),
                    Arc::clone(&both_hold_one),
                    Arc::clone(&both_tried),
                );
                thread::spawn(move || {
                    let (first, second) = if reversed {
                        (&accounts.1, &accounts.0)
                    } else {
                        (&accounts.0, &accounts.1)
                    };
                    let _held = first.balance.lock();
                    both_hold_one.wait();
                    // What `transfer_naive` would wait for, forever. A bounded
                    // attempt shows the lock is unobtainable, since its holder
                    // is itself stuck on this line.
                    let got_second = second
                        .balance
                        .try_lock_for(Duration::from_millis(50))
                        .is_some();
                    // Keep holding the first lock until both have tried.
                    both_tried.wait();
                    got_second
                })
            })
            .collect();
        for thread in threads {
            assert!(
                !thread.join().unwrap(),
                "each thread waited for a lock the other holds"
            );
        }
    }
    // ANCHOR_END: cycle

    #[test]
    fn ordered_transfers_in_both_directions_finish_and_keep_the_total() {
        let accounts = two_accounts();
        finishes("ordered transfers", {
            let accounts = Arc::clone(&accounts);
            move || {
                thread::scope(|s| {
                    s.spawn(|| {
                        (0..20_000).for_each(|_| transfer_ordered(&accounts.0, &accounts.1, 3))
                    });
                    s.spawn(|| {
                        (0..20_000).for_each(|_| transfer_ordered(&accounts.1, &accounts.0, 3))
                    });
                });
            }
        });
        assert_eq!(total(&accounts), 2_000);
        assert_eq!(*accounts.0.balance.lock(), 1_000);
    }

    #[test]
    fn when_each_holds_one_lock_at_least_one_backs_off() {
        let accounts = two_accounts();
        let both_hold_one = Arc::new(Barrier::new(2));
        let outcomes: Vec<_> = [false, true]
            .into_iter()
            .map(|reversed| {
                let (accounts, both_hold_one) = (Arc::clone(&accounts), Arc::clone(&both_hold_one));
                thread::spawn(move || {
                    let (from, to) = if reversed {
                        (&accounts.1, &accounts.0)
                    } else {
                        (&accounts.0, &accounts.1)
                    };
                    let outcome =
                        try_transfer_with(from, to, 10, Duration::from_millis(20), || {
                            both_hold_one.wait();
                        });
                    if outcome.is_err() {
                        transfer_with_retry(from, to, 10, u64::from(reversed));
                    }
                    outcome
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(
            outcomes.contains(&Err(Busy)),
            "both waited on each other, so someone gave up"
        );
        // The one that gave up retried; both transfers happened exactly once.
        assert_eq!(*accounts.0.balance.lock(), 1_000);
        assert_eq!(total(&accounts), 2_000);
    }

    #[test]
    fn retrying_transfers_in_both_directions_finish_and_keep_the_total() {
        let accounts = two_accounts();
        finishes("retrying transfers", {
            let accounts = Arc::clone(&accounts);
            move || {
                thread::scope(|s| {
                    s.spawn(|| {
                        for i in 0..5_000 {
                            transfer_with_retry(&accounts.0, &accounts.1, 2, i);
                        }
                    });
                    s.spawn(|| {
                        for i in 0..5_000 {
                            transfer_with_retry(&accounts.1, &accounts.0, 2, i + 1);
                        }
                    });
                });
            }
        });
        assert_eq!(total(&accounts), 2_000);
        assert_eq!(*accounts.0.balance.lock(), 1_000);
    }
}
