use parking_lot::ReentrantMutex;

fn main() {
    let count = ReentrantMutex::new(0);
    let outer = count.lock();
    // Two guards to the same value on one thread: `&mut` through either
    // would alias the other.
    *count.lock() += 1;
    drop(outer);
}
