fn main() {
    let mut hits = 0;
    std::thread::scope(|s| {
        // Each closure needs `&mut hits`; two at once is exactly a data race.
        s.spawn(|| hits += 1);
        s.spawn(|| hits += 1);
    });
    println!("{hits}");
}
