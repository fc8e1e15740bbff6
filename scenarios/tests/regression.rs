//! The regression suite, through the API a user's own tests call: `lockhound::Check::run`,
//! which panics with the finding and a `LOCKHOUND_REPLAY='lh1:...'` line. Every variant of
//! every scenario of the catalog runs under loom (bounded) and shuttle, so a scenario added to
//! the catalog is covered without touching this file. A variant that must fail is run under
//! `catch_unwind`, like a `#[should_panic]` test, and its printed replay line must reproduce
//! the failure through `LOCKHOUND_REPLAY`.
//!
//! (scenarios/tests/shared_process/catalog.rs checks the findings' reasons and the exhaustive proofs through
//! `explore`; this suite checks what a user sees.)

use lockhound::scenario::{Expect, Scenario, Variant};
use lockhound::Check;
use lockhound_scenarios::catalog;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// loom's preemption bound for the suite. Every buggy variant of the catalog needs at most one
/// preemption, and at 2 every fixed variant's space is explored within the budget below
/// (rwlock-timeout's, the largest, in about 15,000 executions).
const LOOM_BOUND: &str = "2";
/// Executions per loom run: room for the largest bounded space of the catalog.
const LOOM_EXECUTIONS: &str = "30000";
/// Executions per shuttle run: PCT finds each catalog bug in under 50.
const SHUTTLE_EXECUTIONS: &str = "2000";

/// Buggy variants that an engine of this suite cannot see by construction: under it they must
/// pass. Asserting the blind spot keeps it honest (a model change that made the bug visible
/// to sequential consistency would show up here).
const BLIND_SPOTS: [(&str, &str, &str); 2] = [
    // Fails only under weak memory; shuttle runs threads sequentially consistent.
    ("idr-aba", "buggy-relaxed-data", "shuttle-pct"),
    ("idr-aba", "buggy-relaxed-data", "shuttle-random"),
];

/// The checks a user would configure, built the way `lockhound::check` builds them: from the
/// `LOCKHOUND_*` environment (given here as a map, so parallel tests do not share one).
fn checks() -> Vec<(&'static str, Check)> {
    let from = |vars: &[(&str, &str)]| {
        let env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Check::try_from_env(|k| env.get(k).cloned()).expect("valid LOCKHOUND_* values")
    };
    vec![
        (
            "loom",
            from(&[
                ("LOCKHOUND_BACKEND", "loom"),
                ("LOCKHOUND_PREEMPTION_BOUND", LOOM_BOUND),
                ("LOCKHOUND_ITERATIONS", LOOM_EXECUTIONS),
                ("LOCKHOUND_TIME_LIMIT", "300"),
            ]),
        ),
        (
            "shuttle-pct",
            from(&[
                ("LOCKHOUND_BACKEND", "shuttle-pct"),
                ("LOCKHOUND_ITERATIONS", SHUTTLE_EXECUTIONS),
                ("LOCKHOUND_TIME_LIMIT", "300"),
            ]),
        ),
        (
            "shuttle-random",
            from(&[
                ("LOCKHOUND_BACKEND", "shuttle-random"),
                ("LOCKHOUND_ITERATIONS", SHUTTLE_EXECUTIONS),
                ("LOCKHOUND_TIME_LIMIT", "300"),
            ]),
        ),
    ]
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// Runs `variant` under `check` and says what is wrong with the outcome, if anything.
fn verdict(scenario: &Scenario, variant: &Variant, name: &str, check: &Check) -> Option<String> {
    let id = format!("{} ({}) under {name}", scenario.name, variant.name);
    let blind = BLIND_SPOTS.contains(&(&*scenario.name, &*variant.name, name));
    let expect = if blind { Expect::Pass } else { variant.expect };
    let outcome = catch_unwind(AssertUnwindSafe(|| check.run(variant.as_fn())));
    match (expect, outcome) {
        (Expect::Pass, Ok(())) => None,
        (Expect::Pass, Err(p)) if blind => {
            Some(format!("{id}: a bug this engine cannot see was found: {}", panic_text(p)))
        }
        (Expect::Pass, Err(p)) => Some(format!("{id}: expected to pass: {}", panic_text(p))),
        (Expect::Fail, Ok(())) => Some(format!("{id}: the known bug was not detected")),
        (Expect::Fail, Err(p)) => {
            let text = panic_text(p);
            let head = text.lines().next().unwrap_or_default();
            if !head.starts_with("lockhound found a ") {
                return Some(format!("{id}: panicked, but not with a finding: {text}"));
            }
            let kind = head.trim_start_matches("lockhound found a ").split(' ').next().unwrap_or_default();
            let Some(schedule) =
                text.lines().find_map(|l| l.trim().strip_prefix("replay: LOCKHOUND_REPLAY='"))
            else {
                return Some(format!("{id}: no LOCKHOUND_REPLAY line in: {text}"));
            };
            let schedule = schedule.split('\'').next().unwrap_or_default();
            // The printed line, pasted back: the same kind of failure, at once.
            let mut replay = check.clone();
            replay.replay = Some(schedule.parse().expect("the printed schedule parses"));
            match catch_unwind(AssertUnwindSafe(|| replay.run(variant.as_fn()))) {
                Err(p) => {
                    let again = panic_text(p);
                    let again_head = again.lines().next().unwrap_or_default();
                    (!again_head.starts_with(&format!("lockhound found a {kind} ")))
                        .then(|| format!("{id}: LOCKHOUND_REPLAY='{schedule}' gave another failure: {again}"))
                }
                Ok(()) => Some(format!("{id}: LOCKHOUND_REPLAY='{schedule}' passed")),
            }
        }
    }
}

fn run_catalog(expect: Expect) {
    let mut problems = Vec::new();
    let mut ran = 0;
    for scenario in catalog() {
        for variant in scenario.variants().iter().filter(|v| v.expect == expect) {
            for (name, check) in checks() {
                ran += 1;
                problems.extend(verdict(&scenario, variant, name, &check));
            }
        }
    }
    assert!(ran >= catalog().len() * 3, "every scenario has a variant expected to {expect:?}");
    assert!(problems.is_empty(), "{} of {ran} runs went wrong:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_buggy_variant_panics_with_a_replayable_finding() {
    run_catalog(Expect::Fail);
}

#[test]
fn every_fixed_variant_passes_loom_bounded_and_shuttle() {
    run_catalog(Expect::Pass);
}

/// Each fixed variant once on real threads (the facade's `Std` arms). Run under miri by
/// scripts/miri.sh (`cargo +nightly miri test -p lockhound-scenarios --test regression
/// on_real_threads`), where a fixed variant that still touches freed or unsynchronized memory
/// is undefined behaviour that miri reports, with no oracle needed.
#[test]
fn fixed_variants_run_once_on_real_threads() {
    let once = Check::new().backend(lockhound::Backend::Stress).iterations(1);
    for scenario in catalog() {
        for variant in scenario.variants().iter().filter(|v| v.expect == Expect::Pass) {
            let report = once.explore(variant.as_fn());
            assert_eq!(report.executions, 1, "{} ({})", scenario.name, variant.name);
            assert!(report.passed(), "{} ({}): {:?}", scenario.name, variant.name, report.finding);
        }
    }
}
