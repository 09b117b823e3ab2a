use std::sync::Mutex;

fn main() {
    let lock = Mutex::new(0);
    std::thread::scope(|s| {
        let guard = lock.lock().unwrap();
        // Some platforms require a lock to be released by the thread that
        // took it, so the standard guard must stay on its thread.
        s.spawn(move || drop(guard));
    });
}
