//! The tracked reader-writer lock: parking_lot's (`lock_api::RwLock` over
//! `parking_lot::RawRwLock`) plus its class and the bookkeeping of every acquisition.

use super::acquire::{self, Held};
use super::class::{LockKind, LockMeta};
use super::registry::{self, Acquisition, WaitKind};
use super::Mode;
use parking_lot as pl;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::time::{Duration, Instant};

/// A tracked reader-writer lock, a drop-in for `parking_lot::RwLock`.
pub struct RwLock<T: ?Sized> {
    meta: LockMeta,
    inner: pl::RwLock<T>,
}

// Field order in the guards matters: the lock is released before the release is recorded.

/// Shared access to a read-locked [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    inner: pl::RwLockReadGuard<'a, T>,
    // Never read: dropping it records the release.
    #[allow(dead_code)]
    held: Held<'a>,
}

/// Exclusive access to a write-locked [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    inner: pl::RwLockWriteGuard<'a, T>,
    // Never read: dropping it records the release.
    #[allow(dead_code)]
    held: Held<'a>,
}

/// Shared access that can be upgraded to exclusive access without letting a writer in.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    inner: pl::RwLockUpgradableReadGuard<'a, T>,
    // Never read: dropping it records the release.
    #[allow(dead_code)]
    held: Held<'a>,
}

impl<T> RwLock<T> {
    /// Creates a lock whose lock class is the calling site.
    #[track_caller]
    pub fn new(value: T) -> Self {
        let meta = LockMeta::new(None, LockKind::RwLock, Location::caller());
        RwLock { meta, inner: pl::RwLock::new(value) }
    }

    /// Creates a lock of the lock class `name`: every lock of that name is one class.
    #[track_caller]
    pub fn named(name: &str, value: T) -> Self {
        let meta = LockMeta::new(Some(name), LockKind::RwLock, Location::caller());
        RwLock { meta, inner: pl::RwLock::new(value) }
    }

    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

macro_rules! modes {
    ($(#[$doc:meta])* $lock:ident, $try:ident, $for:ident, $until:ident,
     $guard:ident, $mode:expr, $pl_lock:ident, $pl_try:ident, $pl_until:ident) => {
        $(#[$doc])*
        #[track_caller]
        #[inline]
        pub fn $lock(&self) -> $guard<'_, T> {
            let (inner, held) = acquire::lock(
                &self.meta,
                $mode,
                Location::caller(),
                || self.inner.$pl_try(),
                || self.inner.$pl_lock(),
            );
            $guard { inner, held }
        }

        /// Like the blocking version, but fails at once instead of waiting (and adds no
        /// lock-order edge).
        #[track_caller]
        #[inline]
        pub fn $try(&self) -> Option<$guard<'_, T>> {
            acquire::try_lock(&self.meta, $mode, Location::caller(), || self.inner.$pl_try())
                .map(|(inner, held)| $guard { inner, held })
        }

        /// Like the blocking version, but gives up after `timeout`.
        #[track_caller]
        pub fn $for(&self, timeout: Duration) -> Option<$guard<'_, T>> {
            self.$until(crate::limits::deadline(Instant::now(), timeout))
        }

        /// Like the blocking version, but gives up at `deadline`.
        #[track_caller]
        pub fn $until(&self, deadline: Instant) -> Option<$guard<'_, T>> {
            acquire::lock_until(
                &self.meta,
                $mode,
                Location::caller(),
                || self.inner.$pl_try(),
                |d| self.inner.$pl_until(d),
                deadline,
            )
            .map(|(inner, held)| $guard { inner, held })
        }
    };
}

