// A closure that shares a facade Cell with another thread.
use lockhound::cell::Cell;
use lockhound::sync::Arc;

fn main() {
    let cell = Arc::new(Cell::new(0u32));
    let theirs = cell.clone();
    lockhound::thread::spawn(move || theirs.set(1));
}
