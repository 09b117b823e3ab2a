//! The reference's queue and lock written again over open parts, so that a fixture
//! or a variant replaces exactly one step and keeps the others sound.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};

use kvlab_sync::{CellMut, CellRef, Condvar, Mutex, SharedCell};
use probe_lesson02::{Instrumented, Layer, Layered};
use reference::store::{Command, Entry, Response, Violation};

use crate::{LockState, LockViolation, Subject};

/// The queue's parts.
pub struct QueueParts {
    pub items: Mutex<VecDeque<u64>>,
    pub capacity: usize,
    pub not_empty: Condvar,
    pub not_full: Condvar,
}

/// The queue's steps; each default is the reference's.
pub trait QueuePlant: Copy + Send + Sync + 'static {
    fn push(&self, q: &QueueParts, item: u64) {
        let mut items = q.items.lock();
        while items.len() == q.capacity {
            items = q.not_full.wait(items);
        }
        items.push_back(item);
        q.not_empty.notify_one();
    }

    fn pop(&self, q: &QueueParts) -> u64 {
        let mut items = q.items.lock();
        let item = loop {
            match items.pop_front() {
                Some(item) => break item,
                None => items = q.not_empty.wait(items),
            }
        };
        q.not_full.notify_one();
        item
    }

    fn try_push(&self, q: &QueueParts, item: u64) -> Result<(), u64> {
        let mut items = q.items.lock();
        if items.len() == q.capacity {
            return Err(item);
        }
        items.push_back(item);
        q.not_empty.notify_one();
        Ok(())
    }

    fn try_pop(&self, q: &QueueParts) -> Option<u64> {
        let item = q.items.lock().pop_front()?;
        q.not_full.notify_one();
        Some(item)
    }
}

/// The lock's parts, but for the data.
pub struct LockCore {
    pub state: Mutex<LockState>,
    pub readers_may_enter: Condvar,
    pub writer_may_enter: Condvar,
}

/// The reference's rule for a reader going in.
pub fn reader_may_go_in(state: &LockState) -> bool {
    !state.writer && (state.writers_waiting == 0 || state.readers_next)
}

/// The reference's rule for a writer going in.
pub fn writer_may_go_in(state: &LockState) -> bool {
    !state.writer && state.readers == 0 && !state.readers_next
}

/// The lock's steps and those of lesson 02's store on it (5 to 14); each default is
/// the reference's.
pub trait LockPlant: Copy + Send + Sync + 'static {
    fn enter_read(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.readers_waiting += 1;
        while !reader_may_go_in(&state) {
            state = l.readers_may_enter.wait(state);
        }
        state.readers_waiting -= 1;
        if state.readers_waiting == 0 {
            state.readers_next = false;
        }
        state.readers += 1;
    }

    fn try_enter_read(&self, l: &LockCore) -> bool {
        let mut state = l.state.lock();
        if !reader_may_go_in(&state) {
            return false;
        }
        state.readers += 1;
        true
    }

    fn enter_write(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.writers_waiting += 1;
        while !writer_may_go_in(&state) {
            state = l.writer_may_enter.wait(state);
        }
        state.writers_waiting -= 1;
        state.writer = true;
    }

    fn try_enter_write(&self, l: &LockCore) -> bool {
        let mut state = l.state.lock();
        if !writer_may_go_in(&state) {
            return false;
        }
        state.writer = true;
        true
    }

    fn leave_read(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.readers -= 1;
        if state.readers == 0 && state.writers_waiting > 0 {
            l.writer_may_enter.notify_one();
        }
    }

    fn leave_write(&self, l: &LockCore) {
        let mut state = l.state.lock();
        state.writer = false;
        if state.readers_waiting > 0 {
            state.readers_next = true;
            l.readers_may_enter.notify_all();
        } else if state.writers_waiting > 0 {
            l.writer_may_enter.notify_one();
        }
    }

    fn check(&self, state: &LockState) -> Result<(), LockViolation> {
        state.check_invariants()
    }

    fn get(&self, machine: &PlantedLock<Instrumented, Self>, key: &str) -> Response {
        match machine.read().lookup(key) {
            Some(Entry {
                value: Some(value),
                version,
                ..
            }) => Response::Value {
                value: value.clone(),
                version: *version,
            },
            _ => Response::NotFound,
        }
    }

    fn set(&self, machine: &PlantedLock<Instrumented, Self>, key: &str, value: &str) -> Response {
        let command = Command::set(key, value);
        machine.write().apply(command)
    }

    fn del(&self, machine: &PlantedLock<Instrumented, Self>, key: &str) -> Response {
        let command = Command::del(key);
        machine.write().apply(command)
    }
}

/// The sound steps, for the part a fixture does not plant a bug in.
#[derive(Clone, Copy, Default)]
pub struct Sound;
impl QueuePlant for Sound {}
impl LockPlant for Sound {}

pub struct PlantedQueue<Q> {
    parts: QueueParts,
    plant: Q,
}

impl<Q: QueuePlant> PlantedQueue<Q> {
    fn new(plant: Q, capacity: usize) -> Self {
        PlantedQueue {
            parts: QueueParts {
                items: Mutex::new(VecDeque::new()),
                capacity,
                not_empty: Condvar::new(),
                not_full: Condvar::new(),
            },
            plant,
        }
    }
}

pub struct PlantedLock<T, L> {
    core: LockCore,
    value: SharedCell<T>,
    plant: L,
}

impl<T, L: LockPlant> PlantedLock<T, L> {
    fn new(plant: L, value: T) -> Self {
        PlantedLock {
            core: LockCore {
                state: Mutex::new(LockState::default()),
                readers_may_enter: Condvar::new(),
                writer_may_enter: Condvar::new(),
            },
            value: SharedCell::new(value),
            plant,
        }
    }

