use std::thread;

use solution02_rwlock_layer::{Command, Store};

fn main() {
    let mut store = Store::new();
    // One thread writes while another reads the same store, with no lock between them.
    thread::scope(|s| {
        s.spawn(|| store.apply(Command::set("apple", "red")));
        s.spawn(|| store.get("apple"));
    });
}
