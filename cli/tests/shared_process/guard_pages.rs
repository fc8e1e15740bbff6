//! `run --guard-pages` with budgets at the edge of their range.

use std::process::Command;

/// `--time-limit 18446744073709551600` once gave the guard parent `time_limit + 30` seconds,
/// which overflowed: a panic in a debug build, a wrapped 14-second timeout in a release one,
/// which reported a correct variant as a hang. Now a limit past a year is refused as bad
/// input, in one line, and the largest one accepted runs a correct variant to a pass (the
/// parent's margin saturates: `GuardOptions::child_time_limit`, tested in guard_child.rs).
#[cfg(target_os = "linux")]
#[test]
fn a_huge_time_limit_is_refused_and_the_largest_accepted_does_not_wrap_into_a_hang() {
    let run = |limit: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_lockhound"))
            .args(["run", "idr-use-after-free", "--variant", "fixed", "--guard-pages", "--iterations", "50"])
            .args(["--time-limit", limit])
            .output()
            .unwrap();
        let code = o.status.code();
        (
            code,
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = run("18446744073709551600");
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--time-limit") && stderr.contains("a year"), "{stderr}");

    let (code, stdout, stderr) = run(&lockhound::limits::MAX_SECONDS.to_string());
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("under guard pages: pass"), "{stdout}");
}
