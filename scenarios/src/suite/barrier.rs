//! `barrier`: a reusable barrier for three threads, used for three rounds, built from a mutex
//! and a condition variable. Each thread writes its slot for the round, waits at the barrier,
//! and checks that every slot of the round is written. The buggy barrier has no generation:
//! the last thread to arrive resets the count and wakes the others, which wait for "count is
//! 0". A thread that has gone on to the next round and arrived there first sets the count to
//! 1 before a woken waiter looks, and that waiter sleeps on in the round it should have left:
//! a deadlock. The correct barrier waits for the generation to change instead.

use super::{Expected, Program, Version};
use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::thread;

pub static PROGRAM: Program = Program {
    name: "barrier",
    description:
        "a reusable barrier, three threads, three rounds: without a generation a waiter misses its round",
    versions: &[
        Version {
            name: "buggy",
            expected: Expected::Fail,
            description: "waiters wait until the count is back to 0",
            body: || run(Wake::CountZero),
        },
        Version {
            name: "correct",
            expected: Expected::Pass,
            description: "waiters wait until the generation changes",
            body: || run(Wake::Generation),
        },
    ],
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wake {
    CountZero,
    Generation,
}

const THREADS: usize = 3;
const ROUNDS: usize = 3;

#[derive(Default)]
struct State {
    count: usize,
    generation: usize,
}

struct Barrier {
    state: Mutex<State>,
    all_here: Condvar,
    wake: Wake,
}

impl Barrier {
    fn wait(&self) {
        let mut state = self.state.lock().unwrap();
        state.count += 1;
        if state.count == THREADS {
            state.count = 0;
            state.generation += 1;
            self.all_here.notify_all();
            return;
        }
        let generation = state.generation;
        loop {
            let released = match self.wake {
                Wake::CountZero => state.count == 0,
                Wake::Generation => state.generation != generation,
            };
            if released {
                return;
            }
            state = self.all_here.wait(state).unwrap();
        }
    }
}

fn run(wake: Wake) {
    let barrier = Arc::new(Barrier { state: Mutex::new(State::default()), all_here: Condvar::new(), wake });
    let slots: Arc<Vec<AtomicUsize>> = Arc::new((0..THREADS).map(|_| AtomicUsize::new(0)).collect());
    let threads: Vec<_> = (0..THREADS)
        .map(|me| {
            let (barrier, slots) = (barrier.clone(), slots.clone());
            thread::spawn(move || {
                for round in 1..=ROUNDS {
                    slots[me].store(round, Ordering::SeqCst);
                    barrier.wait();
                    for (other, slot) in slots.iter().enumerate() {
                        let seen = slot.load(Ordering::SeqCst);
                        assert!(
                            seen >= round,
                            "thread {me} passed round {round} before thread {other} reached it"
                        );
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
