//! `run --guard-pages`: the variant runs on real threads in a child process (this same
//! executable) under the guard-page allocator; the parent reports what the child's allocator
//! caught, symbolized, and survives the child's crash.

use super::{variant, Context};
use crate::args::{GuardChildArgs, RunArgs};
use crate::{Outcome, UsageError};
use lockhound::guard::{run_guarded, GuardOptions, GuardOutcome};
use lockhound::{explore, Backend, Budget, RunConfig};
use lockhound_reports::guard::{self as render, GuardView};
use std::path::PathBuf;
use std::process::Command;

/// What a guarded run of one variant gave: whether it failed, its report files, and its
/// output (a JSON document under `--json`, text otherwise).
pub struct Guarded {
    pub failed: bool,
    pub files: Vec<(PathBuf, Vec<u8>)>,
    pub json: Option<serde_json::Value>,
    pub text: String,
}

/// Runs one variant under guard pages in a child process (this same executable).
pub fn run(
    scenario: &str,
    variant: &str,
    args: &RunArgs,
    out_dir: Option<String>,
) -> Result<Guarded, UsageError> {
    let exe = std::env::current_exe().map_err(|e| UsageError(format!("cannot find this executable: {e}")))?;
    let mut command = Command::new(exe);
    command.args(["__guard-child", scenario, "--variant", variant]);
    command.args([
        "--iterations",
        &args.iterations.to_string(),
        "--time-limit",
        &args.time_limit.as_secs().to_string(),
    ]);
    // The child stops itself at its time limit; the margin (saturating) covers the rest.
    let options = GuardOptions::default().child_time_limit(args.time_limit);
    let guarded = run_guarded(command, &options)
        .map_err(|e| UsageError(format!("cannot run the guarded child: {e}")))?;
    let view = GuardView { scenario, variant, run: &guarded, out_dir };
    let doc = render::json(&view);
    let files = vec![(
        PathBuf::from("summary.json"),
        serde_json::to_vec_pretty(&doc).expect("JSON values always serialize"),
    )];
    let failed = !matches!(guarded.outcome, GuardOutcome::Passed);
    let text = if args.json { String::new() } else { render::text(&view) };
    Ok(Guarded { failed, files, json: args.json.then_some(doc), text })
}

/// The child: explores the variant on real threads; a finding other than a memory fault
/// (which kills the process before this returns) exits 1 with its message on stderr.
pub fn child(cx: &Context<'_>, args: GuardChildArgs) -> Result<Outcome, UsageError> {
    let v = variant(cx.catalog.scenario(&args.scenario)?, &args.variant)?;
    let config = RunConfig {
        backend: Backend::Stress,
        budget: Budget { executions: args.iterations, time: args.time_limit },
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
