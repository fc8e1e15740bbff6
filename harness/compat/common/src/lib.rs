//! What lockhound's drop-in entries for loom and shuttle users share (`lockhound-loom`,
//! `lockhound-shuttle`). An entry point of theirs (`loom::model`, `shuttle::check_pct`) maps
//! its arguments to a lockhound [`RunConfig`]; [`Entry::run`] then explores the body with it,
//! or replays `LOCKHOUND_REPLAY`, and on a failure panics with lockhound's report instead of
//! the engine's raw output: the finding, its trace, and a replay line naming the test.
//!
//! Users do not depend on this crate; the two compat crates do.

mod environment;
mod test_name;

use lockhound::explore::{self, Body, ReplayOutcome};
use lockhound::{Backend, RunConfig, Schedule};
use lockhound_reports::run::{self as render, ReplayView, RunView};
use std::sync::Arc;
use std::time::Duration;
use test_name::TestName;

/// An execution budget for entries that have none (loom's `model`, shuttle's `check_dfs(f,
/// None)`): their searches end when every schedule within their bounds has run.
pub const UNBOUNDED_EXECUTIONS: u64 = u64::MAX;

/// A time budget for entries that have none: a century, so that nothing times out that loom
/// or shuttle would have run to its end (and deadlines computed from it cannot overflow).
pub const UNBOUNDED_TIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A test entry point of loom's or shuttle's, as lockhound runs it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The crate that offers the entry (`lockhound-loom`), to say who refused what.
    origin: &'static str,
    /// The entry point as the test calls it (`loom::model`): the report's heading names it.
    name: &'static str,
    config: RunConfig,
    /// Why this entry cannot run on real threads, if it cannot.
    no_real_threads: Option<&'static str>,
    /// The search runs to its end in the original engine, and here within a default budget
    /// (see [`Entry::within_default_budget`]).
    default_budget: bool,
}

/// What running an entry came to, without panicking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing failed (or the replayed schedule ran to its end).
    Passed,
    /// Nothing failed within the entry's default budget, which ended before the search did:
    /// a weaker pass than the original's exhaustive one, said in the note (one line).
    PassedWithinBudget(String),
    /// A finding, as the report text the test panics with.
    Failed(String),
    /// The run could not be made as asked (a bad `LOCKHOUND_*` value, a backend the entry
    /// refuses, a replay that does not fit): why, in words. Also a failed test.
    Refused(String),
}

impl Entry {
    /// An entry of crate `origin` called `name`, whose arguments mapped to `config`.
    pub fn new(origin: &'static str, name: &'static str, config: RunConfig) -> Entry {
        Entry { origin, name, config, no_real_threads: None, default_budget: false }
    }

    /// Marks the configuration's budget as a default in place of the original engine's
    /// "until every schedule has run" (shuttle's `check_dfs(f, None)`), which may take longer
    /// than any test can wait. When the budget ends first without a finding, the test passes
    /// and says so: an engine's limit is never a finding, and never silent either.
    pub fn within_default_budget(mut self) -> Entry {
        self.default_budget = true;
        self
    }

    /// Refuses the stress backend (real threads), saying `why` when asked for it.
    pub fn without_real_threads(mut self, why: &'static str) -> Entry {
        self.no_real_threads = Some(why);
        self
    }

