//! Compiler errors a user can read: a body that shares or sends what it must not gets an error
//! that names the user's types, std's and lockhound's public ones, never lockhound's internals.
//! The errors are pinned in `tests/compile_fail/*.stderr` (regenerate with `TRYBUILD=overwrite`
//! after a compiler upgrade, and read them: the second test checks what they may name).

use std::path::Path;

#[test]
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
