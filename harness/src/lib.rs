//! lockhound: hunt concurrency bugs. A body written once against [`sync`], [`cell`],
//! [`hint`] and [`thread`] runs unchanged under loom, shuttle or real threads, chosen at run time.
//!
//! - [`check`] runs a body from a user's own tests.
//! - [`explore::run`] and [`explore::replay`] are what the `lockhound` command line drives.
//! - [`scenario`] describes a scenario: the built-in catalog's, or a user's.
//! - [`executor`] runs futures on the facade, with a starvation check on a work clock.
//!
//! The harness never prints: every result is a value. The one text it makes is a failed
//! [`check`]'s panic message, with the failing execution's trace in [`trace::text`]'s form:
//! a user's crate depends on this crate alone, and its failing test must tell the story.

pub mod backend;
pub mod cell;
mod check;
// Compiled only while rustdoc collects doctests: the compile-fail cases (the file says why).
#[cfg(doctest)]
mod compile_fail;
pub mod executor;
pub mod explore;
#[cfg(target_os = "linux")]
mod fault;
/// Elsewhere no handler tells a coroutine's stack overflow apart.
#[cfg(not(target_os = "linux"))]
mod fault {
    pub(crate) struct ShuttleRun;
    impl ShuttleRun {
        pub(crate) fn enter(_stack_size: usize) -> ShuttleRun {
            ShuttleRun
        }
    }
    pub(crate) fn running(_thread: usize) {}
    pub(crate) struct LoomRun;
    impl LoomRun {
        pub(crate) fn enter() -> LoomRun {
            LoomRun
        }
    }
}
pub mod finding;
pub mod gate;
pub mod guard;
pub mod hint;
pub mod limits;
pub mod progress;
mod rt;
pub mod scenario;
pub mod schedule;
pub mod source_path;
pub mod sync;
pub mod thread;
pub mod trace;
pub mod tracker;

pub use backend::{Backend, Budget, LoomOptions, RunConfig};
pub use check::{check, Check};
pub use explore::{Body, ReplayOutcome};
pub use finding::{Attempt, Finding, FindingKind, NoSchedule, RunReport};
pub use schedule::Schedule;

/// Whether the calling thread runs under a model checker (loom or shuttle) rather than on
/// real threads. A body may keep an oracle only where the checker needs one: under loom or
/// shuttle a use of freed memory is silent undefined behaviour, while on real threads the
/// guard-page allocator or miri catches the access itself.
pub fn is_model_checked() -> bool {
    matches!(rt::engine(), rt::Engine::Loom | rt::Engine::Shuttle)
}

/// Whether the calling thread runs inside a loom execution. loom-only requests (lockhound-loom's
/// `explore`, `skip_branch` and `stop_exploring`) go to loom there and have no meaning under
/// the other engines. Unlike [`is_model_checked`], false (not a panic) outside a run.
pub fn is_loom_execution() -> bool {
    matches!(rt::model_engine(), Some(rt::Engine::Loom))
}
