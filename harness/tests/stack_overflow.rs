//! A stack overflow in a loom thread (a coroutine with a stack of its own, with a guard page
//! that the coroutine library turns into an error) is a classified finding that says so,
//! not "a panic with a non-string payload". Under shuttle an overflow cannot be recovered
//! (see `fault::coroutine`): it ends the process with a message that says so, which the tests
//! below see from a child process.

use lockhound::{explore, thread, Backend, Body, FindingKind, RunConfig};

fn deep(n: u64) -> u64 {
    let buf = std::hint::black_box([n; 64]);
    if n == 0 {
        0
    } else {
        deep(n - 1).wrapping_add(buf[7])
    }
}

#[test]
fn a_stack_overflow_under_loom_is_a_finding_that_says_so() {
    for in_spawned_thread in [true, false] {
        let body: Body = std::sync::Arc::new(move || {
            if in_spawned_thread {
                thread::spawn(|| {
                    std::hint::black_box(deep(10_000_000));
                })
                .join()
                .unwrap();
            } else {
                std::hint::black_box(deep(10_000_000));
            }
        });
        let config = RunConfig { backend: Backend::Loom, ..RunConfig::default() };
        let report = explore::run(&body, &config);
        let finding = report.finding.expect("the overflow is a finding");
        assert_eq!(finding.kind, FindingKind::Panic, "{}", finding.message);
        assert!(
            finding.message.contains("stack overflow"),
            "spawned={in_spawned_thread}: {}",
            finding.message
        );
    }
}

/// Set in a child process: which overflow it runs (see `child`).
const CASE: &str = "LOCKHOUND_TEST_OVERFLOW_CASE";

/// Runs the overflow `case` in a child process (this test binary, running test `test`
/// alone) and returns its stderr and the signal that ended it. `None` in the child itself,
/// after running the case (which does not return).
fn child(test: &str, case: &str) -> Option<(String, Option<i32>)> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(case) = std::env::var_os(CASE) {
        run_case(case.to_str().unwrap());
        return None;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE, case)
        .output()
        .expect("start the child");
    Some((String::from_utf8_lossy(&out.stderr).into_owned(), out.status.signal()))
}

fn calm_runs(backends: &[Backend]) {
    let calm: Body = std::sync::Arc::new(|| thread::spawn(|| {}).join().unwrap());
    for &backend in backends {
        let config = RunConfig { backend, ..RunConfig::default() };
        assert!(explore::run(&calm, &config).finding.is_none(), "{backend}");
    }
}

fn run_case(case: &str) {
    let (backend, in_spawned_thread) = match case {
        "shuttle-main" => (Backend::ShuttleRandom, false),
        "shuttle-spawned" => (Backend::ShuttlePct, true),
        "shuttle-after-loom" => {
            // loom's generator installs a handler of its own at its first generator.
            calm_runs(&[Backend::ShuttleRandom, Backend::Loom]);
            (Backend::ShuttleRandom, true)
        }
        "stress-spawned" => {
            // lockhound's handler, and loom's generator's, are installed in front of std's when
            // the OS thread overflows.
            calm_runs(&[Backend::Loom, Backend::ShuttleRandom]);
            (Backend::Stress, true)
        }
        other => panic!("unknown case {other}"),
    };
    let body: Body = std::sync::Arc::new(move || {
        if in_spawned_thread {
            thread::spawn(|| {
                std::hint::black_box(deep(10_000_000));
            })
            .join()
            .unwrap();
        } else {
            std::hint::black_box(deep(10_000_000));
        }
    });
    let config = RunConfig { backend, ..RunConfig::default() };
    let report = explore::run(&body, &config);
    panic!("the overflow did not end the process: {:?}", report.finding);
}

/// A shuttle thread runs on a coroutine stack, whose guard page std's handler does not know:
/// its overflow was a bare "Segmentation fault" (after a loom run too, whose generator's handler
/// crashed printing a backtrace). Now the child says which thread overflowed under which engine
/// and what to do, and aborts.
#[cfg(target_os = "linux")]
#[test]
fn a_stack_overflow_under_shuttle_is_said_in_words_then_aborts() {
    let test = "a_stack_overflow_under_shuttle_is_said_in_words_then_aborts";
    for (case, thread) in [("shuttle-main", "t0"), ("shuttle-spawned", "t1"), ("shuttle-after-loom", "t1")] {
        let Some((stderr, signal)) = child(test, case) else { return };
        let said =
            format!("lockhound: thread {thread} of the body overflowed its stack under the shuttle engine");
        assert!(stderr.contains(&said), "{case}: {stderr}");
        assert!(
            stderr.contains("coroutine stacks are") && stderr.contains("Builder::stack_size"),
            "{stderr}"
        );
        assert_eq!(signal, Some(libc::SIGABRT), "{case}: {stderr}");
    }
}

/// An OS thread's overflow (real threads) is std's to report, as without lockhound, even
/// with lockhound's handler and loom's generator's installed in front of std's.
#[cfg(target_os = "linux")]
#[test]
fn a_stack_overflow_of_a_real_thread_is_still_reported_by_std() {
    let test = "a_stack_overflow_of_a_real_thread_is_still_reported_by_std";
    let Some((stderr, signal)) = child(test, "stress-spawned") else { return };
    assert!(stderr.contains("has overflowed its stack"), "{stderr}");
    assert!(!stderr.contains("lockhound: "), "{stderr}");
    assert_eq!(signal, Some(libc::SIGABRT), "{stderr}");
}
