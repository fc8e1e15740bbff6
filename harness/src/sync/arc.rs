use crate::rt::unwind::LeakOnUnwind;
use crate::rt::{self, Engine};
use std::ops::Deref;

/// A reference-counted pointer, like `std::sync::Arc`. Under loom it is loom's `Arc`, so a
/// body that leaks one is reported.
pub struct Arc<T> {
    imp: ArcImp<T>,
}

enum ArcImp<T> {
    Loom(LeakOnUnwind<loom::sync::Arc<T>>),
    // shuttle's Arc is std's own.
    Std(std::sync::Arc<T>),
}

impl<T> Arc<T> {
    /// Creates an `Arc` under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        let imp = match rt::engine() {
            Engine::Loom => ArcImp::Loom(LeakOnUnwind::new(loom::sync::Arc::new(value))),
            Engine::Shuttle | Engine::Std => ArcImp::Std(std::sync::Arc::new(value)),
        };
        Arc { imp }
    }

    /// Whether two `Arc`s point to the same allocation.
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        std::ptr::eq(&**this, &**other)
    }

    /// The number of strong references.
    pub fn strong_count(this: &Self) -> usize {
        match &this.imp {
            ArcImp::Loom(a) => loom::sync::Arc::strong_count(a),
            ArcImp::Std(a) => std::sync::Arc::strong_count(a),
        }
    }
}

impl<T> Clone for Arc<T> {
    fn clone(&self) -> Self {
        let imp = match &self.imp {
            ArcImp::Loom(a) => ArcImp::Loom(LeakOnUnwind::new((**a).clone())),
            ArcImp::Std(a) => ArcImp::Std(a.clone()),
        };
        Arc { imp }
    }
}

impl<T> Deref for Arc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.imp {
            ArcImp::Loom(a) => a,
            ArcImp::Std(a) => a,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Arc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
