//! The facade's locks and one-time cells are unwind safe as std's are (a panic inside them
//! poisons, or leaves them as they were), so code that moves them into `catch_unwind`, as std
//! lets it, compiles; and what that panic leaves behind is std's, on every engine.

use crate::facade_support;

use facade_support::passes_on_every_engine;
use lockhound::sync::{Arc, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock};
use lockhound::thread;
use std::panic::{catch_unwind, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};

fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}

#[test]
fn locks_and_once_cells_are_unwind_safe_as_std_s() {
    unwind_safe::<Mutex<()>>();
    unwind_safe::<RwLock<()>>();
    unwind_safe::<Condvar>();
    unwind_safe::<Once>();
    unwind_safe::<Barrier>();
    unwind_safe::<OnceLock<u8>>();
    unwind_safe::<LazyLock<u8>>();
    unwind_safe::<Arc<Mutex<()>>>();
}

/// A thread panics inside `catch_unwind` while it holds a lock it took there: the lock is
/// poisoned afterwards, the others are not, and the thread goes on.
fn panic_caught_while_holding_locks() {
    let mutex = Arc::new(Mutex::new(1));
    let rwlock = Arc::new(RwLock::new(2));
    let untouched = Arc::new(Mutex::new(3));
    let (m, r, u) = (mutex.clone(), rwlock.clone(), untouched.clone());
    let t = thread::spawn(move || {
        let m2 = m.clone();
        assert!(catch_unwind(move || {
            let _held = m2.lock().unwrap();
            panic!("inside the mutex");
        })
        .is_err());
        let r2 = r.clone();
        assert!(catch_unwind(move || {
            let _held = r2.write().unwrap();
            panic!("inside the rwlock");
        })
        .is_err());
        *u.lock().unwrap() += 1;
        "went on"
    });
    assert_eq!(t.join().unwrap(), "went on");
    assert!(mutex.lock().is_err(), "the mutex is poisoned");
    assert!(rwlock.read().is_err(), "the rwlock is poisoned");
    assert_eq!(*untouched.lock().unwrap(), 4);
    // A `Once` whose initializer panicked is poisoned too, as std's is.
    let once = Once::new();
    assert!(catch_unwind(AssertUnwindSafe(|| once.call_once(|| panic!("in call_once")))).is_err());
    assert!(!once.is_completed());
}

#[test]
fn a_caught_panic_poisons_the_lock_it_held_on_every_engine() {
    passes_on_every_engine(panic_caught_while_holding_locks);
}
