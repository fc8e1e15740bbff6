//! The bug-finding suite (`lockhound_scenarios::suite`): no engine ever flags a correct
//! version, and `auto` finds every bug that any single backend finds, on at least as many
//! seeds.
//!
//! One test per version (`harness = false`, the versions listed at run time), so that libtest
//! runs them side by side: `cargo test -p lockhound-scenarios --test suite -- philosophers`
//! runs one program's.
//!
//! These run with a smaller budget than the defaults (and fewer seeds) so that `cargo test`
//! stays within a couple of minutes: the full comparison, 5 seeds with the default budget, is
//! `cargo bench -p lockhound-benches --bench suite` (docs/performance.md).

use libtest_mimic::{Arguments, Failed, Trial};
use lockhound::{explore, Backend, Body, Budget, RunConfig, RunReport};
use lockhound_scenarios::suite::{self, Expected, Program, Version};
use std::sync::Arc;
use std::time::Duration;

fn main() {
    let mut trials =
        vec![Trial::test("every_version_is_listed_with_what_it_is", every_version_is_listed_with_what_it_is)];
    for (program, version) in suite::versions() {
        let id = format!("{}/{}", program.name, version.name);
        trials.push(match version.expected {
            Expected::Pass => {
                Trial::test(format!("no_engine_ever_flags_a_correct_version/{id}"), move || {
                    no_engine_flags(program, version)
                })
            }
            Expected::Fail => Trial::test(
                format!("auto_finds_the_bug_any_single_backend_finds_on_at_least_as_many_seeds/{id}"),
                move || auto_finds_what_any_single_backend_finds(program, version),
            ),
        });
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit()
}

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

/// Turns a failed check into the trial's failure message.
fn check(holds: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if holds {
        Ok(())
    } else {
        Err(message().into())
    }
}

fn every_version_is_listed_with_what_it_is() -> Result<(), Failed> {
    let mut names = std::collections::BTreeSet::new();
    for (program, version) in suite::versions() {
        check(names.insert(format!("{}/{}", program.name, version.name)), || {
            format!("{} twice", version.name)
        })?;
        check(!version.description.is_empty() && !program.description.is_empty(), || {
            format!("{}/{}: no description", program.name, version.name)
        })?;
        let expected = if version.name.starts_with("correct") { Expected::Pass } else { Expected::Fail };
        check(version.expected == expected, || {
            format!(
                "{}/{}: the name says which it is, expected {:?}",
                program.name, version.name, version.expected
            )
        })?;
    }
    for program in suite::suite() {
        let has = |e: Expected| program.versions.iter().any(|v| v.expected == e);
        check(has(Expected::Pass) && has(Expected::Fail), || {
            format!("{}: a correct and a buggy version", program.name)
        })?;
    }
    Ok(())
}

fn no_engine_flags(program: &Program, version: &Version) -> Result<(), Failed> {
    for (backend, jobs) in CONTENDERS {
        // Real threads run whole iterations; a few hundred are plenty to see a false
        // failure, and the model checkers share the budget across their schedules.
        let executions = if backend == Backend::Stress { 100 } else { 300 };
        let report = run(version.body, backend, jobs, 0, executions);
        let id = format!("{}/{} under {backend} ({jobs} jobs)", program.name, version.name);
        check(report.passed(), || {
            format!("{id}: {:?}", report.finding.as_ref().map(|f| (&f.kind, &f.message)))
        })?;
        check(report.warnings.is_empty(), || format!("{id}: {:?}", report.warnings))?;
    }
    Ok(())
}

/// Seeds that found the bug, out of `SEEDS`.
const SEEDS: u64 = 3;
/// The budget of each run: smaller than the default 10,000 (see the module's documentation).
const EXECUTIONS: u64 = 4_000;

fn auto_finds_what_any_single_backend_finds(program: &Program, version: &Version) -> Result<(), Failed> {
    let found_on = |backend: Backend| -> u64 {
        (0..SEEDS).filter(|&seed| run(version.body, backend, 1, seed, EXECUTIONS).finding.is_some()).count()
            as u64
    };
    let auto = found_on(Backend::Auto);
    let singles = [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleUrw];
    let (best, seeds) =
        singles.into_iter().map(|b| (b, found_on(b))).max_by_key(|(_, seeds)| *seeds).expect("backends");
    let id = format!("{}/{}", program.name, version.name);
    check(auto >= seeds, || {
        format!("{id}: auto found it on {auto}/{SEEDS} seeds, {best} on {seeds}/{SEEDS}")
    })?;
    check(auto > 0, || format!("{id}: no seed found the bug"))
}
