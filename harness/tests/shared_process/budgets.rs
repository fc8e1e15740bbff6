//! Budgets and bounds given through the API are honoured exactly and never overflow: a huge
//! preemption bound, `Duration::MAX`, the `LOCKHOUND_*` variables (read by `lockhound::limits`),
//! and a budget that allows no execution, which checks nothing and says so loudly.

use lockhound::finding::WarningKind;
use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::{Arc, Mutex};
use lockhound::{thread, Backend, Check, FindingKind};
use std::time::Duration;

/// Two threads add under a mutex: correct.
fn correct() {
    let n = Arc::new(Mutex::new(0));
    let m = n.clone();
    let t = thread::spawn(move || *m.lock().unwrap() += 1);
    *n.lock().unwrap() += 1;
    t.join().unwrap();
    assert_eq!(*n.lock().unwrap(), 2);
}

/// A lost update.
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

#[test]
fn a_preemption_bound_past_the_limit_searches_the_full_space() {
    for bound in [256, 1_000_000_000, usize::MAX] {
        let check = Check::new().backend(Backend::Loom).preemption_bound(Some(bound));
        let report = check.explore(correct);
        assert!(report.succeeded(), "bound {bound}: {:?} {:?}", report.finding, report.warnings);
        assert!(report.exhaustive, "bound {bound}: the full space, searched to its end");
        assert_eq!(report.preemption_bound, None, "bound {bound}: searched as the full space");
        check.run(correct);
        let found = check.explore(lost_update).finding.expect("the lost update");
        assert_eq!(found.kind, FindingKind::Panic, "{}", found.message);
    }
}

#[test]
fn a_time_limit_of_duration_max_works_on_every_engine() {
    for backend in
        [Backend::Auto, Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::Stress]
    {
        let check = Check::new().backend(backend).time_limit(Duration::MAX).iterations(200);
        let report = check.explore(correct);
        assert!(report.succeeded(), "{backend}: {:?} {:?}", report.finding, report.warnings);
        if backend != Backend::Stress {
            let found = check.explore(lost_update).finding;
            assert!(found.is_some_and(|f| f.message.contains("lost update")), "{backend}");
        }
    }
    let jobs = Check::new().time_limit(Duration::MAX).iterations(200).jobs(2);
    assert!(jobs.explore(correct).succeeded());
    // The tracker's timed locks take the same saturating deadline.
    let m = lockhound::tracker::Mutex::new(0);
    assert!(m.try_lock_for(Duration::MAX).is_some());
}

#[test]
fn the_environment_is_read_through_limits() {
    let env = |key: &'static str, value: &'static str| {
        Check::try_from_env(move |k| (k == key).then(|| value.to_string()))
    };
    let cases = [
        ("LOCKHOUND_TIME_LIMIT", "18446744073709551615", "a year"),
        ("LOCKHOUND_TIME_LIMIT", "0", "at least 1"),
        ("LOCKHOUND_ITERATIONS", "0", "at least 1"),
        ("LOCKHOUND_PREEMPTION_BOUND", "1000000000", "at most 64"),
        ("LOCKHOUND_PREEMPTION_BOUND", "256", "at most 64"),
        ("LOCKHOUND_JOBS", "100000", "1 to 256"),
        ("LOCKHOUND_SEED", "-1", "not a number"),
    ];
    for (key, value, says) in cases {
        let error = env(key, value).expect_err(key);
        assert!(error.starts_with(key) && error.contains(says), "{key}={value}: {error}");
    }
    assert_eq!(env("LOCKHOUND_TIME_LIMIT", "5").unwrap().config.budget.time, Duration::from_secs(5));
    assert_eq!(env("LOCKHOUND_PREEMPTION_BOUND", "none").unwrap().config.loom.preemption_bound, None);
    assert_eq!(env("LOCKHOUND_JOBS", "3").unwrap().config.jobs, 3);
}

#[test]
fn a_budget_that_allows_no_execution_checks_nothing_loudly() {
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (name, check) in [
        ("iterations(0)", Check::new().iterations(0)),
        ("time_limit(ZERO)", Check::new().time_limit(Duration::ZERO)),
        ("iterations(0) under loom", Check::new().backend(Backend::Loom).iterations(0)),
        ("time_limit(ZERO) under stress", Check::new().backend(Backend::Stress).time_limit(Duration::ZERO)),
    ] {
        let counter = ran.clone();
        let report = check.explore(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        assert_eq!(report.executions, 0, "{name}");
        assert!(!report.succeeded(), "{name}: a run that checked nothing is no success");
        let warning = report.warnings.iter().find(|w| w.kind == WarningKind::NothingChecked);
        assert!(warning.is_some_and(|w| w.denied && w.message.starts_with("nothing checked")), "{name}");
        let failed = std::panic::catch_unwind(|| check.run(correct)).expect_err(name);
        let message = failed.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("nothing checked"), "{name}: {message}");
    }
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0, "a body ran on a budget of nothing");
}

#[test]
fn an_execution_budget_is_honoured_exactly() {
    for jobs in [1, 2, 4] {
        for backend in [Backend::Auto, Backend::ShuttleRandom, Backend::Loom] {
            let check = Check::new().backend(backend).iterations(1).jobs(jobs);
            let report = check.explore(correct);
            assert_eq!(report.executions, 1, "{backend} jobs={jobs}: {:?}", report.attempts);
        }
        // A body loom cannot model (6 threads) runs the rotation alone, still exactly.
        let many = || {
            let t: Vec<_> = (0..5).map(|_| thread::spawn(|| {})).collect();
            t.into_iter().for_each(|t| t.join().unwrap());
        };
        for n in [1, 3, 10] {
            let report = Check::new().iterations(n).jobs(jobs).explore(many);
            assert!(report.executions <= n, "auto jobs={jobs} iterations={n}: {}", report.executions);
        }
    }
}
