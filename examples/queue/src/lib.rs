//! A bounded blocking queue for several producers and consumers ([`BoundedQueue`]: `push`
//! waits while the queue is full, `pop` waits while it is empty), and a lock-free one-shot
//! slot ([`OneShot`]).
//!
//! Producers wait on one condition variable and consumers on another, and each side wakes
//! only the other. An earlier version had one condition variable for both (see
//! tests/scenarios/handoff.rs): a `notify_one` meant for a consumer could wake another
//! producer instead, and with a queue of one slot, two producers and one consumer, everyone
//! ended up waiting.

mod oneshot;
pub mod sync;

pub use oneshot::OneShot;
use std::collections::VecDeque;
use sync::{Condvar, Mutex};

/// A queue of at most `capacity` items, between the queue's producers and consumers.
pub struct BoundedQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    /// Signalled when an item was taken: a producer may have room now.
    not_full: Condvar,
    /// Signalled when an item was added: a consumer may have one now.
    not_empty: Condvar,
}

impl<T> BoundedQueue<T> {
    /// An empty queue with room for `capacity` items (at least one).
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a bounded queue needs room for one item");
        BoundedQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
        }
    }

    /// Adds `item`, waiting while the queue is full.
    pub fn push(&self, item: T) {
        let mut items = self.items.lock().unwrap();
        while items.len() == self.capacity {
            items = self.not_full.wait(items).unwrap();
        }
        items.push_back(item);
        drop(items);
        self.not_empty.notify_one();
    }

    /// Adds `item` if there is room, without waiting; hands it back if the queue is full.
    pub fn try_push(&self, item: T) -> Result<(), T> {
        let mut items = self.items.lock().unwrap();
        if items.len() == self.capacity {
            return Err(item);
        }
        items.push_back(item);
        drop(items);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Takes the oldest item, waiting while the queue is empty.
    pub fn pop(&self) -> T {
        let mut items = self.items.lock().unwrap();
        loop {
            if let Some(item) = items.pop_front() {
                drop(items);
                self.not_full.notify_one();
                return item;
            }
            items = self.not_empty.wait(items).unwrap();
        }
    }

    /// Items in the queue now.
    pub fn len(&self) -> usize {
        self.items.lock().unwrap().len()
    }

    /// Whether the queue is empty now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most items the queue holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}
