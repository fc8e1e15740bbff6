use super::{variant_sub_dir, variants, Context};
use crate::args::TrackArgs;
use crate::output::{self, ReportDir};
use crate::{Outcome, UsageError};
use lockhound::tracker::{track as track_body, TrackOptions, TrackReport};
use lockhound_reports::tracking as render;
use std::path::PathBuf;
use std::time::Duration;

pub fn track(cx: &Context<'_>, args: TrackArgs) -> Result<Outcome, UsageError> {
    let scenario = cx.catalog.scenario(&args.scenario)?;
    let variants = variants(scenario, args.variant.as_deref())?;
    let out = args.out.as_deref().map(|dir| ReportDir::prepare(dir, "--out")).transpose()?;
    let options = TrackOptions {
        iterations: args.iterations,
        time_limit: args.time_limit,
        watchdog_threshold: Duration::from_millis(args.watchdog_ms),
        hold_sample_period: args.hold_sample,
        ..TrackOptions::default()
    };
    let mut found = false;
    let mut documents = Vec::new();
    let mut files = Vec::new();
    for v in &variants {
        let report = {
            let shown = cx.verbosity.progress() && !args.json;
            let what = format!("{} ({}) on real threads", scenario.name, v.name);
            let _progress =
                output::ExplorationProgress::start(shown, &what, options.iterations, options.time_limit);
            track_body(&v.body(), options.clone())
        };
        let problems = !report.potential_deadlocks.is_empty()
            || !report.watchdog.is_empty()
            || report.hung
            || report.panic.is_some();
        found |= problems;
        let sub = variant_sub_dir(variants.len(), &v.name);
        files.extend(report_files(&report).into_iter().map(|(name, bytes)| (sub.join(name), bytes)));
        let verdict = if problems { "FAIL" } else { "pass" };
        if args.json {
            documents.push(serde_json::json!({
                "scenario": scenario.name,
                "variant": v.name,
                "backend": "stress+tracker",
                "outcome": if problems { "fail" } else { "pass" },
                "report": report,
            }));
        } else {
            let mut text = format!("{} ({}) tracked on real threads: {verdict}\n", scenario.name, v.name);
            text.push_str(&render::text_report(&report));
            if let Some(out) = &out {
                text.push_str(&format!(
                    "report written to {}/ (wait.svg, hold.svg, lock-order.dot, report.txt)\n",
                    out.path_of(&sub).display()
                ));
            }
            output::print(&text);
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

/// A tracked variant's files: the report as text and JSON, the flamegraphs and their folded
/// stacks, the lock-order graph.
fn report_files(report: &TrackReport) -> Vec<(PathBuf, Vec<u8>)> {
    let json = serde_json::to_vec_pretty(report).expect("JSON values always serialize");
    vec![
        ("report.txt".into(), render::text_report(report).into_bytes()),
        ("report.json".into(), json),
        ("wait.svg".into(), render::wait_svg(report)),
        ("hold.svg".into(), render::hold_svg(report)),
        ("wait.folded".into(), render::wait_folded(report).into_bytes()),
        ("hold.folded".into(), render::hold_folded(report).into_bytes()),
        ("lock-order.dot".into(), render::order_dot(report).into_bytes()),
    ]
}
