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
    /// An execution took more steps than allowed: a livelock or an unbounded spin.
    StepLimit,
    /// A task of a [`crate::executor::Executor`] was ready but not polled for longer than
    /// the executor's bound, counted in work units: another task's poll ran too long.
    Starvation,
}

impl FindingKind {
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Panic => "panic",
            FindingKind::Deadlock => "deadlock",
            FindingKind::DataRace => "data-race",
            FindingKind::Leak => "leak",
            FindingKind::StepLimit => "step-limit",
            FindingKind::Starvation => "starvation",
        }
    }

    /// Classifies a panic raised inside a model checker by what the checker says in it. (A
    /// finding the harness raised itself carries its kind in its panic record instead.)
    pub(crate) fn of_panic_message(message: &str) -> FindingKind {
        let lower = message.to_ascii_lowercase();
        if lower.contains("causality violation") {
            FindingKind::DataRace
        } else if lower.starts_with("deadlock") {
            FindingKind::Deadlock
        } else if lower.contains("leaked") {
            FindingKind::Leak
        } else if lower.contains("maximum number of branches") || lower.contains("max_steps") {
            FindingKind::StepLimit
        } else {
            FindingKind::Panic
        }
    }
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
    /// Preemptions of the failing schedule: counted in a shuttle schedule; under loom, the
    /// bound of the round of iterative bounding that found it (the fewest possible).
    pub preemptions: Option<usize>,
    /// What minimization started from, when the schedule was minimized.
    pub shrink: Option<Shrink>,
    /// The failing execution step by step, recorded by replaying the schedule.
    pub trace: Option<Trace>,
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
    pub executions: u64,
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
    /// The engine explored every schedule within its bounds.
    pub exhaustive: bool,
    pub found: bool,
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
    pub finding: Option<Finding>,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.finding.is_none()
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}
