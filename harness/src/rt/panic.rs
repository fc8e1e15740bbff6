//! Panics inside a run are findings, not output: a process-wide hook records each panic of the
//! current thread while it is in a run and prints nothing, and defers to the previous hook
//! everywhere else (a user's own failing test still prints as usual).
//!
//! A panic is a finding only when it escapes a thread of the body (or the body itself): one
//! the body catches is its own business, under every engine. The hook notes every panic as
//! the thread's latest; the facade's thread wrapper, and the end of the body's main thread,
//! note the one that escapes ([`escaped`]), with the message and location the hook saw.
//!
//! The hook also tells who raised a panic ([`super::unwind`]): the body, or the engine itself
//! (loom failing an execution from inside one of its calls, or tearing down the threads of a
//! failed execution), in which case loom must not be called into while the panic unwinds.
//!
//! A panic while another unwinds aborts the process, and the abort message says nothing of
//! either panic; since the hook kept them quiet, it prints both before the process goes.
//!
//! The harness raises some findings itself as panics (starvation, from the executor). Those
//! carry their kind in a typed payload, which the hook keeps in the record, so the kind never
//! depends on the words of a message a user's assertion could also start with.

use super::unwind::{self, Origin};
use crate::finding::FindingKind;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Once, OnceLock};

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

/// How many of a thread's latest panics an abort message shows.
const RECENT: usize = 4;

