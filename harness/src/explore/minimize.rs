//! Shrinks a failing shuttle schedule while the same failure still reproduces: first drop
//! large pieces of it (halves, quarters, ... pairs of switches), then single
//! preemptions (or let the switch before one go straight to its target), then delay the ones left to a later step of the same thread where it blocks
//! anyway (the same switch, no longer a preemption: a thread that spawns and then joins need
//! not be preempted at the spawn to let the second child run first), then drop the other
//! departures from the default policy, each time keeping the schedule the replay really
//! followed. Fewer switches mean fewer steps, too.

use super::shuttle::replay_recorded;
use super::{Body, ReplayOutcome};
use crate::backend::RunConfig;
use crate::finding::{Finding, Shrink};
use crate::schedule::{Schedule, Switch, SwitchList};
use std::time::{Duration, Instant};

/// Replays allowed for one minimization: it must never cost more than the search.
const MAX_REPLAYS: usize = 500;
/// How many later steps of its thread a preemption is tried at.
const MAX_DELAY: usize = 8;
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
    // Within the run's time budget too, however short.
    let max_time = MAX_TIME.min(config.budget.time);
    let out_of_budget = |replays: usize| replays >= MAX_REPLAYS || started.elapsed() > max_time;
    // Replays `candidate`; keeps it if it fails the same way with a smaller schedule.
    let try_candidate =
        |candidate: &SwitchList, best: &mut (SwitchList, usize, Finding), replays: &mut usize| {
            *replays += 1;
            if let (ReplayOutcome::Failed(f), actual, steps) = replay_recorded(body, candidate, config) {
                if same_failure(finding, &f) && smaller(&actual, steps, &best.0, best.1) {
                    *best = (actual, steps, f);
                    return true;
                }
            }
            false
        };
    // Preemptions first: they are what a reader has to understand. Each pass can open the
    // way for another (dropping a switch frees the step a preemption can be delayed to), so
    // the passes repeat until none changes the schedule.
    let mut progress = true;
    while progress && !out_of_budget(replays) {
        progress = false;
        // Large pieces first, as delta debugging does: a randomized strategy's schedule can
        // have dozens of switches of which the failure needs one or two, and the passes below
        // spend a replay (the delays, several) on each switch, which can use up the budget
        // before they reach the ones that matter. Dropping half the switches, then quarters,
        // and so on down to pairs takes a few replays per size.
        let mut chunk = best.0.switches.len() / 2;
        while chunk >= 2 && !out_of_budget(replays) {
            let mut start = 0;
            while start < best.0.switches.len() && !out_of_budget(replays) {
                let mut candidate = best.0.clone();
                let end = (start + chunk).min(candidate.switches.len());
                candidate.switches.drain(start..end);
                // On success the list is shorter: the next piece starts where this one did.
                if try_candidate(&candidate, &mut best, &mut replays) {
                    progress = true;
                } else {
                    start += chunk;
                }
            }
            chunk /= 2;
        }
        for pass in [Pass::DropPreemptions, Pass::DelayPreemptions, Pass::DropOthers] {
            let mut changed = true;
            while changed {
                changed = false;
                let mut i = best.0.switches.len();
                while i > 0 {
                    i -= 1;
                    if out_of_budget(replays) {
                        break;
                    }
                    let Some(&switch) = best.0.switches.get(i) else { continue };
                    if switch.preemptive != (pass != Pass::DropOthers) {
                        continue;
                    }
                    let improved = match pass {
                        Pass::DelayPreemptions => (1..=MAX_DELAY).any(|delay| {
                            let candidate = delayed(&best.0, i, delay);
                            // Once the thread blocks instead of being preempted, or runs on, a
                            // later switch back to it cannot happen or is not needed: try
                            // dropping it or sending it elsewhere.
                            let mut candidates = vec![candidate.clone()];
                            candidates.extend(redirected(&candidate, i, switch.thread));
                            candidates
                                .iter()
                                .any(|c| !out_of_budget(replays) && try_candidate(c, &mut best, &mut replays))
                        }),
                        _ => {
                            let mut candidate = best.0.clone();
                            candidate.switches.remove(i);
                            try_candidate(&candidate, &mut best, &mut replays)
                                || (pass == Pass::DropPreemptions
                                    && retargeted(&candidate, i, switch)
                                        .is_some_and(|c| try_candidate(&c, &mut best, &mut replays)))
                        }
                    };
                    if improved {
                        changed = true;
                        progress = true;
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
    tracing::debug!(
        replays,
        steps_before = before_steps,
        steps,
        preemptions_before = before_preemptions,
        preemptions = list.preemptions(),
        "minimized"
    );
    finding.schedule = Some(Schedule::Shuttle(list));
}

/// `list` with its switch `i` made `delay` steps later (its thread's switch already planned
/// there, if any, gives way), as a non-preemptive switch.
fn delayed(list: &SwitchList, i: usize, delay: usize) -> SwitchList {
    let mut candidate = list.clone();
    let moved = &mut candidate.switches[i];
    moved.step += delay;
    moved.preemptive = false;
    let moved = *moved;
    let mut index = 0;
    candidate.switches.retain(|s| {
        index += 1;
        index - 1 == i || (s.thread, s.step) != (moved.thread, moved.step)
    });
    candidate
}

/// Variants of `list` where one switch after index `i` that went back to `thread` is dropped
/// (the delayed switch may have made it pointless) or goes to another thread instead.
fn redirected(list: &SwitchList, i: usize, thread: usize) -> impl Iterator<Item = SwitchList> + '_ {
    let threads = list.switches.iter().flat_map(|s| [s.thread, s.to]).max().unwrap_or(0);
    (i + 1..list.switches.len()).filter(move |&j| list.switches[j].to == thread).flat_map(move |j| {
        let mut dropped = list.clone();
        dropped.switches.remove(j);
        let elsewhere =
            (0..=threads).filter(move |&t| t != thread && t != list.switches[j].thread).map(move |t| {
                let mut candidate = list.clone();
                candidate.switches[j].to = t;
                candidate
            });
        std::iter::once(dropped).chain(elsewhere)
    })
}

/// `without` (a list whose preemption `removed`, at index `i`, was dropped) with the
/// non-preemptive switch that ran `removed`'s thread going straight to its target instead: a
/// thread switched to only to be preempted a few steps later (t0@5~t3,t3@2>t2 becomes
/// t0@5~t2).
fn retargeted(without: &SwitchList, i: usize, removed: Switch) -> Option<SwitchList> {
    let j = without.switches[..i].iter().rposition(|s| !s.preemptive && s.to == removed.thread)?;
    let mut candidate = without.clone();
    candidate.switches[j].to = removed.to;
    Some(candidate)
}

/// The passes of minimization, in order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    DropPreemptions,
    DelayPreemptions,
    DropOthers,
}

fn smaller(a: &SwitchList, a_steps: usize, b: &SwitchList, b_steps: usize) -> bool {
    (a.preemptions(), a.switches.len(), a_steps) < (b.preemptions(), b.switches.len(), b_steps)
}