    pub fn read(&self) -> ReadGuard<'_, T, L> {
        self.plant.enter_read(&self.core);
        ReadGuard {
            lock: self,
            data: Some(self.value.borrow()),
        }
    }

    fn try_read(&self) -> Option<ReadGuard<'_, T, L>> {
        self.plant.try_enter_read(&self.core).then(|| ReadGuard {
            lock: self,
            data: Some(self.value.borrow()),
        })
    }

    pub fn write(&self) -> WriteGuard<'_, T, L> {
        self.plant.enter_write(&self.core);
        WriteGuard {
            lock: self,
            data: Some(self.value.borrow_mut()),
        }
    }

    fn try_write(&self) -> Option<WriteGuard<'_, T, L>> {
        self.plant.try_enter_write(&self.core).then(|| WriteGuard {
            lock: self,
            data: Some(self.value.borrow_mut()),
        })
    }
}

pub struct ReadGuard<'a, T, L: LockPlant> {
    lock: &'a PlantedLock<T, L>,
    data: Option<CellRef<'a, T>>,
}

impl<T, L: LockPlant> Deref for ReadGuard<'_, T, L> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data.as_ref().expect("a live guard holds its borrow")
    }
}

impl<T, L: LockPlant> Drop for ReadGuard<'_, T, L> {
    fn drop(&mut self) {
        self.data.take();
        self.lock.plant.leave_read(&self.lock.core);
    }
}

pub struct WriteGuard<'a, T, L: LockPlant> {
    lock: &'a PlantedLock<T, L>,
    data: Option<CellMut<'a, T>>,
}

impl<T, L: LockPlant> Deref for WriteGuard<'_, T, L> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data.as_ref().expect("a live guard holds its borrow")
    }
}

impl<T, L: LockPlant> DerefMut for WriteGuard<'_, T, L> {
    fn deref_mut(&mut self) -> &mut T {
        self.data.as_mut().expect("a live guard holds its borrow")
    }
}

impl<T, L: LockPlant> Drop for WriteGuard<'_, T, L> {
    fn drop(&mut self) {
        self.data.take();
        self.lock.plant.leave_write(&self.lock.core);
    }
}

/// Lesson 02's store on a planted lock.
pub struct PlantedStore<L> {
    machine: PlantedLock<Instrumented, L>,
}

impl<L: LockPlant + Default> Layer for PlantedStore<L> {
    fn with_machine(machine: Instrumented) -> Self {
        PlantedStore {
            machine: PlantedLock::new(L::default(), machine),
        }
    }

    fn get(&self, key: &str) -> Response {
        self.machine.plant.get(&self.machine, key)
    }

    fn set(&self, key: &str, value: &str) -> Response {
        self.machine.plant.set(&self.machine, key, value)
    }

    fn del(&self, key: &str) -> Response {
        self.machine.plant.del(&self.machine, key)
    }

    fn check_invariants(&self) -> Result<(), Violation> {
        self.machine.read().check_invariants()
    }
}

/// A queue plant and a lock plant, seen as a [`Subject`].
pub struct Planted<Q, L>(pub Q, pub L);

impl<Q: Copy, L: Copy> Clone for Planted<Q, L> {
    fn clone(&self) -> Self {
        Planted(self.0, self.1)
    }
}

impl<Q: QueuePlant, L: LockPlant + Default> Subject for Planted<Q, L> {
    type Queue = PlantedQueue<Q>;
    type Lock = PlantedLock<u64, L>;
    type Store = Layered<PlantedStore<L>>;

    fn queue(&self, capacity: usize) -> Self::Queue {
        assert!(capacity > 0, "a bounded queue holds at least one item");
        PlantedQueue::new(self.0, capacity)
    }
    fn push(&self, queue: &Self::Queue, item: u64) {
        queue.plant.push(&queue.parts, item)
    }
    fn pop(&self, queue: &Self::Queue) -> u64 {
        queue.plant.pop(&queue.parts)
    }
    fn try_push(&self, queue: &Self::Queue, item: u64) -> Result<(), u64> {
        queue.plant.try_push(&queue.parts, item)
    }
    fn try_pop(&self, queue: &Self::Queue) -> Option<u64> {
        queue.plant.try_pop(&queue.parts)
    }
    fn len(&self, queue: &Self::Queue) -> usize {
        queue.parts.items.lock().len()
    }

    fn lock(&self, value: u64) -> Self::Lock {
        PlantedLock::new(self.1, value)
    }
    fn read(&self, lock: &Self::Lock, inside: &mut dyn FnMut(u64)) {
        let guard = lock.read();
        inside(*guard);
    }
    fn write(&self, lock: &Self::Lock, inside: &mut dyn FnMut(&mut u64)) {
        let mut guard = lock.write();
        inside(&mut guard);
    }
    fn try_read(&self, lock: &Self::Lock) -> Option<u64> {
        lock.try_read().map(|guard| *guard)
    }
    fn try_write(&self, lock: &Self::Lock, value: u64) -> bool {
        match lock.try_write() {
            Some(mut guard) => {
                *guard = value;
                true
            }
            None => false,
        }
    }
    fn state(&self, lock: &Self::Lock) -> LockState {
        *lock.core.state.lock()
    }
    fn check(&self, state: LockState) -> Result<(), LockViolation> {
        self.1.check(&state)
    }

    fn store(&self) -> Self::Store {
        Layered::default()
    }
}

/// The probe for a queue plant and a lock plant.
pub fn planted<Q: QueuePlant, L: LockPlant + Default>(
    queue: Q,
    lock: L,
) -> Box<dyn probe_kit::Probe> {
    crate::probe(Planted(queue, lock))
}
