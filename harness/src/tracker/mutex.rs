//! The tracked mutex: parking_lot's (`lock_api::Mutex` over `parking_lot::RawMutex`) plus
//! its class and the bookkeeping of every acquisition.

use super::acquire::{self, Held};
use super::class::{LockKind, LockMeta};
use super::registry::WaitKind;
use super::Mode;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::time::{Duration, Instant};

/// A tracked mutual exclusion lock, a drop-in for `parking_lot::Mutex`.
pub struct Mutex<T: ?Sized> {
    meta: LockMeta,
    inner: parking_lot::Mutex<T>,
}

/// The guard of a locked [`Mutex`]; the release is recorded when it is dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    // Field order matters: the lock is released before the release is recorded.
    inner: parking_lot::MutexGuard<'a, T>,
    // Never read: dropping it records the release.
    #[allow(dead_code)]
    held: Held<'a>,
}

impl<T> Mutex<T> {
    /// Creates a mutex whose lock class is the calling site.
    #[track_caller]
    pub fn new(value: T) -> Self {
        Mutex {
            meta: LockMeta::new(None, LockKind::Mutex, Location::caller()),
            inner: parking_lot::Mutex::new(value),
        }
    }

    /// Creates a mutex of the lock class `name`: every mutex of that name is one class.
    #[track_caller]
    pub fn named(name: &str, value: T) -> Self {
        let meta = LockMeta::new(Some(name), LockKind::Mutex, Location::caller());
        Mutex { meta, inner: parking_lot::Mutex::new(value) }
    }

    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking until it is free.
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let (inner, held) = acquire::lock(
            &self.meta,
            Mode::Write,
            Location::caller(),
            || self.inner.try_lock(),
            || self.inner.lock(),
        );
        MutexGuard { inner, held }
    }

    /// Acquires the mutex if it is free, without blocking (adds no lock-order edge).
    #[track_caller]
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        acquire::try_lock(&self.meta, Mode::Write, Location::caller(), || self.inner.try_lock())
            .map(|(inner, held)| MutexGuard { inner, held })
    }

    /// Acquires the mutex, giving up after `timeout`.
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.try_lock_until(crate::limits::deadline(Instant::now(), timeout))
    }

    /// Acquires the mutex, giving up at `deadline`.
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        acquire::lock_until(
            &self.meta,
            Mode::Write,
            Location::caller(),
            || self.inner.try_lock(),
            |d| self.inner.try_lock_until(d),
            deadline,
        )
        .map(|(inner, held)| MutexGuard { inner, held })
    }

    /// Runs `f` with the mutex locked: the critical section in one visible place.
    #[track_caller]
    pub fn with_lock<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.lock())
    }

    /// Runs `f` with the mutex locked, or returns `None` if it cannot be had in `timeout`.
    #[track_caller]
    pub fn with_lock_for<R>(&self, timeout: Duration, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.try_lock_for(timeout).map(|mut g| f(&mut g))
    }

    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

/// Waits on `cv` with `guard`'s mutex released: the release is recorded before the wait,
/// the wait is visible to the watchdog as a condition variable wait on this mutex, and the
/// reacquisition is recorded after it.
pub(crate) fn condvar_wait<T: ?Sized>(
    guard: &mut MutexGuard<'_, T>,
    cv: &parking_lot::Condvar,
    site: &'static Location<'static>,
) {
    let MutexGuard { inner, held } = guard;
    acquire::wait_released(held, site, WaitKind::Condvar, || cv.wait(inner));
}

/// [`condvar_wait`] for at most `timeout`; returns whether the timeout passed first.
pub(crate) fn condvar_wait_for<T: ?Sized>(
    guard: &mut MutexGuard<'_, T>,
    cv: &parking_lot::Condvar,
    timeout: Duration,
    site: &'static Location<'static>,
) -> bool {
    let MutexGuard { inner, held } = guard;
    acquire::wait_released(held, site, WaitKind::Condvar, || cv.wait_for(inner, timeout).timed_out())
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").field("id", &self.meta.id).field("data", &&self.inner).finish()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
