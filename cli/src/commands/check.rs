//! `lockhound check`: the CI gate. Resolves the config, shard and corpus, runs the cases the
//! harness's gate plans, and prints what lockhound-reports renders.

use super::Context;
use crate::args::{parse_backend, parse_bound, parse_count, parse_jobs, parse_seconds, PreemptionBound};
use crate::gate::{self, Corpus, GateConfig, Settings, Shard};
use crate::{output, Outcome, UsageError};
use clap::Args;
use lockhound::scenario::Scenario;
use lockhound::{Backend, RunConfig};
use lockhound_reports::gate::{self as render, GateView};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most a config file may hold: a `lockhound.toml` is a few KB.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Args)]
#[command(long_about = "The CI gate: run every scenario variant (or those lockhound.toml lists) under the \
    configured backends and check expectations: a variant that must pass passes, a buggy one is \
    detected.\n\nExit status: 0 every expectation met, 1 one missed, 2 bad usage or config, or a gate \
    with no case to check.")]
pub struct CheckArgs {
    /// The gate's config; lockhound.toml (in the working folder, or a test target's package
    /// root) when it exists, else built-in defaults (every variant under loom and shuttle-pct,
    /// 10,000 executions, 30 s per case).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write a JUnit XML report here (atomically): one test case per scenario, variant and backend.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print one JSON document summarizing every case instead of text.
    #[arg(long)]
    pub json: bool,
    /// Run only shard K of N (1-based): shards 1..N together run every case exactly once.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// A folder of recorded failing schedules: replayed before exploring, and where new
    /// failing schedules are saved. Created when missing.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Run every case under these backends instead of the config's (repeatable, or comma-separated).
    #[arg(long, value_name = "B", value_delimiter = ',', value_parser = parse_backend)]
    pub backend: Vec<Backend>,
    /// Most executions per case, overriding the config.
    #[arg(long, value_parser = parse_count)]
    pub iterations: Option<u64>,
    /// Most seconds per case, overriding the config.
    #[arg(long = "time-limit", value_name = "SECS", value_parser = parse_seconds)]
    pub time_limit: Option<Duration>,
    /// loom's preemption bound for every case (a number, or `none`), overriding the config.
    #[arg(long = "preemption-bound", value_name = "N|none", value_parser = parse_bound)]
    pub preemption_bound: Option<PreemptionBound>,
    /// Seed of the randomized strategies, overriding the config.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Cases run at once (default: the number of cores). Each case explores on one thread,
    /// so its outcome does not depend on this; results are printed in plan order.
    #[arg(long, value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

/// The config to use and the name it is shown under.
fn load_config(cx: &Context<'_>, args: &CheckArgs) -> Result<(GateConfig, Option<String>), UsageError> {
    let path = match &args.config {
        Some(path) => path.clone(),
        None => {
            let default = cx.target.default_config();
            if !default.is_file() {
                return Ok((GateConfig::default(), None));
            }
            default
        }
    };
    let config = load_config_file(&path, cx.catalog.scenarios())?;
    Ok((config, Some(path.display().to_string())))
}

/// Reads and checks the config file at `path` against `catalog`.
pub(crate) fn load_config_file(path: &Path, catalog: &[Scenario]) -> Result<GateConfig, UsageError> {
    let shown = path.display().to_string();
    let text = read_config(path).map_err(|why| UsageError(format!("{}: {why}", output::shown(&shown))))?;
    Ok(GateConfig::parse(&shown, &text, catalog)?)
}

/// Reads a config file: a regular file of bounded size (not a FIFO, not /dev/zero).
fn read_config(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    if !file.metadata().map_err(|e| format!("cannot read: {e}"))?.is_file() {
        return Err("not a regular file".to_string());
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text).map_err(|e| format!("cannot read: {e}"))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("larger than {} KB: not a lockhound config", MAX_CONFIG_BYTES >> 10));
    }
    Ok(text)
}

