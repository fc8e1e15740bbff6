//! A failing `lockhound::check` in a user's own test prints lockhound's finding once, and no
//! line of the engines' own (shuttle's "test panicked in task ..." and "Test deadlocked ..."
//! notes), and its replay line names the test.
//!
//! Each case runs this test binary again as a child process, so that what reaches the
//! child's stderr is exactly what a user's `cargo test` shows. The bodies the children run
//! are the `child_*` tests below, which do nothing unless `LOCKHOUND_QUIET_CHILD` is set.

use lockhound::sync::{Arc, Mutex};
use lockhound::thread;
use std::process::Command;

const CHILD: &str = "LOCKHOUND_QUIET_CHILD";

fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// A lost update: two threads increment through a load and a store.
fn lost_update() {
    let counter = Arc::new(Mutex::new(0));
    let c = counter.clone();
    let t = thread::spawn(move || {
        let seen = *c.lock().unwrap();
        *c.lock().unwrap() = seen + 1;
    });
    let seen = *counter.lock().unwrap();
    *counter.lock().unwrap() = seen + 1;
    t.join().unwrap();
    assert_eq!(*counter.lock().unwrap(), 2, "an increment was lost");
}

/// Two accounts locked in opposite orders.
fn abba() {
    let accounts = Arc::new([Mutex::new(10), Mutex::new(20)]);
    let a = accounts.clone();
    let t = thread::spawn(move || {
        let _from = a[0].lock().unwrap();
        let _to = a[1].lock().unwrap();
    });
    {
        let _from = accounts[1].lock().unwrap();
        let _to = accounts[0].lock().unwrap();
    }
    t.join().unwrap();
}

/// A panic in a spawned thread that is never joined.
fn panics_in_thread() {
    let flag = Arc::new(Mutex::new(false));
    let f = flag.clone();
    let _t = thread::spawn(move || {
        if *f.lock().unwrap() {
            panic!("saw the flag set");
        }
    });
    *flag.lock().unwrap() = true;
}

#[test]
fn child_lost_update() {
    if is_child() {
        lockhound::check(lost_update);
    }
}

#[test]
fn child_abba() {
    if is_child() {
        lockhound::check(abba);
    }
}

#[test]
fn child_panics_in_thread() {
    if is_child() {
        lockhound::check(panics_in_thread);
    }
}

/// Runs `test` of this binary in a child process under `backend`; its stdout and stderr.
fn run_child(test: &str, backend: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads", "2"])
        .env(CHILD, "1")
        .env("LOCKHOUND_BACKEND", backend)
        .env("LOCKHOUND_ITERATIONS", "2000")
        .env_remove("LOCKHOUND_REPLAY")
        .env_remove("SHUTTLE_CAPTURE_BACKTRACE")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the check in {test} under {backend} should fail");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// What shuttle and loom print on their own when an execution fails.
const ENGINE_LINES: [&str; 6] = [
    "test panicked in task",
    "Test deadlocked",
    "SHUTTLE_CAPTURE_BACKTRACE",
    "deadlock! blocked tasks",
    "failing schedule",
    "Task failed, serializing schedule",
];

fn assert_quiet(test: &str, backend: &str) -> String {
    let output = run_child(test, backend);
    for line in output.lines() {
        for engine in ENGINE_LINES {
            assert!(
                !line.contains(engine),
                "{test} under {backend} printed the engine's `{line}`:\n{output}"
            );
        }
    }
    assert_eq!(
        output.matches("lockhound found a").count(),
        1,
        "{test} under {backend} should print its finding once:\n{output}"
    );
    assert!(
        output.contains(&format!("cargo test {test}")) || output.contains(&format!("cargo test {test} ")),
        "{test} under {backend}: the replay line should name the test:\n{output}"
    );
    output
}

#[test]
fn a_failing_assertion_prints_no_engine_line() {
    if is_child() {
        return;
    }
    for backend in ["shuttle-random", "shuttle-pct", "loom", "auto"] {
        assert_quiet("child_lost_update", backend);
    }
}

#[test]
fn a_deadlock_prints_no_engine_line() {
    if is_child() {
        return;
    }
    for backend in ["shuttle-random", "shuttle-dfs", "loom", "auto"] {
        let output = assert_quiet("child_abba", backend);
        assert!(output.contains("deadlock"), "{backend}:\n{output}");
    }
}

#[test]
fn a_panic_in_a_thread_prints_no_engine_line() {
    if is_child() {
        return;
    }
    for backend in ["shuttle-random", "loom"] {
        assert_quiet("child_panics_in_thread", backend);
    }
}
