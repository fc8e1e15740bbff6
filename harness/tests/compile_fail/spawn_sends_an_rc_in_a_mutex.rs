// A closure that sends a facade Mutex holding an Rc, which is not Send, to another thread.
use lockhound::sync::{Arc, Mutex};
use std::rc::Rc;

fn main() {
    let shared = Arc::new(Mutex::new(Rc::new(1)));
    let theirs = shared.clone();
    lockhound::thread::spawn(move || drop(theirs.lock()));
}
