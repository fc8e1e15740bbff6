//! What a run can find, and the report a run returns.

use crate::backend::Backend;
use crate::schedule::Schedule;
use crate::trace::Trace;
use serde::Serialize;
use std::time::Duration;

/// The kind of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A panic or failed assertion in the body.
    Panic,
    /// Every thread blocked (model checkers), or no progress on real threads.
    Deadlock,
    /// Two accesses to a facade `UnsafeCell`, one of them a write, that no synchronization
    /// orders (loom's check, or lockhound's under shuttle: `cell::history`).
    DataRace,
    /// loom saw an object (an `Arc`, say) still alive at the end of an execution.
    Leak,
    /// Threads ran on without the execution ever ending, under a fair schedule too: an
    /// execution reached the step limit, and continued with every runnable thread taking turns
    /// it still did not end (see `explore::livelock`). A step limit that a fair schedule gets
    /// past is the scheduler's unfairness, not the body's bug, and is no finding.
    Livelock,
    /// A task of a [`crate::executor::Executor`] was ready but not polled for longer than
    /// the executor's bound, counted in work units: another task's poll ran too long.
    Starvation,
    /// An execution reached no scheduling point (no facade call) for the watchdog's window,
    /// the run's time budget: a thread in a loop that never yields, or in a long computation.
    /// A model checker switches threads only at scheduling points, so the run ended there, its
    /// thread abandoned (see `explore::watchdog`).
    Hang,
}

impl FindingKind {
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Panic => "panic",
            FindingKind::Deadlock => "deadlock",
            FindingKind::DataRace => "data-race",
            FindingKind::Leak => "leak",
            FindingKind::Livelock => "livelock",
            FindingKind::Starvation => "starvation",
            FindingKind::Hang => "hang",
        }
    }

    /// Classifies a panic raised inside a model checker (a finding the harness raised itself
    /// carries its kind in its panic record instead) by where loom raised it: each of its
    /// verdicts is raised in a file of its own. Only where no location tells (a shuttle
    /// failure, which shuttle raises from one place whatever it was; a payload without a
    /// recorded site) by what the checker says, [`of_engine_message`](Self::of_engine_message).
    pub(crate) fn of_engine_panic(location: Option<&str>, message: &str) -> FindingKind {
        use crate::explore::site::{engine_file, EngineCrate::Loom};
        match location.and_then(engine_file) {
            // `PanicBuilder::fire`, the only panic there, reports a causality violation.
            Some((Loom, "rt/location.rs")) => FindingKind::DataRace,
            // The only panic there: every thread is blocked.
            Some((Loom, "rt/execution.rs")) => FindingKind::Deadlock,
            // The leak checks at the end of an execution share their files with assertions of
            // misuse ("Arc is already released", "pointer not tracked"); they alone open with
            // "<what> leaked.".
            Some((Loom, "rt/arc.rs" | "rt/alloc.rs" | "rt/mpsc.rs")) => {
                let (first, _) = message.split_once('\n').unwrap_or((message, ""));
                if first.ends_with(" leaked.") {
                    FindingKind::Leak
                } else {
                    FindingKind::Panic
                }
            }
            Some((Loom, _)) => FindingKind::Panic,
            _ => Self::of_engine_message(message),
        }
    }

    /// The fallback of [`of_engine_panic`](Self::of_engine_panic), where no location tells.
    /// Classifies a panic raised inside a model checker by what the checker says in it. (A
    /// finding the harness raised itself carries its kind in its panic record instead.) Only
    /// for panics raised in the checker's own code: a panic of the body is a `Panic` whatever
    /// its words, and an engine's limits are never findings (they are typed, `EngineLimit`).
    pub(crate) fn of_engine_message(message: &str) -> FindingKind {
        let lower = message.to_ascii_lowercase();
        if lower.contains("causality violation") {
            FindingKind::DataRace
        } else if lower.starts_with("deadlock") {
            FindingKind::Deadlock
        } else if lower.contains("leaked") {
            FindingKind::Leak
        } else {
            FindingKind::Panic
        }
    }
}

