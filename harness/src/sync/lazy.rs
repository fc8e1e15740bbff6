//! Values initialized at their first use: `LazyLock`, and the `lazy_static!` macro, whose
//! values are `LazyLock`s. Under loom and shuttle they are initialized again in every
//! execution, as loom's and shuttle's own `lazy_static!` values are (see `sync::once`); on real
//! threads, once per process.

use super::once::OnceLock;
use std::fmt;

/// A value initialized at its first use, like `std::sync::LazyLock`. One difference: the
/// initializer is `Fn` (std: `FnOnce`), since under a model checker a `static` is initialized
/// again in every execution; a function or a closure that captures nothing by value is.
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: F,
}

impl<T: 'static, F: Fn() -> T> LazyLock<T, F> {
    pub const fn new(init: F) -> LazyLock<T, F> {
        LazyLock { cell: OnceLock::new(), init }
    }

    /// The value, initialized on the first call (of the execution, under a model checker).
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| (this.init)())
    }
}

impl<T: 'static, F: Fn() -> T> std::ops::Deref for LazyLock<T, F> {
    type Target = T;

    #[track_caller]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LazyLock { .. }")
    }
}

/// What `lazy_static!` makes of a `static ref`; [`initialize`] forces one.
pub trait LazyStatic {
    #[doc(hidden)]
    fn initialize(lazy: &Self);
}

/// Initializes a `lazy_static!` value now, like `lazy_static::initialize`.
pub fn initialize<T: LazyStatic>(lazy: &T) {
    LazyStatic::initialize(lazy);
}

/// Declares lazily initialized statics, like the `lazy_static` crate's macro: each
/// `static ref NAME: T = init;` derefs to a `T` built by `init` at its first use, once per
/// execution under loom and shuttle (as their own `lazy_static!` do) and once per process on
/// real threads. `lockhound::sync::lazy_static::initialize(&NAME)` forces it.
///
/// ```
/// lockhound::lazy_static! {
///     static ref TABLE: lockhound::sync::Mutex<Vec<u32>> = lockhound::sync::Mutex::new(Vec::new());
/// }
/// lockhound::check(|| {
///     TABLE.lock().unwrap().push(1);
///     assert_eq!(TABLE.lock().unwrap().len(), 1, "every execution starts with a new table");
/// });
/// ```
#[macro_export]
macro_rules! lazy_static {
    ($(#[$attr:meta])* static ref $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::__lazy_static_item!($(#[$attr])* () $name, $t, $init);
        $crate::lazy_static!($($rest)*);
    };
    ($(#[$attr:meta])* pub static ref $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::__lazy_static_item!($(#[$attr])* (pub) $name, $t, $init);
        $crate::lazy_static!($($rest)*);
    };
    ($(#[$attr:meta])* pub ($($vis:tt)+) static ref $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::__lazy_static_item!($(#[$attr])* (pub ($($vis)+)) $name, $t, $init);
        $crate::lazy_static!($($rest)*);
    };
    () => ();
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lazy_static_item {
    ($(#[$attr:meta])* ($($vis:tt)*) $name:ident, $t:ty, $init:expr) => {
        #[allow(missing_copy_implementations, non_camel_case_types, dead_code)]
        $(#[$attr])*
        $($vis)* struct $name {
            __private_field: (),
        }
        #[doc(hidden)]
        $($vis)* static $name: $name = $name { __private_field: () };
        impl ::core::ops::Deref for $name {
            type Target = $t;
            #[track_caller]
            fn deref(&self) -> &$t {
                fn __init() -> $t {
                    $init
                }
                static LAZY: $crate::sync::LazyLock<$t> = $crate::sync::LazyLock::new(__init);
                &*LAZY
            }
        }
        impl $crate::sync::lazy_static::LazyStatic for $name {
            fn initialize(lazy: &Self) {
                let _ = &**lazy;
            }
        }
    };
}
