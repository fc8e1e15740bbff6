//! Thread-local values, like `std::thread_local!`, one per simulated thread.
//!
//! loom and shuttle run every simulated thread of an execution on one OS thread, so std's own
//! thread-locals are shared by all of them there. A [`LocalKey`] declared with
//! [`thread_local!`](crate::thread_local) holds three keys and uses the one of the engine the
//! calling thread runs under: loom's and shuttle's (one value per simulated thread, created at
//! its first use in the thread and dropped when the thread finishes, as each engine does), or
//! std's on real threads and outside any run.

use crate::rt::{self, Engine};
use std::cell::{Cell, RefCell};
use std::fmt;

/// A key to a thread-local value, declared with [`thread_local!`](crate::thread_local).
pub struct LocalKey<T: 'static> {
    loom: &'static loom::thread::LocalKey<T>,
    shuttle: &'static shuttle::thread::LocalKey<T>,
    std: &'static std::thread::LocalKey<T>,
}

/// The value was already destroyed (accessed from another thread-local's destructor), like
/// `std::thread::AccessError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("already destroyed")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(
        loom: &'static loom::thread::LocalKey<T>,
        shuttle: &'static shuttle::thread::LocalKey<T>,
        std: &'static std::thread::LocalKey<T>,
    ) -> LocalKey<T> {
        LocalKey { loom, shuttle, std }
    }

    /// Runs `f` with the calling thread's value, created at its first use.
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(r) => r,
            Err(_) => panic!("cannot access a thread-local value during or after its destruction"),
        }
    }

    /// [`LocalKey::with`], or `Err` if the value was already destroyed.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        match rt::model_engine() {
            Some(Engine::Loom) => self.loom.try_with(f).map_err(|_| AccessError),
            Some(Engine::Shuttle) => self.shuttle.try_with(f).map_err(|_| AccessError),
            _ => self.std.try_with(f).map_err(|_| AccessError),
        }
    }
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets the calling thread's value.
    pub fn set(&'static self, value: T) {
        self.with(|cell| cell.set(value))
    }

    /// A copy of the calling thread's value.
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes the calling thread's value, leaving the default.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces the calling thread's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Runs `f` with a shared borrow of the calling thread's value.
    pub fn with_borrow<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Runs `f` with a mutable borrow of the calling thread's value.
    pub fn with_borrow_mut<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R,
    {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }

    /// Sets the calling thread's value.
    pub fn set(&'static self, value: T) {
        self.with(|cell| *cell.borrow_mut() = value)
    }

    /// Takes the calling thread's value, leaving the default.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces the calling thread's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKey { .. }")
    }
}

/// Declares thread-local statics, like `std::thread_local!`, one value per simulated thread
/// under loom and shuttle (see [`LocalKey`](crate::thread::LocalKey)).
///
/// ```
/// use std::cell::Cell;
/// lockhound::thread_local! {
///     static COUNT: Cell<u32> = const { Cell::new(0) };
/// }
/// lockhound::check(|| {
///     COUNT.set(COUNT.get() + 1);
///     let t = lockhound::thread::spawn(|| COUNT.get());
///     assert_eq!(t.join().unwrap(), 0, "the spawned thread has a value of its own");
///     assert_eq!(COUNT.get(), 1);
/// });
/// ```
#[macro_export]
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        $crate::__thread_local_item!($(#[$attr])* $vis $name, $t, $init);
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }) => {
        $crate::__thread_local_item!($(#[$attr])* $vis $name, $t, $init);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::__thread_local_item!($(#[$attr])* $vis $name, $t, $init);
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::__thread_local_item!($(#[$attr])* $vis $name, $t, $init);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __thread_local_item {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty, $init:expr) => {
        $(#[$attr])* $vis static $name: $crate::thread::LocalKey<$t> = {
            fn __init() -> $t {
                $init
            }
            static __LOOM: $crate::thread::__loom::thread::LocalKey<$t> =
                $crate::thread::__loom::thread::LocalKey { init: __init, _p: ::core::marker::PhantomData };
            static __SHUTTLE: $crate::thread::__shuttle::thread::LocalKey<$t> =
                $crate::thread::__shuttle::thread::LocalKey { init: __init, _p: ::core::marker::PhantomData };
            ::std::thread_local! {
                static __STD: $t = __init();
            }
            $crate::thread::LocalKey::__new(&__LOOM, &__SHUTTLE, &__STD)
        };
    };
}
