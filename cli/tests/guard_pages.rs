//! `run --guard-pages` with budgets at the edge of their range.

use std::process::Command;

/// `--time-limit 18446744073709551600` once gave the guard parent `time_limit + 30` seconds,
/// which overflowed: a panic in a debug build, a wrapped 14-second timeout in a release one,
/// which reported a correct variant as a hang. A correct variant passes.
#[cfg(target_os = "linux")]
#[test]
fn a_huge_time_limit_does_not_wrap_into_a_hang() {
    let o = Command::new(env!("CARGO_BIN_EXE_lockhound"))
        .args(["run", "idr-use-after-free", "--variant", "fixed", "--guard-pages", "--iterations", "50"])
        .args(["--time-limit", "18446744073709551600"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("under guard pages: pass"), "{stdout}");
}
