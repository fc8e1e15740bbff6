use super::mutex::MutexGuardImp;
use super::{map_lock, note, note_at, LockResult, MutexGuard};
use crate::rt::record::Tag;
use crate::rt::unwind::LeakOnUnwind;
use crate::rt::{self, Engine};
use std::panic::Location;

/// A condition variable, like `std::sync::Condvar`.
pub struct Condvar {
    imp: CondvarImp,
    tag: Tag,
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
        Condvar { imp, tag: Tag::new("Condvar", Location::caller()) }
    }

    /// Creates the condvar with a name that traces show instead of its creation site.
    #[track_caller]
    pub fn named(name: &'static str) -> Self {
        let mut condvar = Self::new();
        condvar.tag = condvar.tag.with_name(name);
        condvar
    }

    /// The model-checked engine this condvar belongs to, `None` on real threads.
    fn model(&self) -> Option<Engine> {
        match self.imp {
            CondvarImp::Loom(_) => Some(Engine::Loom),
            CondvarImp::Shuttle(_) => Some(Engine::Shuttle),
            CondvarImp::Std(_) => None,
        }
    }

    /// Blocks until notified, releasing the mutex while it waits.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let MutexGuard { held, imp } = guard;
        let at = Location::caller();
        note_at(self.model(), &self.tag, "wait (releases the mutex)", at);
        let wrap = |imp| {
            note_at(self.model(), &self.tag, "woken (holds the mutex again)", at);
            MutexGuard { held, imp }
        };
        match (&self.imp, imp) {
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
        note(self.model(), &self.tag, "notify_one");
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
        note(self.model(), &self.tag, "notify_all");
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
