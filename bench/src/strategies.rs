//! Six ways to share the lesson 01 state machine between threads, for the
//! lock-strategy benchmark. Each is the smallest honest version of its idea.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arc_swap::ArcSwap;
use state::{Command, Response, Store};

// ANCHOR: shared_store
/// What the benchmark needs of a shared store.
pub trait SharedStore: Send + Sync {
    fn get(&self, key: &str) -> Response;
    fn set(&self, key: &str, value: &str) -> Response;
}
// ANCHOR_END: shared_store

/// One lock for everything: reads wait for reads too.
#[derive(Default)]
pub struct StdMutex(std::sync::Mutex<Store>);

impl SharedStore for StdMutex {
    fn get(&self, key: &str) -> Response {
        self.0.lock().unwrap().get(key)
    }
    fn set(&self, key: &str, value: &str) -> Response {
        self.0.lock().unwrap().apply(Command::set(key, value))
    }
}

/// The same with parking_lot's smaller, spin-then-park mutex.
#[derive(Default)]
pub struct PlMutex(parking_lot::Mutex<Store>);

impl SharedStore for PlMutex {
    fn get(&self, key: &str) -> Response {
        self.0.lock().get(key)
    }
    fn set(&self, key: &str, value: &str) -> Response {
        self.0.lock().apply(Command::set(key, value))
    }
}

/// Readers share the lock; a writer excludes everyone (lesson 02).
#[derive(Default)]
pub struct StdRwLock(std::sync::RwLock<Store>);

impl SharedStore for StdRwLock {
    fn get(&self, key: &str) -> Response {
        self.0.read().unwrap().get(key)
    }
    fn set(&self, key: &str, value: &str) -> Response {
        self.0.write().unwrap().apply(Command::set(key, value))
    }
}

#[derive(Default)]
pub struct PlRwLock(parking_lot::RwLock<Store>);

impl SharedStore for PlRwLock {
    fn get(&self, key: &str) -> Response {
        self.0.read().get(key)
    }
    fn set(&self, key: &str, value: &str) -> Response {
        self.0.write().apply(Command::set(key, value))
    }
}

/// Keys spread over independent stores, each behind its own lock: writers to
/// different stripes proceed together. The price: each stripe numbers its writes
/// on its own, so there is no longer one global order of writes (lesson 04).
pub struct Striped(Vec<parking_lot::RwLock<Store>>);

impl Striped {
    pub fn new(stripes: usize) -> Self {
        Striped((0..stripes).map(|_| Default::default()).collect())
    }

    fn stripe(&self, key: &str) -> &parking_lot::RwLock<Store> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        &self.0[hasher.finish() as usize % self.0.len()]
    }
}

impl SharedStore for Striped {
    fn get(&self, key: &str) -> Response {
        self.stripe(key).read().get(key)
    }
    fn set(&self, key: &str, value: &str) -> Response {
        self.stripe(key).write().apply(Command::set(key, value))
    }
}

// ANCHOR: copy_on_write
/// Copy-on-write: readers load the current version with no lock at all; a writer
/// copies the whole store, changes the copy and swaps the pointer. Writers still
/// take turns (the mutex), or two copies would each miss the other's write. The old
/// copy is freed when its last reader drops it (the Arc count).
#[derive(Default)]
pub struct CopyOnWrite {
    current: ArcSwap<Store>,
    writer: parking_lot::Mutex<()>,
}

impl SharedStore for CopyOnWrite {
    fn get(&self, key: &str) -> Response {
        self.current.load().get(key)
    }
    fn set(&self, key: &str, value: &str) -> Response {
        let _turn = self.writer.lock();
        let mut copy = Store::clone(&self.current.load());
        let response = copy.apply(Command::set(key, value));
        self.current.store(Arc::new(copy));
        response
    }
}
// ANCHOR_END: copy_on_write

/// Builds a fresh, empty store behind one strategy.
pub type MakeStore = fn() -> Arc<dyn SharedStore>;

/// Every strategy, by the name the benchmark and the book use.
pub fn all() -> Vec<(&'static str, MakeStore)> {
    vec![
        ("std Mutex", || Arc::new(StdMutex::default())),
        ("parking_lot Mutex", || Arc::new(PlMutex::default())),
        ("std RwLock", || Arc::new(StdRwLock::default())),
        ("parking_lot RwLock", || Arc::new(PlRwLock::default())),
        ("striped x16", || Arc::new(Striped::new(16))),
        ("copy-on-write", || Arc::new(CopyOnWrite::default())),
    ]
}
