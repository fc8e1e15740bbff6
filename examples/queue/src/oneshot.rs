//! A slot that one thread fills once and another takes once, without a lock: the value is
//! published by a `Release` store of `full`, which the taker's `Acquire` swap pairs with.

use crate::sync::{AtomicBool, Ordering, UnsafeCell};

pub struct OneShot<T> {
    value: UnsafeCell<Option<T>>,
    full: AtomicBool,
}

// SAFETY: `value` is written only by `send`, before the Release store of `full`, and read only
// by `try_recv`, after an Acquire swap of `full` that saw that store (and cleared it, so a
// second `try_recv` does not read it again). One sender, by `send`'s contract.
unsafe impl<T: Send> Sync for OneShot<T> {}

impl<T> OneShot<T> {
    pub fn new() -> Self {
        OneShot { value: UnsafeCell::new(None), full: AtomicBool::new(false) }
    }

    /// Fills the slot. Call it at most once per `OneShot`.
    pub fn send(&self, value: T) {
        // SAFETY: no reader touches `value` until it sees `full`, stored below.
        self.value.with_mut(|slot| unsafe { *slot = Some(value) });
        self.full.store(true, Ordering::Release);
    }

    /// The value, once it has been sent; `None` before.
    pub fn try_recv(&self) -> Option<T> {
        if !self.full.swap(false, Ordering::Acquire) {
            return None;
        }
        // SAFETY: the Acquire swap saw the sender's Release store: its write is visible and
        // finished, and clearing `full` makes this the only reader.
        self.value.with_mut(|slot| unsafe { (*slot).take() })
    }
}

impl<T> Default for OneShot<T> {
    fn default() -> Self {
        Self::new()
    }
}
