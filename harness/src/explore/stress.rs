//! The stress engine: the body on real threads, iteration after iteration. A real thread
//! cannot be interrupted, so an iteration that stops making progress is reported as a hang
//! and its threads are abandoned (they stay blocked until the process exits).

use super::{Body, EngineRun};
use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::{Finding, FindingKind};
use crate::rt::panic::PanicRecord;
use crate::rt::std_run::{self, Iteration};
use std::time::Instant;

pub(super) fn explore(body: &Body, config: &RunConfig, budget: Budget) -> EngineRun {
    let start = Instant::now();
    super::watchdog::searching(Backend::Stress);
    let mut executions = 0;
    let mut finding = None;
    while executions < budget.executions && start.elapsed() < budget.time {
        executions += 1;
        super::watchdog::execution_starts();
        // The iteration's real threads detect a hang themselves (`hang_timeout`).
        let iteration = {
            let _waiting = super::watchdog::waiting();
            std_run::run_iteration(body, config.hang_timeout, || {})
        };
        let failure = match iteration {
            Err(e) => Some(PanicRecord::plain(format!("cannot start a thread: {e}"))),
            Ok(Iteration::Finished(failure)) => failure,
            // A thread that panicked first is the cause; the hang is its effect.
            Ok(Iteration::Hung(Some(record))) => Some(record),
            Ok(Iteration::Hung(None)) => {
                let elapsed = start.elapsed();
                return EngineRun {
                    executions,
                    elapsed,
                    finding: Some(Finding {
                        kind: FindingKind::Deadlock,
                        message: format!(
                            "no progress for {:.1}s on real threads: the body's threads are blocked \
                             (a deadlock, or a lock that nobody will release)",
                            config.hang_timeout.as_secs_f64()
                        ),
                        location: None,
                        backend: Backend::Stress,
                        executions,
                        elapsed,
                        schedule: None,
                        steps: None,
                        preemptions: None,
                        shrink: None,
                        trace: None,
                    }),
                    ..EngineRun::new(Backend::Stress, Backend::Stress.name().to_string())
                };
            }
        };
        if failure.is_some() {
            finding = failure;
            break;
        }
    }
    let elapsed = start.elapsed();
    EngineRun {
        executions,
        elapsed,
        finding: finding.map(|record| Finding {
            kind: record.kind.unwrap_or(FindingKind::Panic),
            message: record.message,
            location: record.location,
            backend: Backend::Stress,
            executions,
            elapsed,
            schedule: None,
            steps: None,
            preemptions: None,
            shrink: None,
            trace: None,
        }),
        ..EngineRun::new(Backend::Stress, Backend::Stress.name().to_string())
    }
}