impl<T: ?Sized> RwLock<T> {
    modes!(
        /// Locks for shared read access, blocking until it can.
        read, try_read, try_read_for, try_read_until,
        RwLockReadGuard, Mode::Read, read, try_read, try_read_until
    );
    modes!(
        /// Locks for exclusive write access, blocking until it can.
        write, try_write, try_write_for, try_write_until,
        RwLockWriteGuard, Mode::Write, write, try_write, try_write_until
    );
    modes!(
        /// Locks for an upgradable read, blocking until it can.
        upgradable_read, try_upgradable_read, try_upgradable_read_for,
        try_upgradable_read_until, RwLockUpgradableReadGuard, Mode::Upgradable,
        upgradable_read, try_upgradable_read, try_upgradable_read_until
    );

    /// Runs `f` with shared access: the critical section in one visible place.
    #[track_caller]
    pub fn with_read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.read())
    }

    /// Runs `f` with exclusive access.
    #[track_caller]
    pub fn with_write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.write())
    }

    /// Runs `f` with shared access, or returns `None` if it cannot be had in `timeout`.
    #[track_caller]
    pub fn with_read_for<R>(&self, timeout: Duration, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.try_read_for(timeout).map(|g| f(&g))
    }

    /// Runs `f` with exclusive access, or returns `None` if it cannot be had in `timeout`.
    #[track_caller]
    pub fn with_write_for<R>(&self, timeout: Duration, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.try_write_for(timeout).map(|mut g| f(&mut g))
    }

    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    pub fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// Upgrades to exclusive access, waiting for the readers to leave. The wait is
    /// registered as an upgrade: the thread already holds the lock, so it is not re-entry.
    #[track_caller]
    pub fn upgrade(guard: Self) -> RwLockWriteGuard<'a, T> {
        let RwLockUpgradableReadGuard { inner, mut held } = guard;
        let inner = match pl::RwLockUpgradableReadGuard::try_upgrade(inner) {
            Ok(w) => w,
            Err(inner) => {
                let site = Location::caller();
                let acq =
                    Acquisition { meta: held.meta, mode: Mode::Write, site, ordered: false, wait_ns: None };
                let w = registry::begin_wait(&acq, WaitKind::Upgrade);
                let up = pl::RwLockUpgradableReadGuard::upgrade(inner);
                registry::end_wait(w, true);
                up
            }
        };
        held.change(Mode::Write);
        RwLockWriteGuard { inner, held }
    }

    /// Upgrades to exclusive access if no reader holds the lock.
    pub fn try_upgrade(guard: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let RwLockUpgradableReadGuard { inner, mut held } = guard;
        match pl::RwLockUpgradableReadGuard::try_upgrade(inner) {
            Ok(inner) => {
                held.change(Mode::Write);
                Ok(RwLockWriteGuard { inner, held })
            }
            Err(inner) => Err(RwLockUpgradableReadGuard { inner, held }),
        }
    }

    /// Turns the upgradable read into a plain read.
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        let RwLockUpgradableReadGuard { inner, mut held } = guard;
        let inner = pl::RwLockUpgradableReadGuard::downgrade(inner);
        held.change(Mode::Read);
        RwLockReadGuard { inner, held }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns exclusive access into shared access without letting a writer in.
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        let RwLockWriteGuard { inner, mut held } = guard;
        let inner = pl::RwLockWriteGuard::downgrade(inner);
        held.change(Mode::Read);
        RwLockReadGuard { inner, held }
    }

    /// Turns exclusive access into an upgradable read.
    pub fn downgrade_to_upgradable(guard: Self) -> RwLockUpgradableReadGuard<'a, T> {
        let RwLockWriteGuard { inner, mut held } = guard;
        let inner = pl::RwLockWriteGuard::downgrade_to_upgradable(inner);
        held.change(Mode::Upgradable);
        RwLockUpgradableReadGuard { inner, held }
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock").field("id", &self.meta.id).field("data", &&self.inner).finish()
    }
}

macro_rules! deref {
    ($($guard:ident),*) => {$(
        impl<T: ?Sized> Deref for $guard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.inner
            }
        }
    )*};
}
deref!(RwLockReadGuard, RwLockWriteGuard, RwLockUpgradableReadGuard);

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}
