use std::sync::Mutex;

fn main() {
    let names = Mutex::new(Vec::new());
    // The vector lives *inside* the mutex: there is no way to reach it
    // without going through `lock`.
    names.push("ada");
}
