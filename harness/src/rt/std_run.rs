//! The shared context of one execution on real threads: the threads it started and the first
//! panic any of them raised, which the stress engine reports even if no one joined the thread.

use super::panic::PanicRecord;
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(crate) struct StdRun {
    first_panic: Mutex<Option<PanicRecord>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<StdRun>>> = const { RefCell::new(None) };
}

impl StdRun {
    pub(crate) fn first_panic(&self) -> Option<PanicRecord> {
        self.first_panic.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The real-thread execution this thread belongs to, if any.
pub(crate) fn current() -> Option<Arc<StdRun>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `run` the execution of this thread (a new body thread, or one the body spawned).
pub(crate) fn set_current(run: Option<Arc<StdRun>>) {
    CURRENT.with(|c| *c.borrow_mut() = run);
}

/// Called by the panic hook on a real thread inside a run.
pub(crate) fn record_panic(record: &PanicRecord) {
    CURRENT.with(|c| {
        if let Some(run) = &*c.borrow() {
            let mut slot = run.first_panic.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(record.clone());
            }
        }
    });
}
