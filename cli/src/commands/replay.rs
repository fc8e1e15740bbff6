use super::{variant, Context};
use crate::args::ReplayArgs;
use crate::{output, Outcome, UsageError};
use lockhound::{explore, ReplayOutcome, RunConfig, Schedule};
use lockhound_reports::run::{self as render, ReplayView};
use std::io::Read;

/// The most a schedule file may hold: a schedule of a million switches is a few MB; more is
/// not a schedule (`--schedule @/dev/zero`).
const MAX_SCHEDULE_BYTES: u64 = 16 << 20;

pub fn replay(cx: &Context<'_>, args: ReplayArgs) -> Result<Outcome, UsageError> {
    let scenario = cx.catalog.scenario(&args.scenario)?;
    let variant = variant(scenario, &args.variant)?;
    let text = match args.schedule.strip_prefix('@') {
        Some(path) => read_schedule_file(path)?,
        None => args.schedule.clone(),
    };
    let schedule: Schedule = text.parse().map_err(|e| UsageError(format!("--schedule: {e}")))?;
    let config = RunConfig::default();
    let body = variant.body();
    let (outcome, trace) = if args.trace {
        let (outcome, trace) = explore::replay_traced(&body, &schedule, &config);
        (outcome, Some(trace))
    } else {
        (explore::replay(&body, &schedule, &config), None)
    };
    let finding = match &outcome {
        ReplayOutcome::Failed(f) => Some(f),
        ReplayOutcome::Passed => None,
        ReplayOutcome::NotApplicable(why) => {
            return Err(UsageError(format!("{} ({}): {why}", scenario.name, variant.name)));
        }
    };
    let view = ReplayView {
        scenario: &scenario.name,
        variant: &variant.name,
        schedule: &schedule,
        finding,
        trace: trace.as_ref(),
    };
    if args.json {
        output::print_json(&render::replay_json(&view));
    } else {
        output::print(&render::replay_text(&view));
    }
    Ok(if finding.is_some() { Outcome::Found } else { Outcome::Clean })
}

/// Reads `--schedule @FILE`: a regular file, of bounded size.
fn read_schedule_file(path: &str) -> Result<String, UsageError> {
    let bad = |why: String| UsageError(format!("--schedule @{}: {why}", output::shown(path)));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".to_string()));
    }
    let mut text = String::new();
    file.take(MAX_SCHEDULE_BYTES + 1).read_to_string(&mut text).map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > MAX_SCHEDULE_BYTES {
        return Err(bad(format!("larger than {} MB: not a schedule", MAX_SCHEDULE_BYTES >> 20)));
    }
    Ok(text)
}
