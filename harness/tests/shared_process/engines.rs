//! Each engine turns what goes wrong in a body into a finding of the right kind, respects its
//! budget, and gives a schedule that replays the failure.

use lockhound::cell::UnsafeCell;
use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::{Arc, Mutex};
use lockhound::{thread, Backend, Check, FindingKind, ReplayOutcome};
use std::time::Duration;

/// Two threads increment with a load and a store: the lost update is a real bug.
fn lost_update() {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let t = thread::spawn(move || {
        let v = m.load(Ordering::SeqCst);
        m.store(v + 1, Ordering::SeqCst);
    });
    let v = n.load(Ordering::SeqCst);
    n.store(v + 1, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
}

/// The same with a mutex around each increment: correct.
fn locked_update() {
    let n = Arc::new(Mutex::new(0));
    let m = n.clone();
    let t = thread::spawn(move || *m.lock().unwrap() += 1);
    *n.lock().unwrap() += 1;
    t.join().unwrap();
    assert_eq!(*n.lock().unwrap(), 2);
}

struct Shared(UnsafeCell<u64>);
// SAFETY: deliberately unsound, so that loom can report the race it allows.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

fn racy_cell() {
    let s = Arc::new(Shared(UnsafeCell::new(0)));
    let s2 = s.clone();
    let t = thread::spawn(move || s2.0.with_mut(|p| unsafe { *p = 1 }));
    let _ = s.0.with(|p| unsafe { *p });
    t.join().unwrap();
}

fn abba() {
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let (a2, b2) = (a.clone(), b.clone());
    let t = thread::spawn(move || {
        let _x = a2.lock().unwrap();
        let _y = b2.lock().unwrap();
    });
    {
        let _y = b.lock().unwrap();
        let _x = a.lock().unwrap();
    }
    t.join().unwrap();
}

fn check(backend: Backend) -> Check {
    Check::new().backend(backend).iterations(5_000).time_limit(Duration::from_secs(60))
}

#[test]
fn every_model_checker_finds_the_lost_update_and_replays_it() {
    for backend in
        [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleDfs, Backend::Auto]
    {
        let report = check(backend).explore(lost_update);
        let finding = report.finding.unwrap_or_else(|| panic!("{backend} missed the lost update"));
        assert_eq!(finding.kind, FindingKind::Panic, "{backend}");
        assert!(finding.message.contains("lost update"), "{backend}: {}", finding.message);
        let schedule = finding.schedule.clone().expect("model checkers give a schedule");
        let body: lockhound::Body = std::sync::Arc::new(lost_update);
        match lockhound::explore::replay(&body, &schedule, &check(backend).config) {
            ReplayOutcome::Failed(again) => assert_eq!(again.message, finding.message, "{backend}"),
            other => panic!("{backend}: replay of {schedule} gave {other:?}"),
        }
    }
}

/// A thread spawned and joined at once: at no scheduling point can two threads run.
fn nothing_to_interleave() {
    let n = Arc::new(Mutex::new(0));
    let m = n.clone();
    thread::spawn(move || *m.lock().unwrap() += 1).join().unwrap();
    assert_eq!(*n.lock().unwrap(), 1);
}

#[test]
fn a_body_with_one_schedule_passes_every_strategy_and_is_explored_at_once() {
    // shuttle's own PCT asserts that its first execution made a choice; that assertion must
    // not become a finding of a correct body.
    for backend in [Backend::ShuttlePct, Backend::ShuttleDfs, Backend::Auto] {
        for jobs in [1, 2] {
            let report = check(backend).jobs(jobs).explore(nothing_to_interleave);
            assert!(report.passed(), "{backend}, {jobs} jobs: {:?}", report.finding.map(|f| f.message));
            assert!(report.exhaustive, "{backend}, {jobs} jobs: one execution is the whole search");
        }
    }
    assert!(check(Backend::ShuttleRandom).explore(nothing_to_interleave).passed());
}

#[test]
fn a_correct_body_passes_loom_exhaustively_and_dfs_exhaustively() {
    let report = check(Backend::Loom).preemption_bound(None).explore(locked_update);
    assert!(report.passed(), "{:?}", report.finding);
    assert!(report.exhaustive);
    let report = check(Backend::ShuttleDfs).explore(locked_update);
    assert!(report.passed() && report.exhaustive, "{report:?}");
}

#[test]
fn loom_reports_a_data_race_on_an_unsafe_cell() {
    let finding = check(Backend::Loom).explore(racy_cell).finding.expect("race");
    assert_eq!(finding.kind, FindingKind::DataRace, "{}", finding.message);
}

#[test]
fn deadlocks_are_findings_under_loom_and_shuttle() {
    for backend in [Backend::Loom, Backend::ShuttlePct, Backend::ShuttleRandom] {
        let finding = check(backend).explore(abba).finding.unwrap_or_else(|| panic!("{backend}"));
        assert_eq!(finding.kind, FindingKind::Deadlock, "{backend}: {}", finding.message);
    }
}

#[test]
fn stress_reports_a_hang_instead_of_hanging() {
    fn stuck() {
        let m = Arc::new(Mutex::new(()));
        let _g = m.lock().unwrap();
        let m2 = m.clone();
        thread::spawn(move || drop(m2.lock())).join().unwrap();
    }
    let mut c = check(Backend::Stress).iterations(3);
    c.config.hang_timeout = Duration::from_millis(300);
    let finding = c.explore(stuck).finding.expect("hang");
    assert_eq!(finding.kind, FindingKind::Deadlock);
    assert!(finding.schedule.is_none());
}

#[test]
fn budgets_end_runs() {
    let report = check(Backend::ShuttleRandom).iterations(37).explore(locked_update);
    assert_eq!(report.executions, 37);
    let report = check(Backend::Loom).iterations(3).preemption_bound(None).explore(locked_update);
    assert_eq!(report.executions, 3);
    assert!(!report.exhaustive);
    let report = check(Backend::Stress).iterations(25).explore(locked_update);
    assert_eq!(report.executions, 25);
}

#[test]
fn a_replay_of_a_foreign_schedule_is_not_applicable_not_a_crash() {
    let body: lockhound::Body = std::sync::Arc::new(locked_update);
    let schedule = "lh1:shuttle:t0@40>t7".parse().unwrap();
    match lockhound::explore::replay(&body, &schedule, &check(Backend::ShuttleRandom).config) {
        ReplayOutcome::NotApplicable(why) => assert!(why.contains("never reached"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_panics_with_a_replay_command() {
    let result = std::panic::catch_unwind(|| check(Backend::ShuttlePct).run(lost_update));
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("LOCKHOUND_REPLAY='lh1:shuttle:"), "{message}");
}

#[test]
fn loom_reports_a_leaked_arc() {
    fn leaky() {
        let a = Arc::new(5);
        std::mem::forget(a.clone());
        assert_eq!(*a, 5);
    }
    let finding = check(Backend::Loom).explore(leaky).finding.expect("leak");
    assert_eq!(finding.kind, FindingKind::Leak, "{}", finding.message);
}

#[test]
fn the_environment_configures_check_and_typos_are_named() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
    };
    let c = Check::try_from_env(env(&[
        ("LOCKHOUND_BACKEND", "shuttle-pct"),
        ("LOCKHOUND_ITERATIONS", "77"),
        ("LOCKHOUND_PREEMPTION_BOUND", "none"),
        ("LOCKHOUND_JOBS", "3"),
    ]))
    .unwrap();
    assert_eq!(c.config.jobs, 3);
    assert_eq!(Check::try_from_env(env(&[])).unwrap().config.jobs, 1, "one job unless asked");
    assert_eq!(c.config.backend, Backend::ShuttlePct);
    assert_eq!(c.config.budget.executions, 77);
    assert_eq!(c.config.loom.preemption_bound, None);
    for (pairs, named) in [
        (&[("LOCKHOUND_BACKEND", "lom")][..], "LOCKHOUND_BACKEND"),
        (&[("LOCKHOUND_ITERATIONS", "0")][..], "LOCKHOUND_ITERATIONS"),
        (&[("LOCKHOUND_TIME_LIMIT", "soon")][..], "LOCKHOUND_TIME_LIMIT"),
        (&[("LOCKHOUND_JOBS", "0")][..], "LOCKHOUND_JOBS"),
        (&[("LOCKHOUND_REPLAY", "lh1:shuttle:x")][..], "LOCKHOUND_REPLAY"),
    ] {
        let err = Check::try_from_env(env(pairs)).unwrap_err();
        assert!(err.starts_with(named), "{err}");
    }
}
