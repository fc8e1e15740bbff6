//! The guarded child as a hostile or careless user meets it: files planted where reports used
//! to go, children that leave descendants holding their output pipes, budgets of any size,
//! floods of output. As in `guard_faults`, each test re-executes this test binary as the child
//! (`--exact` itself, with `LOCKHOUND_GUARD_TEST_CASE` naming what the child does).

#![cfg(target_os = "linux")]

use lockhound::guard::{
    run_guarded, GuardAlloc, GuardOptions, GuardOutcome, GuardRun, Side, ENV_MODE, ENV_REPORT, ENV_SIDE,
};
use std::alloc::{alloc, Layout};
use std::hint::black_box;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

#[global_allocator]
static ALLOC: GuardAlloc = GuardAlloc::from_env_lazy();

const CASE: &str = "LOCKHOUND_GUARD_TEST_CASE";

/// What the child is told to do, if this process is one.
fn case() -> Option<String> {
    std::env::var(CASE).ok()
}

/// This test binary, running only `test`, as the child doing `case`.
fn this_test(test: &str, case: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]).env(CASE, case);
    cmd
}

/// `run_guarded` on a thread of its own: `None` if it has not returned after `limit`, which
/// is how a parent blocked on its child's pipes shows (the limit is a hang detector, far
/// above the time the call takes, not a timing target).
fn run_or_hang(cmd: Command, options: GuardOptions, limit: Duration) -> Option<GuardRun> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_guarded(cmd, &options).expect("start the child"));
    });
    rx.recv_timeout(limit).ok()
}

/// What follows `key` on its line of `text` (libtest may have started the line).
fn after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| Some(l[l.find(key)? + key.len()..].trim()))
}

/// The number after `key` on its line of `text`.
fn number_after(text: &str, key: &str) -> Option<i32> {
    after(text, key)?.parse().ok()
}

/// Whether process `pid` is gone (or a zombie nobody has reaped yet), waiting for it a while:
/// a SIGKILL is delivered asynchronously.
fn is_gone(pid: i32) -> bool {
    for _ in 0..200 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            // The state is the field after the parenthesized command name.
            Ok(stat) if stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with(['Z', 'X'])) => {
                return true
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    false
}

/// Starts `sleep 120` (longer than any hang detector here waits) with this process's stdout and stderr (so, in a guarded child, the
/// parent's pipes), in this process group or, with `escape`, in a group of its own; prints
/// its pid for the parent. Never waited for: leaving it behind is the point.
#[allow(clippy::zombie_processes)]
fn spawn_sleeper(escape: bool) {
    use std::os::unix::process::CommandExt;
    let mut sleep = Command::new("sleep");
    sleep.arg("120").stdin(Stdio::null());
    if escape {
        sleep.process_group(0);
    }
    let sleeper = sleep.spawn().expect("start sleep");
    println!("grandchild {}", sleeper.id());
}

// ---- reports go to no file anyone else can name ----

const FAKE_REPORT: &str = "lockhound-guard-report 1\nkind use-after-free\naccess read\naddress 0x1000\n\
    offset 0\nsize 8\ntid 1\nthread planted\nanchor 0x0\nat\nalloc-tid 0\nalloc\nfree-tid 0\nfree\nend\n";

/// Replaces every entry that appears in `dir` with a symlink to `victim` (a file holding a
/// fake fault report) until `stop`; returns the names it replaced.
fn plant_over_everything(dir: &Path, victim: &Path, stop: &AtomicBool) -> Vec<String> {
    let mut replaced = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".planted-") || entry.file_type().is_ok_and(|t| t.is_symlink()) {
                continue;
            }
            let link = dir.join(format!(".planted-{n}"));
            n += 1;
            if std::os::unix::fs::symlink(victim, &link).is_ok()
                && std::fs::rename(&link, entry.path()).is_ok()
            {
                replaced.push(name);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    replaced
}

