//! A counting semaphore (std has none), and a pool it keeps within bounds.

use std::sync::{Condvar, Mutex};

// ANCHOR: semaphore
/// At most `permits` holders at a time.
#[derive(Debug)]
pub struct Semaphore {
    // The count and the condition variable go together: a waiter checks the
    // count and goes to sleep as one step, so a release cannot slip between
    // "saw zero" and "asleep" and be missed.
    available: Mutex<usize>,
    released: Condvar,
}

/// Proof of holding one permit; dropping it gives the permit back, even if
/// the holder panics.
#[derive(Debug)]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    pub fn new(permits: usize) -> Self {
        Self {
            available: Mutex::new(permits),
            released: Condvar::new(),
        }
    }

    pub fn acquire(&self) -> Permit<'_> {
        let mut available = self.available.lock().unwrap();
        // `while`, not `if`: waking up is a hint, not a promise. Another
        // thread may have taken the permit first, or the wake-up may be
        // spurious.
        while *available == 0 {
            available = self.released.wait(available).unwrap();
        }
        *available -= 1;
        Permit { semaphore: self }
    }

    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut available = self.available.lock().unwrap();
        if *available == 0 {
            return None;
        }
        *available -= 1;
        Some(Permit { semaphore: self })
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.semaphore.available.lock().unwrap() += 1;
        // One permit came back, so one waiter can use it.
        self.semaphore.released.notify_one();
    }
}
// ANCHOR_END: semaphore

// ANCHOR: pool
/// A fixed set of connections; `get` waits while all are lent out.
#[derive(Debug)]
pub struct Pool<C> {
    permits: Semaphore,
    idle: Mutex<Vec<C>>,
}

/// A connection on loan. It goes back to the pool when dropped.
#[derive(Debug)]
pub struct Loan<'a, C> {
    // `Drop for Loan` runs before any field is dropped, so the connection is
    // back in `idle` before `_permit` goes and lets the next borrower in.
    connection: Option<C>,
    pool: &'a Pool<C>,
    _permit: Permit<'a>,
}

impl<C> Pool<C> {
    pub fn new(connections: Vec<C>) -> Self {
        Self {
            permits: Semaphore::new(connections.len()),
            idle: Mutex::new(connections),
        }
    }

    pub fn get(&self) -> Loan<'_, C> {
        let permit = self.permits.acquire();
        // Holding a permit guarantees an idle connection: there are as many
        // permits as connections, and every loan holds one of each.
        let connection = self
            .idle
            .lock()
            .unwrap()
            .pop()
            .expect("a permit means a connection is idle");
        Loan {
            connection: Some(connection),
            pool: self,
            _permit: permit,
        }
    }
}

impl<C> std::ops::Deref for Loan<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.connection.as_ref().expect("present until drop")
    }
}

impl<C> Drop for Loan<'_, C> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.pool.idle.lock().unwrap().push(connection);
        }
    }
}
// ANCHOR_END: pool

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    #[test]
    fn the_last_permit_makes_the_next_caller_wait() {
        let semaphore = Semaphore::new(2);
        let holding = Barrier::new(3);
        let done = Barrier::new(3);
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let _permit = semaphore.acquire();
                    holding.wait();
                    done.wait();
                });
            }
            holding.wait();
            // Both permits are out, deterministically: no third holder.
            assert!(semaphore.try_acquire().is_none());
            done.wait();
        });
        // Both came back.
        let (_a, _b) = (semaphore.acquire(), semaphore.acquire());
        assert!(semaphore.try_acquire().is_none());
    }

    // ANCHOR: pool_test
    #[test]
    fn the_pool_never_lends_more_than_it_has() {
        let pool = Pool::new(vec!["db-1", "db-2", "db-3"]);
        let on_loan = AtomicUsize::new(0);
        let most_on_loan = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..500 {
                        let connection = pool.get();
                        let now = on_loan.fetch_add(1, Ordering::SeqCst) + 1;
                        most_on_loan.fetch_max(now, Ordering::SeqCst);
                        assert!(connection.starts_with("db-"));
                        on_loan.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(most_on_loan.load(Ordering::SeqCst) <= 3);
        assert_eq!(
            pool.idle.lock().unwrap().len(),
            3,
            "every connection came back"
        );
    }
    // ANCHOR_END: pool_test
}
