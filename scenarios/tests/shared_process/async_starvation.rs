//! `async-starvation`: the buggy connection task starves the heartbeat (a `starvation`
//! finding with the numbers of the schedule) under every engine that sees it, only in
//! schedules where the client thread got ahead; the fixed one never lets a ready task wait
//! more than one line's work.

use lockhound::{explore, Backend, Check, Finding, FindingKind, ReplayOutcome, RunReport};
use lockhound_scenarios::async_starvation::scenario;
use std::time::Duration;

fn run(variant: &str, check: &Check) -> RunReport {
    check.explore(scenario().variant(variant).expect("variant exists").as_fn())
}

fn check(backend: Backend) -> Check {
    Check::new().backend(backend).iterations(100_000).time_limit(Duration::from_secs(120))
}

/// The units of the poll that held the executor, if the message is the connection starving
/// the heartbeat: `... (bound 3): task 'connection' held the executor for a single poll of
/// N units (units a to b)`.
fn starving_poll(message: &str) -> Option<u64> {
    let rest = message.strip_prefix("starvation: task 'heartbeat' was ready at work unit ")?;
    let (_, poll) =
        rest.split_once(" units later (bound 3): task 'connection' held the executor for a single poll of ")?;
    poll.split_once(" units (units ")?.0.parse().ok()
}

/// A real starvation: the starvation kind, the heartbeat waiting behind a poll of the
/// connection that handled at least two lines (3 units each) in one go.
fn assert_starved(finding: &Finding, backend: Backend) {
    assert_eq!(finding.kind, FindingKind::Starvation, "{backend}: {}", finding.message);
    assert_eq!(finding.kind.name(), "starvation");
    let units = starving_poll(&finding.message).unwrap_or_else(|| panic!("{backend}: {}", finding.message));
    assert!(units == 6 || units == 9, "{backend}: a poll of {units} units: {}", finding.message);
    let at = finding.location.as_deref().unwrap_or_default();
    assert!(at.contains("async_starvation.rs"), "{backend}: raised at {at}");
}

#[test]
fn buggy_starves_the_heartbeat_under_every_model_checker_and_replays() {
    for backend in [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::Auto] {
        let check = check(backend);
        let finding = run("buggy", &check).finding.unwrap_or_else(|| panic!("{backend} did not find it"));
        assert_starved(&finding, backend);
        let schedule = finding.schedule.clone().expect("model checkers give a schedule");
        let body = scenario().variant("buggy").unwrap().body();
        match explore::replay(&body, &schedule, &check.config) {
            ReplayOutcome::Failed(again) => {
                assert_eq!(again.kind, FindingKind::Starvation, "{backend}: replay");
                assert_eq!(again.message, finding.message, "{backend}: replay");
            }
            other => panic!("{backend}: replay of {schedule} gave {other:?}"),
        }
    }
}

/// loom's first counterexample has one preemption (the client thread delivering while the
/// executor runs), and with none at all the buggy variant passes: a scheduling bug, not a
/// constant cost.
#[test]
fn buggy_needs_the_client_thread_to_get_ahead() {
    let bounded = |bound| check(Backend::Loom).preemption_bound(Some(bound));
    let report = run("buggy", &bounded(0));
    assert!(report.passed() && report.exhaustive, "without preemption: {:?}", report.finding);
    let finding = run("buggy", &bounded(1)).finding.expect("found with one preemption");
    assert_starved(&finding, Backend::Loom);
    assert_eq!(finding.preemptions, Some(1));
}

/// On real threads the body lets the client thread get ahead (a 1 ms sleep: on an idle
/// machine the first iteration already starves the heartbeat, on a loaded one it may take a
/// few), and the same starvation is seen, with the same kind.
#[test]
fn buggy_starves_the_heartbeat_on_real_threads() {
    let report = run("buggy", &check(Backend::Stress).iterations(20));
    let finding = report.finding.expect("found on real threads");
    assert_eq!(finding.kind, FindingKind::Starvation, "{}", finding.message);
    assert!(starving_poll(&finding.message).is_some(), "{}", finding.message);
}

/// loom's proof and the shuttle runs of the fixed variant are catalog.rs's (LOOM_PROOF); real
/// threads are checked here.
#[test]
fn fixed_passes_on_real_threads() {
    let report = run("fixed", &check(Backend::Stress).iterations(50));
    assert!(report.passed(), "stress: {:?}", report.finding);
}

/// The kind comes from the executor, not from the words: a body's own assertion that starts
/// with "starvation" stays a panic.
#[test]
fn a_panic_that_says_starvation_is_still_a_panic() {
    for backend in [Backend::Loom, Backend::ShuttlePct] {
        let report = check(backend).explore(|| panic!("starvation: the heartbeat is late"));
        let finding = report.finding.expect("the panic is found");
        assert_eq!(finding.kind, FindingKind::Panic, "{backend}");
        assert_eq!(finding.message, "starvation: the heartbeat is late");
    }
}

/// Reports name the kind `starvation`: the run's JSON document and its text.
#[test]
fn reports_name_the_kind_starvation() {
    let report = run("buggy", &check(Backend::ShuttlePct));
    let view = lockhound_reports::run::RunView {
        scenario: &scenario().name,
        variant: "buggy",
        report: &report,
        replay_command: None,
        out_dir: None,
    };
    assert_eq!(lockhound_reports::run::json(&view)["kind"], "starvation");
    let text = lockhound_reports::run::text(&view);
    assert!(text.contains("FAIL — starvation found by shuttle-pct"), "{text}");
}
