//! State that lives for one model-checked execution, keyed by the object it belongs to.
//!
//! `Once`, `OnceLock`, `LazyLock` and `lazy_static!` values are built in `const` context and
//! usually live in statics, so a model checker cannot reset them between executions the way
//! it resets everything the body creates. Under loom and shuttle their state lives here
//! instead: created at first use in an execution, from facade objects of that execution (so
//! their races are explored like any other), and dropped when the body's main thread ends,
//! inside the execution, as loom and shuttle drop their own `lazy_static` values (so loom's
//! leak check sees an `Arc` kept in such a value released). A value that holds a reference
//! handed out by one of these objects must not outlive the execution, as under loom.
//!
//! One table per OS thread is one table per execution: loom and shuttle run every simulated
//! thread of an execution on the OS thread that explores it, and each lane of a parallel run
//! explores on an OS thread of its own.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The states of this OS thread's execution. What an execution that ended abnormally left
/// here is never dropped, not even when the OS thread ends (see [`forget`]).
#[derive(Default)]
struct Table(HashMap<u64, Rc<dyn Any>>);

impl Drop for Table {
    fn drop(&mut self) {
        std::mem::forget(std::mem::take(&mut self.0));
    }
}

impl std::ops::Deref for Table {
    type Target = HashMap<u64, Rc<dyn Any>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Table {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
}

/// A process-wide identity for an object that is built in `const` context and may move, so its
/// address cannot name it: allocated at first use, kept when the object moves.
#[derive(Debug, Default)]
pub(crate) struct ObjectId(AtomicU64);

impl ObjectId {
    pub(crate) const fn new() -> ObjectId {
        ObjectId(AtomicU64::new(0))
    }

    pub(crate) fn get(&self) -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        match self.0.load(Ordering::Relaxed) {
            0 => {
                let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
                match self.0.compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => fresh,
                    Err(won) => won,
                }
            }
            id => id,
        }
    }

    /// The id if one was ever allocated (an object never used has no state anywhere).
    pub(crate) fn allocated(&self) -> Option<u64> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            id => Some(id),
        }
    }
}

/// The state of object `id` in the current execution, if it has been created. Handed out as
/// an `Rc` and never borrowed from the table across a call: the caller may block, and another
/// simulated thread may look up its own state meanwhile.
pub(crate) fn existing<T: 'static>(id: u64) -> Option<Rc<T>> {
    let found = TABLE.with(|t| t.borrow().get(&id).cloned())?;
    Some(found.downcast::<T>().unwrap_or_else(|_| panic!("per-execution state of another type")))
}

/// Makes `state` object `id`'s state in the current execution (callers build it outside the
/// table, from facade objects whose creation may record trace events).
pub(crate) fn insert<T: 'static>(id: u64, state: T) -> Rc<T> {
    let made = Rc::new(state);
    TABLE.with(|t| t.borrow_mut().insert(id, made.clone()));
    made
}

/// Forgets object `id`'s state (the object is dropped, or its value taken).
pub(crate) fn remove(id: u64) {
    // Dropped outside the borrow, in case the state's destructor looks another one up.
    let removed = TABLE.with(|t| t.borrow_mut().remove(&id));
    drop(removed);
}

/// Drops every object's state: the body's main thread ends, inside its execution.
pub(crate) fn end() {
    if TABLE.with(|t| t.borrow().is_empty()) {
        return;
    }
    let old = TABLE.with(|t| std::mem::take(&mut t.borrow_mut().0));
    drop(old);
}

/// Forgets what an execution that ended abnormally left (a failed model-checked execution
/// whose engine could not be called into any more, or one driven outside lockhound's runs):
/// its state may hold another execution's engine objects, which must never be touched again.
pub(crate) fn forget() {
    if TABLE.with(|t| t.borrow().is_empty()) {
        return;
    }
    let old = TABLE.with(|t| std::mem::take(&mut t.borrow_mut().0));
    std::mem::forget(old);
}
