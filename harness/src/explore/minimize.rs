//! Shrinks a failing shuttle schedule while the same failure still reproduces: first drop
//! preemptions, then the other departures from the default policy, each time keeping the
//! schedule the replay really followed. Fewer switches mean fewer steps, too.

use super::shuttle::replay_recorded;
use super::{Body, ReplayOutcome};
use crate::backend::RunConfig;
use crate::finding::{Finding, Shrink};
use crate::schedule::{Schedule, SwitchList};
use std::time::{Duration, Instant};

/// Replays allowed for one minimization: it must never cost more than the search.
const MAX_REPLAYS: usize = 500;
const MAX_TIME: Duration = Duration::from_secs(10);

/// Whether `candidate` is the same failure as `original`: the same kind raised at the same
/// place (the message may carry values that differ between schedules, like a corrupted word
/// that wraps to 0x..FFFF in one and 0x..FFFE in another; without a place, the same message).
pub(crate) fn same_failure(original: &Finding, candidate: &Finding) -> bool {
    original.kind == candidate.kind
        && original.location == candidate.location
        && (original.location.is_some() || original.message == candidate.message)
}

/// Minimizes `finding`'s shuttle schedule in place, recording what it shrank from.
pub(super) fn minimize(body: &Body, finding: &mut Finding, config: &RunConfig) {
    let Some(Schedule::Shuttle(start_list)) = finding.schedule.clone() else { return };
    let started = Instant::now();
    let before_steps = finding.steps.unwrap_or(0);
    let before_preemptions = start_list.preemptions();
    let mut best = (start_list, before_steps, finding.clone());
    let mut replays = 0;
    // Preemptions first: they are what a reader has to understand.
    for preemptive_pass in [true, false] {
        let mut changed = true;
        while changed {
            changed = false;
            let mut i = best.0.switches.len();
            while i > 0 {
                i -= 1;
                if replays >= MAX_REPLAYS || started.elapsed() > MAX_TIME {
                    break;
                }
                if best.0.switches.get(i).is_none_or(|s| s.preemptive != preemptive_pass) {
                    continue;
                }
                let mut candidate = best.0.clone();
                candidate.switches.remove(i);
                replays += 1;
                if let (ReplayOutcome::Failed(f), actual, steps) = replay_recorded(body, &candidate, config) {
                    if same_failure(finding, &f) && smaller(&actual, steps, &best.0, best.1) {
                        best = (actual, steps, f);
                        changed = true;
                        i = i.min(best.0.switches.len());
                    }
                }
            }
        }
    }
    let (list, steps, reproduced) = best;
    finding.shrink =
        Some(Shrink { steps_before: before_steps, preemptions_before: before_preemptions, replays });
    finding.message = reproduced.message;
    finding.steps = Some(steps);
    finding.preemptions = Some(list.preemptions());
    finding.schedule = Some(Schedule::Shuttle(list));
}

fn smaller(a: &SwitchList, a_steps: usize, b: &SwitchList, b_steps: usize) -> bool {
    (a.preemptions(), a.switches.len(), a_steps) < (b.preemptions(), b.switches.len(), b_steps)
}
