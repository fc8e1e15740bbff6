//! What one case of a CI gate found: the result types the gate's renderers read. The gate's
//! policy (its config file, corpus, shards and plan) lives in the command-line library,
//! `lockhound-cli`, so that a crate using only [`crate::check`] does not build it.

use crate::backend::Backend;
use crate::finding::{Finding, RunReport};
use crate::scenario::Expect;
use std::path::PathBuf;
use std::time::Duration;

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

/// The result of one case: a variant of a scenario under one backend.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub scenario: String,
    pub variant: String,
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
    /// Why the case was not run (its backend cannot see its variant's bug); such a case
    /// counts as met and shows as skipped.
    pub skipped: Option<String>,
}

impl CaseResult {
    /// `scenario/variant/backend`, unique within a gate.
    pub fn id(&self) -> String {
        case_id(&self.scenario, &self.variant, self.backend)
    }
}

/// The name of a gate case, `scenario/variant/backend`: the id of its JUnit test case and of
/// its libtest trial.
pub fn case_id(scenario: &str, variant: &str, backend: Backend) -> String {
    format!("{scenario}/{variant}/{backend}")
}

/// Cases whose expectation held, and cases whose expectation was missed. A skipped case
/// counts as held (its backend cannot check it, which says nothing about the code).
pub fn tally(results: &[CaseResult]) -> (usize, usize) {
    let passed = results.iter().filter(|r| r.met).count();
    (passed, results.len() - passed)
}

/// Cases skipped because their backend cannot check them (counted among the held ones).
pub fn skipped(results: &[CaseResult]) -> usize {
    results.iter().filter(|r| r.skipped.is_some()).count()
}
