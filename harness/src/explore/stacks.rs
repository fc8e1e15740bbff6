//! Coroutine stacks kept between executions and runs.
//!
//! loom runs every thread of every execution on a coroutine of the `generator` crate, and
//! shuttle every thread of every `Runner` on one of `corosensei`; upstream, each maps a fresh
//! stack (`mmap`, `mprotect` for the guard page, a page fault per stack page touched) and
//! unmaps it when done. On this project's development machine those calls cost more than a
//! loom execution's own work (about 60 % of it), and about 40 µs of every shuttle run,
//! which is most of the time to find a bug that the first execution hits. Both crates are
//! used in patched copies (third_party/PATCHES.md) that can keep freed stacks per thread and
//! hand them to the next coroutine of the same size. Off by default there, as upstream; on
//! while one of lockhound's engines runs, so `explore::with_engine` (the plain entry points a
//! benchmark compares against) keeps upstream behaviour.

/// Freed stacks kept per thread and per crate: enough for every thread of a body with a few
/// dozen, each about 32 KiB, so a thread keeps at most a few MiB.
const KEPT_PER_THREAD: usize = 64;

/// Stack recycling on for the calling thread until dropped.
pub(super) struct Recycling {
    generator: usize,
    corosensei: usize,
}

impl Recycling {
    pub(super) fn on() -> Recycling {
        Recycling {
            generator: generator::recycle_stacks(KEPT_PER_THREAD),
            corosensei: corosensei::stack::recycle_stacks(KEPT_PER_THREAD),
        }
    }
}

impl Drop for Recycling {
    fn drop(&mut self) {
        generator::recycle_stacks(self.generator);
        corosensei::stack::recycle_stacks(self.corosensei);
    }
}
