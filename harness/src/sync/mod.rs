//! Synchronization primitives that run unchanged under loom, shuttle and real threads,
//! mirroring `std::sync` one to one. Each object is bound, when created, to the engine of
//! the run it is created in.

mod arc;
pub mod atomic;
mod condvar;
mod mutex;
mod rwlock;

pub use arc::Arc;
pub use condvar::Condvar;
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

/// Re-wraps the guard inside a lock result, keeping the poison state.
pub(crate) fn map_lock<G, H>(result: LockResult<G>, wrap: impl FnOnce(G) -> H) -> LockResult<H> {
    match result {
        Ok(guard) => Ok(wrap(guard)),
        Err(poisoned) => Err(PoisonError::new(wrap(poisoned.into_inner()))),
    }
}

/// Re-wraps the guard inside a try-lock result, keeping the poison and would-block states.
pub(crate) fn map_try_lock<G, H>(result: TryLockResult<G>, wrap: impl FnOnce(G) -> H) -> TryLockResult<H> {
    match result {
        Ok(guard) => Ok(wrap(guard)),
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(wrap(p.into_inner())))),
    }
}

/// Dispatches an operation on a facade object to the engine it was created under. loom and
/// shuttle objects check that they are still inside their run first.
macro_rules! dispatch {
    ($value:expr, $imp:ident, $x:ident => $op:expr) => {
        match $value {
            $imp::Loom($x) => {
                $crate::rt::expect_engine($crate::rt::Engine::Loom);
                $op
            }
            $imp::Shuttle($x) => {
                $crate::rt::expect_engine($crate::rt::Engine::Shuttle);
                $op
            }
            $imp::Std($x) => $op,
        }
    };
}
pub(crate) use dispatch;
