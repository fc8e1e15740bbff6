use super::{variant_sub_dir, variants, Context};
use crate::args::RunArgs;
use crate::output::{self, ReportDir};
use crate::{Outcome, UsageError};
use lockhound::{explore, Budget, LoomOptions, RunConfig, RunReport};
use lockhound_reports::run::{self as render, RunView};
use lockhound_reports::shell_quote;
use std::path::PathBuf;

pub fn run(cx: &Context<'_>, args: RunArgs) -> Result<Outcome, UsageError> {
    let scenario = cx.catalog.scenario(&args.scenario)?;
    let variants = variants(scenario, args.variant.as_deref())?;
    let out = args.out.as_deref().map(|dir| ReportDir::prepare(dir, "--out")).transpose()?;
    let config = RunConfig {
        backend: args.backend,
        seed: args.seed,
        budget: Budget { executions: args.iterations, time: args.time_limit },
        loom: LoomOptions { preemption_bound: args.preemption_bound.0, ..LoomOptions::default() },
        pct_depth: args.pct_depth,
        minimize: !args.no_minimize,
        jobs: args.jobs.unwrap_or_else(RunConfig::available_jobs),
        deny_no_concurrency: args.deny.iter().any(|w| w == "no-concurrency"),
        ..RunConfig::default()
    };

    let mut found = false;
    let mut documents = Vec::new();
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for v in &variants {
        let sub = variant_sub_dir(variants.len(), &v.name);
        let shown_dir = out.as_ref().map(|o| o.path_of(&sub).display().to_string());
        if args.guard_pages {
            let guarded = super::guard::run(&scenario.name, &v.name, &args, shown_dir)?;
            found |= guarded.failed;
            files.extend(guarded.files.into_iter().map(|(name, bytes)| (sub.join(name), bytes)));
            match guarded.json {
                Some(doc) => documents.push(doc),
                None => output::print(&guarded.text),
            }
            continue;
        }
        let report = {
            let shown = cx.verbosity.progress() && !args.json;
            let what = format!("{} ({})", scenario.name, v.name);
            let _progress = output::ExplorationProgress::start(
                shown,
                &what,
                config.budget.executions,
                config.budget.time,
            );
            explore::run(&v.body(), &config)
        };
        if let Some(limited) = report.not_run() {
            return Err(UsageError(format!(
                "{} cannot check {} ({}): {}",
                limited.backend, scenario.name, v.name, limited.reason
            )));
        }
        found |= !report.succeeded();
        let view = RunView {
            scenario: &scenario.name,
            variant: &v.name,
            report: &report,
            replay_command: replay_command(&cx.program, &scenario.name, &v.name, &report),
            out_dir: shown_dir,
        };
        files.extend(report_files(&view).into_iter().map(|(name, bytes)| (sub.join(name), bytes)));
        if args.json {
            documents.push(render::json(&view));
        } else {
            output::print(&render::text(&view));
        }
    }
    if args.json {
        let doc =
            if documents.len() == 1 { documents.remove(0) } else { serde_json::json!({ "runs": documents }) };
        output::print_json(&doc);
    }
    let outcome = if found { Outcome::Found } else { Outcome::Clean };
    if let Some(out) = &out {
        super::write_report(out, &files, outcome)?;
    }
    Ok(outcome)
}

fn replay_command(program: &str, scenario: &str, variant: &str, report: &RunReport) -> Option<String> {
    let schedule = report.finding.as_ref()?.schedule.as_ref()?;
    Some(format!(
        "{program} replay {scenario} --variant {variant} --schedule {}",
        shell_quote(&schedule.to_string())
    ))
}

/// The files of one variant's report: summary.json, and for a failure schedule.txt and the
/// trace as text and JSON.
fn report_files(view: &RunView<'_>) -> Vec<(PathBuf, Vec<u8>)> {
    let json = |v: &serde_json::Value| serde_json::to_vec_pretty(v).expect("JSON values always serialize");
    let mut files = vec![(PathBuf::from("summary.json"), json(&render::json(view)))];
    if let Some(finding) = &view.report.finding {
        if let Some(schedule) = &finding.schedule {
            files.push((PathBuf::from("schedule.txt"), format!("{schedule}\n").into_bytes()));
        }
        if let Some(trace) = &finding.trace {
            files.push((PathBuf::from("trace.txt"), lockhound_reports::trace::text(trace).into_bytes()));
            files.push((PathBuf::from("trace.json"), json(&lockhound_reports::trace::json(trace))));
        }
    }
    files
}
