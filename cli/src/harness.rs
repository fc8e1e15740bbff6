//! A lockhound test target run without a lockhound command is a libtest-compatible test
//! harness (libtest-mimic), so `cargo test` runs the user's gate and `cargo nextest run`
//! lists, filters, partitions and reports it:
//!
//! - one test per gate case, named `scenario/variant/backend`, planned from the target's
//!   `lockhound.toml` (or the built-in defaults) exactly as `check` plans them; a case fails
//!   when its expectation is missed, with the finding, its trace and the command that replays
//!   it;
//! - under miri (`cargo +nightly miri test`), one test per variant instead, named
//!   `scenario/variant/miri`: the variant once on real threads, where miri checks every access.
//!   Variants marked [`Miri::Ub`] are listed as ignored: miri's report of undefined behaviour
//!   ends the process, so `cargo lockhound miri` runs each alone (`--ignored --exact NAME`) and
//!   checks that it is stopped for undefined behaviour. Variants marked [`Miri::Skip`] (by
//!   default those that must fail) are not listed.

use crate::commands::Catalog;
use crate::gate::{self, GateConfig, Settings};
use crate::target::Target;
use crate::{output, UsageError};
use libtest_mimic::{Arguments, Failed, Trial};
use lockhound::scenario::{Miri, Scenario};
use lockhound::{explore, Backend, Budget, RunConfig};
use std::process::ExitCode;
use std::time::Duration;

/// The name of a variant's miri test.
pub fn miri_test_name(scenario: &str, variant: &str) -> String {
    format!("{scenario}/{variant}/miri")
}

/// Runs the target as a test harness; the exit status is libtest's (101 when a test failed),
/// or 2 when its config cannot be used.
pub(crate) fn run(catalog: &Catalog, target: &Target) -> ExitCode {
    let args = Arguments::from_args();
    let trials = if target.is_miri() { miri_trials(catalog) } else { gate_trials(catalog, target) };
    match trials {
        Ok(trials) => libtest_mimic::run(&args, trials).exit_code(),
        Err(UsageError(message)) => output::usage_error(&message),
    }
}

/// One trial per case of the gate `check` would run.
fn gate_trials(catalog: &Catalog, target: &Target) -> Result<Vec<Trial>, UsageError> {
    let path = target.default_config();
    let config = if path.is_file() {
        crate::commands::check::load_config_file(&path, catalog.scenarios())?
    } else {
        GateConfig::default()
    };
    let program = target.program();
    let cases = gate::plan(catalog.scenarios(), &config, &Settings::default(), None);
    Ok(cases
        .iter()
        .map(|case| {
            let id = case.id();
            let (scenario, variant, backend, config, skip) = (
                case.scenario.clone(),
                case.variant.name.clone(),
                case.backend,
                case.config.clone(),
                case.skip.clone(),
            );
            let program = program.clone();
            let ignored = skip.is_some();
            Trial::test(id, move || {
                let variant = scenario.variant(&variant).expect("planned from this scenario");
                let case = gate::Case { scenario: &scenario, variant, backend, config, skip };
                let result = gate::run_case(&case, None);
                if result.met {
                    Ok(())
                } else {
                    Err(Failed::from(failure_text(&program, &result)))
                }
            })
            .with_kind(backend.name())
            .with_ignored_flag(ignored)
        })
        .collect())
}

/// What a failed case prints: why it missed, the finding and how to replay it, the trace.
fn failure_text(program: &str, result: &gate::CaseResult) -> String {
    let mut text = lockhound_reports::gate::case_text(program, result);
    if let Some(trace) = result.finding.as_ref().and_then(|f| f.trace.as_ref()) {
        text.push('\n');
        text.push_str(&lockhound_reports::trace::text(trace));
    }
    text
}

/// One trial per variant the miri suite runs.
fn miri_trials(catalog: &Catalog) -> Result<Vec<Trial>, UsageError> {
    let mut trials = Vec::new();
    for scenario in catalog.scenarios() {
        for variant in scenario.variants() {
            if variant.miri == Miri::Skip {
                continue;
            }
            let name = miri_test_name(&scenario.name, &variant.name);
            let (scenario, variant_name) = (scenario.clone(), variant.name.clone());
            trials.push(
                Trial::test(name, move || once_on_real_threads(&scenario, &variant_name))
                    .with_kind("miri")
                    .with_ignored_flag(variant.miri == Miri::Ub),
            );
        }
    }
    Ok(trials)
}

/// The variant once on real threads; a finding (a panic, a hang) fails the test. Undefined
/// behaviour is miri's to report: it stops the process at the faulting access.
fn once_on_real_threads(scenario: &Scenario, variant: &str) -> Result<(), Failed> {
    let variant = scenario.variant(variant).expect("listed from this scenario");
    let config = RunConfig {
        backend: Backend::Stress,
        budget: Budget { executions: 1, time: Duration::from_secs(3600) },
        // miri runs code thousands of times slower than a real run: a thread that waits is not
        // hung for a long while.
        hang_timeout: Duration::from_secs(3600),
        minimize: false,
        jobs: 1,
        ..RunConfig::default()
    };
    let report = explore::run(&variant.body(), &config);
    match report.finding {
        None => Ok(()),
        Some(f) => Err(Failed::from(format!("{} on real threads: {}", f.kind.name(), f.message))),
    }
}
