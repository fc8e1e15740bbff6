//! loom's API over lockhound. A crate whose tests use loom switches with one line in its
//! `Cargo.toml`, and keeps its `#[cfg(loom)]` code and its test files as they are:
//!
//! ```toml
//! [dev-dependencies]
//! loom = { package = "lockhound-loom", version = "0.1" }
//! ```
//!
//! `loom::model(|| ...)` then explores the body with lockhound's loom engine (loom's own
//! exhaustive search, with weak memory and its data-race and leak checks), and a failure
//! panics with lockhound's report instead of loom's output: the finding, the failing
//! execution step by step, and a line that replays it in that test alone:
//!
//! ```text
//! replay: LOCKHOUND_REPLAY='lh1:loom:...' cargo test -p my-crate --test queue -- --exact push_pop
//! ```
//!
//! # What maps to what
//! - [`model()`] and [`model::Builder::check`]: lockhound's `loom` backend; every `Builder`
//!   field is mapped or ignored as its documentation says (`max_permutations` and
//!   `max_duration` are the budget, `preemption_bound` and `max_branches` loom's bounds; the
//!   checkpoint, logging and location fields and `max_threads` are ignored). The `LOOM_*`
//!   variables are read as loom reads them, and the `LOCKHOUND_*` variables that are set win
//!   over both (`LOCKHOUND_BACKEND=auto` adds lockhound's shuttle strategies).
//! - [`sync`], [`cell`], [`thread`]: lockhound's facade (`lockhound::sync`, `::cell`,
//!   `::thread`), which has loom's API, plus loom's own [`sync::Notify`].
//! - [`thread::spawn`] takes closures that are not `Send`, as loom's does: see below.
//! - [`thread::current`] and [`thread::JoinHandle::thread`] give loom's [`thread::Thread`]:
//!   lockhound's, except that the body's own thread has no name, as in loom.
//! - [`thread_local!`] and [`lazy_static!`]: lockhound's, per simulated thread and per
//!   execution under the model checkers, as loom's are.
//! - [`explore`], [`stop_exploring`], [`skip_branch`]: loom's, under the loom engine; nothing
//!   under the shuttle strategies.
//!
//! # loom's `spawn` and real threads
//! loom's `thread::spawn` does not ask for `Send`: loom runs every thread of a model on one OS
//! thread. lockhound's does, because its stress engine runs real threads. This crate's
//! [`thread::spawn`] keeps loom's bound and is sound only under lockhound's model checkers,
//! which run every simulated thread of an execution on the OS thread of that execution: so
//! [`model()`] never runs on real threads (it refuses `LOCKHOUND_BACKEND=stress` with a message),
//! and [`thread::spawn`] refuses to run anywhere else.
//!
//! - [`hint`]: lockhound's, whose `spin_loop` yields to the other threads under the model
//!   checkers.
//!
//! # Not provided
//! What lockhound's facade does not offer is not here either; the compiler says which item a
//! test needs, and `scripts/peer-suites.sh` counts what each blocks in loom's own test suite
//! (docs/compat.md). Not planned: `loom::alloc` and `loom::future` (lockhound's executor is
//! its own API).

pub mod cell;
mod exploration;
pub mod model;
pub mod sync;
pub mod thread;

pub use exploration::{explore, skip_branch, stop_exploring};
/// `loom::hint`: lockhound's, whose `spin_loop` yields to the other threads under the model
/// checkers, as loom's does.
pub use lockhound::hint;
pub use model::model;

/// loom's limit on threads in one model, which lockhound's loom engine keeps.
pub const MAX_THREADS: usize = 5;

#[doc(hidden)]
pub mod __private {
    pub use lockhound;
}

/// loom's `thread_local!`: lockhound's, whose keys are per simulated thread under the model
/// checkers (and std's on real threads).
#[macro_export]
macro_rules! thread_local {
    ($($declarations:tt)*) => {
        $crate::__private::lockhound::thread_local! { $($declarations)* }
    };
}

/// loom's `lazy_static!`: lockhound's, initialised once per execution under the model
/// checkers, as loom's is.
#[macro_export]
macro_rules! lazy_static {
    ($($declarations:tt)*) => {
        $crate::__private::lockhound::lazy_static! { $($declarations)* }
    };
}
