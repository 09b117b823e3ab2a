use std::sync::atomic::{AtomicPtr, Ordering};

fn main() {
    let current = AtomicPtr::new(Box::into_raw(Box::new(7u64)));
    // C++ has `memory_order_consume` for loads whose users depend on the
    // loaded pointer. Does Rust?
    let copy = current.load(Ordering::Consume);
    println!("{}", unsafe { *copy });
}