    /// The configuration the test's arguments mapped to, before the environment.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Runs `body` as [`Entry::verdict`] does with the process environment, and panics with
    /// the report (or the refusal) unless it passed.
    #[track_caller]
    pub fn run<F: Fn() + Send + Sync + 'static>(self, body: F) {
        self.verdict(body, &|key| std::env::var(key).ok()).settle()
    }

    /// Explores `body` with the entry's configuration and the `LOCKHOUND_*` variables that
    /// `var` has set laid over it (they win), or replays `LOCKHOUND_REPLAY`'s schedule.
    pub fn verdict<F: Fn() + Send + Sync + 'static>(
        &self,
        body: F,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Verdict {
        let (config, replay) = match environment::overlay(self.config.clone(), var) {
            Ok((config, replay)) => (bounded_if_sampling(config), replay),
            Err(e) => return Verdict::Refused(format!("{}: {e}", self.origin)),
        };
        if config.backend == Backend::Stress {
            if let Some(why) = self.no_real_threads {
                return Verdict::Refused(format!(
                    "{}: {} cannot run on real threads (LOCKHOUND_BACKEND=stress): {why}",
                    self.origin, self.name
                ));
            }
        }
        let body: Body = Arc::new(body);
        let test = TestName::current();
        match replay {
            Some(schedule) => self.replay(&body, &schedule, &config, test.as_ref()),
            None => self.explore(&body, &config, test.as_ref()),
        }
    }

    fn explore(&self, body: &Body, config: &RunConfig, test: Option<&TestName>) -> Verdict {
        let report = explore::run(body, config);
        // No engine could explore the body (loom's branch limit, more threads than loom
        // models): the test did not pass, and nothing was found in the user's code either.
        if let Some(limited) = report.not_run() {
            return Verdict::Refused(format!(
                "{}: {} could not check {} ({}): {}",
                self.origin,
                limited.backend,
                heading(test),
                self.name,
                limited.reason
            ));
        }
        let Some(finding) = &report.finding else {
            if self.default_budget && !report.exhaustive {
                // `lockhound:`, not the crate's name, which starts its refusals: this is a pass.
                return Verdict::PassedWithinBudget(format!(
                    "lockhound: {} ({}) explored {} schedules in {:.1} s without finding a bug; the search \
                     was not exhaustive (its default budget ended first; LOCKHOUND_TIME_LIMIT and \
                     LOCKHOUND_ITERATIONS set another)",
                    heading(test),
                    self.name,
                    report.executions,
                    report.search_elapsed.as_secs_f64()
                ));
            }
            return Verdict::Passed;
        };
        let replay_command = match &finding.schedule {
            Some(schedule) => test_name::replay_command(&schedule.to_string(), test),
            None if finding.no_schedule() == Some(lockhound::NoSchedule::Hung) => {
                "none (the stuck execution never ended, so it left no schedule to replay)".to_string()
            }
            None => "none (found on real threads); run again with LOCKHOUND_BACKEND=auto for a replayable \
                     schedule"
                .to_string(),
        };
        let view = RunView {
            scenario: heading(test),
            variant: self.name,
            report: &report,
            replay_command: Some(replay_command),
            out_dir: None,
        };
        Verdict::Failed(render::text(&view))
    }

    fn replay(
        &self,
        body: &Body,
        schedule: &Schedule,
        config: &RunConfig,
        test: Option<&TestName>,
    ) -> Verdict {
        let (outcome, trace) = explore::replay_traced(body, schedule, config);
        match outcome {
            ReplayOutcome::Passed => Verdict::Passed,
            ReplayOutcome::NotApplicable(why) => Verdict::Refused(format!(
                "{}: LOCKHOUND_REPLAY does not replay in {}: {why}",
                self.origin, self.name
            )),
            ReplayOutcome::Failed(finding) => {
                let view = ReplayView {
                    scenario: heading(test),
                    variant: self.name,
                    schedule,
                    finding: Some(&finding),
                    trace: Some(&trace),
                };
                Verdict::Failed(render::replay_text(&view))
            }
        }
    }
}

impl Verdict {
    /// What a test does with the verdict: returns on a pass (saying on stderr, in one line,
    /// that a budget ended the search, if one did), panics with the report or the refusal
    /// otherwise.
    #[track_caller]
    pub fn settle(self) {
        match self {
            Verdict::Passed => {}
            // Through `eprintln!`, which the test harness captures as it captures any passing
            // test's output (`--nocapture` and `--show-output` show it): written straight to
            // stderr, it would land inside libtest's `test NAME ... ok` line, which tools read.
            Verdict::PassedWithinBudget(note) => eprintln!("{note}"),
            Verdict::Failed(report) | Verdict::Refused(report) => panic!("{report}"),
        }
    }
}

