//! `ticket-lock`: a fair lock that serves threads in the order they took a ticket. Each of
//! three threads takes a ticket, spins (yielding) until `now_serving` shows it, runs its
//! critical section and passes the turn on. The buggy lock takes its ticket with a load and a
//! store instead of one `fetch_add`: two threads can draw the same number and both enter, and
//! a ticket number is then never served. The correct lock draws with `fetch_add`.

use super::{Expected, Program, Version};
use lockhound::cell::UnsafeCell;
use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::Arc;
use lockhound::thread;

pub static PROGRAM: Program = Program {
    name: "ticket-lock",
    description: "three threads, a ticket lock around a plain counter: a non-atomic draw duplicates tickets",
    versions: &[
        Version {
            name: "buggy",
            expected: Expected::Fail,
            description: "a ticket is drawn with a load and a store",
            body: || contend(Draw::LoadStore),
        },
        Version {
            name: "correct",
            expected: Expected::Pass,
            description: "a ticket is drawn with fetch_add",
            body: || contend(Draw::FetchAdd),
        },
    ],
};

#[derive(Clone, Copy)]
enum Draw {
    LoadStore,
    FetchAdd,
}

struct TicketLock {
    next_ticket: AtomicUsize,
    now_serving: AtomicUsize,
    draw: Draw,
}

impl TicketLock {
    fn lock(&self) -> usize {
        let ticket = match self.draw {
            Draw::LoadStore => {
                let t = self.next_ticket.load(Ordering::Relaxed);
                self.next_ticket.store(t + 1, Ordering::Relaxed);
                t
            }
            Draw::FetchAdd => self.next_ticket.fetch_add(1, Ordering::Relaxed),
        };
        while self.now_serving.load(Ordering::Acquire) != ticket {
            thread::yield_now();
        }
        ticket
    }

    fn unlock(&self, ticket: usize) {
        self.now_serving.store(ticket + 1, Ordering::Release);
    }
}

struct Guarded {
    lock: TicketLock,
    count: UnsafeCell<u64>,
}

// SAFETY: `count` is accessed only while holding the lock; the buggy lock breaks that on
// purpose, which is the data race the model checkers report.
unsafe impl Sync for Guarded {}

const THREADS: usize = 3;

fn contend(draw: Draw) {
    let shared = Arc::new(Guarded {
        lock: TicketLock { next_ticket: AtomicUsize::new(0), now_serving: AtomicUsize::new(0), draw },
        count: UnsafeCell::new(0),
    });
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let shared = shared.clone();
            thread::spawn(move || {
                let ticket = shared.lock.lock();
                // SAFETY: the lock is held (or, in the buggy version, believed to be).
                shared.count.with_mut(|c| unsafe { *c += 1 });
                shared.lock.unlock(ticket);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // SAFETY: every worker has been joined.
    let count = shared.count.with(|c| unsafe { *c });
    assert_eq!(count, THREADS as u64, "an increment was lost");
}
