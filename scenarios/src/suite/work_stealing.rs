//! `work-stealing`: a Chase-Lev work-stealing deque (fixed capacity). The owner pushes tasks
//! at the bottom and pops them there; two thieves steal from the top with a compare-exchange.
//! When one task is left, owner and thief race for it, and the owner's pop must win or lose
//! that race through the same compare-exchange on `top`. The buggy pop takes the last task
//! without it: owner and a thief both run the same task. Every atomic is `SeqCst`, so the bug
//! is an interleaving one, which every engine can see.
//!
//! The deque relies on a store followed by a load of another variable being ordered (pop's
//! `bottom` store before its `top` load, steal's `top` load before its `bottom` load), which
//! `SeqCst` fences give, as in crossbeam-deque. `SeqCst` accesses alone give it in the C11
//! model too, but loom models them as acquire/release (its README, "Unsupported features")
//! and would report the correct deque as racy: the fences are what loom can check.

use super::{Expected, Program, Version};
use lockhound::sync::atomic::{fence, AtomicIsize, AtomicUsize, Ordering};
use lockhound::sync::Arc;
use lockhound::thread;
use std::sync::atomic::{AtomicBool as OracleFlag, Ordering as OracleOrdering};

pub static PROGRAM: Program = Program {
    name: "work-stealing",
    description: "a Chase-Lev deque, an owner and two thieves: the last task taken by both",
    versions: &[
        Version {
            name: "buggy",
            expected: Expected::Fail,
            description: "pop takes the last task without racing the thieves for it on top",
            body: || run(Pop::Unchecked),
        },
        Version {
            name: "correct",
            expected: Expected::Pass,
            description: "pop takes the last task with a compare-exchange on top, like steal",
            body: || run(Pop::Checked),
        },
    ],
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pop {
    Unchecked,
    Checked,
}

const CAPACITY: usize = 8;
const EMPTY: usize = usize::MAX;
const TASKS: usize = 3;

struct Deque {
    top: AtomicIsize,
    bottom: AtomicIsize,
    buffer: Vec<AtomicUsize>,
    pop: Pop,
}

impl Deque {
    fn slot(&self, i: isize) -> &AtomicUsize {
        &self.buffer[i.rem_euclid(CAPACITY as isize) as usize]
    }

    fn push(&self, task: usize) {
        let b = self.bottom.load(Ordering::SeqCst);
        self.slot(b).store(task, Ordering::SeqCst);
        self.bottom.store(b + 1, Ordering::SeqCst);
    }

    /// The owner's pop, at the bottom.
    fn pop(&self) -> usize {
        let b = self.bottom.load(Ordering::SeqCst) - 1;
        self.bottom.store(b, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let t = self.top.load(Ordering::SeqCst);
        if t > b {
            self.bottom.store(b + 1, Ordering::SeqCst);
            return EMPTY;
        }
        let task = self.slot(b).load(Ordering::SeqCst);
        if t < b {
            return task;
        }
        // The last task: a thief may be taking it right now.
        let won = match self.pop {
            Pop::Checked => self.top.compare_exchange(t, t + 1, Ordering::SeqCst, Ordering::SeqCst).is_ok(),
            Pop::Unchecked => {
                self.top.store(t + 1, Ordering::SeqCst);
                true
            }
        };
        self.bottom.store(b + 1, Ordering::SeqCst);
        if won {
            task
        } else {
            EMPTY
        }
    }

    /// A thief's steal, at the top: gives up when another thread took the task first.
    fn steal(&self) -> usize {
        let t = self.top.load(Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let b = self.bottom.load(Ordering::SeqCst);
        if t >= b {
            return EMPTY;
        }
        let task = self.slot(t).load(Ordering::SeqCst);
        match self.top.compare_exchange(t, t + 1, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => task,
            Err(_) => EMPTY,
        }
    }
}

/// Which tasks have run: the test's oracle, plain std atomics (no scheduling points).
struct Ran(Vec<OracleFlag>);

impl Ran {
    fn run(&self, task: usize) {
        if task != EMPTY {
            assert!(!self.0[task].swap(true, OracleOrdering::Relaxed), "task {task} ran twice");
        }
    }
}

fn run(pop: Pop) {
    let deque = Arc::new(Deque {
        top: AtomicIsize::new(0),
        bottom: AtomicIsize::new(0),
        buffer: (0..CAPACITY).map(|_| AtomicUsize::new(EMPTY)).collect(),
        pop,
    });
    let ran = std::sync::Arc::new(Ran((0..TASKS).map(|_| OracleFlag::new(false)).collect()));
    for task in 0..TASKS {
        deque.push(task);
    }
    let thieves: Vec<_> = (0..2)
        .map(|_| {
            let (deque, ran) = (deque.clone(), ran.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    ran.run(deque.steal());
                }
            })
        })
        .collect();
    loop {
        let task = deque.pop();
        if task == EMPTY {
            break;
        }
        ran.run(task);
    }
    for t in thieves {
        t.join().unwrap();
    }
    let done = ran.0.iter().filter(|r| r.load(OracleOrdering::Relaxed)).count();
    assert_eq!(done, TASKS, "a task was lost");
}
