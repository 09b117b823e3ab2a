use std::cell::RefCell;
use std::sync::Arc;
use std::thread;

use solution02_rwlock_layer::{Command, Store};

fn main() {
    // RefCell checks borrows at run time, with a counter that is not atomic.
    let store = Arc::new(RefCell::new(Store::new()));
    let writer = {
        let store = Arc::clone(&store);
        thread::spawn(move || store.borrow_mut().apply(Command::set("apple", "red")))
    };
    println!("{}", store.borrow().get("apple"));
    writer.join().unwrap();
}