/// The parent's side of a run while another process of the same user watches the temporary
/// folder and, the moment any name appears there, swaps in a symlink to a file with a fake
/// fault report (the old code named its report file there, then read it back by name). The
/// run must pass, read nothing planted, and write nothing through a planted link.
#[test]
fn planted_report_names_are_neither_followed_nor_read() {
    const TEST: &str = "planted_report_names_are_neither_followed_nor_read";
    match case().as_deref() {
        Some("inner") => {
            let kept: Vec<Vec<u8>> = (0..200).map(|i| vec![i as u8; 100]).collect();
            std::thread::sleep(Duration::from_millis(500));
            black_box(kept);
            return;
        }
        Some("outer") => {
            // The guard parent, with TMPDIR pointing at the watched folder.
            let tmp = std::env::temp_dir();
            let victim = std::path::PathBuf::from(std::env::var_os("VICTIM").unwrap());
            let stop = Arc::new(AtomicBool::new(false));
            let planter = {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || plant_over_everything(&tmp, &victim, &stop))
            };
            let run = run_guarded(this_test(TEST, "inner"), &GuardOptions::default()).unwrap();
            stop.store(true, Ordering::Relaxed);
            let replaced = planter.join().unwrap();
            println!("OUTCOME {}", serde_json::to_string(&run.outcome).unwrap());
            eprintln!("replaced: {replaced:?}\nchild stderr:\n{}", run.stderr);
            return;
        }
        _ => {}
    }
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("tmp");
    std::fs::create_dir(&watched).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, FAKE_REPORT).unwrap();
    let out = this_test(TEST, "outer").env("TMPDIR", &watched).env("VICTIM", &victim).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let outcome = after(&stdout, "OUTCOME ").unwrap_or_else(|| {
        panic!("no outcome from the guard parent:\n{stdout}\n{stderr}");
    });
    assert_eq!(outcome, r#"{"outcome":"passed"}"#, "a planted report was read:\n{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), FAKE_REPORT, "written through a planted link");
    let left: Vec<_> = std::fs::read_dir(&watched)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("lockhound"))
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[inline(never)]
fn overflow_case() {
    let layout = Layout::from_size_align(64, 1).unwrap();
    // SAFETY: none; this is the bug under test, a write one past the end.
    unsafe {
        let p = black_box(alloc(layout));
        p.add(64).write_volatile(7);
    }
}

