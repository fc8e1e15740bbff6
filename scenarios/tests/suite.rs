//! The bug-finding suite (`lockhound_scenarios::suite`): no engine ever flags a correct
//! version, and `auto` finds every bug that any single backend finds, on at least as many
//! seeds.
//!
//! These run with a smaller budget than the defaults (and fewer seeds) so that `cargo test`
//! stays within a couple of minutes: the full comparison, 5 seeds with the default budget, is
//! `cargo bench -p lockhound-scenarios --bench suite` (docs/performance.md).

use lockhound::{explore, Backend, Body, Budget, RunConfig, RunReport};
use lockhound_scenarios::suite::{self, Expected};
use std::sync::Arc;
use std::time::Duration;

/// Every backend, and `auto` with two jobs.
const CONTENDERS: [(Backend, usize); 8] = [
    (Backend::Auto, 1),
    (Backend::Auto, 2),
    (Backend::Loom, 1),
    (Backend::ShuttleRandom, 1),
    (Backend::ShuttlePct, 1),
    (Backend::ShuttleUrw, 1),
    (Backend::ShuttleDfs, 1),
    (Backend::Stress, 1),
];

fn run(body: fn(), backend: Backend, jobs: usize, seed: u64, executions: u64) -> RunReport {
    let config = RunConfig {
        backend,
        seed,
        jobs,
        budget: Budget { executions, time: Duration::from_secs(60) },
        minimize: false,
        ..RunConfig::default()
    };
    let body: Body = Arc::new(body);
    explore::run(&body, &config)
}

#[test]
fn every_version_is_listed_with_what_it_is() {
    let mut names = std::collections::BTreeSet::new();
    for (program, version) in suite::versions() {
        assert!(names.insert(format!("{}/{}", program.name, version.name)), "{} twice", version.name);
        assert!(!version.description.is_empty() && !program.description.is_empty());
        let expected = if version.name.starts_with("correct") { Expected::Pass } else { Expected::Fail };
        assert_eq!(
            version.expected, expected,
            "{}/{}: the name says which it is",
            program.name, version.name
        );
    }
    for program in suite::suite() {
        let has = |e: Expected| program.versions.iter().any(|v| v.expected == e);
        assert!(
            has(Expected::Pass) && has(Expected::Fail),
            "{}: a correct and a buggy version",
            program.name
        );
    }
}

#[test]
fn no_engine_ever_flags_a_correct_version() {
    for (program, version) in suite::versions().filter(|(_, v)| v.expected == Expected::Pass) {
        for (backend, jobs) in CONTENDERS {
            // Real threads run whole iterations; a few hundred are plenty to see a false
            // failure, and the model checkers share the budget across their schedules.
            let executions = if backend == Backend::Stress { 100 } else { 300 };
            let report = run(version.body, backend, jobs, 0, executions);
            let id = format!("{}/{} under {backend} ({jobs} jobs)", program.name, version.name);
            assert!(report.passed(), "{id}: {:?}", report.finding.map(|f| (f.kind, f.message)));
            assert!(report.warnings.is_empty(), "{id}: {:?}", report.warnings);
        }
    }
}

/// Seeds that found the bug, out of `SEEDS`.
const SEEDS: u64 = 3;
/// The budget of each run: smaller than the default 10,000 (see the module's documentation).
const EXECUTIONS: u64 = 4_000;

#[test]
fn auto_finds_every_bug_any_single_backend_finds_on_at_least_as_many_seeds() {
    let mut table = Vec::new();
    for (program, version) in suite::versions().filter(|(_, v)| v.expected == Expected::Fail) {
        let found_on = |backend: Backend| -> u64 {
            (0..SEEDS)
                .filter(|&seed| run(version.body, backend, 1, seed, EXECUTIONS).finding.is_some())
                .count() as u64
        };
        let auto = found_on(Backend::Auto);
        let singles = [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleUrw];
        let (best, seeds) =
            singles.into_iter().map(|b| (b, found_on(b))).max_by_key(|(_, seeds)| *seeds).expect("backends");
        table.push(format!(
            "{}/{}: auto {auto}/{SEEDS}, best single {best} {seeds}/{SEEDS}",
            program.name, version.name
        ));
        assert!(auto >= seeds, "{}/{}: auto {auto} seeds, {best} {seeds}", program.name, version.name);
        assert!(auto > 0, "{}/{}: the bug is found", program.name, version.name);
    }
    println!("{}", table.join("\n"));
}
