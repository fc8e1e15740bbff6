//! loom cannot be called into while a failed execution unwinds: a loom guard or `Arc` dropped
//! during that unwinding panics inside loom again, and a panic in a destructor during cleanup
//! aborts the whole process (loom's own deadlock detection ends this way on current Rust).
//! Wrapping loom's values in [`LeakOnUnwind`] skips their drop while the thread panics: the
//! execution has failed, so the lock it leaves held or the count it leaves raised is never
//! looked at again.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

pub(crate) struct LeakOnUnwind<T>(ManuallyDrop<T>);

impl<T> LeakOnUnwind<T> {
    pub(crate) fn new(value: T) -> Self {
        LeakOnUnwind(ManuallyDrop::new(value))
    }

    pub(crate) fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the value is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl<T> Drop for LeakOnUnwind<T> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: drop runs once, and `into_inner` (the only other taker) forgets `self`.
            unsafe { ManuallyDrop::drop(&mut self.0) }
        }
    }
}

impl<T> Deref for LeakOnUnwind<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for LeakOnUnwind<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::LeakOnUnwind;
    use std::rc::Rc;

    #[test]
    fn drops_normally_and_hands_out_its_value_once() {
        let counted = Rc::new(());
        drop(LeakOnUnwind::new(counted.clone()));
        assert_eq!(Rc::strong_count(&counted), 1, "dropped outside a panic");
        let inner = LeakOnUnwind::new(counted.clone()).into_inner();
        assert_eq!(Rc::strong_count(&counted), 2, "into_inner moves the value out, no drop");
        drop(inner);
        assert_eq!(Rc::strong_count(&counted), 1);
    }

    #[test]
    fn leaks_while_the_thread_panics() {
        let counted = Rc::new(());
        let held = counted.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _guard = LeakOnUnwind::new(held);
            panic!("unwinding");
        }));
        assert!(result.is_err());
        assert_eq!(Rc::strong_count(&counted), 2, "the value was leaked, not dropped");
        // SAFETY: exactly one clone was leaked above; releasing its count lets miri's leak
        // check pass without hiding a leak of anything else.
        unsafe { Rc::decrement_strong_count(Rc::as_ptr(&counted)) };
    }
}
