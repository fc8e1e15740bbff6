//! Each memory error is caught and classified right. A faulting case must not kill the test
//! process, so every test re-executes this test binary as a child (`--exact` itself, with
//! `LOCKHOUND_GUARD_TEST_CASE` set), where the case runs under the guard allocator installed
//! below, and asserts on the report the parent reads back.

#![cfg(target_os = "linux")]

use lockhound::guard::{
    run_guarded, Access, FaultKind, GuardAlloc, GuardOptions, GuardOutcome, GuardReport, GuardRun, Side,
};
use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;
use std::process::Command;

#[global_allocator]
static ALLOC: GuardAlloc = GuardAlloc::from_env_lazy();

const CASE: &str = "LOCKHOUND_GUARD_TEST_CASE";

/// In the child, runs `case` and returns `None`; in the parent, runs this test again as a
/// guarded child and returns what happened.
fn guarded(test: &str, side: Side, case: fn()) -> Option<GuardRun> {
    if std::env::var_os(CASE).is_some() {
        case();
        return None;
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]).env(CASE, test);
    let options = GuardOptions { side, ..GuardOptions::default() };
    Some(run_guarded(cmd, &options).expect("start the child"))
}

fn fault(run: GuardRun) -> GuardReport {
    match run.outcome {
        GuardOutcome::Fault(report) => report,
        other => panic!("expected a guard report, got {other:?}\nstderr:\n{}", run.stderr),
    }
}

fn names(frames: &[lockhound::guard::Frame]) -> String {
    let names: Vec<_> = frames.iter().filter_map(|f| f.symbol.as_deref()).collect();
    names.join(" <- ")
}

