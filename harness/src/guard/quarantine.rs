//! The quarantine: a bounded FIFO of freed slots. A freed block stays inaccessible while it
//! is in here, so a late access faults as a use-after-free; when the FIFO is full, the oldest
//! slot leaves and may be reused. The ring lives in memory the pool mapped itself, so the
//! allocator never allocates for its own bookkeeping. Callers hold the pool lock; the fields
//! are atomics only so that sharing them needs no `unsafe`.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};

pub(crate) struct Quarantine<'a> {
    ring: &'a [AtomicU32],
    head: AtomicUsize,
    len: AtomicUsize,
}

impl<'a> Quarantine<'a> {
    /// A FIFO holding up to `ring.len()` slots (zero: freed slots are recycled at once).
    pub(crate) fn new(ring: &'a [AtomicU32]) -> Self {
        Quarantine { ring, head: AtomicUsize::new(0), len: AtomicUsize::new(0) }
    }

    /// Adds a freed slot; returns the slot that leaves to make room, if any.
    pub(crate) fn push(&self, slot: u32) -> Option<u32> {
        let cap = self.ring.len();
        if cap == 0 {
            return Some(slot);
        }
        let (head, len) = (self.head.load(Relaxed), self.len.load(Relaxed));
        if len == cap {
            let oldest = self.ring[head].swap(slot, Relaxed);
            self.head.store((head + 1) % cap, Relaxed);
            Some(oldest)
        } else {
            self.ring[(head + len) % cap].store(slot, Relaxed);
            self.len.store(len + 1, Relaxed);
            None
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_leaves_first_once_full() {
        let ring: Vec<AtomicU32> = (0..3).map(|_| AtomicU32::new(0)).collect();
        let q = Quarantine::new(&ring);
        assert_eq!(q.push(10), None);
        assert_eq!(q.push(11), None);
        assert_eq!(q.push(12), None);
        assert_eq!(q.len(), 3);
        assert_eq!(q.push(13), Some(10));
        assert_eq!(q.push(14), Some(11));
        assert_eq!(q.push(15), Some(12));
        assert_eq!(q.push(16), Some(13));
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn zero_capacity_recycles_at_once() {
        let q = Quarantine::new(&[]);
        assert_eq!(q.push(4), Some(4));
        assert_eq!(q.len(), 0);
    }
}
