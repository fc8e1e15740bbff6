//! What the facade_* tests share: run a body under every engine, and check what each finds.

#![allow(dead_code)]

use lockhound::{explore, Backend, Body, Check, Finding, FindingKind, ReplayOutcome, RunReport};
use std::time::Duration;

/// Every model checker, each a strategy of its own.
pub const MODEL_CHECKERS: [Backend; 4] =
    [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleDfs];

pub fn check(backend: Backend) -> Check {
    Check::new().backend(backend).iterations(20_000).time_limit(Duration::from_secs(120)).seed(7)
}

/// Runs `body` under loom without a preemption bound and under shuttle's depth-first search,
/// both of which must finish their whole space without a finding, then under shuttle's random
/// strategy and on real threads (the tracked locks), which must find nothing either.
#[track_caller]
pub fn passes_on_every_engine(body: fn()) {
    let loom = check(Backend::Loom).preemption_bound(None).explore(body);
    assert_passed_exhaustively("loom", &loom);
    let dfs = check(Backend::ShuttleDfs).explore(body);
    assert_passed_exhaustively("shuttle-dfs", &dfs);
    let random = check(Backend::ShuttleRandom).iterations(500).explore(body);
    assert!(random.passed(), "shuttle-random: {:?}", random.finding.map(|f| f.message));
    let stress = check(Backend::Stress).iterations(50).explore(body);
    assert!(stress.passed(), "stress: {:?}", stress.finding.map(|f| f.message));
}

/// For a body that spins until another thread acts: loom (whose yields let the other thread
/// run) without a bound, shuttle's randomized strategies and real threads. Not shuttle's
/// depth-first search, which follows the schedule where the spinning thread never lets go
/// until its step limit.
#[track_caller]
pub fn passes_on_every_fair_engine(body: fn()) {
    let loom = check(Backend::Loom).preemption_bound(None).explore(body);
    assert_passed_exhaustively("loom", &loom);
    for backend in [Backend::ShuttleRandom, Backend::ShuttlePct] {
        let report = check(backend).iterations(500).explore(body);
        assert!(report.passed(), "{backend}: {:?}", report.finding.map(|f| f.message));
    }
    let stress = check(Backend::Stress).iterations(50).explore(body);
    assert!(stress.passed(), "stress: {:?}", stress.finding.map(|f| f.message));
}

#[track_caller]
fn assert_passed_exhaustively(engine: &str, report: &RunReport) {
    assert!(report.passed(), "{engine}: {:?}", report.finding.as_ref().map(|f| &f.message));
    assert!(report.exhaustive, "{engine} did not finish ({} executions)", report.executions);
}

/// Checks that every model checker finds `body`'s bug, of `kind`, with a message `reason`
/// accepts, and that the finding's schedule replays to the same message. Returns the findings.
#[track_caller]
pub fn found_by_every_model_checker(
    body: fn(),
    kind: FindingKind,
    reason: impl Fn(&str) -> bool,
) -> Vec<Finding> {
    MODEL_CHECKERS.iter().map(|&backend| found_by(backend, body, kind, &reason)).collect()
}

#[track_caller]
pub fn found_by(backend: Backend, body: fn(), kind: FindingKind, reason: impl Fn(&str) -> bool) -> Finding {
    let check = check(backend);
    let finding = check.explore(body).finding.unwrap_or_else(|| panic!("{backend} found nothing"));
    assert_eq!(finding.kind, kind, "{backend}: {}", finding.message);
    assert!(reason(&finding.message), "{backend} failed for another reason: {}", finding.message);
    let schedule = finding.schedule.clone().expect("model checkers give a schedule");
    let body: Body = std::sync::Arc::new(body);
    match explore::replay(&body, &schedule, &check.config) {
        ReplayOutcome::Failed(again) => assert_eq!(again.message, finding.message, "{backend}: replay"),
        other => panic!("{backend}: the replay of {schedule} gave {other:?}"),
    }
    finding
}
