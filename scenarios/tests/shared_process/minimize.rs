//! Minimization shrinks a failing schedule and never trades the failure for another one.

use lockhound::{explore, Backend, Check, ReplayOutcome};
use lockhound_scenarios::catalog;

#[test]
fn minimized_schedules_fail_for_the_same_reason_and_are_no_larger() {
    for scenario in catalog() {
        let Some(buggy) = scenario.variant("buggy") else { continue };
        for backend in [Backend::ShuttlePct, Backend::ShuttleRandom] {
            for seed in 0..4 {
                let mut raw = Check::new().backend(backend).seed(seed);
                raw.config.minimize = false;
                let Some(original) = raw.explore(buggy.as_fn()).finding else {
                    panic!("{} {backend} seed {seed}: not found", scenario.name)
                };
                let minimized =
                    Check::new().backend(backend).seed(seed).explore(buggy.as_fn()).finding.unwrap();
                let shrink = minimized.shrink.expect("shuttle findings are minimized");
                assert_eq!(shrink.steps_before, original.steps.unwrap());
                assert_eq!(shrink.preemptions_before, original.preemptions.unwrap());
                assert!(minimized.preemptions.unwrap() <= original.preemptions.unwrap());
                // Steps may grow when a removed switch lets the default policy run longer: fewer
                // preemptions come first, as they are what a reader must follow.

                // Replaying the minimized schedule gives the original failure: same kind, same place.
                let schedule = minimized.schedule.clone().unwrap();
                match explore::replay(&buggy.body(), &schedule, &raw.config) {
                    ReplayOutcome::Failed(again) => {
                        assert_eq!(again.kind, original.kind, "{} {schedule}", scenario.name);
                        assert_eq!(again.location, original.location, "{} {schedule}", scenario.name);
                    }
                    other => panic!("{} {schedule}: {other:?}", scenario.name),
                }
            }
        }
    }
}

/// Minimized shuttle schedules count preemptions as loom does: no more than the bound of the
/// round of loom's iterative bounding that first fails (the fewest any failing schedule has).
/// A switch made where the running thread blocks anyway (a join) is not a preemption, and
/// minimization moves a preemption there when the failure allows it.
#[test]
fn minimized_schedules_need_no_more_preemptions_than_loom_finds_necessary() {
    for scenario in catalog() {
        let Some(buggy) = scenario.variant("buggy") else { continue };
        let Some(loom) = Check::new().backend(Backend::Loom).explore(buggy.as_fn()).finding else { continue };
        let fewest = loom.preemptions.expect("loom states the bound that found it");
        for seed in 0..4 {
            let report = Check::new().backend(Backend::ShuttlePct).seed(seed).explore(buggy.as_fn());
            let finding = report.finding.expect("found");
            if finding.kind != loom.kind {
                continue; // a data race for loom is another failure for shuttle
            }
            assert!(
                finding.preemptions.unwrap() <= fewest,
                "{} seed {seed}: {} preemptions in {}, loom needed {fewest}",
                scenario.name,
                finding.preemptions.unwrap(),
                finding.schedule.unwrap()
            );
        }
    }
}
