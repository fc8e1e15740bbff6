//! lockhound's integration tests that can share one process, as one test binary.
//!
//! Each test binary links the whole harness with loom, shuttle and backtrace: 23 binaries took
//! 58 s more to build on a fresh clone than this one does (2 cores), and cargo runs binaries
//! one after another where libtest runs one binary's tests side by side. The files left beside
//! this folder need a process of their own: a `#[global_allocator]` (`guard_*`), environment
//! variables set while running (`loom_checkpoint`), a forked or re-executed test process
//! (`watchdog`, `stack_overflow`, `quiet_check`, `facade_threads_panics`, `guard_child`), or a
//! binary that scripts run by name (`miri` for scripts/miri.sh, `stacks` for CI's patched
//! generator check).
//!
//! `cargo test -p lockhound --test shared_process deadlock_story::` runs one file's tests.

mod facade_support;

mod budgets;
mod cell_races;
mod deadlock_story;
mod engine_words;
mod engines;
mod facade_arc;
mod facade_atomics;
mod facade_cells;
mod facade_errors;
mod facade_hint;
mod facade_locks;
mod facade_outside;
mod facade_threads;
mod facade_threads_sync;
mod facade_unwind_safe;
mod limits;
mod loom_paths;
mod parallel;
mod preemptions;
mod seq_cst;
mod tracker_order;
mod tracker_reports;
mod tracker_scenario;
mod tracker_watchdog;
