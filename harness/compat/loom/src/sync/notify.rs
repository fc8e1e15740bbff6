//! loom's `Notify`: one waiter blocks until another thread notifies it.

use lockhound::sync::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::PoisonError;

/// Notifies a single waiting thread, like loom's `Notify`: a notification made before the wait
/// is kept until the wait consumes it, and the waiter sees everything the notifier did before
/// notifying. Built on lockhound's `Mutex` and `Condvar`, so it is explored like them on every
/// engine. Unlike loom's, a wait never returns without a notification (loom explores one
/// spurious wake-up per `Notify`): code that must survive spurious wake-ups should be tested
/// with a `Condvar`.
pub struct Notify {
    notified: Mutex<bool>,
    wake: Condvar,
    /// A second waiter at once is the test's mistake, as in loom; checking it adds no
    /// scheduling point.
    waiting: AtomicBool,
}

impl Notify {
    #[track_caller]
    pub fn new() -> Notify {
        Notify { notified: Mutex::new(false), wake: Condvar::new(), waiting: AtomicBool::new(false) }
    }

    /// Notifies the waiter, or the next thread to wait.
    #[track_caller]
    pub fn notify(&self) {
        *self.notified.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_one();
    }

    /// Blocks until notified, and consumes the notification.
    #[track_caller]
    pub fn wait(&self) {
        if self.waiting.swap(true, Ordering::SeqCst) {
            panic!("only a single thread may wait on `Notify`");
        }
        let mut notified = self.notified.lock().unwrap_or_else(PoisonError::into_inner);
        while !*notified {
            notified = self.wake.wait(notified).unwrap_or_else(PoisonError::into_inner);
        }
        *notified = false;
        drop(notified);
        self.waiting.store(false, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Reading the flag would take the lock: a scheduling point a `{:?}` must not add.
        f.debug_struct("Notify").finish_non_exhaustive()
    }
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}
