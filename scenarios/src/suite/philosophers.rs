//! `dining-philosophers`: N philosophers around a table, a fork between each two neighbours.
//! Each eats twice, taking both forks. If every philosopher takes the left fork first, all of
//! them can hold their left fork at once and wait forever for the right one (a deadlock whose
//! schedule needs N - 1 preemptions, harder the more philosophers there are). The correct
//! version breaks the cycle the classic way: the last philosopher takes the right fork first
//! (one global order on forks).

use super::{Expected, Program, Version};
use lockhound::sync::{Arc, Mutex};
use lockhound::thread;

pub static PROGRAM: Program = Program {
    name: "dining-philosophers",
    description: "N philosophers, N forks: all taking the left fork first deadlocks",
    versions: &[
        Version {
            name: "buggy-3",
            expected: Expected::Fail,
            description: "3 philosophers, every one left fork first",
            body: || dine(3, Order::LeftFirst),
        },
        Version {
            name: "correct-3",
            expected: Expected::Pass,
            description: "3 philosophers, the last one right fork first",
            body: || dine(3, Order::Ordered),
        },
        Version {
            name: "buggy-5",
            expected: Expected::Fail,
            description: "5 philosophers (6 threads), every one left fork first",
            body: || dine(5, Order::LeftFirst),
        },
        Version {
            name: "correct-5",
            expected: Expected::Pass,
            description: "5 philosophers (6 threads), the last one right fork first",
            body: || dine(5, Order::Ordered),
        },
        Version {
            name: "buggy-8",
            expected: Expected::Fail,
            description: "8 philosophers (9 threads), every one left fork first",
            body: || dine(8, Order::LeftFirst),
        },
        Version {
            name: "correct-8",
            expected: Expected::Pass,
            description: "8 philosophers (9 threads), the last one right fork first",
            body: || dine(8, Order::Ordered),
        },
    ],
};

#[derive(Clone, Copy)]
enum Order {
    /// Everyone takes the fork on the left, then the one on the right: a cycle of waits.
    LeftFirst,
    /// Forks are taken in index order, so the last philosopher takes the right one first.
    Ordered,
}

const MEALS: usize = 2;

fn dine(n: usize, order: Order) {
    let forks: Arc<Vec<Mutex<usize>>> = Arc::new((0..n).map(|_| Mutex::new(0)).collect());
    let philosophers: Vec<_> = (0..n)
        .map(|i| {
            let forks = forks.clone();
            thread::spawn(move || {
                let (left, right) = (i, (i + 1) % n);
                let (first, second) = match order {
                    Order::LeftFirst => (left, right),
                    Order::Ordered => (left.min(right), left.max(right)),
                };
                for _ in 0..MEALS {
                    let mut a = forks[first].lock().unwrap();
                    let mut b = forks[second].lock().unwrap();
                    *a += 1;
                    *b += 1;
                }
            })
        })
        .collect();
    for p in philosophers {
        p.join().unwrap();
    }
    // Every fork was used by its two philosophers for each of their meals.
    for fork in forks.iter() {
        assert_eq!(*fork.lock().unwrap(), 2 * MEALS, "a meal went missing");
    }
}
