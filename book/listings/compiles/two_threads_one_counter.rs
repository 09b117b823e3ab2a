use std::sync::Mutex;

fn main() {
    let hits = Mutex::new(0);
    std::thread::scope(|s| {
        // Both closures only need `&hits`, and `Mutex<i32>` may be shared.
        s.spawn(|| *hits.lock().unwrap() += 1);
        s.spawn(|| *hits.lock().unwrap() += 1);
    });
    assert_eq!(hits.into_inner().unwrap(), 2);
}
