use super::{scenario, variant};
use crate::args::ReplayArgs;
use crate::{output, Outcome, UsageError};
use lockhound::{explore, ReplayOutcome, RunConfig, Schedule};
use lockhound_reports::run::{self as render, ReplayView};

pub fn replay(args: ReplayArgs) -> Result<Outcome, UsageError> {
    let scenario = scenario(&args.scenario)?;
    let variant = variant(scenario, &args.variant)?;
    let text = match args.schedule.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| UsageError(format!("--schedule @{path}: {e}")))?
        }
        None => args.schedule.clone(),
    };
    let schedule: Schedule = text.parse().map_err(|e| UsageError(format!("--schedule: {e}")))?;
    let schedule_text = schedule.to_string();
    let config = RunConfig::default();
    let body = variant.body();
    let (outcome, trace) = if args.trace {
        let (outcome, trace) =
            output::without_engine_chatter(|| explore::replay_traced(&body, &schedule, &config));
        (outcome, Some(trace))
    } else {
        (output::without_engine_chatter(|| explore::replay(&body, &schedule, &config)), None)
    };
    let finding = match &outcome {
        ReplayOutcome::Failed(f) => Some(f),
        ReplayOutcome::Passed => None,
        ReplayOutcome::NotApplicable(why) => {
            return Err(UsageError(format!("{} ({}): {why}", scenario.name, variant.name)));
        }
    };
    let view = ReplayView {
        scenario: scenario.name,
        variant: variant.name,
        schedule: &schedule_text,
        finding,
        trace: trace.as_ref(),
    };
    if args.json {
        output::print_json(&render::replay_json(&view));
    } else {
        print!("{}", render::replay_text(&view));
    }
    Ok(if finding.is_some() { Outcome::Found } else { Outcome::Clean })
}