/// `config`, with lockhound's default execution budget in place of an unbounded one when its
/// backend samples schedules. An unbounded budget is for searches that end by themselves
/// (loom's, shuttle's depth-first); random, PCT, the stress engine and `auto`'s shuttle
/// members would never stop. (A loom model run with `LOCKHOUND_BACKEND=shuttle-pct`, say.)
fn bounded_if_sampling(mut config: RunConfig) -> RunConfig {
    let ends_by_itself = matches!(config.backend, Backend::Loom | Backend::ShuttleDfs);
    if !ends_by_itself && config.budget.executions == UNBOUNDED_EXECUTIONS {
        config.budget.executions = RunConfig::default().budget.executions;
    }
    config
}

/// What the report's first line calls the test.
fn heading(test: Option<&TestName>) -> &str {
    test.map_or("this test", |t| t.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn increments() {
        let n = lockhound::sync::Arc::new(lockhound::sync::Mutex::new(0));
        let n2 = n.clone();
        let t = lockhound::thread::spawn(move || *n2.lock().unwrap() += 1);
        *n.lock().unwrap() += 1;
        t.join().unwrap();
        assert_eq!(*n.lock().unwrap(), 2);
    }

    fn stress() -> RunConfig {
        RunConfig { backend: Backend::Stress, ..RunConfig::default() }
    }

    const FEW: &dyn Fn(&str) -> Option<String> = &|k| (k == "LOCKHOUND_ITERATIONS").then(|| "20".to_string());

    #[test]
    fn an_entry_runs_on_real_threads_unless_it_refuses_them() {
        assert_eq!(Entry::new("origin", "x::check", stress()).verdict(increments, FEW), Verdict::Passed);
        let refusing = Entry::new("origin", "x::check", stress()).without_real_threads("a reason");
        assert_eq!(
            refusing.verdict(increments, FEW),
            Verdict::Refused(
                "origin: x::check cannot run on real threads (LOCKHOUND_BACKEND=stress): a reason"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_finding_on_real_threads_says_how_to_get_a_replayable_one() {
        let body = || panic!("always");
        let Verdict::Failed(text) = Entry::new("origin", "x::check", stress()).verdict(body, FEW) else {
            panic!("the body always fails");
        };
        assert!(text.contains("FAIL — panic found by stress"), "{text}");
        assert!(
            text.contains("replay: none (found on real threads); run again with LOCKHOUND_BACKEND=auto"),
            "{text}"
        );
    }

    #[test]
    fn a_sampling_backend_never_runs_unbounded() {
        let unbounded = |backend| {
            let mut config = RunConfig { backend, ..RunConfig::default() };
            config.budget.executions = UNBOUNDED_EXECUTIONS;
            bounded_if_sampling(config).budget.executions
        };
        let default = RunConfig::default().budget.executions;
        for backend in [Backend::ShuttleRandom, Backend::ShuttlePct, Backend::Stress, Backend::Auto] {
            assert_eq!(unbounded(backend), default, "{backend}");
        }
        for backend in [Backend::Loom, Backend::ShuttleDfs] {
            assert_eq!(unbounded(backend), UNBOUNDED_EXECUTIONS, "{backend}");
        }
        let mut asked = RunConfig { backend: Backend::ShuttleRandom, ..RunConfig::default() };
        asked.budget.executions = 5;
        assert_eq!(bounded_if_sampling(asked).budget.executions, 5);
    }

    #[test]
    fn a_replay_of_what_is_not_a_lockhound_schedule_is_refused() {
        let body = || ();
        let loom = RunConfig { backend: Backend::Loom, ..RunConfig::default() };
        let var = |k: &str| (k == "LOCKHOUND_REPLAY").then(|| "lh1:loom:not-a-path".to_string());
        let verdict = Entry::new("origin", "x::check", loom).verdict(body, &var);
        assert!(
            matches!(&verdict, Verdict::Refused(why) if why.starts_with("origin: LOCKHOUND_REPLAY: loom schedule")),
            "{verdict:?}"
        );
    }
}