/// Why a finding comes without a schedule that replays it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSchedule {
    /// Found on real threads, which record none.
    RealThreads,
    /// A hang: the stuck execution never ended, and what it had recorded stayed with the
    /// abandoned thread. Another engine would not give a schedule either.
    Hung,
}

/// A failure found in a body, with what replays it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub message: String,
    /// Where the panic was raised, `file:line`, when known.
    pub location: Option<String>,
    /// The engine that found it (under `auto`, the member of the portfolio).
    pub backend: Backend,
    /// Executions of that engine up to and including the failing one.
    pub executions: u64,
    /// Time that engine spent up to the failure.
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
    /// The schedule that replays the failure; `None` for real threads.
    pub schedule: Option<Schedule>,
    /// Scheduling steps of the failing execution, when the engine counts them.
    pub steps: Option<usize>,
    /// Preemptions of the failing execution: the switches away from a thread that could have
    /// gone on, counted in its trace the same way under every engine (see
    /// `trace::Event::preempted`). Without a trace: a shuttle schedule's own count, or under
    /// loom the bound of the round of iterative bounding that found it.
    pub preemptions: Option<usize>,
    /// What minimization started from, when the schedule was minimized.
    pub shrink: Option<Shrink>,
    /// The failing execution step by step, recorded by replaying the schedule.
    pub trace: Option<Trace>,
}

impl Finding {
    /// Why there is no schedule to replay this finding, if there is none.
    pub fn no_schedule(&self) -> Option<NoSchedule> {
        match (&self.schedule, self.kind) {
            (Some(_), _) => None,
            (None, FindingKind::Hang) => Some(NoSchedule::Hung),
            (None, _) => Some(NoSchedule::RealThreads),
        }
    }
}

/// The size of a schedule before minimization ("N -> n steps, P -> p preemptions").
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Shrink {
    pub steps_before: usize,
    pub preemptions_before: usize,
    /// Replays minimization spent.
    pub replays: usize,
}

/// What one engine did within a run (one entry, or one per portfolio member under `auto`).
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub backend: Backend,
    /// The strategy with its settings, in words: `shuttle-pct d=3`, `loom`, `rotation:
    /// shuttle-urw, shuttle-random, shuttle-urw, shuttle-pct d=3`.
    pub strategy: String,
    pub executions: u64,
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
    /// The engine explored every schedule within its bounds.
    pub exhaustive: bool,
    pub found: bool,
    pub outcome: Outcome,
    /// loom: the largest preemption bound whose every schedule it explored (the bound of a
    /// proof, when the whole run passes), even if it stopped in a later round.
    pub proved_within: Option<usize>,
    /// The engine's own limit that ended the attempt, when it is `not-applicable` or
    /// `inconclusive`.
    pub limit: Option<EngineLimit>,
    /// `limit` in words, for the report: "the body spawns 6 threads; loom explores at most 5".
    pub reason: Option<String>,
    /// shuttle: executions that reached the step limit and then ended under a fair schedule
    /// (a thread spun while the one it waited for was not scheduled: the strategy's
    /// unfairness, not a livelock). They count as executions; they end no attempt.
    pub unfair_cuts: u64,
}

/// How an engine's attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It found the run's finding.
    Found,
    /// It explored every schedule within its bounds and found nothing.
    Exhaustive,
    /// It ran schedules until its share of the budget ran out, or another engine settled the
    /// run, and found nothing.
    Sampled,
    /// The engine cannot run this body at all (loom and more threads than it models): it
    /// says nothing about the body, and the rest of the portfolio goes on.
    NotApplicable,
    /// The engine stopped at a limit of its own before it could conclude (loom's branch
    /// limit in a spin loop): what it ran before passed, but it proves nothing.
    Inconclusive,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Found => "found",
            Outcome::Exhaustive => "exhaustive",
            Outcome::Sampled => "sampled",
            Outcome::NotApplicable => "not-applicable",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// A limit of an engine, never a statement about the body. That an engine stopped at a limit