/// Fails early, before a long run, when the JUnit report could not be written: its folder
/// is created and written to now.
fn check_junit_path(path: &Path) -> Result<PathBuf, UsageError> {
    let bad = |why: String| UsageError(format!("--junit {}: {why}", path.display()));
    if path.file_name().is_none() {
        return Err(bad("not a file name".to_string()));
    }
    if path.is_dir() {
        return Err(bad("is a folder".to_string()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| bad(e.to_string()))?;
    tempfile::Builder::new()
        .prefix(".lockhound-")
        .tempfile_in(&dir)
        .map_err(|e| bad(format!("cannot write there: {e}")))?;
    Ok(path.to_path_buf())
}

pub fn check(cx: &Context<'_>, args: CheckArgs) -> Result<Outcome, UsageError> {
    let catalog = cx.catalog.scenarios();
    let (config, config_name) = load_config(cx, &args)?;
    let overrides = Settings {
        backends: (!args.backend.is_empty()).then(|| args.backend.clone()),
        iterations: args.iterations,
        time_limit: args.time_limit.map(|t| t.as_secs()),
        preemption_bound: args.preemption_bound.map(|b| b.0),
        pct_depth: None,
        seed: args.seed,
    };
    let junit = args.junit.as_deref().map(check_junit_path).transpose()?;
    let corpus = match &args.corpus {
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                return Err(UsageError(format!("--corpus {}: exists and is not a folder", dir.display())));
            }
            Some(
                Corpus::open(dir, catalog)
                    .map_err(|e| UsageError(format!("--corpus {}: {e}", dir.display())))?,
            )
        }
        None => None,
    };
    let corpus_name = args.corpus.as_ref().map(|d| d.display().to_string());
    let cases = gate::plan(catalog, &config, &overrides, args.shard);
    if cases.is_empty() {
        return Err(UsageError(nothing_to_check(&config, args.shard)));
    }
    let notes: Vec<String> = corpus.as_ref().map(|c| c.notes().to_vec()).unwrap_or_default();
    let shard = args.shard.map(|s| s.to_string());
    let mut view = GateView {
        results: &[],
        program: &cx.program,
        shard: shard.as_deref(),
        config: config_name.as_deref(),
        corpus: corpus_name.as_deref(),
        notes: &notes,
    };

    // Each case's line is printed as soon as it is known, so a CI log shows progress.
    if !args.json {
        output::print(&render::header_text(&view, cases.len()));
    }
    let jobs = args.jobs.unwrap_or_else(RunConfig::available_jobs);
    let progress = output::Progress::bar(cx.verbosity.progress() && !args.json, cases.len() as u64, "cases");
    let results = gate::run_cases(&cases, corpus.as_ref(), jobs, |result| {
        progress.step(&result.id());
        if !args.json {
            progress.print(&render::case_text(&cx.program, result));
        }
    });
    progress.finish();
    view.results = &results;

    if let Some(path) = &junit {
        output::write_file_atomic(path, render::junit(&view).as_bytes())
            .map_err(|e| UsageError(format!("--junit {}: cannot write: {e}", path.display())))?;
    }
    if args.json {
        output::print_json(&render::json(&view));
    } else {
        output::print(&format!("{}\n", render::summary_line(&results)));
    }
    let (_, failed) = gate::tally(&results);
    Ok(if failed == 0 { Outcome::Clean } else { Outcome::Found })
}

/// Why a gate has no case, in one line: a gate that checks nothing must not pass.
fn nothing_to_check(config: &GateConfig, shard: Option<Shard>) -> String {
    match shard {
        Some(shard) => format!(
            "shard {shard} has no case: the gate has fewer cases than {} shards (use fewer shards)",
            shard.count
        ),
        None if config.include == gate::Include::Listed && config.scenarios.is_empty() => {
            "the gate has no case: include = \"listed\" and no [scenario.NAME] table".to_string()
        }
        None => "the gate has no case to check".to_string(),
    }
}
