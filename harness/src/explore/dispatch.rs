//! The caller's `tracing` subscriber, carried to the threads that explore for it.
//!
//! A run explores on a companion thread (see `watchdog`) and its lanes on pool threads, not
//! on the caller's thread. A subscriber the caller set for its own thread
//! (`tracing::subscriber::with_default`, what `test-log` and many tests do) is that thread's
//! alone, so without this the body's events, and those of shuttle's runtime, would go to the
//! global subscriber instead: the body would not see what it sees when it runs on the
//! caller's thread, as it does under loom and shuttle themselves.

use tracing::dispatcher::{self, DefaultGuard, Dispatch};

/// The subscriber the calling thread sends its events to, to lend to another thread.
pub(super) struct Lent {
    dispatch: Dispatch,
    /// Where `get_default` handed it out from: the global default lives in a static of
    /// `tracing`'s, a thread's own default in that thread's state.
    at: usize,
}

impl Lent {
    /// The calling thread's subscriber.
    pub(super) fn take() -> Lent {
        dispatcher::get_default(|d| Lent { dispatch: d.clone(), at: d as *const Dispatch as usize })
    }

    /// Makes the lent subscriber the current thread's until the guard drops. Not when it is
    /// the global default, which the thread has already: a scoped default of its own would
    /// make shuttle park and restore it at every switch of tasks, for nothing.
    pub(super) fn lend(&self) -> Option<DefaultGuard> {
        let global = dispatcher::get_default(|d| d as *const Dispatch as usize) == self.at;
        (!global).then(|| dispatcher::set_default(&self.dispatch))
    }
}