/// Asserts a stack was captured, rebased and named: it shows the function that made the call.
fn assert_site(frames: &[lockhound::guard::Frame], function: &str) {
    let names = names(frames);
    assert!(names.contains(function), "{function} not in stack: {names}");
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

#[test]
fn overflow() {
    let Some(run) = guarded("overflow", Side::Right, overflow_case) else {
        return;
    };
    let r = fault(run);
    assert_eq!(r.kind, FaultKind::Overflow);
    assert_eq!(r.access, Access::Write);
    assert_eq!((r.offset, r.size), (64, 64));
    assert_site(&r.alloc_site, "overflow_case");
    assert!(r.free_site.is_empty());
    assert!(!r.access_site.is_empty() && r.access_site[0].symbol.is_some());
}

#[inline(never)]
fn underflow_case() {
    let layout = Layout::from_size_align(24, 8).unwrap();
    // SAFETY: none; this is the bug under test, a read just before the start.
    unsafe {
        let p = black_box(alloc(layout));
        black_box(p.sub(8).read_volatile());
    }
}

#[test]
fn underflow() {
    let Some(run) = guarded("underflow", Side::Left, underflow_case) else {
        return;
    };
    let r = fault(run);
    assert_eq!(r.kind, FaultKind::Underflow);
    assert_eq!(r.access, Access::Read);
    assert_eq!((r.offset, r.size), (-8, 24));
    assert_site(&r.alloc_site, "underflow_case");
}

#[inline(never)]
fn use_after_free_case() {
    let entry = Box::new([5u64; 32]);
    let p: *const u64 = black_box(&entry[3]);
    drop(entry);
    // SAFETY: none; this is the bug under test, a write through a dangling pointer.
    unsafe { (p as *mut u64).write_volatile(9) };
}

#[test]
fn use_after_free() {
    let Some(run) = guarded("use_after_free", Side::Random, use_after_free_case) else {
        return;
    };
    let r = fault(run);
    assert_eq!(r.kind, FaultKind::UseAfterFree);
    assert_eq!(r.access, Access::Write);
    assert_eq!((r.offset, r.size), (24, 256));
    assert_site(&r.alloc_site, "use_after_free_case");
    assert_site(&r.free_site, "use_after_free_case");
    assert_eq!(r.free_thread, Some(r.thread.tid));
}

#[inline(never)]
fn make_entry(seed: u64) -> Box<[u64; 32]> {
    Box::new([seed; 32])
}

#[inline(never)]
fn drop_entry(entry: Box<[u64; 32]>) {
    drop(black_box(entry));
}

/// The same allocation and free sites many times first, so the faulting block's stacks come
/// from the unwinder's table of learned frames rather than a fresh DWARF unwind.
#[inline(never)]
fn use_after_free_learned_case() {
    let mut dangling: *const u64 = std::ptr::null();
    // The last round's block is the one read after its free: its stacks are captured at
    // return addresses the earlier rounds taught the unwinder.
    for i in 0..300 {
        let entry = make_entry(black_box(i));
        dangling = black_box(&entry[3]);
        drop_entry(entry);
    }
    // SAFETY: none; this is the bug under test, a read through a dangling pointer.
    black_box(unsafe { dangling.read_volatile() });
}

#[test]
fn use_after_free_with_learned_stacks() {
    let Some(run) = guarded("use_after_free_with_learned_stacks", Side::Random, use_after_free_learned_case)
    else {
        return;
    };
    let r = fault(run);
    assert_eq!(r.kind, FaultKind::UseAfterFree);
    assert_eq!(r.access, Access::Read);
    assert_eq!((r.offset, r.size), (24, 256));
    assert_site(&r.alloc_site, "make_entry");
    assert_site(&r.alloc_site, "use_after_free_learned_case");
    assert_site(&r.free_site, "drop_entry");
    assert_site(&r.free_site, "use_after_free_learned_case");
    // The walk goes on past the case, through its callers.
    assert_site(&r.alloc_site, "use_after_free_with_learned_stacks");
    assert_site(&r.free_site, "use_after_free_with_learned_stacks");
}

#[inline(never)]
fn double_free_case() {
    let layout = Layout::from_size_align(40, 8).unwrap();
    // SAFETY: none; the second dealloc is the bug under test.
    unsafe {
        let p = black_box(alloc(layout));
        dealloc(p, layout);
        dealloc(p, layout);
    }
}

#[test]
fn double_free() {
    let Some(run) = guarded("double_free", Side::Random, double_free_case) else {
        return;
    };
    let r = fault(run);
    assert_eq!(r.kind, FaultKind::DoubleFree);
    assert_eq!((r.offset, r.size), (0, 40));
    assert_site(&r.alloc_site, "double_free_case");
    assert_site(&r.free_site, "double_free_case");
    assert_site(&r.access_site, "double_free_case");
}

#[inline(never)]
fn invalid_free_case() {
    let layout = Layout::from_size_align(40, 8).unwrap();
    // SAFETY: none; freeing an interior pointer is the bug under test.
    unsafe {
        let p = black_box(alloc(layout));
        dealloc(p.add(8), layout);
    }
}

#[test]
fn invalid_free() {
    let Some(run) = guarded("invalid_free", Side::Random, invalid_free_case) else {
        return;
    };
    let r = fault(run);
    assert_eq!(r.kind, FaultKind::InvalidFree);
    assert_eq!((r.offset, r.size), (8, 40));
    assert_site(&r.access_site, "invalid_free_case");
}

#[inline(never)]
fn wild_case() {
    // SAFETY: none; a write to an address no allocator owns.
    unsafe { black_box(16 as *mut u8).write_volatile(1) };
}

/// A fault outside the guarded region is not ours: it goes to the handler installed before
/// ours and the child dies of SIGSEGV with no report.
#[test]
fn foreign_fault_is_chained() {
    let Some(run) = guarded("foreign_fault_is_chained", Side::Random, wild_case) else {
        return;
    };
    match run.outcome {
        GuardOutcome::Crashed { signal, .. } => assert_eq!(signal, Some(libc::SIGSEGV)),
        other => panic!("expected a plain crash, got {other:?}"),
    }
}

#[inline(never)]
fn clean_case() {
    let mut v: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    v.retain(|s| s.len() % 2 == 0);
    let total: usize = v.iter().map(String::len).sum();
    assert!(total > 0);
    let handle = std::thread::spawn(|| (0..500).map(|i| vec![i; i % 50]).filter(|v| v.len() < 50).count());
    assert_eq!(handle.join().unwrap(), 500);
}

/// Correct code under all-guarded mode runs to completion (more allocations than slots, so
/// slots are recycled through the quarantine).
#[test]
fn clean_program_passes() {
    let Some(run) = guarded("clean_program_passes", Side::Random, clean_case) else {
        return;
    };
    assert!(matches!(run.outcome, GuardOutcome::Passed), "{:?}\n{}", run.outcome, run.stderr);
}

#[inline(never)]
fn hang_case() {
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn hung_child_times_out() {
    if std::env::var_os(CASE).is_some() {
        hang_case();
        return;
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["hung_child_times_out", "--exact", "--test-threads=1"]).env(CASE, "hang");
    let options = GuardOptions { timeout: std::time::Duration::from_millis(500), ..GuardOptions::default() };
    let run = run_guarded(cmd, &options).unwrap();
    assert!(matches!(run.outcome, GuardOutcome::TimedOut { .. }), "{:?}", run.outcome);
    assert!(run.elapsed_ms < 10_000);
}

/// The report serializes to JSON with addresses as hex strings.
#[test]
fn report_serializes() {
    let Some(run) = guarded("report_serializes", Side::Right, overflow_case) else {
        return;
    };
    let json = serde_json::to_value(&run).unwrap();
    assert_eq!(json["outcome"], "fault");
    assert_eq!(json["kind"], "overflow");
    assert!(json["address"].as_str().unwrap().starts_with("0x"));
}
