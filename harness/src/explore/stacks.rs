//! Coroutine stacks kept between executions and runs.
//!
//! Every simulated thread runs on a coroutine with a stack of its own: shuttle's continuations
//! (corosensei) and loom's generators. Mapping a fresh stack (`mmap`, `mprotect` for the guard
//! page, a page fault per stack page touched) and unmapping it costs more than a small
//! execution's own work on a machine with slow memory-management calls (docs/performance.md,
//! "Coroutine stacks").
//!
//! - shuttle keeps the continuations of a run in a pool, but `Runner::run` makes a new pool for
//!   every run, so each run starts by mapping stacks again: about 40 µs, most of the time it
//!   takes to find a bug that the first execution hits. lockhound runs shuttle's executions
//!   itself (shuttle-engine's public `Execution`, see `explore::shuttle`) inside a pool that
//!   each OS thread keeps for all its runs. Public API only, nothing patched.
//! - loom maps a generator stack for every thread of every execution and offers no hook to
//!   reuse one. With the patched `generator` that `scripts/patched-generator.sh` prepares and
//!   a `[patch.crates-io]` line, the build script sees the patch (its `links` metadata) and
//!   sets `lockhound_recycled_stacks`: freed stacks are then kept per thread while
//!   lockhound's loom engine runs. Without it, loom runs as upstream.

use shuttle_engine::runtime::thread::continuation::{ContinuationPool, CONTINUATION_POOL};

thread_local! {
    /// The continuations this OS thread's shuttle runs reuse. It holds as many as the largest
    /// execution had threads at once (each a stack of shuttle's default 32 KiB and its guard
    /// page), and is dropped, unmapping them, when the thread exits.
    static POOL: ContinuationPool = ContinuationPool::new();
}

/// Runs `f` with shuttle's continuations taken from, and returned to, this thread's pool.
pub(super) fn with_kept_continuations<R>(f: impl FnOnce() -> R) -> R {
    POOL.with(|pool| CONTINUATION_POOL.set(pool, f))
}

/// Whether loom's generator stacks are recycled in this build (the patched `generator`).
pub fn loom_stacks_recycled() -> bool {
    cfg!(lockhound_recycled_stacks)
}

/// Freed generator stacks kept per thread: enough for every thread of a loom execution (at
/// most 5) many times over, each about 32 KiB.
const KEPT_PER_THREAD: usize = 64;

/// Generator stack recycling on for the calling thread until dropped (a no-op without the
/// patched `generator`), so that `explore::with_engine`, the plain entry point benchmarks
/// compare against, keeps upstream behaviour.
pub(super) struct LoomRecycling {
    previous: usize,
}

impl LoomRecycling {
    pub(super) fn on() -> LoomRecycling {
        LoomRecycling { previous: patched_generator::recycle_stacks(KEPT_PER_THREAD) }
    }
}

impl Drop for LoomRecycling {
    fn drop(&mut self) {
        patched_generator::recycle_stacks(self.previous);
    }
}

/// The only calls into the patched `generator` (harness/patches/), compiled only when the
/// build script found it in the build (cfg `lockhound_recycled_stacks`); with upstream
/// `generator` they are no-ops, so a crate that depends on lockhound builds with nothing but its
/// dependency line (scripts/outside-crate.sh checks it).
#[cfg(lockhound_recycled_stacks)]
mod patched_generator {
    /// Keeps up to `kept` freed stacks on this thread; returns the previous number.
    pub(super) fn recycle_stacks(kept: usize) -> usize {
        generator::recycle_stacks(kept)
    }
}

#[cfg(not(lockhound_recycled_stacks))]
mod patched_generator {
    /// Upstream `generator` maps a fresh stack for every coroutine: nothing to keep.
    pub(super) fn recycle_stacks(_kept: usize) -> usize {
        0
    }
}
