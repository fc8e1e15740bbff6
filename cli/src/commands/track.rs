use super::{scenario, variant_out_dir, variants};
use crate::args::TrackArgs;
use crate::{output, Outcome, UsageError};
use lockhound::tracker::{track as track_body, TrackOptions, TrackReport};
use lockhound_reports::tracking as render;
use std::path::Path;
use std::time::Duration;

pub fn track(args: TrackArgs) -> Result<Outcome, UsageError> {
    let scenario = scenario(&args.scenario)?;
    let variants = variants(scenario, args.variant.as_deref())?;
    if let Some(dir) = &args.out {
        output::prepare_out_dir(dir)?;
    }
    let options = TrackOptions {
        iterations: args.iterations,
        time_limit: Duration::from_secs(args.time_limit),
        watchdog_threshold: Duration::from_millis(args.watchdog_ms),
        hold_sample_period: args.hold_sample,
        ..TrackOptions::default()
    };
    let mut found = false;
    let mut documents = Vec::new();
    for v in &variants {
        let report = output::without_engine_chatter(|| track_body(&v.body(), options.clone()));
        let problems = !report.potential_deadlocks.is_empty()
            || !report.watchdog.is_empty()
            || report.hung
            || report.panic.is_some();
        found |= problems;
        let out_dir = variant_out_dir(args.out.as_deref(), variants.len(), v.name);
        if let Some(dir) = &out_dir {
            write_files(dir, &report)?;
        }
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
            println!("{} ({}) tracked on real threads: {verdict}", scenario.name, v.name);
            print!("{}", render::text_report(&report));
            if let Some(dir) = &out_dir {
                println!(
                    "report written to {}/ (wait.svg, hold.svg, lock-order.dot, report.txt)",
                    dir.display()
                );
            }
        }
    }
    if args.json {
        let doc =
            if documents.len() == 1 { documents.remove(0) } else { serde_json::json!({ "runs": documents }) };
        output::print_json(&doc);
    }
    Ok(if found { Outcome::Found } else { Outcome::Clean })
}

fn write_files(dir: &Path, report: &TrackReport) -> Result<(), UsageError> {
    output::prepare_out_dir(dir)?;
    let json = serde_json::to_vec_pretty(report).expect("JSON values always serialize");
    let files: [(&str, Vec<u8>); 7] = [
        ("report.txt", render::text_report(report).into_bytes()),
        ("report.json", json),
        ("wait.svg", render::wait_svg(report)),
        ("hold.svg", render::hold_svg(report)),
        ("wait.folded", render::wait_folded(report).into_bytes()),
        ("hold.folded", render::hold_folded(report).into_bytes()),
        ("lock-order.dot", render::order_dot(report).into_bytes()),
    ];
    for (name, contents) in files {
        output::write_atomic(dir, name, &contents)
            .map_err(|e| UsageError(format!("cannot write {name} to {}: {e}", dir.display())))?;
    }
    Ok(())
}
