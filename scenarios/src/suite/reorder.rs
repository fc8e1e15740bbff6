//! `reorder`: after SCTBench's `reorder_X_bad`. Setter threads each write `a = 1` and then
//! `b = -1`; a checker reads `a`, then `b`, and asserts that it saw a consistent pair (both
//! initial, or both set). It sees `a == 0, b == -1` only when it reads `a` before any setter's
//! first write and `b` after some setter's second: two switches at the right moments, while the
//! other setters add nothing but noise. The more setters, the rarer a uniformly random
//! schedule hits it, and a priority-based one too; a uniform sampler of interleavings does
//! better. The correct version writes and reads the pair under one mutex.

use super::{Expected, Program, Version};
use lockhound::sync::atomic::{AtomicI64, Ordering};
use lockhound::sync::{Arc, Mutex};
use lockhound::thread;

pub static PROGRAM: Program = Program {
    name: "reorder",
    description: "setters write a then b, a checker reads a then b: a torn pair among many threads",
    versions: &[
        Version {
            name: "buggy-10",
            expected: Expected::Fail,
            description: "8 setters and a checker (10 threads), unsynchronized pair",
            body: || reorder(8, Sync::Atomics),
        },
        Version {
            name: "correct-10",
            expected: Expected::Pass,
            description: "8 setters and a checker (10 threads), the pair under one mutex",
            body: || reorder(8, Sync::Mutex),
        },
        Version {
            name: "buggy-20",
            expected: Expected::Fail,
            description: "18 setters and a checker (20 threads), unsynchronized pair",
            body: || reorder(18, Sync::Atomics),
        },
        Version {
            name: "correct-20",
            expected: Expected::Pass,
            description: "18 setters and a checker (20 threads), the pair under one mutex",
            body: || reorder(18, Sync::Mutex),
        },
    ],
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sync {
    Atomics,
    Mutex,
}

struct Pair {
    a: AtomicI64,
    b: AtomicI64,
    lock: Mutex<()>,
}

fn reorder(setters: usize, sync: Sync) {
    let pair = Arc::new(Pair { a: AtomicI64::new(0), b: AtomicI64::new(0), lock: Mutex::new(()) });
    let mut threads: Vec<_> = (0..setters)
        .map(|_| {
            let pair = pair.clone();
            thread::spawn(move || {
                let _held = (sync == Sync::Mutex).then(|| pair.lock.lock().unwrap());
                pair.a.store(1, Ordering::SeqCst);
                pair.b.store(-1, Ordering::SeqCst);
            })
        })
        .collect();
    let checker = pair.clone();
    threads.push(thread::spawn(move || {
        let _held = (sync == Sync::Mutex).then(|| checker.lock.lock().unwrap());
        let a = checker.a.load(Ordering::SeqCst);
        let b = checker.b.load(Ordering::SeqCst);
        assert!((a == 0 && b == 0) || (a == 1 && b == -1), "torn pair: a = {a}, b = {b}");
    }));
    for t in threads {
        t.join().unwrap();
    }
}
