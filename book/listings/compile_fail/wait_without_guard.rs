use std::sync::{Condvar, Mutex};

fn main() {
    let ready = Mutex::new(false);
    let changed = Condvar::new();
    // `wait` takes the *guard*: you can only wait while holding the lock,
    // and `wait` is what releases it.
    let _ready = changed.wait(ready);
}
