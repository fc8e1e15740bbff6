//! The CI gate: runs a catalog's variants under the configured backends and checks each
//! variant's expectation. A `fixed` variant ([`Expect::Pass`]) must pass; a `buggy` one
//! ([`Expect::Fail`]) must be detected, since a checker that stops finding a known bug has
//! regressed. Cases are (scenario, variant, backend) triples, split into shards for CI, and a
//! [`Corpus`] of recorded failing schedules is replayed before exploring.
//!
//! The catalog is passed in (the built-in one, or a user's lockhound target's) and nothing
//! here prints: [`plan`] returns the cases, [`run_case`] a [`CaseResult`]. The result types
//! live in the harness (`lockhound::gate`), where the renderers read them.

mod config;
mod corpus;
mod shard;

pub use config::{ConfigError, GateConfig, Include, ScenarioConfig, Settings};
pub use corpus::{parse_entry, Corpus, CorpusEntry, CORPUS_HEADER, CORPUS_SUFFIX};
pub use shard::Shard;

pub use lockhound::gate::{case_id, tally, CaseResult, CorpusReplay, Source};

use lockhound::explore::{self, ReplayOutcome};
use lockhound::scenario::{Expect, Scenario, Variant};
use lockhound::{Backend, Budget, Finding, LoomOptions, RunConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One unit of the gate: a variant of a scenario under one backend, with its budget.
#[derive(Clone, Debug)]
pub struct Case<'a> {
    pub scenario: &'a Scenario,
    pub variant: &'a Variant,
    pub backend: Backend,
    pub config: RunConfig,
    /// Why the case is planned but not run: its backend cannot see its variant's bug.
    pub skip: Option<String>,
}

impl Case<'_> {
    /// `scenario/variant/backend`, unique within a plan.
    pub fn id(&self) -> String {
        case_id(&self.scenario.name, &self.variant.name, self.backend)
    }
}

/// The cases `config` asks for over `catalog`, in catalog, variant and backend order, with
/// `overrides` (the command line's budget flags) taking precedence over the file. With a
/// `shard`, only that shard's share of the full list.
pub fn plan<'a>(
    catalog: &'a [Scenario],
    config: &GateConfig,
    overrides: &Settings,
    shard: Option<Shard>,
) -> Vec<Case<'a>> {
    let base = Settings::builtin().overridden_by(&config.defaults);
    let mut cases = Vec::new();
    for scenario in catalog {
        let table = config.scenarios.get(scenario.name.as_ref());
        if table.is_none() && config.include == Include::Listed {
            continue;
        }
        let table = table.cloned().unwrap_or_default();
        for variant in scenario.variants() {
            if let Some(only) = &table.variants {
                if !only.iter().any(|v| *v == variant.name) {
                    continue;
                }
            }
            let mut settings = base.overridden_by(&table.settings);
            if let Some(v) = table.variant.get(variant.name.as_ref()) {
                settings = settings.overridden_by(v);
            }
            let settings = settings.overridden_by(overrides);
            for &backend in settings.backends.as_deref().unwrap_or_default() {
                let skip = unseen(variant, backend);
                cases.push(Case { scenario, variant, backend, config: run_config(backend, &settings), skip });
            }
        }
    }
    match shard {
        Some(shard) => {
            cases.into_iter().enumerate().filter(|(i, _)| shard.owns(*i)).map(|(_, c)| c).collect()
        }
        None => cases,
    }
}

/// Why `backend` cannot find `variant`'s bug, when it cannot: a bug that needs weak memory is
/// loom's to find (and `auto`'s, which runs loom); shuttle runs every execution sequentially
/// consistent, and real threads on this hardware rarely show one.
fn unseen(variant: &Variant, backend: Backend) -> Option<String> {
    let weak_memory_engine = matches!(backend, Backend::Loom | Backend::Auto);
    (variant.expect == Expect::Fail && variant.weak_memory && !weak_memory_engine)
        .then(|| format!("its bug needs weak memory, which only loom explores, not {backend}"))
}

/// The run configuration of fully resolved settings (every field is set by the built-ins).
fn run_config(backend: Backend, s: &Settings) -> RunConfig {
    let d = RunConfig::default();
    RunConfig {
        backend,
        seed: s.seed.unwrap_or(d.seed),
        budget: Budget {
            executions: s.iterations.unwrap_or(d.budget.executions),
            time: s.time_limit.map(Duration::from_secs).unwrap_or(d.budget.time),
        },
        loom: LoomOptions {
            preemption_bound: s.preemption_bound.unwrap_or(d.loom.preemption_bound),
            ..d.loom
        },
        pct_depth: s.pct_depth.unwrap_or(d.pct_depth),
        ..d
    }
}