/// is known from typed data (a count the facade keeps, an assertion raised in the engine's own
/// bookkeeping code), never from the words of a panic message, which a body's own assertion
/// could also use; only which of loom's bookkeeping assertions fired is read from loom's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EngineLimit {
    /// loom models at most `max` threads per execution, the body's main thread included; the
    /// body spawns `threads` (at least that many when `at_least`: loom stopped at the first
    /// one too many, a shuttle run counts them all).
    LoomThreads { threads: usize, max: usize, at_least: bool },
    /// An execution made more branch points than loom allows (`max_branches`); `yields` is
    /// how often its threads called `yield_now` in it. A spin or retry loop makes loom explore
    /// ever longer executions where the awaited thread does not run.
    LoomBranches { max_branches: usize, yields: u64 },
    /// loom's search stopped in its own bookkeeping of the path it explores because the body
    /// took another path on a schedule loom had run before: the body depends on something loom
    /// does not control (time, randomness, a `std` atomic deciding what it does).
    LoomDiverged,
}

impl EngineLimit {
    /// What the limit means for the attempt.
    pub fn outcome(self) -> Outcome {
        match self {
            EngineLimit::LoomThreads { .. } => Outcome::NotApplicable,
            EngineLimit::LoomBranches { .. } | EngineLimit::LoomDiverged => Outcome::Inconclusive,
        }
    }

    /// The limit in words, for a report line after "loom not applicable: ".
    pub fn reason(self) -> String {
        match self {
            EngineLimit::LoomThreads { threads, max, at_least } => {
                let n = if at_least { format!("at least {threads}") } else { threads.to_string() };
                format!("the body spawns {n} threads (main included); loom explores at most {max}")
            }
            EngineLimit::LoomBranches { max_branches, yields } => {
                let spin = if yields > 0 {
                    format!(" and yielded {yields} times: a spin or retry loop, whose schedules loom cannot bound")
                } else {
                    String::new()
                };
                format!("an execution took more than loom's {max_branches} branch points{spin}")
            }
            EngineLimit::LoomDiverged => "the body took another path on a schedule loom had already run: it \
                depends on something loom does not control (time, randomness, a std atomic)"
                .to_string(),
        }
    }
}

/// What a run covered: the bounds of what was proved, the schedules sampled and by which
/// strategies, and the engines that could not run or conclude. A pass means no more than this.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    /// Every schedule within a bound was explored (loom, or shuttle-dfs's whole space).
    pub proof: Option<Proof>,
    /// Executions of the sampling strategies (shuttle-random, -pct, -urw, stress), by strategy.
    pub sampled: Vec<Sampled>,
    /// Engines that were not applicable or inconclusive, with the reason.
    pub limited: Vec<Limited>,
}

/// An exhaustive search that finished.
#[derive(Clone, Debug, Serialize)]
pub struct Proof {
    pub backend: Backend,
    /// loom's preemption bound; `None` for the whole space (loom unbounded, shuttle-dfs).
    pub preemption_bound: Option<usize>,
    pub executions: u64,
}

/// Executions of one sampling strategy.
#[derive(Clone, Debug, Serialize)]
pub struct Sampled {
    pub strategy: String,
    pub executions: u64,
}

/// An engine that could not run the body, or could not conclude.
#[derive(Clone, Debug, Serialize)]
pub struct Limited {
    pub backend: Backend,
    pub outcome: Outcome,
    pub reason: String,
}

impl Coverage {
    /// Sampled executions in all.
    pub fn sampled_executions(&self) -> u64 {
        self.sampled.iter().map(|s| s.executions).sum()
    }
}

/// How much concurrency the run saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Concurrency {
    /// The most threads one execution had, the body's main thread included.
    pub threads: usize,
    /// Some execution reached a point where two threads could both run (under loom: its
    /// search found more than one schedule). Without one, every schedule is the same and
    /// nothing concurrent was tested.
    pub interleaved: bool,
}

/// Something a passing run says about itself that its author should know.
#[derive(Clone, Debug, Serialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub message: String,
    /// The run was told to treat this warning as an error (`deny`): the run fails.
    pub denied: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// No execution ever had two threads that could run at once.
    NoConcurrency,
    /// The budget allowed no execution (`iterations(0)`, a time limit of zero), or none ran:
    /// the run checked nothing, which is never a pass. Always denied.
    NothingChecked,
}

