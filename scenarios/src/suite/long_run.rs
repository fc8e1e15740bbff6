//! `long-run`: four threads each make 300 increments of a shared counter under a mutex, more
//! than 2,000 scheduling points per execution. In the buggy version one increment, halfway
//! through one thread's loop, reads the counter in one critical section and writes it back in
//! another: an update is lost if another thread increments in between. The bug is easy to
//! hit; what makes the program hard is its length: every execution is long, a depth-first or
//! preemption-bounded search drowns in the places a switch could go, and exploration speed per
//! step shows.

use super::{Expected, Program, Version};
use lockhound::sync::{Arc, Mutex};
use lockhound::thread;

pub static PROGRAM: Program = Program {
    name: "long-run",
    description: "four threads, 300 locked increments each (2,000+ scheduling points): one split increment",
    versions: &[
        Version {
            name: "buggy",
            expected: Expected::Fail,
            description: "one increment reads and writes the counter in two critical sections",
            body: || run(true),
        },
        Version {
            name: "correct",
            expected: Expected::Pass,
            description: "every increment in one critical section",
            body: || run(false),
        },
    ],
};

const THREADS: u64 = 4;
const INCREMENTS: u64 = 300;

fn run(split: bool) {
    let counter = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let counter = counter.clone();
            thread::spawn(move || {
                for i in 0..INCREMENTS {
                    if split && t == 0 && i == INCREMENTS / 2 {
                        let seen = *counter.lock().unwrap();
                        *counter.lock().unwrap() = seen + 1;
                    } else {
                        *counter.lock().unwrap() += 1;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*counter.lock().unwrap(), THREADS * INCREMENTS, "an increment was lost");
}
