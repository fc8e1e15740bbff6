//! An engine's limits are never findings: loom's thread count and branch limit end loom's
//! attempt as not applicable or inconclusive, with the reason, and `auto` goes on; a step
//! limit is a livelock finding only when a fair schedule does not get past it either; a body
//! that never ran two threads at once is said to have explored nothing.

use lockhound::finding::{EngineLimit, Outcome, WarningKind};
use lockhound::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use lockhound::sync::{Arc, Mutex};
use lockhound::{thread, Backend, Check, FindingKind, ReplayOutcome, RunReport};
use std::time::Duration;

fn check(backend: Backend) -> Check {
    Check::new().backend(backend).time_limit(Duration::from_secs(120))
}

/// `threads` threads in all (main included) add to a counter under a mutex: correct.
fn counters(threads: usize) {
    let n = Arc::new(Mutex::new(0));
    let workers: Vec<_> = (1..threads)
        .map(|_| {
            let n = n.clone();
            thread::spawn(move || *n.lock().unwrap() += 1)
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(*n.lock().unwrap(), threads - 1);
}

fn failure(report: &RunReport) -> String {
    report.finding.as_ref().map(|f| format!("{}: {}", f.kind.name(), f.message)).unwrap_or_default()
}

#[test]
fn correct_bodies_with_more_threads_than_loom_models_pass_and_loom_says_why_it_cannot_run_them() {
    let bodies: [(usize, fn()); 4] =
        [(6, || counters(6)), (8, || counters(8)), (28, || counters(28)), (100, || counters(100))];
    for (threads, body) in bodies {
        for backend in [Backend::Auto, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleUrw] {
            let report = check(backend).iterations(300).explore(body);
            assert!(report.passed(), "{threads} threads, {backend}: {}", failure(&report));
            assert!(
                report.concurrency.threads == threads,
                "{threads} threads, {backend}: {:?}",
                report.concurrency
            );
            if backend == Backend::Auto {
                let loom =
                    report.attempts.iter().find(|a| a.backend == Backend::Loom).expect("loom is a member");
                assert_eq!(loom.outcome, Outcome::NotApplicable, "{threads} threads");
                assert_eq!(loom.executions, 0, "the rotation counted the threads: loom is not even started");
                let reason = loom.reason.as_deref().unwrap_or_default();
                assert!(reason.contains(&format!("spawns {threads} threads")), "{reason}");
                assert!(report.coverage.sampled_executions() > 0);
            }
        }
        let report = check(Backend::Loom).explore(body);
        assert!(report.passed(), "{threads} threads, loom: {}", failure(&report));
        let limited = report.not_run().expect("loom alone cannot run the body: nothing was explored");
        assert_eq!(limited.outcome, Outcome::NotApplicable);
        assert!(limited.reason.contains("loom explores at most 5"), "{}", limited.reason);
        assert!(!limited.reason.contains('\n'), "one line: {}", limited.reason);
        assert!(report.warnings.is_empty(), "loom saw nothing, so it cannot say nothing concurrent ran");
        assert!(matches!(
            report.attempts[0].limit,
            Some(EngineLimit::LoomThreads { threads: 6, max: 5, at_least: true })
        ));
    }
}

#[test]
fn loom_still_runs_bodies_within_its_thread_limit() {
    let report = check(Backend::Loom).explore(|| counters(5));
    assert!(report.passed() && report.exhaustive && report.not_run().is_none(), "{report:?}");
    assert_eq!(report.attempts[0].outcome, Outcome::Exhaustive);
}

/// A body whose own assertions say what loom's and shuttle's limits say.
#[test]
fn a_body_panic_in_an_engine_s_words_is_the_body_s_panic() {
    for message in [
        "Model exceeded maximum number of branches. This is often caused by an algorithm",
        "assertion failed: self.threads.len() < self.max()",
        "object leaked",
        "exceeded max_steps bound 100000",
        "deadlock! blocked tasks",
        "Causality violation: concurrent write",
    ] {
        for backend in [Backend::Loom, Backend::ShuttleRandom, Backend::Auto] {
            let report = check(backend).explore(move || {
                let flag = Arc::new(AtomicBool::new(false));
                let f = flag.clone();
                let t = thread::spawn(move || f.store(true, Ordering::SeqCst));
                t.join().unwrap();
                assert!(!flag.load(Ordering::SeqCst), "{message}");
            });
            let finding = report.finding.unwrap_or_else(|| panic!("{backend}: the assertion fails"));
            assert_eq!(finding.kind, FindingKind::Panic, "{backend}, '{message}'");
            assert!(finding.location.is_some_and(|l| l.contains("limits.rs")), "{backend}: the body's site");
        }
    }
}

/// A spinlock with `yield_now`, around a read-modify-write that needs it: correct.
fn spinlock() {
    let lock = Arc::new(AtomicBool::new(false));
    let n = Arc::new(AtomicUsize::new(0));
    let worker = |lock: Arc<AtomicBool>, n: Arc<AtomicUsize>| {
        move || {
            while lock.swap(true, Ordering::Acquire) {
                thread::yield_now();
            }
            let v = n.load(Ordering::Relaxed);
            n.store(v + 1, Ordering::Relaxed);
            lock.store(false, Ordering::Release);
        }
    };
    let t = thread::spawn(worker(lock.clone(), n.clone()));
    worker(lock, n.clone())();
    t.join().unwrap();
    assert_eq!(n.load(Ordering::Relaxed), 2);
}

#[test]
fn a_correct_spinlock_passes_and_loom_s_branch_limit_is_inconclusive_not_a_finding() {
    for jobs in [1, 2] {
        let report = check(Backend::Auto).jobs(jobs).explore(spinlock);
        assert!(report.passed(), "{jobs} jobs: {}", failure(&report));
        let loom = report.attempts.iter().find(|a| a.backend == Backend::Loom).expect("loom ran its lane");
        assert_eq!(loom.outcome, Outcome::Inconclusive, "{jobs} jobs: {loom:?}");
        assert!(
            matches!(loom.limit, Some(EngineLimit::LoomBranches { yields, .. }) if yields > 0),
            "{loom:?}"
        );
        assert!(report.coverage.sampled_executions() > 1_000, "the shuttle members got loom's share");
    }
    let report = check(Backend::Loom).explore(spinlock);
    assert!(report.passed(), "{}", failure(&report));
    assert_eq!(report.attempts[0].outcome, Outcome::Inconclusive);
    for backend in [Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleUrw, Backend::ShuttleDfs] {
        let report = check(backend).iterations(2_000).explore(spinlock);
        assert!(report.passed(), "{backend}: {}", failure(&report));
    }
}

/// Two threads that each yield until the other has gone first: neither ever does.
fn yielding_livelock() {
    let a_went = Arc::new(AtomicBool::new(false));
    let b_went = Arc::new(AtomicBool::new(false));
    let (a, b) = (a_went.clone(), b_went.clone());
    let t = thread::spawn(move || {
        while !a.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        b.store(true, Ordering::SeqCst);
    });
    while !b_went.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    a_went.store(true, Ordering::SeqCst);
    t.join().unwrap();
}

#[test]
fn two_threads_yielding_forever_for_each_other_are_a_livelock_that_replays() {
    for backend in [Backend::Auto, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleUrw] {
        let report = check(backend).explore(yielding_livelock);
        let finding = report.finding.unwrap_or_else(|| panic!("{backend} missed the livelock"));
        assert_eq!(finding.kind, FindingKind::Livelock, "{backend}: {}", finding.message);
        assert!(finding.message.contains("fair schedule"), "{}", finding.message);
        let schedule = finding.schedule.expect("a livelock replays");
        let body: lockhound::Body = std::sync::Arc::new(yielding_livelock);
        match lockhound::explore::replay(&body, &schedule, &check(backend).config) {
            ReplayOutcome::Failed(again) => assert_eq!(again.kind, FindingKind::Livelock, "{backend}"),
            other => panic!("{backend}: replay of {schedule} gave {other:?}"),
        }
    }
    // loom's branch limit is no livelock finding: loom is inconclusive, shuttle decides.
    let report = check(Backend::Loom).explore(yielding_livelock);
    assert!(report.passed() && report.not_run().is_some(), "{}", failure(&report));
}

/// A spin without `yield_now` on a flag the main thread sets: correct on real threads, but a
/// strategy that always runs the spinner (PCT's highest priority) never lets the flag be set.
fn spin_without_yield() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let t = thread::spawn(move || while !f.load(Ordering::Acquire) {});
    flag.store(true, Ordering::Release);
    t.join().unwrap();
}

#[test]
fn a_step_limit_that_a_fair_schedule_gets_past_is_no_finding() {
    let mut pct = check(Backend::ShuttlePct).iterations(20);
    // A small limit keeps the test fast: the unfair executions run to it.
    pct.config.max_steps = 2_000;
    let report = pct.explore(spin_without_yield);
    assert!(report.passed(), "{}", failure(&report));
    let cuts: u64 = report.attempts.iter().map(|a| a.unfair_cuts).sum();
    assert!(cuts > 0, "PCT ran the spinner to the step limit at least once: {:?}", report.attempts);
    assert_eq!(report.executions, 20, "cut executions count, and the search went on");
}

#[test]
fn a_body_that_never_runs_two_threads_at_once_is_said_to_have_explored_nothing() {
    fn sequential() {
        let n = Arc::new(Mutex::new(0));
        let m = n.clone();
        thread::spawn(move || *m.lock().unwrap() += 1).join().unwrap();
        *n.lock().unwrap() += 1;
    }
    fn no_threads() {
        let m = Mutex::new(1);
        *m.lock().unwrap() += 1;
    }
    for body in [sequential as fn(), no_threads] {
        for backend in [Backend::Auto, Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct] {
            let report = check(backend).iterations(500).explore(body);
            assert!(report.passed() && report.succeeded(), "{backend}");
            let warning = report.warning(WarningKind::NoConcurrency).unwrap_or_else(|| panic!("{backend}"));
            assert!(!warning.denied && warning.message.contains("nothing concurrent"), "{warning:?}");
            let denied = check(backend).iterations(500).deny_no_concurrency().explore(body);
            assert!(denied.passed() && !denied.succeeded(), "{backend}: denied, the run fails");
        }
        let caught = std::panic::catch_unwind(|| check(Backend::Auto).deny_no_concurrency().run(body));
        let message =
            *caught.expect_err("lockhound::check fails a denied warning").downcast::<String>().unwrap();
        assert!(message.contains("no-concurrency"), "{message}");
        check(Backend::Auto).run(body); // only a warning
    }
    // A body with real interleavings raises no warning.
    let report = check(Backend::Auto).explore(spinlock);
    assert!(report.warnings.is_empty() && report.concurrency.interleaved, "{:?}", report.warnings);
}

#[test]
fn the_environment_can_deny_no_concurrency() {
    let env = |key: &str| (key == "LOCKHOUND_DENY").then(|| "no-concurrency".to_string());
    assert!(Check::try_from_env(env).unwrap().config.deny_no_concurrency);
    let typo = |key: &str| (key == "LOCKHOUND_DENY").then(|| "no-concurency".to_string());
    assert!(Check::try_from_env(typo).unwrap_err().starts_with("LOCKHOUND_DENY"));
}

#[test]
fn a_pass_says_what_it_covered() {
    // Within loom's reach: a proof.
    let report = check(Backend::Auto).explore(|| counters(3));
    let proof = report.coverage.proof.as_ref().expect("loom proves a small correct body");
    assert_eq!((proof.backend, proof.preemption_bound), (Backend::Loom, Some(2)));
    // Beyond it: samples, and why loom did not prove anything.
    let report = check(Backend::Auto).iterations(1_000).explore(|| counters(7));
    assert!(report.coverage.proof.is_none());
    assert_eq!(report.coverage.sampled_executions(), report.executions);
    assert!(report.coverage.sampled.len() >= 2, "{:?}", report.coverage.sampled);
    assert_eq!(report.coverage.limited.len(), 1);
}

#[test]
fn a_body_driven_by_loom_itself_is_not_counted() {
    // `explore::with_engine` lets loom's own entry points drive a facade body: lockhound's
    // thread count belongs to its own engine only, and must not carry over from one of
    // loom's executions to the next.
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    lockhound::explore::with_engine(Backend::Loom, move || {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            counters(4);
        })
    });
    assert!(runs.load(std::sync::atomic::Ordering::Relaxed) > 5, "loom ran its whole search");
}