/// Runs one case: its corpus entries first, then exploration (unless a corpus replay already
/// showed a variant that must pass failing), then saves a new failing schedule to the corpus.
///
/// A variant that must fail is always explored, even when a corpus entry reproduces: the gate
/// checks that the checker still finds the bug by itself, not only that the bug is there.
pub fn run_case(case: &Case<'_>, corpus: Option<&Corpus>) -> CaseResult {
    let start = Instant::now();
    if let Some(why) = &case.skip {
        return CaseResult {
            scenario: case.scenario.name.to_string(),
            variant: case.variant.name.to_string(),
            backend: case.backend,
            expect: case.variant.expect,
            met: true,
            report: None,
            finding: None,
            source: Source::Explore,
            executions: 0,
            elapsed: start.elapsed(),
            exhaustive: false,
            corpus: CorpusReplay::default(),
            skipped: Some(why.clone()),
        };
    }
    let body = case.variant.body();
    let mut replay = CorpusReplay::default();
    let mut from_corpus: Option<(Finding, PathBuf)> = None;
    for entry in corpus.map(|c| c.entries_for(case)).unwrap_or_default() {
        replay.replayed += 1;
        match explore::replay(&body, &entry.schedule, &case.config) {
            ReplayOutcome::Failed(finding) => {
                replay.reproduced += 1;
                if from_corpus.is_none() {
                    from_corpus = Some((finding, entry.file.clone()));
                }
            }
            ReplayOutcome::Passed => {}
            ReplayOutcome::NotApplicable(why) => {
                replay.stale.push(format!("corpus entry {} is stale: {why}", entry.file.display()))
            }
        }
    }
    let expect = case.variant.expect;
    let (report, finding, source) = match from_corpus {
        Some((finding, file)) if expect == Expect::Pass => (None, Some(finding), Source::Corpus(file)),
        _ => {
            let report = explore::run(&body, &case.config);
            let finding = report.finding.clone();
            (Some(report), finding, Source::Explore)
        }
    };
    if let (Some(corpus), Some(f), Source::Explore) = (corpus, &finding, &source) {
        match corpus.save(case, f) {
            Ok(saved) => replay.saved = saved,
            Err(e) => replay.save_error = Some(e.to_string()),
        }
    }
    // A case its backend could not run at all (`backend = "loom"` on a body with more threads
    // than loom models, or a spin loop loom cannot bound) proved nothing and says nothing
    // about the code: it is skipped, with the engine's reason, like a weak-memory bug under
    // shuttle. A warning the configuration denies fails a pass.
    let skipped = report.as_ref().and_then(|r| r.not_run()).map(|l| format!("{}: {}", l.backend, l.reason));
    let met = skipped.is_some()
        || match expect {
            Expect::Pass => finding.is_none() && report.as_ref().is_none_or(|r| r.succeeded()),
            Expect::Fail => finding.is_some(),
        };
    CaseResult {
        scenario: case.scenario.name.to_string(),
        variant: case.variant.name.to_string(),
        backend: case.backend,
        expect,
        met,
        executions: report.as_ref().map_or(replay.replayed as u64, |r| r.executions),
        exhaustive: report.as_ref().is_some_and(|r| r.exhaustive),
        report,
        finding,
        source,
        elapsed: start.elapsed(),
        corpus: replay,
        skipped,
    }
}

/// Runs `cases` on `jobs` threads at once, handing each result to `done` in plan order as
/// soon as it and every case before it have finished, and returns them all in plan order.
/// Each case explores with its own configuration (its job count included), so a case's
/// outcome does not depend on how many run beside it.
pub fn run_cases(
    cases: &[Case<'_>],
    corpus: Option<&Corpus>,
    jobs: usize,
    mut done: impl FnMut(&CaseResult),
) -> Vec<CaseResult> {
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(usize, CaseResult)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, cases.len().max(1)) {
            let (next, sender) = (&next, sender.clone());
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                if sender.send((i, run_case(case, corpus))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        let mut finished: Vec<Option<CaseResult>> = (0..cases.len()).map(|_| None).collect();
        let mut results = Vec::with_capacity(cases.len());
        for (i, result) in receiver {
            finished[i] = Some(result);
            while let Some(result) = finished.get_mut(results.len()).and_then(Option::take) {
                done(&result);
                results.push(result);
            }
        }
        results
    })
}
