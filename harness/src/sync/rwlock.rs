use super::{map_lock, map_try_lock, Held, LockResult, TryLockError, TryLockResult};
use crate::rt::record::Tag;
use crate::rt::unwind::LeakOnUnwind;
use crate::rt::{self, Engine};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

/// A reader-writer lock, like `std::sync::RwLock`.
pub struct RwLock<T> {
    imp: RwLockImp<T>,
    tag: Tag,
}

// shuttle's lock carries a vector clock (lockhound checks cells against it), a few hundred
// bytes inline: boxing it would cost an allocation per lock per execution, while the size only
// costs the copy of a lock when it is moved, which bodies do once, if at all.
#[allow(clippy::large_enum_variant)]
enum RwLockImp<T> {
    Loom(loom::sync::RwLock<T>),
    Shuttle(shuttle::sync::RwLock<T>),
    Std(crate::tracker::RwLock<T>),
}

/// Shared access to a read-locked [`RwLock`].
pub struct RwLockReadGuard<'a, T> {
    // Declared first: dropped (and the release recorded) before the engine releases.
    _held: Held,
    imp: ReadImp<'a, T>,
}

enum ReadImp<'a, T> {
    Loom(LeakOnUnwind<loom::sync::RwLockReadGuard<'a, T>>),
    Shuttle(shuttle::sync::RwLockReadGuard<'a, T>),
    Std(crate::tracker::RwLockReadGuard<'a, T>),
}

/// Exclusive access to a write-locked [`RwLock`].
pub struct RwLockWriteGuard<'a, T> {
    // Declared first: dropped (and the release recorded) before the engine releases.
    _held: Held,
    imp: WriteImp<'a, T>,
}

enum WriteImp<'a, T> {
    Loom(LeakOnUnwind<loom::sync::RwLockWriteGuard<'a, T>>),
    Shuttle(shuttle::sync::RwLockWriteGuard<'a, T>),
    Std(crate::tracker::RwLockWriteGuard<'a, T>),
}

impl<T> RwLock<T> {
    /// Creates a reader-writer lock under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        let imp = match rt::engine() {
            Engine::Loom => RwLockImp::Loom(loom::sync::RwLock::new(value)),
            Engine::Shuttle => RwLockImp::Shuttle(shuttle::sync::RwLock::new(value)),
            Engine::Std => RwLockImp::Std(crate::tracker::RwLock::new(value)),
        };
        RwLock { imp, tag: Tag::new("RwLock", Location::caller()) }
    }

    /// Creates the lock with a name that traces show instead of its creation site. On real
    /// threads the name is also the lock's class in the lock-holder tracker's reports.
    #[track_caller]
    pub fn named(name: &'static str, value: T) -> Self {
        if matches!(rt::engine(), Engine::Std) {
            let imp = RwLockImp::Std(crate::tracker::RwLock::named(name, value));
            return RwLock { imp, tag: Tag::new("RwLock", Location::caller()).with_name(name) };
        }
        let mut lock = Self::new(value);
        lock.tag = lock.tag.with_name(name);
        lock
    }

    /// The model-checked engine this lock belongs to, `None` on real threads.
    fn model(&self) -> Option<Engine> {
        match self.imp {
            RwLockImp::Loom(_) => Some(Engine::Loom),
            RwLockImp::Shuttle(_) => Some(Engine::Shuttle),
            RwLockImp::Std(_) => None,
        }
    }

    /// Locks for shared read access, blocking until it can.
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let at = Location::caller();
        let wrap =
            |imp| RwLockReadGuard { _held: Held::acquired(self.model(), &self.tag, "read-lock", at), imp };
        match &self.imp {
            RwLockImp::Loom(l) => {
                rt::expect_engine(Engine::Loom);
                map_lock(l.read(), |g| wrap(ReadImp::Loom(LeakOnUnwind::new(g))))
            }
            RwLockImp::Shuttle(l) => {
                rt::expect_engine(Engine::Shuttle);
                map_lock(l.read(), |g| wrap(ReadImp::Shuttle(g)))
            }
            RwLockImp::Std(l) => Ok(wrap(ReadImp::Std(l.read()))),
        }
    }

    /// Locks for exclusive write access, blocking until it can.
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let at = Location::caller();
        let wrap =
            |imp| RwLockWriteGuard { _held: Held::acquired(self.model(), &self.tag, "write-lock", at), imp };
        match &self.imp {
            RwLockImp::Loom(l) => {
                rt::expect_engine(Engine::Loom);
                map_lock(l.write(), |g| wrap(WriteImp::Loom(LeakOnUnwind::new(g))))
            }
            RwLockImp::Shuttle(l) => {
                rt::expect_engine(Engine::Shuttle);
                map_lock(l.write(), |g| wrap(WriteImp::Shuttle(g)))
            }
            RwLockImp::Std(l) => Ok(wrap(WriteImp::Std(l.write()))),
        }
    }

    /// Attempts shared read access without blocking.
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let at = Location::caller();
        let wrap =
            |imp| RwLockReadGuard { _held: Held::acquired(self.model(), &self.tag, "try_read", at), imp };
        match &self.imp {
            RwLockImp::Loom(l) => {
                rt::expect_engine(Engine::Loom);
                map_try_lock(l.try_read(), |g| wrap(ReadImp::Loom(LeakOnUnwind::new(g))))
            }
            RwLockImp::Shuttle(l) => {
                rt::expect_engine(Engine::Shuttle);
                map_try_lock(l.try_read(), |g| wrap(ReadImp::Shuttle(g)))
            }
            RwLockImp::Std(l) => l.try_read().map(|g| wrap(ReadImp::Std(g))).ok_or(TryLockError::WouldBlock),
        }
    }

    /// Attempts exclusive write access without blocking.
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let at = Location::caller();
        let wrap =
            |imp| RwLockWriteGuard { _held: Held::acquired(self.model(), &self.tag, "try_write", at), imp };
        match &self.imp {
            RwLockImp::Loom(l) => {
                rt::expect_engine(Engine::Loom);
                map_try_lock(l.try_write(), |g| wrap(WriteImp::Loom(LeakOnUnwind::new(g))))
            }
            RwLockImp::Shuttle(l) => {
                rt::expect_engine(Engine::Shuttle);
                map_try_lock(l.try_write(), |g| wrap(WriteImp::Shuttle(g)))
            }
            RwLockImp::Std(l) => {
                l.try_write().map(|g| wrap(WriteImp::Std(g))).ok_or(TryLockError::WouldBlock)
            }
        }
    }
}

