use std::rc::Rc;

fn main() {
    let config = Rc::new(String::from("verbose"));
    let for_worker = Rc::clone(&config);
    // `Rc` counts its owners with a plain integer: two threads dropping
    // clones at once could race on it.
    std::thread::spawn(move || println!("{for_worker}"));
}
