//! `spinlock`: three threads take turns in a critical section guarded by a spin lock, twice
//! each. The buggy lock tests the flag and then sets it (two steps): two threads can both see
//! it free and both enter. The correct lock swaps the flag in one atomic step. Both spin with
//! `yield_now`, as spin loops under a model checker must; loom, which cannot bound such loops,
//! is inconclusive on them.
//!
//! The critical section increments a plain cell (`lockhound::cell::UnsafeCell`): mutual
//! exclusion broken is a data race on it, found by the model checkers' race checks as soon as
//! two threads are inside at once, and a lost update in the count at the end.

use super::{Expected, Program, Version};
use lockhound::cell::UnsafeCell;
use lockhound::sync::atomic::{AtomicBool, Ordering};
use lockhound::sync::Arc;
use lockhound::thread;

pub static PROGRAM: Program = Program {
    name: "spinlock",
    description: "three threads, a spin lock around a plain counter: test-then-set lets two in",
    versions: &[
        Version {
            name: "buggy",
            expected: Expected::Fail,
            description: "lock: wait until the flag is clear, then set it (two steps)",
            body: || contend(Acquire::TestThenSet),
        },
        Version {
            name: "correct",
            expected: Expected::Pass,
            description: "lock: swap the flag to set until it was clear (one atomic step)",
            body: || contend(Acquire::Swap),
        },
    ],
};

#[derive(Clone, Copy)]
enum Acquire {
    TestThenSet,
    Swap,
}

pub(crate) struct SpinLock {
    locked: AtomicBool,
    acquire: Acquire,
}

impl SpinLock {
    fn lock(&self) {
        match self.acquire {
            Acquire::TestThenSet => {
                while self.locked.load(Ordering::Acquire) {
                    thread::yield_now();
                }
                self.locked.store(true, Ordering::Relaxed);
            }
            Acquire::Swap => {
                while self.locked.swap(true, Ordering::Acquire) {
                    thread::yield_now();
                }
            }
        }
    }

    fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

/// A counter only the lock's holder touches.
struct Guarded {
    lock: SpinLock,
    count: UnsafeCell<u64>,
}

// SAFETY: `count` is accessed only between `lock.lock()` and `lock.unlock()`; the buggy lock
// breaks that on purpose, which is the data race the model checkers report.
unsafe impl Sync for Guarded {}

const THREADS: usize = 3;
const ROUNDS: u64 = 2;

fn contend(acquire: Acquire) {
    let shared = Arc::new(Guarded {
        lock: SpinLock { locked: AtomicBool::new(false), acquire },
        count: UnsafeCell::new(0),
    });
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let shared = shared.clone();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    shared.lock.lock();
                    // SAFETY: the lock is held (or, in the buggy version, believed to be).
                    shared.count.with_mut(|c| unsafe { *c += 1 });
                    shared.lock.unlock();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    shared.lock.lock();
    // SAFETY: every worker has been joined.
    let count = shared.count.with(|c| unsafe { *c });
    shared.lock.unlock();
    assert_eq!(count, THREADS as u64 * ROUNDS, "an increment was lost");
}
