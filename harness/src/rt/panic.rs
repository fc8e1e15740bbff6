//! Panics inside a run are findings, not output: a process-wide hook records the first panic
//! of the current thread while it is in a run and prints nothing, and defers to the previous
//! hook everywhere else (a user's own failing test still prints as usual).
//!
//! The harness raises some findings itself as panics (starvation, from the executor). Those
//! carry their kind in a typed payload, which the hook keeps in the record, so the kind never
//! depends on the words of a message a user's assertion could also start with.

use crate::finding::FindingKind;
use std::cell::RefCell;
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Once};

/// What the hook saw of a panic: its message and where it was raised.
#[derive(Clone, Debug)]
pub(crate) struct PanicRecord {
    pub message: String,
    pub location: Option<String>,
    /// The kind the harness raised it with ([`raise`]); `None` for any other panic, whose
    /// kind the engine that caught it decides.
    pub kind: Option<FindingKind>,
}

impl PanicRecord {
    /// A record of a failure that was not a panic of the body (a thread that could not start).
    pub(crate) fn plain(message: String) -> PanicRecord {
        PanicRecord { message, location: None, kind: None }
    }
}

thread_local! {
    static LAST: RefCell<Option<PanicRecord>> = const { RefCell::new(None) };
}

/// The payload of a panic the harness raises for a finding of its own kind.
pub(crate) struct KindedPanic {
    pub kind: FindingKind,
    pub message: String,
}

/// Fails the current execution with a finding of `kind`. The panic's location is the caller's
/// (the method is `#[track_caller]`, as the chain above it should be).
#[track_caller]
pub(crate) fn raise(kind: FindingKind, message: String) -> ! {
    std::panic::panic_any(KindedPanic { kind, message })
}

/// Installs the recording hook once per process.
///
/// shuttle installs its own hook the first time it runs, wrapping whatever hook exists then;
/// it prints on every panic, inside a run or not. So: install ours (deferring to the
/// original hook outside runs), let one trivial shuttle execution wrap it, then throw
/// shuttle's wrapper away and reinstall ours. Panics outside runs print as they always did.
pub(crate) fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let original = panic::take_hook();
        let quiet: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync> = Arc::new(move |info| {
            if super::in_run() {
                record(info);
            } else {
                original(info);
            }
        });
        let first = quiet.clone();
        panic::set_hook(Box::new(move |info| first(info)));
        // miri cannot run shuttle (its coroutine stacks need PROT_NONE mappings); under miri
        // only the real-thread engine runs, and shuttle's hook is never installed.
        #[cfg(not(miri))]
        {
            let config = shuttle::Config::default();
            shuttle::Runner::new(shuttle::scheduler::RoundRobinScheduler::new(1), config).run(|| {});
        }
        drop(panic::take_hook());
        panic::set_hook(Box::new(move |info| quiet(info)));
    });
}

fn record(info: &PanicHookInfo<'_>) {
    let record = PanicRecord {
        message: payload_message(info.payload()),
        location: info.location().map(|l| format!("{}:{}", l.file(), l.line())),
        kind: payload_kind(info.payload()),
    };
    super::std_run::record_panic(&record);
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.is_none() {
            *last = Some(record);
        }
    });
}

/// Forgets any recorded panic of this thread (call before an execution).
pub(crate) fn clear() {
    LAST.with(|last| last.borrow_mut().take());
}

/// Takes the first panic recorded on this thread since the last `clear`.
pub(crate) fn take() -> Option<PanicRecord> {
    LAST.with(|last| last.borrow_mut().take())
}

/// The kind of a panic the harness raised with [`raise`].
pub(crate) fn payload_kind(payload: &(dyn std::any::Any + Send)) -> Option<FindingKind> {
    payload.downcast_ref::<KindedPanic>().map(|p| p.kind)
}

/// The text of a panic payload, whatever its type.
pub(crate) fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(p) = payload.downcast_ref::<KindedPanic>() {
        p.message.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