thread_local! {
    /// The latest panic raised on this thread (under loom and shuttle: by any simulated thread
    /// of the execution), other than an engine's teardown.
    static LATEST: RefCell<Option<PanicRecord>> = const { RefCell::new(None) };
    /// The first panic of the execution that escaped a thread of the body.
    static ESCAPED: RefCell<Option<PanicRecord>> = const { RefCell::new(None) };
    /// The latest few, for the message of an abort.
    static RECENT_PANICS: RefCell<VecDeque<PanicRecord>> = const { RefCell::new(VecDeque::new()) };
    /// Set while the loom probe of [`install_quiet_hook`] panics on purpose.
    static PROBING: Cell<bool> = const { Cell::new(false) };
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

/// The folder of loom's sources as this build's panics name them (`.../loom-0.7.3/`), wherever
/// cargo keeps them (`CARGO_HOME`, vendored or patched sources): a panic located there was
/// raised by loom itself.
static LOOM_SOURCES: OnceLock<String> = OnceLock::new();

/// Installs the recording hook once per process.
///
/// shuttle installs its own hook the first time it runs, wrapping whatever hook exists then;
/// it prints on every panic, inside a run or not. So: install ours (deferring to the
/// original hook outside runs), let one trivial shuttle execution wrap it, then throw
/// shuttle's wrapper away and reinstall ours. Panics outside runs print as they always did.
pub(crate) fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let original: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync> = Arc::from(panic::take_hook());
        let quiet: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync> = {
            let original = original.clone();
            Arc::new(move |info| {
                if PROBING.with(Cell::get) {
                    if let Some(at) = info.location() {
                        let _ = LOOM_SOURCES.set(sources_of(at.file()));
                    }
                } else if super::in_run() {
                    record(info);
                    if aborts(info) {
                        // The process aborts once this hook returns.
                        print_before_abort();
                        original(info);
                    }
                } else {
                    original(info);
                }
            })
        };
        let first = quiet.clone();
        panic::set_hook(Box::new(move |info| first(info)));
        probe_loom_sources();
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

/// Learns where loom's sources are from a panic loom raises at once, outside any model (its
/// `Barrier` is a stub that panics in its constructor).
fn probe_loom_sources() {
    PROBING.with(|p| p.set(true));
    let _ = std::panic::catch_unwind(|| loom::sync::Barrier::new(1));
    PROBING.with(|p| p.set(false));
}

/// `/x/loom-0.7.3/src/sync/barrier.rs` -> `/x/loom-0.7.3/`.
fn sources_of(file: &str) -> String {
    match file.rfind("src/sync/barrier.rs") {
        Some(i) => file[..i].to_string(),
        // Not the file expected: never match anything.
        None => "\0".to_string(),
    }
}

/// Who raised the panic the hook is looking at.
fn origin_of(info: &PanicHookInfo<'_>) -> Origin {
    if let Some(generator::Error::Cancel) = info.payload().downcast_ref::<generator::Error>() {
        return Origin::Teardown;
    }
    let in_loom =
        info.location().zip(LOOM_SOURCES.get()).is_some_and(|(at, root)| at.file().starts_with(root));
    if in_loom {
        Origin::Engine
    } else {
        Origin::Body
    }
}

fn record(info: &PanicHookInfo<'_>) {
    let origin = origin_of(info);
    unwind::set_origin(origin);
    if origin == Origin::Teardown {
        return;
    }
    let record = PanicRecord {
        message: payload_message(info.payload()),
        location: info.location().map(|l| format!("{}:{}", l.file(), l.line())),
        kind: payload_kind(info.payload()),
    };
    RECENT_PANICS.with(|recent| {
        let mut recent = recent.borrow_mut();
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(record.clone());
    });
    LATEST.with(|latest| *latest.borrow_mut() = Some(record));
}

/// Whether the process aborts after this panic: the panic std raises when a destructor panics
/// during unwinding (or a panic reaches a function that cannot unwind). Stable Rust does not
/// say whether a panic can unwind, so this reads std's own fixed messages.
fn aborts(info: &PanicHookInfo<'_>) -> bool {
    let message = payload_message(info.payload());
    message == "panic in a destructor during cleanup" || message == "panic in a function that cannot unwind"
}

/// Says what led to an abort: the panics the quiet hook kept to itself. Printing is the
/// harness's exception here: the process is about to end, and no value can be returned.
fn print_before_abort() {
    let recent: Vec<PanicRecord> = RECENT_PANICS.with(|r| r.borrow().iter().cloned().collect());
    let mut text = String::from(
        "lockhound: a panic while another panic unwound aborts the process; the latest panics of this thread, oldest first:\n",
    );
    for (i, r) in recent.iter().enumerate() {
        let at = r.location.as_deref().unwrap_or("an unknown place");
        text.push_str(&format!("  {}. at {at}: {}\n", i + 1, r.message));
    }
    eprint!("{text}");
}

/// Notes that a panic escapes a thread of the body now (the facade's thread wrapper, or the end
/// of the body's main thread, is unwinding): the first escape of an execution is its failure.
/// `payload` names the panic when the hook saw none (a payload re-raised with `resume_unwind`).
pub(crate) fn escaped_with(payload: Option<&(dyn std::any::Any + Send)>) {
    // Unseen by the hook, it is still the body's: the engines raise their verdicts with
    // `panic!`, which the hook sees, so the words of this one are never an engine's.
    let body_s =
        |record: PanicRecord| PanicRecord { kind: record.kind.or(Some(FindingKind::Panic)), ..record };
    let record = LATEST.with(|l| l.borrow().clone()).unwrap_or_else(|| match payload {
        Some(p) => body_s(PanicRecord { kind: payload_kind(p), ..PanicRecord::plain(payload_message(p)) }),
        None => body_s(PanicRecord::plain(ESCAPED_UNSEEN.to_string())),
    });
    super::std_run::record_escape(&record);
    ESCAPED.with(|e| {
        let mut e = e.borrow_mut();
        if e.is_none() {
            *e = Some(record);
        }
    });
}

/// What an escape noted without its payload says, until the payload tells more.
const ESCAPED_UNSEEN: &str = "a panic escaped the body";

/// Notes the deadlock the facade found itself (see `blocking`) as the execution's failure. It
/// has no one location: its message names the site each thread is blocked at, as it does
/// when an engine finds the deadlock.
pub(crate) fn escaped_deadlock(message: String) {
    let record = PanicRecord { message, location: None, kind: Some(FindingKind::Deadlock) };
    ESCAPED.with(|e| {
        let mut e = e.borrow_mut();
        if e.is_none() {
            *e = Some(record);
        }
    });
}

/// [`escaped_with`] without the payload at hand.
pub(crate) fn escaped() {
    escaped_with(None)
}

/// Forgets any recorded panic of this thread (call before an execution).
pub(crate) fn clear() {
    LATEST.with(|l| l.borrow_mut().take());
    ESCAPED.with(|e| e.borrow_mut().take());
    RECENT_PANICS.with(|r| r.borrow_mut().clear());
    unwind::set_origin(Origin::Body);
}

/// The panic that failed the execution, whose payload came out of the engine: the first that
/// escaped a thread of the body, or else the payload itself, located where the hook saw it
/// raised when the latest panic it saw is that one (a failure an engine raised outside the
/// body's threads, such as loom's leak check at the end of an execution). A panic the body
/// caught earlier is never taken for the failure.
pub(crate) fn failure(payload: &(dyn std::any::Any + Send)) -> PanicRecord {
    let latest = LATEST.with(|l| l.borrow_mut().take());
    if let Some(escaped) = ESCAPED.with(|e| e.borrow_mut().take()) {
        // Noted where the payload was not at hand: the payload says what it was.
        if escaped.location.is_none() && escaped.message == ESCAPED_UNSEEN {
            return in_words_of_the_registry(PanicRecord { message: payload_message(payload), ..escaped });
        }
        return in_words_of_the_registry(escaped);
    }
    let raised = PanicRecord { kind: payload_kind(payload), ..PanicRecord::plain(payload_message(payload)) };
    let record = match latest {
        Some(latest) if latest.message == raised.message => latest,
        _ => raised,
    };
    in_words_of_the_registry(record)
}

/// An engine's own deadlock report (loom's `deadlock; threads = [(Id(0), Blocked(..`, shuttle's
/// `deadlock! blocked tasks: [..]`) said the way lockhound says it under every engine: each
/// blocked thread, what it is blocked in and who holds that (see `blocking::describe`).
fn in_words_of_the_registry(record: PanicRecord) -> PanicRecord {
    let engines_deadlock = record.kind.is_none()
        && record.location.as_deref().is_none_or(crate::explore::site::raised_by_engine)
        && FindingKind::of_engine_panic(record.location.as_deref(), &record.message) == FindingKind::Deadlock;
    match super::blocking::describe() {
        Some(message) if engines_deadlock => {
            PanicRecord { message, location: None, kind: Some(FindingKind::Deadlock) }
        }
        _ => record,
    }
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

#[cfg(test)]
mod tests {
    use super::sources_of;

    #[test]
    fn loom_sources_are_the_folder_above_src() {
        assert_eq!(
            sources_of("/c/registry/src/x/loom-0.7.3/src/sync/barrier.rs"),
            "/c/registry/src/x/loom-0.7.3/"
        );
        assert_eq!(sources_of("vendor/loom/src/sync/barrier.rs"), "vendor/loom/");
        assert_eq!(sources_of("elsewhere.rs"), "\0");
    }
}
