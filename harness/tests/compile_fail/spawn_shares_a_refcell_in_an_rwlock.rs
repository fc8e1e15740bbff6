// A closure that shares a facade RwLock holding a RefCell, which is not Sync, with another
// thread.
use lockhound::sync::{Arc, RwLock};
use std::cell::RefCell;

fn main() {
    let shared = Arc::new(RwLock::new(RefCell::new(1)));
    let theirs = shared.clone();
    lockhound::thread::spawn(move || drop(theirs.read()));
}
