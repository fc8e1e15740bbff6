//! `loom::model`: a model checked by lockhound, with loom's `Builder` and its environment.

use lockhound::{Backend, Budget, LoomOptions, RunConfig};
pub use lockhound_compat::Verdict;
use lockhound_compat::{Entry, UNBOUNDED_EXECUTIONS, UNBOUNDED_TIME};
use std::path::PathBuf;
use std::time::Duration;

/// loom's default for [`Builder::max_threads`] (and its most).
const DEFAULT_MAX_THREADS: usize = 5;
/// loom's default for [`Builder::max_branches`].
const DEFAULT_MAX_BRANCHES: usize = 1_000;
/// loom's default for [`Builder::checkpoint_interval`].
const DEFAULT_CHECKPOINT_INTERVAL: usize = 20_000;

/// Why a loom model never runs on real threads.
const NO_REAL_THREADS: &str = "loom's thread::spawn takes closures that are not Send, which only a \
                               model checker can run; use LOCKHOUND_BACKEND=loom, auto or a shuttle strategy";

/// Checks `f` under lockhound as [`Builder::new`]`().check(f)` does.
#[track_caller]
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    Builder::new().check(f)
}

/// loom's model configuration, each field mapped to lockhound's budget or loom engine (see
/// [`Builder::check`]). [`Builder::new`] reads loom's own environment variables, as loom does.
#[derive(Debug)]
#[non_exhaustive]
pub struct Builder {
    /// Ignored: lockhound's loom engine allows loom's most, 5 (`loom::MAX_THREADS`), and a
    /// model with more threads than that is not applicable to loom in any case.
    pub max_threads: usize,
    /// Branch points one execution may take before it is a step-limit finding: lockhound's
    /// `LoomOptions::max_branches`. `LOOM_MAX_BRANCHES`; 1,000 by default.
    pub max_branches: usize,
    /// The most executions to explore: lockhound's execution budget (none by default, like
    /// loom's). `LOOM_MAX_PERMUTATIONS`.
    pub max_permutations: Option<usize>,
    /// The most time to spend: lockhound's time budget (none by default). `LOOM_MAX_DURATION`
    /// (seconds).
    pub max_duration: Option<Duration>,
    /// Preemptions per execution: lockhound's loom preemption bound (none by default: every
    /// interleaving). lockhound bounds iteratively (0, 1, 2, ... up to it), so the first
    /// failure found has the fewest preemptions. `LOOM_MAX_PREEMPTIONS`.
    pub preemption_bound: Option<usize>,
    /// Ignored: lockhound uses loom's checkpoint itself, to capture the failing execution's
    /// path for its replay line; `LOCKHOUND_REPLAY` replays it.
    pub checkpoint_file: Option<PathBuf>,
    /// Ignored, with `checkpoint_file`.
    pub checkpoint_interval: usize,
    /// Ignored: lockhound explores from the start of each execution, so [`crate::explore`]
    /// has nothing to start; the schedules explored are a superset of loom's.
    pub expect_explicit_explore: bool,
    /// Ignored: lockhound records every operation's location in the trace of a failure.
    pub location: bool,
    /// Ignored: lockhound prints its trace of the failing execution instead of loom's log.
    pub log: bool,
}

impl Builder {
    /// loom's defaults, overridden by loom's variables (`LOOM_MAX_BRANCHES`,
    /// `LOOM_MAX_PERMUTATIONS`, `LOOM_MAX_DURATION`, `LOOM_MAX_PREEMPTIONS`,
    /// `LOOM_CHECKPOINT_FILE`, `LOOM_CHECKPOINT_INTERVAL`, `LOOM_LOCATION`, `LOOM_LOG`). Panics,
    /// naming the variable, on a value it cannot read, as loom does.
    pub fn new() -> Builder {
        match Builder::from_vars(&|key| std::env::var(key).ok()) {
            Ok(builder) => builder,
            Err(e) => panic!("lockhound-loom: {e}"),
        }
    }

