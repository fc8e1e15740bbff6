//! `run --guard-pages`: the variant runs on real threads in a child process (this same
//! executable) under the guard-page allocator; the parent reports what the child's allocator
//! caught, symbolized, and survives the child's crash.

use super::{scenario, variant};
use crate::args::{GuardChildArgs, RunArgs};
use crate::{output, Outcome, UsageError};
use lockhound::guard::{run_guarded, GuardOptions, GuardOutcome};
use lockhound::{explore, Backend, Budget, RunConfig};
use lockhound_reports::guard::{self as render, GuardView};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs one variant under guard pages; returns whether it failed, and its JSON document when
/// `--json` asked for one.
pub fn run(
    scenario: &str,
    variant: &str,
    args: &RunArgs,
    out_dir: Option<&Path>,
) -> Result<(bool, Option<serde_json::Value>), UsageError> {
    let exe = std::env::current_exe().map_err(|e| UsageError(format!("cannot find this executable: {e}")))?;
    let mut command = Command::new(exe);
    command.args(["__guard-child", scenario, "--variant", variant]);
    command.args([
        "--iterations",
        &args.iterations.to_string(),
        "--time-limit",
        &args.time_limit.to_string(),
    ]);
    // The child stops itself at its time limit; the margin (saturating) covers the rest.
    let options = GuardOptions::default().child_time_limit(Duration::from_secs(args.time_limit));
    let guarded = run_guarded(command, &options)
        .map_err(|e| UsageError(format!("cannot run the guarded child: {e}")))?;
    let view =
        GuardView { scenario, variant, run: &guarded, out_dir: out_dir.map(|d| d.display().to_string()) };
    if let Some(dir) = out_dir {
        output::prepare_out_dir(dir)?;
        let doc = serde_json::to_vec_pretty(&render::json(&view)).expect("JSON values always serialize");
        output::write_atomic(dir, "summary.json", &doc)
            .map_err(|e| UsageError(format!("cannot write the report to {}: {e}", dir.display())))?;
    }
    let failed = !matches!(guarded.outcome, GuardOutcome::Passed);
    if args.json {
        Ok((failed, Some(render::json(&view))))
    } else {
        print!("{}", render::text(&view));
        Ok((failed, None))
    }
}

/// The child: explores the variant on real threads; a finding other than a memory fault
/// (which kills the process before this returns) exits 1 with its message on stderr.
pub fn child(args: GuardChildArgs) -> Result<Outcome, UsageError> {
    let v = variant(scenario(&args.scenario)?, &args.variant)?;
    let config = RunConfig {
        backend: Backend::Stress,
        budget: Budget {
            executions: args.iterations.max(1),
            time: Duration::from_secs(args.time_limit.max(1)),
        },
        ..RunConfig::default()
    };
    let report = explore::run(&v.body(), &config);
    match report.finding {
        Some(f) => {
            eprintln!("{} on real threads: {}", f.kind.name(), f.message.lines().next().unwrap_or_default());
            Ok(Outcome::Found)
        }
        None => Ok(Outcome::Clean),
    }
}
