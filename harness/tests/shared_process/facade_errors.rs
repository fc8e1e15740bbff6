//! Compiler errors a user can read: a body that shares or sends what it must not gets an error
//! that names the user's types, std's and lockhound's public ones, never lockhound's internals.
//! The errors are pinned in `tests/compile_fail/*.stderr` (regenerate with `TRYBUILD=overwrite`
//! after a compiler upgrade, and read them: the second test checks what they may name).
//!
//! The pinned text is rustc's own wording, which changes between compiler versions, so the
//! test that compares it is left to CI, which runs it on its toolchain (`.ci/run`); it also
//! builds the harness's dependencies a second time, 30 s of a fresh clone's `cargo test` on 2
//! cores. Every `cargo test` still checks, on any compiler, that each case fails to compile
//! (the same files as doctests, src/compile_fail.rs) and why: the facts below.

use lockhound::cell::{Cell, UnsafeCell};
use lockhound::sync::{Arc, Mutex, RwLock};
use static_assertions::{assert_impl_all, assert_not_impl_any};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

// Why each case's closure is refused by `spawn`'s `Send` bound: what it captures is not `Send`,
// because the facade type inside the `Arc` is not `Sync` (a cell) or holds what is not `Send`
// or `Sync`, as std's types do.
assert_not_impl_any!(Arc<Cell<u32>>: Send);
assert_not_impl_any!(Arc<UnsafeCell<u64>>: Send);
assert_not_impl_any!(Arc<Mutex<Rc<i32>>>: Send);
assert_not_impl_any!(Arc<RwLock<RefCell<i32>>>: Send);
assert_not_impl_any!(Cell<u32>: Sync);
assert_not_impl_any!(UnsafeCell<u64>: Sync);
assert_not_impl_any!(Mutex<Rc<i32>>: Send, Sync);
assert_not_impl_any!(RwLock<RefCell<i32>>: Sync);
// And what does go between threads does: the facts above are not true of every type.
assert_impl_all!(Arc<Mutex<u32>>: Send, Sync);
assert_impl_all!(Arc<RwLock<Vec<u8>>>: Send, Sync);
assert_impl_all!(Mutex<RefCell<i32>>: Send, Sync);
assert_impl_all!(Cell<u32>: Send);
assert_impl_all!(UnsafeCell<u64>: Send);

#[test]
#[ignore = "compares rustc's own wording, which changes between compiler versions: CI runs it (.ci/run)"]
fn sharing_or_sending_what_must_not_be_fails_to_compile_with_the_pinned_errors() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}

/// lockhound's paths a user may see in an error: the items of its public API.
const PUBLIC: [&str; 7] = [
    "lockhound::cell::Cell",
    "lockhound::cell::UnsafeCell",
    "lockhound::sync::Arc",
    "lockhound::sync::Mutex",
    "lockhound::sync::RwLock",
    "lockhound::thread::spawn",
    "lockhound::thread::JoinHandle",
];

#[test]
fn the_pinned_errors_name_no_private_lockhound_type() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile_fail");
    let mut pinned = 0;
    for entry in std::fs::read_dir(&dir).expect("the compile_fail folder") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "stderr") {
            continue;
        }
        pinned += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("error[E0277]"), "{}: not a trait-bound error:\n{text}", path.display());
        for (at, _) in text.match_indices("lockhound::") {
            let named: String =
                text[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            assert!(
                PUBLIC.contains(&named.as_str()),
                "{} names {named}, which is not public API:\n{text}",
                path.display()
            );
        }
    }
    assert!(pinned >= 4, "expected the pinned errors, found {pinned}");
}
