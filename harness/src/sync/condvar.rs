use super::mutex::MutexGuardImp;
use super::{map_lock, LockResult, MutexGuard};
use crate::rt::unwind::LeakOnUnwind;
use crate::rt::{self, Engine};

/// A condition variable, like `std::sync::Condvar`.
pub struct Condvar {
    imp: CondvarImp,
}

enum CondvarImp {
    Loom(loom::sync::Condvar),
    Shuttle(shuttle::sync::Condvar),
    Std(parking_lot::Condvar),
}

impl Condvar {
    /// Creates a condition variable under the engine of the current run.
    #[track_caller]
    pub fn new() -> Self {
        let imp = match rt::engine() {
            Engine::Loom => CondvarImp::Loom(loom::sync::Condvar::new()),
            Engine::Shuttle => CondvarImp::Shuttle(shuttle::sync::Condvar::new()),
            Engine::Std => CondvarImp::Std(parking_lot::Condvar::new()),
        };
        Condvar { imp }
    }

    /// Blocks until notified, releasing the mutex while it waits.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let wrap = |imp| MutexGuard { imp };
        match (&self.imp, guard.imp) {
            (CondvarImp::Loom(c), MutexGuardImp::Loom(g)) => {
                rt::expect_engine(Engine::Loom);
                map_lock(c.wait(g.into_inner()), |g| wrap(MutexGuardImp::Loom(LeakOnUnwind::new(g))))
            }
            (CondvarImp::Shuttle(c), MutexGuardImp::Shuttle(g)) => {
                rt::expect_engine(Engine::Shuttle);
                map_lock(c.wait(g), |g| wrap(MutexGuardImp::Shuttle(g)))
            }
            (CondvarImp::Std(c), MutexGuardImp::Std(mut g)) => {
                // Recorded as a release, a condvar wait on the mutex, and a reacquisition.
                crate::tracker::condvar_wait(&mut g, c, std::panic::Location::caller());
                Ok(wrap(MutexGuardImp::Std(g)))
            }
            _ => panic!("Condvar::wait given a guard from a mutex of another run"),
        }
    }

    /// Blocks while `condition` holds, like `std::sync::Condvar::wait_while`.
    #[track_caller]
    pub fn wait_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        while condition(&mut guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Wakes one waiting thread.
    #[track_caller]
    pub fn notify_one(&self) {
        match &self.imp {
            CondvarImp::Loom(c) => {
                rt::expect_engine(Engine::Loom);
                c.notify_one()
            }
            CondvarImp::Shuttle(c) => {
                rt::expect_engine(Engine::Shuttle);
                c.notify_one()
            }
            CondvarImp::Std(c) => {
                c.notify_one();
            }
        }
    }

    /// Wakes every waiting thread.
    #[track_caller]
    pub fn notify_all(&self) {
        match &self.imp {
            CondvarImp::Loom(c) => {
                rt::expect_engine(Engine::Loom);
                c.notify_all()
            }
            CondvarImp::Shuttle(c) => {
                rt::expect_engine(Engine::Shuttle);
                c.notify_all()
            }
            CondvarImp::Std(c) => {
                c.notify_all();
            }
        }
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Self {
        Condvar::new()
    }
}
