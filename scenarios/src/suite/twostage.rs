//! `twostage`: after SCTBench's `twostage_X_bad`, a check-then-act split over two critical
//! sections. Writers each publish `data1 = 1` under one lock, then `data2 = data1 + 1` under
//! another; a reader takes `data1` under the first lock and, if it is set, `data2` under the
//! second, and asserts `data2 == data1 + 1`. The reader must run in the window between some
//! writer's two stages, with dozens of other threads around it. The correct version holds the
//! first lock across both stages, in writers and reader alike.

use super::{Expected, Program, Version};
use lockhound::sync::{Arc, Mutex};
use lockhound::thread;

pub static PROGRAM: Program = Program {
    name: "twostage",
    description: "a value published in two critical sections, read in between among many threads",
    versions: &[
        Version {
            name: "buggy-50",
            expected: Expected::Fail,
            description: "48 writers and a reader (50 threads), stages under separate locks",
            body: || twostage(48, Stages::Split),
        },
        Version {
            name: "correct-50",
            expected: Expected::Pass,
            description: "48 writers and a reader (50 threads), the first lock held across both stages",
            body: || twostage(48, Stages::Held),
        },
        Version {
            name: "buggy-100",
            expected: Expected::Fail,
            description: "98 writers and a reader (100 threads), stages under separate locks",
            body: || twostage(98, Stages::Split),
        },
        Version {
            name: "correct-100",
            expected: Expected::Pass,
            description: "98 writers and a reader (100 threads), the first lock held across both stages",
            body: || twostage(98, Stages::Held),
        },
    ],
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stages {
    /// Each stage in its own critical section: the window between them is the bug.
    Split,
    /// The first lock is held across the second stage.
    Held,
}

struct Data {
    data1: Mutex<u64>,
    data2: Mutex<u64>,
}

fn twostage(writers: usize, stages: Stages) {
    let data = Arc::new(Data { data1: Mutex::new(0), data2: Mutex::new(0) });
    let mut threads: Vec<_> = (0..writers)
        .map(|_| {
            let data = data.clone();
            thread::spawn(move || {
                let mut first = data.data1.lock().unwrap();
                *first = 1;
                let value = *first;
                if stages == Stages::Split {
                    drop(first);
                    *data.data2.lock().unwrap() = value + 1;
                } else {
                    *data.data2.lock().unwrap() = value + 1;
                    drop(first);
                }
            })
        })
        .collect();
    let reader = data.clone();
    threads.push(thread::spawn(move || {
        let first = reader.data1.lock().unwrap();
        if *first == 0 {
            return;
        }
        let t1 = *first;
        let first = if stages == Stages::Split {
            drop(first);
            None
        } else {
            Some(first)
        };
        let t2 = *reader.data2.lock().unwrap();
        drop(first);
        assert_eq!(t2, t1 + 1, "read data1 = {t1} but data2 = {t2}: the second stage had not run");
    }));
    for t in threads {
        t.join().unwrap();
    }
}
