use std::sync::Mutex;

// The guard is a temporary dropped at the end of the statement, unlocking the
// mutex: the returned reference would point into data nobody protects.
fn first(list: &Mutex<Vec<u32>>) -> &u32 {
    &list.lock().unwrap()[0]
}

fn main() {
    let list = Mutex::new(vec![1, 2, 3]);
    println!("{}", first(&list));
}
