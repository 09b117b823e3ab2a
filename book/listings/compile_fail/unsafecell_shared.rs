use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

struct Slot {
    ready: AtomicBool,
    value: UnsafeCell<u64>,
}

fn main() {
    let slot = Slot { ready: AtomicBool::new(false), value: UnsafeCell::new(0) };
    std::thread::scope(|s| {
        s.spawn(|| {
            unsafe { *slot.value.get() = 42 };
            slot.ready.store(true, Ordering::Release);
        });
        if slot.ready.load(Ordering::Acquire) {
            println!("{}", unsafe { *slot.value.get() });
        }
    });
}
