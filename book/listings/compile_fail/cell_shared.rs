use std::cell::Cell;

fn main() {
    let hits = Cell::new(0);
    std::thread::scope(|s| {
        // `Cell` allows mutation through `&`, without any synchronisation.
        s.spawn(|| hits.set(hits.get() + 1));
        s.spawn(|| hits.set(hits.get() + 1));
    });
}