impl<T> RwLock<T> {
    /// Consumes the lock and returns its value.
    pub fn into_inner(self) -> LockResult<T> {
        match self.imp {
            RwLockImp::Loom(l) => l.into_inner(),
            RwLockImp::Shuttle(l) => l.into_inner(),
            RwLockImp::Std(l) => Ok(l.into_inner()),
        }
    }

    /// The value, through the lock's exclusive borrow: no locking needed.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        match &mut self.imp {
            RwLockImp::Loom(l) => l.get_mut(),
            RwLockImp::Shuttle(l) => l.get_mut(),
            RwLockImp::Std(l) => Ok(l.get_mut()),
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

// SAFETY: std's bounds. Every engine's lock is Send and Sync under them (`_engines_agree`
// checks it); written out so that a missing bound is reported on the user's type.
unsafe impl<T: Send> Send for RwLock<T> {}
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

#[allow(dead_code)]
fn _engines_agree<T: Send + Sync>() {
    fn send_sync<X: Send + Sync>() {}
    send_sync::<RwLockImp<T>>();
}

/// Like std's: `RwLock { data: 5, poisoned: false, .. }`, or `<locked>` for the data while a
/// writer holds it. Never a scheduling point, as for [`super::Mutex`]'s: shuttle's lock shows
/// its data the way std's does, on real threads a `try_read` of the tracked lock, under loom
/// `<unread under loom>`.
impl<T: fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let RwLockImp::Shuttle(l) = &self.imp {
            return fmt::Debug::fmt(l, f);
        }
        let mut out = f.debug_struct("RwLock");
        match &self.imp {
            RwLockImp::Shuttle(_) => unreachable!("shown above"),
            RwLockImp::Loom(_) => out.field("data", &format_args!("<unread under loom>")),
            RwLockImp::Std(l) => match l.try_read() {
                Some(guard) => out.field("data", &&*guard),
                None => out.field("data", &format_args!("<locked>")),
            },
        };
        out.field("poisoned", &false).finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.imp {
            ReadImp::Loom(g) => g,
            ReadImp::Shuttle(g) => g,
            ReadImp::Std(g) => g,
        }
    }
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.imp {
            WriteImp::Loom(g) => g,
            WriteImp::Shuttle(g) => g,
            WriteImp::Std(g) => g,
        }
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.imp {
            WriteImp::Loom(g) => &mut *g,
            WriteImp::Shuttle(g) => &mut *g,
            WriteImp::Std(g) => &mut *g,
        }
    }
}
