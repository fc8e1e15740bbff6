//! Parallel exploration (`jobs`): lanes run side by side, the first finding or proof stops
//! the others, and the outcome depends on the seed and the job count only.

use lockhound::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use lockhound::sync::{Arc, Mutex};
use lockhound::{thread, Backend, Check, RunReport};

/// Fails only when the main thread looks exactly halfway through the other thread's ten
/// increments: a bug each seed finds after a different number of executions, so lanes race.
fn halfway() {
    let n = Arc::new(Mutex::new(0));
    let m = n.clone();
    let t = thread::spawn(move || {
        for _ in 0..10 {
            *m.lock().unwrap() += 1;
        }
    });
    thread::yield_now();
    let seen = *n.lock().unwrap();
    t.join().unwrap();
    assert_ne!(seen, 5, "looked halfway");
}

/// Correct, with a small state space that loom proves quickly.
fn locked_update() {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let t = thread::spawn(move || {
        m.fetch_add(1, Ordering::SeqCst);
    });
    n.fetch_add(1, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 2);
}

/// Publishes with Relaxed stores: the reader may see the flag and stale data, which only a
/// weak-memory model (loom) can show; shuttle's executions are sequentially consistent.
fn relaxed_publication() {
    let data = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(AtomicBool::new(false));
    let (d, r) = (data.clone(), ready.clone());
    let t = thread::spawn(move || {
        d.store(1, Ordering::Relaxed);
        r.store(true, Ordering::Relaxed);
    });
    if ready.load(Ordering::Relaxed) {
        assert_eq!(data.load(Ordering::Relaxed), 1, "saw the flag but stale data");
    }
    t.join().unwrap();
}

/// What must not change from one run to the next.
fn outcome(report: &RunReport) -> (String, Option<String>, u64, String) {
    let finding = report.finding.as_ref().expect("the bug is found");
    (
        finding.backend.to_string(),
        finding.schedule.as_ref().map(ToString::to_string),
        finding.executions,
        finding.message.clone(),
    )
}

#[test]
fn two_jobs_give_the_same_finding_on_every_run() {
    for backend in [Backend::ShuttleRandom, Backend::ShuttlePct, Backend::Auto] {
        for seed in 0..3 {
            let check = Check::new().backend(backend).seed(seed).jobs(2);
            let first = outcome(&check.explore(halfway));
            assert!(first.3.contains("looked halfway"), "{backend}: {}", first.3);
            for _ in 0..8 {
                assert_eq!(outcome(&check.explore(halfway)), first, "{backend} seed {seed}");
            }
        }
    }
}

#[test]
fn one_job_explores_what_a_sequential_run_always_did() {
    // Lane 0 keeps the run's seed: with one job nothing about a run changes.
    for backend in [Backend::ShuttleRandom, Backend::ShuttlePct] {
        let sequential = Check::new().backend(backend).seed(4);
        assert_eq!(
            outcome(&sequential.clone().jobs(1).explore(halfway)),
            outcome(&sequential.explore(halfway))
        );
    }
}

#[test]
fn lanes_share_the_execution_budget() {
    for jobs in [1, 2, 3] {
        let report =
            Check::new().backend(Backend::ShuttleRandom).iterations(1_001).jobs(jobs).explore(locked_update);
        assert!(report.passed());
        assert_eq!(report.executions, 1_001, "{jobs} jobs");
        assert_eq!(report.attempts.len(), jobs, "one attempt per lane");
    }
}

#[test]
fn a_loom_proof_stops_the_shuttle_lanes() {
    let report = Check::new().backend(Backend::Auto).iterations(100_000).jobs(2).explore(locked_update);
    assert!(report.passed(), "{:?}", report.finding);
    assert!(report.exhaustive, "loom proved the body within its bound");
    let shuttle: u64 =
        report.attempts.iter().filter(|a| a.backend != Backend::Loom).map(|a| a.executions).sum();
    // The shuttle members' shares are 30,000 executions; they stop once their virtual time
    // passes loom's proof, which takes a handful of loom executions.
    assert!(shuttle < 1_000, "shuttle ran {shuttle} executions after loom's proof");
}

#[test]
fn auto_finds_a_loom_only_bug_on_its_loom_lane_the_same_way_every_run() {
    let check = Check::new().backend(Backend::Auto).jobs(2);
    let first = outcome(&check.explore(relaxed_publication));
    assert_eq!(first.0, "loom", "{first:?}");
    assert!(first.3.contains("stale data"), "{}", first.3);
    for _ in 0..8 {
        assert_eq!(outcome(&check.explore(relaxed_publication)), first);
    }
}

#[test]
fn a_lane_that_could_not_win_is_never_started() {
    // Every execution fails: the shuttle rotation's first execution (tick 4) finds it before
    // loom's first execution could end (tick 20), so the loom lane never starts.
    let report = Check::new().backend(Backend::Auto).jobs(2).explore(|| panic!("always"));
    assert_eq!(report.finding.as_ref().map(|f| f.executions), Some(1));
    let engines: Vec<Backend> = report.attempts.iter().map(|a| a.backend).collect();
    assert_eq!(engines, [Backend::ShuttleUrw], "only the rotation's first turn (URW) ran");
}

#[test]
fn a_parallel_report_counts_only_what_ended_before_the_winner_so_it_is_the_same_every_run() {
    // How far a lane runs past the winning event depends on thread timing; the report counts
    // the executions that end before it, which do not.
    let check = Check::new().backend(Backend::Auto).iterations(100_000).jobs(2);
    let summary = |report: &RunReport| -> Vec<(String, u64, bool)> {
        report.attempts.iter().map(|a| (a.strategy.clone(), a.executions, a.exhaustive)).collect()
    };
    let first = check.explore(locked_update);
    assert!(first.exhaustive, "loom proves the body: {:?}", first.attempts);
    for _ in 0..10 {
        let again = check.explore(locked_update);
        assert_eq!(summary(&again), summary(&first));
        assert_eq!(again.executions, first.executions);
    }
}

#[test]
fn tiny_budgets_end_and_stay_within_a_few_executions() {
    for jobs in [1, 2, 3] {
        for iterations in [1, 2, 5] {
            let report =
                Check::new().backend(Backend::Auto).iterations(iterations).jobs(jobs).explore(locked_update);
            assert!(report.passed(), "{jobs} jobs, {iterations} executions");
            // Each lane runs at least one execution, so a budget smaller than the lanes is
            // rounded up to one execution per lane.
            assert!(report.executions <= iterations.max(jobs as u64), "{jobs} jobs: {}", report.executions);
        }
    }
}