    /// [`Builder::new`] over any source of variables, reporting instead of panicking.
    fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Builder, String> {
        fn parse<T: std::str::FromStr>(
            var: &dyn Fn(&str) -> Option<String>,
            key: &str,
        ) -> Result<Option<T>, String> {
            var(key)
                .map(|v| v.trim().parse().map_err(|_| format!("invalid value for `{key}`: '{v}'")))
                .transpose()
        }
        Ok(Builder {
            max_threads: DEFAULT_MAX_THREADS,
            max_branches: parse(var, "LOOM_MAX_BRANCHES")?.unwrap_or(DEFAULT_MAX_BRANCHES),
            max_permutations: parse(var, "LOOM_MAX_PERMUTATIONS")?,
            max_duration: parse::<u64>(var, "LOOM_MAX_DURATION")?.map(Duration::from_secs),
            preemption_bound: parse(var, "LOOM_MAX_PREEMPTIONS")?,
            checkpoint_file: var("LOOM_CHECKPOINT_FILE").map(PathBuf::from),
            checkpoint_interval: parse(var, "LOOM_CHECKPOINT_INTERVAL")?
                .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL),
            expect_explicit_explore: false,
            location: var("LOOM_LOCATION").is_some(),
            log: var("LOOM_LOG").is_some(),
        })
    }

    /// Sets the checkpoint file (ignored, as [`Builder::checkpoint_file`] is).
    pub fn checkpoint_file(&mut self, file: &str) -> &mut Self {
        self.checkpoint_file = Some(file.into());
        self
    }

    /// What this configuration runs as: lockhound's loom engine with the mapped budget and
    /// bounds, never real threads. The `LOCKHOUND_*` variables that are set still win when it
    /// runs (`LOCKHOUND_BACKEND=auto` adds lockhound's shuttle strategies, say).
    fn entry(&self) -> Entry {
        let config = RunConfig {
            backend: Backend::Loom,
            budget: Budget {
                executions: self.max_permutations.map_or(UNBOUNDED_EXECUTIONS, |n| n as u64),
                time: self.max_duration.unwrap_or(UNBOUNDED_TIME),
            },
            loom: LoomOptions { preemption_bound: self.preemption_bound, max_branches: self.max_branches },
            ..RunConfig::default()
        };
        Entry::new("lockhound-loom", "loom::model", config).without_real_threads(NO_REAL_THREADS)
    }

    /// Checks the model: explores `f` (or replays `LOCKHOUND_REPLAY`) and panics with
    /// lockhound's report, trace and replay line if an execution fails.
    #[track_caller]
    pub fn check<F>(&self, f: F)
    where
        F: Fn() + Sync + Send + 'static,
    {
        self.verdict(f, &|key| std::env::var(key).ok()).settle()
    }

    /// [`Builder::check`] without the panic, reading the `LOCKHOUND_*` variables from `var`
    /// instead of the environment (not loom's API: lockhound's, for tools and tests).
    pub fn verdict<F>(&self, f: F, var: &dyn Fn(&str) -> Option<String>) -> Verdict
    where
        F: Fn() + Sync + Send + 'static,
    {
        let body = move || {
            crate::exploration::begin_execution();
            crate::thread::begin_execution();
            f()
        };
        self.entry().verdict(body, var)
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Builder, String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Builder::from_vars(&move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_loom_s_and_map_to_an_unbounded_loom_search() {
        let b = from(&[]).unwrap();
        assert_eq!((b.max_threads, b.max_branches, b.checkpoint_interval), (5, 1_000, 20_000));
        assert_eq!((b.max_permutations, b.max_duration, b.preemption_bound), (None, None, None));
        let entry = b.entry();
        let config = entry.config();
        assert_eq!(config.backend, Backend::Loom);
        assert_eq!(config.budget, Budget { executions: UNBOUNDED_EXECUTIONS, time: UNBOUNDED_TIME });
        assert_eq!(config.loom, LoomOptions { preemption_bound: None, max_branches: 1_000 });
    }

    #[test]
    fn loom_s_variables_and_fields_map_to_the_budget_and_bounds() {
        let mut b = from(&[
            ("LOOM_MAX_BRANCHES", "50"),
            ("LOOM_MAX_PERMUTATIONS", "7"),
            ("LOOM_MAX_DURATION", "3"),
            ("LOOM_MAX_PREEMPTIONS", "2"),
        ])
        .unwrap();
        let config = b.entry().config().clone();
        assert_eq!(config.budget, Budget { executions: 7, time: Duration::from_secs(3) });
        assert_eq!(config.loom, LoomOptions { preemption_bound: Some(2), max_branches: 50 });
        b.preemption_bound = Some(1);
        b.max_permutations = None;
        let config = b.entry().config().clone();
        assert_eq!((config.loom.preemption_bound, config.budget.executions), (Some(1), UNBOUNDED_EXECUTIONS));
    }

    #[test]
    fn an_unreadable_variable_is_named() {
        let err = from(&[("LOOM_MAX_PREEMPTIONS", "two")]).unwrap_err();
        assert!(err.contains("LOOM_MAX_PREEMPTIONS"), "{err}");
    }
}
