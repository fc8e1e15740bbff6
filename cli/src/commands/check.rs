//! `lockhound check`: the CI gate. Resolves the config, shard and corpus, runs the cases the
//! harness's gate plans, and prints what lockhound-reports renders.

use super::program;
use crate::args::{parse_backend, parse_bound, parse_jobs, PreemptionBound};
use crate::{output, Outcome, UsageError};
use clap::Args;
use lockhound::gate::{self, Corpus, GateConfig, Settings, Shard};
use lockhound::{Backend, RunConfig};
use lockhound_reports::gate::{self as render, GateView};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The config `check` reads when `--config` is not given and this file exists in the
/// working folder.
const DEFAULT_CONFIG: &str = "lockhound.toml";

#[derive(Args)]
#[command(long_about = "The CI gate: run every scenario variant of the catalog (or those lockhound.toml \
    lists) under the configured backends and check expectations: a fixed variant must pass, a buggy \
    one must be detected.\n\nExit status: 0 every expectation met, 1 one missed, 2 bad usage or config.")]
pub struct CheckArgs {
    /// The gate's config; ./lockhound.toml when it exists, else built-in defaults
    /// (every variant under loom and shuttle-pct, 10,000 executions, 30 s per case).
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
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
    /// Most seconds per case, overriding the config.
    #[arg(long = "time-limit", value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub time_limit: Option<u64>,
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
fn load_config(args: &CheckArgs) -> Result<(GateConfig, Option<String>), UsageError> {
    let catalog = lockhound_scenarios::catalog();
    let path = match &args.config {
        Some(path) => path.clone(),
        None if Path::new(DEFAULT_CONFIG).is_file() => PathBuf::from(DEFAULT_CONFIG),
        None => return Ok((GateConfig::default(), None)),
    };
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(&path).map_err(|e| UsageError(format!("{shown}: cannot read: {e}")))?;
    let config = GateConfig::parse(&shown, &text, catalog)?;
    Ok((config, Some(shown)))
}

/// Fails early, before a long run, when the JUnit report could not be written.
fn check_junit_path(path: &Path) -> Result<(PathBuf, String), UsageError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| UsageError(format!("--junit {}: not a file name", path.display())))?
        .to_string();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if path.is_dir() {
        return Err(UsageError(format!("--junit {}: is a folder", path.display())));
    }
    std::fs::create_dir_all(&dir).map_err(|e| UsageError(format!("--junit {}: {e}", path.display())))?;
    Ok((dir, name))
}

pub fn check(args: CheckArgs) -> Result<Outcome, UsageError> {
    let catalog = lockhound_scenarios::catalog();
    let (config, config_name) = load_config(&args)?;
    let overrides = Settings {
        backends: (!args.backend.is_empty()).then(|| args.backend.clone()),
        iterations: args.iterations,
        time_limit: args.time_limit,
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
    let program = program();
    let notes: Vec<String> = corpus.as_ref().map(|c| c.notes().to_vec()).unwrap_or_default();
    let mut view = GateView {
        results: &[],
        program: &program,
        shard: args.shard,
        config: config_name.as_deref(),
        corpus: corpus_name.as_deref(),
        notes: &notes,
    };

    // Each case's line is printed as soon as it is known, so a CI log shows progress.
    let mut stdout = std::io::stdout();
    if !args.json {
        print!("{}", render::header_text(&view, cases.len()));
        let _ = stdout.flush();
    }
    let jobs = args.jobs.unwrap_or_else(RunConfig::available_jobs);
    let results = output::without_engine_chatter(|| {
        gate::run_cases(&cases, corpus.as_ref(), jobs, |result| {
            if !args.json {
                print!("{}", render::case_text(&program, result));
                let _ = stdout.flush();
            }
        })
    });
    view.results = &results;

    if let (Some((dir, name)), Some(path)) = (&junit, &args.junit) {
        output::write_atomic(dir, name, render::junit(&view).as_bytes())
            .map_err(|e| UsageError(format!("--junit {}: cannot write: {e}", path.display())))?;
    }
    if args.json {
        output::print_json(&render::json(&view));
    } else {
        println!("{}", render::summary_line(&results));
    }
    let (_, failed) = gate::tally(&results);
    Ok(if failed == 0 { Outcome::Clean } else { Outcome::Found })
}
