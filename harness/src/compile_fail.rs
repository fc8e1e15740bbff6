//! The compile-fail cases of `tests/compile_fail/` as doctests, so that every `cargo test`
//! checks that each fails to compile, and for the reason it should: a trait bound (E0277, an
//! error code, which is stable across compiler versions where the wording is not).
//!
//! The pinned wording (`tests/compile_fail/*.stderr`, checked by trybuild in
//! `tests/shared_process/facade_errors.rs`) is rustc's own text, which changes between compiler
//! versions, and trybuild builds the harness's dependencies a second time (30 s on a fresh
//! clone, 2 cores): CI runs that test on its toolchain (`.ci/run`), `cargo test` passes it by.
//! These are the same files, included, so the two cannot drift apart.

/// A closure that sends a facade `Mutex` holding an `Rc` to another thread.
#[doc = concat!("```compile_fail,E0277\n", include_str!("../tests/compile_fail/spawn_sends_an_rc_in_a_mutex.rs"), "```")]
pub struct SendsAnRcInAMutex;

/// A closure that shares a facade `Cell` with another thread.
#[doc = concat!("```compile_fail,E0277\n", include_str!("../tests/compile_fail/spawn_shares_a_cell.rs"), "```")]
pub struct SharesACell;

/// A closure that shares a facade `RwLock` holding a `RefCell` with another thread.
#[doc = concat!("```compile_fail,E0277\n", include_str!("../tests/compile_fail/spawn_shares_a_refcell_in_an_rwlock.rs"), "```")]
pub struct SharesARefCellInAnRwLock;

/// A closure that shares a facade `UnsafeCell` with another thread.
#[doc = concat!("```compile_fail,E0277\n", include_str!("../tests/compile_fail/spawn_shares_an_unsafe_cell.rs"), "```")]
pub struct SharesAnUnsafeCell;
