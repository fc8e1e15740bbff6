use super::{program, scenario, variant_out_dir, variants};
use crate::args::RunArgs;
use crate::{output, Outcome, UsageError};
use lockhound::{explore, Budget, LoomOptions, RunConfig, RunReport};
use lockhound_reports::run::{self as render, RunView};
use lockhound_reports::shell_quote;
use std::time::Duration;

pub fn run(args: RunArgs) -> Result<Outcome, UsageError> {
    let scenario = scenario(&args.scenario)?;
    let variants = variants(scenario, args.variant.as_deref())?;
    if let Some(dir) = &args.out {
        output::prepare_out_dir(dir)?;
    }
    let config = RunConfig {
        backend: args.backend,
        seed: args.seed,
        budget: Budget { executions: args.iterations, time: Duration::from_secs(args.time_limit) },
        loom: LoomOptions { preemption_bound: args.preemption_bound.0, ..LoomOptions::default() },
        pct_depth: args.pct_depth as usize,
        minimize: !args.no_minimize,
        jobs: args.jobs.unwrap_or_else(RunConfig::available_jobs),
        deny_no_concurrency: args.deny.iter().any(|w| w == "no-concurrency"),
        ..RunConfig::default()
    };

    let mut found = false;
    let mut documents = Vec::new();
    for v in &variants {
        let out_dir = variant_out_dir(args.out.as_deref(), variants.len(), v.name);
        if args.guard_pages {
            let (failed, doc) = super::guard::run(scenario.name, v.name, &args, out_dir.as_deref())?;
            found |= failed;
            documents.extend(doc);
            continue;
        }
        let report = output::without_engine_chatter(|| explore::run(&v.body(), &config));
        if let Some(limited) = report.not_run() {
            return Err(UsageError(format!(
                "{} cannot check {} ({}): {}",
                limited.backend, scenario.name, v.name, limited.reason
            )));
        }
        found |= !report.succeeded();
        let view = RunView {
            scenario: scenario.name,
            variant: v.name,
            report: &report,
            replay_command: replay_command(scenario.name, v.name, &report),
            out_dir: out_dir.as_ref().map(|d| d.display().to_string()),
        };
        if let Some(dir) = &out_dir {
            write_report(dir, &view)?;
        }
        if args.json {
            documents.push(render::json(&view));
        } else {
            print!("{}", render::text(&view));
        }
    }
    if args.json {
        let doc =
            if documents.len() == 1 { documents.remove(0) } else { serde_json::json!({ "runs": documents }) };
        output::print_json(&doc);
    }
    Ok(if found { Outcome::Found } else { Outcome::Clean })
}

fn replay_command(scenario: &str, variant: &str, report: &RunReport) -> Option<String> {
    let schedule = report.finding.as_ref()?.schedule.as_ref()?;
    Some(format!(
        "{} replay {scenario} --variant {variant} --schedule {}",
        program(),
        shell_quote(&schedule.to_string())
    ))
}

fn write_report(dir: &std::path::Path, view: &RunView<'_>) -> Result<(), UsageError> {
    output::prepare_out_dir(dir)?;
    let fail = |e: std::io::Error| UsageError(format!("cannot write the report to {}: {e}", dir.display()));
    let summary = serde_json::to_vec_pretty(&render::json(view)).expect("JSON values always serialize");
    output::write_atomic(dir, "summary.json", &summary).map_err(fail)?;
    if let Some(schedule) = view.report.finding.as_ref().and_then(|f| f.schedule.as_ref()) {
        output::write_atomic(dir, "schedule.txt", format!("{schedule}\n").as_bytes()).map_err(fail)?;
    }
    if let Some(trace) = view.report.finding.as_ref().and_then(|f| f.trace.as_ref()) {
        output::write_atomic(dir, "trace.txt", lockhound_reports::trace::text(trace).as_bytes())
            .map_err(fail)?;
        let json = serde_json::to_vec_pretty(&lockhound_reports::trace::json(trace))
            .expect("JSON values always serialize");
        output::write_atomic(dir, "trace.json", &json).map_err(fail)?;
    }
    Ok(())
}
