//! `bounded-buffer`: two producers and two consumers share a buffer of one slot, guarded by a
//! mutex, waiting on condition variables in `while` loops. With one condition variable for
//! both conditions and `notify_one`, a producer can wake the other producer instead of a
//! consumer (or a consumer the other consumer): the one woken goes back to sleep, the one
//! that should have been woken never is, and everyone ends up waiting. The correct buffer has
//! a condition variable per condition, so a notification always reaches a thread it can help.

use super::{Expected, Program, Version};
use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::thread;

pub static PROGRAM: Program = Program {
    name: "bounded-buffer",
    description: "two producers, two consumers, one slot: one condvar and notify_one lose a wake-up",
    versions: &[
        Version {
            name: "buggy",
            expected: Expected::Fail,
            description: "one condition variable for 'not full' and 'not empty', notify_one",
            body: || run(Signals::Shared),
        },
        Version {
            name: "correct",
            expected: Expected::Pass,
            description: "a condition variable for each condition, notify_one",
            body: || run(Signals::PerCondition),
        },
    ],
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Signals {
    Shared,
    PerCondition,
}

const CAPACITY: usize = 1;
const ITEMS_EACH: u64 = 2;

struct Buffer {
    items: Mutex<Vec<u64>>,
    not_full: Condvar,
    not_empty: Condvar,
    signals: Signals,
}

impl Buffer {
    /// The condition variable that says the buffer is no longer full.
    fn not_full(&self) -> &Condvar {
        &self.not_full
    }

    /// The one that says it is no longer empty: the same one, when they are shared.
    fn not_empty(&self) -> &Condvar {
        match self.signals {
            Signals::Shared => &self.not_full,
            Signals::PerCondition => &self.not_empty,
        }
    }

    fn put(&self, item: u64) {
        let mut items = self.items.lock().unwrap();
        while items.len() == CAPACITY {
            items = self.not_full().wait(items).unwrap();
        }
        items.push(item);
        self.not_empty().notify_one();
    }

    fn take(&self) -> u64 {
        let mut items = self.items.lock().unwrap();
        while items.is_empty() {
            items = self.not_empty().wait(items).unwrap();
        }
        let item = items.remove(0);
        self.not_full().notify_one();
        item
    }
}

fn run(signals: Signals) {
    let buffer = Arc::new(Buffer {
        items: Mutex::new(Vec::new()),
        not_full: Condvar::new(),
        not_empty: Condvar::new(),
        signals,
    });
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let buffer = buffer.clone();
            thread::spawn(move || {
                for i in 0..ITEMS_EACH {
                    buffer.put(p * 10 + i);
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let buffer = buffer.clone();
            thread::spawn(move || (0..ITEMS_EACH).map(|_| buffer.take()).sum::<u64>())
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let total: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(total, 1 + 10 + 11, "items lost or duplicated");
}