/// `LOCKHOUND_GUARD_REPORT` for a user running the allocator alone: the file is created new.
/// A symlink planted at the path is not followed (the file it points to is not written), an
/// existing file is not appended to (a planted fake report stays what it was, and nobody
/// reading it gets the real one mixed in), and the report goes to standard error instead.
#[test]
fn a_report_path_is_created_new_never_followed_or_appended_to() {
    const TEST: &str = "a_report_path_is_created_new_never_followed_or_appended_to";
    if case().is_some() {
        overflow_case();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let faulting = |path: &Path| {
        let mut cmd = this_test(TEST, "overflow");
        let out = cmd.env(ENV_MODE, "all").env(ENV_SIDE, "right").env(ENV_REPORT, path).output().unwrap();
        assert!(!out.status.success(), "the overflow faults");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = dir.path().join("link.report");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let stderr = faulting(&link);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "followed the planted symlink");
    assert!(stderr.contains("lockhound-guard-report 1\nkind overflow"), "report lost:\n{stderr}");

    let planted = dir.path().join("planted.report");
    std::fs::write(&planted, FAKE_REPORT).unwrap();
    let stderr = faulting(&planted);
    assert_eq!(std::fs::read_to_string(&planted).unwrap(), FAKE_REPORT, "appended to a planted file");
    assert!(stderr.contains("kind overflow"), "report lost:\n{stderr}");

    let fresh = dir.path().join("fresh.report");
    let stderr = faulting(&fresh);
    let written = std::fs::read_to_string(&fresh).unwrap();
    assert!(written.starts_with("lockhound-guard-report 1\nkind overflow\n"), "{written}");
    assert!(!stderr.contains("lockhound-guard-report"), "{stderr}");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&fresh).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

/// A report through the inherited descriptor: found and symbolized as before.
#[test]
fn a_fault_is_reported_through_the_inherited_file() {
    const TEST: &str = "a_fault_is_reported_through_the_inherited_file";
    if case().is_some() {
        overflow_case();
        return;
    }
    let mut cmd = this_test(TEST, "overflow");
    cmd.env(ENV_REPORT, "/nonexistent/x");
    let run = run_guarded(cmd, &GuardOptions { side: Side::Right, ..GuardOptions::default() }).unwrap();
    match run.outcome {
        GuardOutcome::Fault(r) => assert_eq!((r.kind.as_str(), r.offset, r.size), ("overflow", 64, 64)),
        other => panic!("expected a fault, got {other:?}\n{}", run.stderr),
    }
    assert!(!run.stderr.contains("lockhound-guard-report"), "the report went to the file");
}

// ---- the parent always ends ----

/// The child starts a long-lived grandchild that inherits its stdout and stderr, then exits.
/// The old parent read the pipes to their end, which the grandchild held open for two
/// minutes; now the run ends with the child, and the grandchild, in the child's process
/// group, is killed.
#[test]
fn a_grandchild_holding_the_pipes_does_not_block_the_parent() {
    const TEST: &str = "a_grandchild_holding_the_pipes_does_not_block_the_parent";
    if case().is_some() {
        spawn_sleeper(false);
        return;
    }
    let run = run_or_hang(this_test(TEST, "spawn"), GuardOptions::default(), Duration::from_secs(60))
        .expect("the parent blocked on the grandchild's pipes");
    assert!(matches!(run.outcome, GuardOutcome::Passed), "{:?}\n{}", run.outcome, run.stderr);
    let pid = number_after(&run.stdout, "grandchild ").expect("the child printed its grandchild's pid");
    assert!(is_gone(pid), "the grandchild {pid} outlived the run");
}

/// The same, with a child that hangs: killed at its deadline, with its grandchild.
#[test]
fn a_hung_child_and_its_grandchild_are_killed_at_the_deadline() {
    const TEST: &str = "a_hung_child_and_its_grandchild_are_killed_at_the_deadline";
    if case().is_some() {
        spawn_sleeper(false);
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let options = GuardOptions { timeout: Duration::from_millis(500), ..GuardOptions::default() };
    let run = run_or_hang(this_test(TEST, "hang"), options, Duration::from_secs(60))
        .expect("the parent blocked past the deadline");
    assert!(matches!(run.outcome, GuardOutcome::TimedOut { .. }), "{:?}", run.outcome);
    let pid = number_after(&run.stdout, "grandchild ").expect("the child printed its grandchild's pid");
    assert!(is_gone(pid), "the grandchild {pid} outlived the run");
}

/// A grandchild that left the child's process group cannot be killed with it; it still holds
/// the pipes, and the parent returns all the same (after a short grace for the output).
#[test]
fn a_grandchild_that_left_the_group_does_not_block_the_parent() {
    const TEST: &str = "a_grandchild_that_left_the_group_does_not_block_the_parent";
    if case().is_some() {
        spawn_sleeper(true);
        return;
    }
    let run = run_or_hang(this_test(TEST, "escape"), GuardOptions::default(), Duration::from_secs(60))
        .expect("the parent blocked on the escaped grandchild's pipes");
    let pid = number_after(&run.stdout, "grandchild ").expect("the child printed its grandchild's pid");
    // SAFETY: kill only sends a signal, to the sleep this test's child started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(matches!(run.outcome, GuardOutcome::Passed), "{:?}\n{}", run.outcome, run.stderr);
}

/// `--time-limit 18446744073709551600` gave the old parent `time_limit + 30` seconds, which
/// wraps (or panics, in a debug build); a deadline past the clock's range panicked too. Now
/// the timeout saturates, and a timeout of any length means the child runs to its end.
#[test]
fn a_time_limit_of_any_size_neither_wraps_nor_overflows() {
    const TEST: &str = "a_time_limit_of_any_size_neither_wraps_nor_overflows";
    if case().is_some() {
        black_box(vec![1u8; 100]);
        return;
    }
    let huge = Duration::from_secs(18_446_744_073_709_551_600);
    let options = GuardOptions::default().child_time_limit(huge);
    assert_eq!(options.timeout, Duration::MAX);
    assert_eq!(
        GuardOptions::default().child_time_limit(Duration::from_secs(5)).timeout,
        Duration::from_secs(35)
    );
    for timeout in [options.timeout, huge, Duration::from_secs(u64::MAX)] {
        let run = run_guarded(this_test(TEST, "clean"), &GuardOptions { timeout, ..GuardOptions::default() })
            .unwrap();
        assert!(
            matches!(run.outcome, GuardOutcome::Passed),
            "{timeout:?}: {:?}\n{}",
            run.outcome,
            run.stderr
        );
    }
}

/// A child that writes far more than is kept: the run ends, with the last 64 KiB of each
/// stream, ending where the child ended.
#[test]
fn a_flood_of_output_is_kept_to_its_tail() {
    const TEST: &str = "a_flood_of_output_is_kept_to_its_tail";
    if case().is_some() {
        use std::io::Write;
        let line = [b'.'; 1023];
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        for _ in 0..8 * 1024 {
            out.write_all(&line).unwrap();
            out.write_all(b"\n").unwrap();
            err.write_all(&line).unwrap();
            err.write_all(b"\n").unwrap();
        }
        writeln!(out, "last line of stdout").unwrap();
        writeln!(err, "last line of stderr").unwrap();
        return;
    }
    let run = run_guarded(this_test(TEST, "flood"), &GuardOptions::default()).unwrap();
    assert!(matches!(run.outcome, GuardOutcome::Passed), "{:?}", run.outcome);
    assert!(run.stdout.len() <= 64 * 1024 && run.stderr.len() <= 64 * 1024);
    assert!(run.stdout.contains("last line of stdout"), "{}", &run.stdout[run.stdout.len() - 200..]);
    assert!(run.stderr.contains("last line of stderr"), "{}", &run.stderr[run.stderr.len() - 200..]);
}
