//! Two producers and a consumer hand items over through a queue of one slot. Before the fix,
//! the queue had one condition variable for "an item was added" and "an item was taken": a
//! `notify_one` meant for the consumer could wake the other producer instead, which found the
//! queue still full and went back to sleep, and then nobody was awake to move an item.

use lockhound::scenario::{Scenario, Variant};
use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::thread;
use queue::BoundedQueue;
use std::collections::VecDeque;

pub fn scenario() -> Scenario {
    Scenario::new("handoff")
        .summary("two producers and a consumer pass items through a one-slot queue")
        .with(
            Variant::must_fail("one-condvar", || handoff(OneCondvarQueue::new(1)))
                .description("the version before the fix: one condition variable for both sides"),
        )
        .with(
            Variant::must_pass("fixed", || handoff(BoundedQueue::new(1)))
                .description("the library's queue: producers and consumers wait on their own condvar"),
        )
}

/// The queue operations the scenario needs, so both versions run the same body.
trait Queue: Send + Sync + 'static {
    fn push(&self, item: u32);
    fn pop(&self) -> u32;
}

impl Queue for BoundedQueue<u32> {
    fn push(&self, item: u32) {
        BoundedQueue::push(self, item)
    }
    fn pop(&self) -> u32 {
        BoundedQueue::pop(self)
    }
}

/// Each producer pushes two items; the consumer takes all four.
fn handoff(queue: impl Queue) {
    let queue = Arc::new(queue);
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let queue = queue.clone();
            thread::spawn(move || {
                for i in 0..2 {
                    queue.push(p * 10 + i);
                }
            })
        })
        .collect();
    let mut seen: Vec<u32> = (0..4).map(|_| queue.pop()).collect();
    for p in producers {
        p.join().unwrap();
    }
    seen.sort();
    assert_eq!(seen, [0, 1, 10, 11], "every item arrives exactly once");
}

/// The queue as it was: both sides wait on, and wake, the same condition variable.
struct OneCondvarQueue {
    items: Mutex<VecDeque<u32>>,
    capacity: usize,
    changed: Condvar,
}

impl OneCondvarQueue {
    fn new(capacity: usize) -> Self {
        OneCondvarQueue { items: Mutex::new(VecDeque::new()), capacity, changed: Condvar::new() }
    }
}

impl Queue for OneCondvarQueue {
    fn push(&self, item: u32) {
        let mut items = self.items.lock().unwrap();
        while items.len() == self.capacity {
            items = self.changed.wait(items).unwrap();
        }
        items.push_back(item);
        self.changed.notify_one();
    }

    fn pop(&self) -> u32 {
        let mut items = self.items.lock().unwrap();
        loop {
            if let Some(item) = items.pop_front() {
                self.changed.notify_one();
                return item;
            }
            items = self.changed.wait(items).unwrap();
        }
    }
}
