//! The shared context of one execution on real threads: the first panic that escaped any of
//! its threads, which the stress engine reports even if no one joined the thread. A panic a
//! thread catches itself is not one.

use super::panic::{self, PanicRecord};
use super::Engine;
use crate::explore::Body;
use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Called when a panic escapes a thread of the body (see `panic::escaped_with`).
pub(crate) fn record_escape(record: &PanicRecord) {
    CURRENT.with(|c| {
        if let Some(run) = &*c.borrow() {
            let mut slot = run.first_panic.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(record.clone());
            }
        }
    });
}

/// The name of the thread an iteration runs the body on (`thread::current().name()` calls it
/// `"main"`, as under the model checkers).
pub(crate) const BODY_THREAD: &str = "lockhound-body";

/// How one real-thread iteration of a body ended.
pub(crate) enum Iteration {
    /// The body returned or panicked: the first panic of any of its threads, if one did.
    Finished(Option<PanicRecord>),
    /// No end within the hang timeout; its threads are abandoned. A thread that panicked
    /// first is the likely cause.
    Hung(Option<PanicRecord>),
}

/// Runs `body` once in a fresh thread entered into the Std engine (`after` runs on that
/// thread when the body is done) and waits at most `hang_timeout`: a real thread cannot be
/// interrupted, so a body that blocks forever is abandoned, never waited for. `Err` when no
/// thread can be started.
pub(crate) fn run_iteration(body: &Body, hang_timeout: Duration, after: fn()) -> std::io::Result<Iteration> {
    let run = Arc::new(StdRun::default());
    let (done, finished) = mpsc::channel();
    let (body, iteration_run) = (body.clone(), run.clone());
    std::thread::Builder::new().name(BODY_THREAD.into()).spawn(move || {
        let _scope = super::enter(Engine::Std);
        set_current(Some(iteration_run));
        let execution = super::begin_execution();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body()));
        if let Err(payload) = &result {
            panic::escaped_with(Some(&**payload));
        }
        drop(execution);
        after();
        let _ = done.send(result.err().map(|p| panic::payload_message(&*p)));
    })?;
    Ok(match finished.recv_timeout(hang_timeout) {
        Ok(None) => Iteration::Finished(run.first_panic()),
        Ok(Some(message)) => {
            Iteration::Finished(Some(run.first_panic().unwrap_or(PanicRecord::plain(message))))
        }
        Err(_) => Iteration::Hung(run.first_panic()),
    })
}
