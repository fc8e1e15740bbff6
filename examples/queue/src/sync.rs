//! Where the crate's synchronization comes from: lockhound's facade when the `lockhound`
//! feature is on (the package's tests), std otherwise. The facade mirrors std's API, so the
//! code that uses these names is the same either way; its `UnsafeCell` has loom's
//! `with`/`with_mut` shape, which the std build gets from the small wrapper below.

#[cfg(feature = "lockhound")]
pub use lockhound::{
    cell::UnsafeCell,
    sync::atomic::{AtomicBool, Ordering},
    sync::{Arc, Condvar, Mutex},
};
#[cfg(not(feature = "lockhound"))]
pub use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Condvar, Mutex,
};

/// std's `UnsafeCell` with the facade's access shape.
#[cfg(not(feature = "lockhound"))]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(feature = "lockhound"))]
impl<T> UnsafeCell<T> {
    pub fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
