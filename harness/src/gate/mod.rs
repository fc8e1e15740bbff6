//! The CI gate: runs a catalog's variants under the configured backends and checks each
//! variant's expectation. A `fixed` variant ([`Expect::Pass`]) must pass; a `buggy` one
//! ([`Expect::Fail`]) must be detected, since a checker that stops finding a known bug has
//! regressed. Cases are (scenario, variant, backend) triples, split into shards for CI, and a
//! [`Corpus`] of recorded failing schedules is replayed before exploring.
//!
//! The catalog is passed in (the harness does not know the built-in scenarios) and nothing
//! here prints: [`plan`] returns the cases, [`run_case`] a [`CaseResult`].

mod config;
mod corpus;
mod shard;

pub use config::{ConfigError, GateConfig, Include, ScenarioConfig, Settings};
pub use corpus::{Corpus, CorpusEntry, CORPUS_HEADER, CORPUS_SUFFIX};
pub use shard::Shard;

use crate::backend::{Backend, Budget, LoomOptions, RunConfig};
use crate::explore::{self, ReplayOutcome};
use crate::finding::{Finding, RunReport};
use crate::scenario::{Expect, Scenario, Variant};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One unit of the gate: a variant of a scenario under one backend, with its budget.
#[derive(Clone, Debug)]
pub struct Case {
    pub scenario: &'static Scenario,
    pub variant: &'static Variant,
    pub backend: Backend,
    pub config: RunConfig,
}

impl Case {
    /// `scenario/variant/backend`, unique within a plan.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.scenario.name, self.variant.name, self.backend)
    }
}

/// The cases `config` asks for over `catalog`, in catalog, variant and backend order, with
/// `overrides` (the command line's budget flags) taking precedence over the file. With a
/// `shard`, only that shard's share of the full list.
pub fn plan(
    catalog: &[&'static Scenario],
    config: &GateConfig,
    overrides: &Settings,
    shard: Option<Shard>,
) -> Vec<Case> {
    let base = Settings::builtin().overridden_by(&config.defaults);
    let mut cases = Vec::new();
    for &scenario in catalog {
        let table = config.scenarios.get(scenario.name);
        if table.is_none() && config.include == Include::Listed {
            continue;
        }
        let table = table.cloned().unwrap_or_default();
        for variant in scenario.variants {
            if let Some(only) = &table.variants {
                if !only.iter().any(|v| v == variant.name) {
                    continue;
                }
            }
            let mut settings = base.overridden_by(&table.settings);
            if let Some(v) = table.variant.get(variant.name) {
                settings = settings.overridden_by(v);
            }
            let settings = settings.overridden_by(overrides);
            for &backend in settings.backends.as_deref().unwrap_or_default() {
                cases.push(Case { scenario, variant, backend, config: run_config(backend, &settings) });
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

/// Where a case's finding came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Exploration found it.
    Explore,
    /// Replaying this corpus file reproduced it, before any exploration.
    Corpus(PathBuf),
}

/// What replaying a case's corpus entries did.
#[derive(Clone, Debug, Default)]
pub struct CorpusReplay {
    /// Entries replayed.
    pub replayed: usize,
    /// Entries whose replay failed (the recorded failure is back, or still there).
    pub reproduced: usize,
    /// Entries that no longer apply, one note each; they do not fail the gate by themselves.
    pub stale: Vec<String>,
    /// The file this run's new finding was saved to.
    pub saved: Option<PathBuf>,
    /// Why the new finding could not be saved, when it could not.
    pub save_error: Option<String>,
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub scenario: &'static str,
    pub variant: &'static str,
    pub backend: Backend,
    pub expect: Expect,
    /// The expectation held.
    pub met: bool,
    /// The exploration's report; `None` when a corpus replay already decided the case.
    pub report: Option<RunReport>,
    /// The failure found, by exploration or corpus replay.
    pub finding: Option<Finding>,
    pub source: Source,
    pub executions: u64,
    pub elapsed: Duration,
    /// Some engine explored its whole space (within its bounds) and found nothing.
    pub exhaustive: bool,
    pub corpus: CorpusReplay,
}

impl CaseResult {
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.scenario, self.variant, self.backend)
    }
}

/// Runs one case: its corpus entries first, then exploration (unless a corpus replay already
/// showed a variant that must pass failing), then saves a new failing schedule to the corpus.
///
/// A variant that must fail is always explored, even when a corpus entry reproduces: the gate
/// checks that the checker still finds the bug by itself, not only that the bug is there.
pub fn run_case(case: &Case, corpus: Option<&Corpus>) -> CaseResult {
    let start = Instant::now();
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
    let met = match expect {
        Expect::Pass => finding.is_none(),
        Expect::Fail => finding.is_some(),
    };
    CaseResult {
        scenario: case.scenario.name,
        variant: case.variant.name,
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
    }
}

/// Runs `cases` on `jobs` threads at once, handing each result to `done` in plan order as
/// soon as it and every case before it have finished, and returns them all in plan order.
/// Each case explores with its own configuration (its job count included), so a case's
/// outcome does not depend on how many run beside it.
pub fn run_cases(
    cases: &[Case],
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

/// Cases whose expectation held, and cases whose expectation was missed.
pub fn tally(results: &[CaseResult]) -> (usize, usize) {
    let passed = results.iter().filter(|r| r.met).count();
    (passed, results.len() - passed)
}
