//! When an execution that reached the step limit is a livelock.
//!
//! A model checker's strategy may be unfair on purpose: PCT runs its highest-priority thread
//! for as long as it can, so a thread that spins on a flag (without `yield_now`) can spin
//! forever while the thread that would set the flag never runs. Such an execution reaches the
//! step limit, yet on real hardware, or under any scheduler that gives every thread a turn,
//! the body goes on. That is the strategy's limit, not a bug in the body.
//!
//! Definition: an execution that reached the step limit (`max_steps` steps) is a **livelock**
//! when, continued under a fair schedule, it still does not end within `max_steps` more steps.
//! A fair schedule gives every runnable thread a turn: the default policy (run the current
//! thread until it blocks, yields or finishes, then the next runnable thread in id order) with
//! a thread that has run `FAIR_QUANTUM` steps in a row handing over as if it had yielded.
//! *Progress* is the execution ending: every thread finishing. Threads that run on without it
//! under a fair schedule, such as two threads that yield forever waiting for each other, show
//! that no fairness of a scheduler gets the body past that point.
//!
//! Two continuations are tried, each `2 * max_steps` steps long: the fair schedule from the
//! start (a livelock that every fair schedule runs into gets a short schedule), then the cut
//! execution's own schedule up to the limit, continued fairly from there. A failure the continuation runs into (an assertion, a
//! deadlock) is a finding too: its schedule is as real as any other. If both end, the
//! execution was cut by an unfair strategy and the search goes on.

use super::shuttle::{follow, Followed};
use super::{finding_from_panic, Body};
use crate::backend::{Backend, RunConfig};
use crate::finding::{Finding, FindingKind};
use crate::schedule::follow::Follower;
use crate::schedule::{Schedule, SwitchList};
use std::time::Duration;

/// What a cut execution turned out to be.
pub(super) enum Verdict {
    /// A fair schedule got past the limit: the execution ended.
    Ended,
    /// A livelock, or another failure the fair continuation ran into.
    Failed(Box<Finding>),
}

/// Judges an execution of `backend`'s search that was cut at the step limit; `cut` holds its
/// departures from the default policy up to the limit.
pub(super) fn judge(body: &Body, config: &RunConfig, cut: &SwitchList, backend: Backend) -> Verdict {
    let fair = Follower::new(&SwitchList::default(), fair_limit(config)).fair_after(0);
    match verdict(follow(fair, body, config), backend, config) {
        Verdict::Ended => continue_fairly(body, config, cut, backend),
        failed => failed,
    }
}

/// Follows `schedule` up to the step limit, then continues under the fair policy for as many
/// steps again.
pub(super) fn continue_fairly(
    body: &Body,
    config: &RunConfig,
    schedule: &SwitchList,
    backend: Backend,
) -> Verdict {
    let follower = Follower::new(schedule, fair_limit(config)).fair_after(config.max_steps);
    verdict(follow(follower, body, config), backend, config)
}

/// Steps of a fair continuation: the step limit, then as many again.
fn fair_limit(config: &RunConfig) -> usize {
    config.max_steps.saturating_mul(2)
}

/// The finding's execution count and time are the search's, which the caller fills in.
fn verdict(followed: Followed, backend: Backend, config: &RunConfig) -> Verdict {
    let Followed { result, report } = followed;
    let schedule = Some(Schedule::Shuttle(report.recording.schedule()));
    let steps = report.recording.steps;
    match result {
        Err(payload) => {
            let mut finding = finding_from_panic(backend, payload, 1, Duration::ZERO, schedule);
            finding.steps = Some(steps);
            Verdict::Failed(Box::new(finding))
        }
        Ok(()) if report.recording.cut => Verdict::Failed(Box::new(Finding {
            kind: FindingKind::Livelock,
            message: format!(
                "livelock: the threads ran {} steps, the last {} of them under a fair schedule (every \
                 runnable thread taking turns), and the execution never ended",
                fair_limit(config),
                config.max_steps
            ),
            location: None,
            backend,
            executions: 1,
            elapsed: Duration::ZERO,
            preemptions: schedule.as_ref().and_then(Schedule::preemptions),
            schedule,
            steps: Some(steps),
            shrink: None,
            trace: None,
        })),
        Ok(()) => Verdict::Ended,
    }
}
