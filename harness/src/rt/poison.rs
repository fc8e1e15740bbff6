//! Lock poisoning, the same under every engine: a `Mutex` or `RwLock` write guard dropped
//! while its thread panics, where the panic began after the lock was taken, poisons the lock,
//! and every later `lock`/`read`/`write` returns the guard inside a `PoisonError`, as std
//! does. The engines' own poisoning is not used: real threads run the tracker's locks, which
//! never poison (parking_lot's do not), and loom's guards are not dropped at all while loom
//! fails an execution.
//!
//! The flag is a plain atomic: under the model checkers only one simulated thread runs at a
//! time, so reading it adds no scheduling point and changes no interleaving.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError};

#[derive(Debug, Default)]
pub(crate) struct Flag(AtomicBool);

/// Whether the thread was already panicking when it took the lock (then dropping the guard
/// during that panic poisons nothing, as in std).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taken {
    panicking: bool,
}

impl Flag {
    pub(crate) const fn new() -> Flag {
        Flag(AtomicBool::new(false))
    }

    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed)
    }

    /// Notes the taking of the lock, for [`Flag::release`].
    #[inline]
    pub(crate) fn take() -> Taken {
        Taken { panicking: std::thread::panicking() }
    }

    /// Poisons the lock if the guard goes while a panic that began after `taken` unwinds (an
    /// engine tearing down a failed execution is no such panic).
    #[inline]
    pub(crate) fn release(&self, taken: Taken) {
        if !taken.panicking && std::thread::panicking() && !super::unwind::teardown() {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// `Ok(guard)`, or the guard inside a `PoisonError` if the lock is poisoned.
    pub(crate) fn result<G>(&self, guard: G) -> LockResult<G> {
        if self.get() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }
}
