use parking_lot::RwLock;
use solution02_rwlock_layer::{Entry, Store};

// A GET that hands out the entry itself instead of a copy of it.
fn get<'a>(machine: &'a RwLock<Store>, key: &str) -> Option<&'a Entry> {
    let guard = machine.read();
    guard.lookup(key)
} // `guard` is dropped here: the read lock is released, and a writer may go in.

fn main() {
    let machine = RwLock::new(Store::new());
    println!("{:?}", get(&machine, "apple"));
}