impl WarningKind {
    pub fn name(self) -> &'static str {
        match self {
            WarningKind::NoConcurrency => "no-concurrency",
            WarningKind::NothingChecked => "nothing-checked",
        }
    }
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The backend asked for.
    pub backend: Backend,
    pub executions: u64,
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
    /// Time the exploration took: to the first finding (every lane stopped), or to the end of
    /// the budget; `elapsed` less minimization and the recording of the trace.
    #[serde(serialize_with = "as_millis")]
    pub search_elapsed: Duration,
    /// Some engine of the run explored every schedule within its bounds and found nothing.
    pub exhaustive: bool,
    /// The preemption bound of loom's exhaustive search, when loom ran.
    pub preemption_bound: Option<usize>,
    pub attempts: Vec<Attempt>,
    /// What a pass covered (also filled in when a finding ends the run).
    pub coverage: Coverage,
    pub concurrency: Concurrency,
    pub warnings: Vec<Warning>,
    pub finding: Option<Finding>,
}

impl RunReport {
    /// Nothing was found.
    pub fn passed(&self) -> bool {
        self.finding.is_none()
    }

    /// Nothing was found and no warning the run was told to deny was raised: what a test or
    /// a gate should require.
    pub fn succeeded(&self) -> bool {
        self.passed() && !self.warnings.iter().any(|w| w.denied)
    }

    /// Why no engine of the run could explore the body, when none could: nothing was proved
    /// or sampled, and an engine's limit is why (`--backend loom` on a body with more threads
    /// than loom models). Such a run says nothing about the body: no pass, no finding.
    pub fn not_run(&self) -> Option<&Limited> {
        let c = &self.coverage;
        let nothing = self.finding.is_none() && c.proof.is_none() && c.sampled.is_empty();
        c.limited.first().filter(|_| nothing)
    }

    /// The warning of `kind`, if the run raised it.
    pub fn warning(&self, kind: WarningKind) -> Option<&Warning> {
        self.warnings.iter().find(|w| w.kind == kind)
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::FindingKind;

    const LOOM: &str = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/loom-0.7.3/src";

    fn of(file: &str, message: &str) -> FindingKind {
        FindingKind::of_engine_panic(Some(&format!("{LOOM}/{file}:115")), message)
    }

    #[test]
    fn loom_s_verdicts_are_told_by_the_file_that_raised_them_not_by_their_words() {
        assert_eq!(
            of("rt/location.rs", "Causality violation: Concurrent read and write accesses."),
            FindingKind::DataRace
        );
        assert_eq!(of("rt/location.rs", "whatever it says"), FindingKind::DataRace);
        assert_eq!(of("rt/execution.rs", "deadlock; threads = [(Id(0), Blocked)]"), FindingKind::Deadlock);
        assert_eq!(of("rt/arc.rs", "Arc leaked.\n  Index: 0"), FindingKind::Leak);
        assert_eq!(of("rt/alloc.rs", "Allocation leaked.\n  Index: 3"), FindingKind::Leak);
        assert_eq!(of("rt/mpsc.rs", "Messages leaked.\n     Index: 1\n  Messages: 2"), FindingKind::Leak);
        // Words of a verdict raised where loom raises no such verdict are a plain panic.
        assert_eq!(of("rt/arc.rs", "Arc is already released"), FindingKind::Panic);
        assert_eq!(of("rt/arc.rs", "deadlock; the Arc leaked"), FindingKind::Panic);
        assert_eq!(of("rt/thread.rs", "Causality violation: x"), FindingKind::Panic);
        assert_eq!(of("rt/mutex.rs", "deadlock"), FindingKind::Panic);
    }

    #[test]
    fn without_a_location_in_loom_the_words_are_all_there_is() {
        let shuttle = "/r/shuttle-engine-0.1.7/src/runtime/failure.rs:80";
        assert_eq!(
            FindingKind::of_engine_panic(Some(shuttle), "deadlock! blocked tasks: [main-thread]"),
            FindingKind::Deadlock
        );
        assert_eq!(FindingKind::of_engine_panic(None, "Arc leaked."), FindingKind::Leak);
        assert_eq!(FindingKind::of_engine_panic(None, "a panic"), FindingKind::Panic);
    }
}
