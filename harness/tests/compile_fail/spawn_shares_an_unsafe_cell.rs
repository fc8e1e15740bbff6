// A closure that shares a facade UnsafeCell with another thread, without the `unsafe impl Sync`
// that would say why that is sound.
use lockhound::cell::UnsafeCell;
use lockhound::sync::Arc;

fn main() {
    let cell = Arc::new(UnsafeCell::new(0u64));
    let theirs = cell.clone();
    lockhound::thread::spawn(move || theirs.with_mut(|p| unsafe { *p = 1 }));
}
