use std::sync::Mutex;

struct Counts {
    readers: usize,
    writer: bool,
}

fn main() {
    let state = Mutex::new(Counts { readers: 0, writer: false });
    // The fields live inside the mutex: the monitor discipline is the type.
    if !state.writer {
        state.readers += 1;
    }
}
