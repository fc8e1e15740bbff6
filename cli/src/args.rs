//! The command line, as clap parses it.

use clap::{Args, CommandFactory, Parser, Subcommand};
use lockhound::{limits, Backend};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Whether `args` (the whole command line, the program first) asks for a lockhound command
/// (or for help or the version), rather than being a test harness's arguments (none, a filter,
/// `--list`, `--exact NAME`, ...).
pub fn names_a_command(args: &[OsString]) -> bool {
    let Some(first) = args.get(1).and_then(|a| a.to_str()) else { return false };
    if matches!(first, "--help" | "-h" | "--version" | "-V" | "help") {
        return true;
    }
    Cli::command().get_subcommands().any(|c| c.get_name() == first)
}

#[derive(Parser)]
#[command(
    name = "lockhound",
    version,
    about = "Hunt concurrency bugs: run scenarios under loom, shuttle and real threads",
    long_about = "Hunt concurrency bugs: run scenarios under loom, shuttle and real threads, \
                  and get replayable schedules for what fails.\n\n\
                  Exit status: 0 nothing found, 1 a finding, 2 bad usage or bad input."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Say more on stderr: -v what lockhound decides (engines, lanes, minimization), -vv
    /// and -vvv more detail. LOCKHOUND_LOG (tracing's filter syntax) overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress line and no log on stderr: errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the scenarios with their provenance and variants.
    List {
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Explore a scenario and report the first failure with a schedule that replays it.
    Run(RunArgs),
    /// Replay a schedule printed by `run` (or written to schedule.txt by `--out`).
    Replay(ReplayArgs),
    /// Run a scenario on real threads with the lock-holder tracker: potential deadlocks,
    /// watchdog reports, wait and hold flamegraphs, the lock-order graph.
    Track(TrackArgs),
    /// The CI gate: run every scenario's variants and check each one's expectation.
    Check(crate::commands::check::CheckArgs),
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    #[command(name = "__guard-child", hide = true)]
    GuardChild(GuardChildArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The scenario to run (see `lockhound list`).
    pub scenario: String,
    /// The variant to run; every variant of the scenario when omitted.
    #[arg(long)]
    pub variant: Option<String>,
    /// The engine: auto, loom, shuttle-random, shuttle-pct, shuttle-urw, shuttle-dfs or stress.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    pub backend: Backend,
    /// Seed of the randomized strategies; the same seed explores the same schedules.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most executions to explore.
    #[arg(long, default_value = "10000", value_parser = parse_count)]
    pub iterations: u64,
    /// Most seconds to spend per variant.
    #[arg(long = "time-limit", value_name = "SECS", default_value = "30", value_parser = parse_seconds)]
    pub time_limit: Duration,
    /// loom's preemption bound: a number, or `none` for the full space.
    #[arg(long = "preemption-bound", value_name = "N|none", default_value = "2", value_parser = parse_bound)]
    pub preemption_bound: PreemptionBound,
    /// Depth of shuttle-pct.
    #[arg(long = "pct-depth", default_value = "3", value_parser = parse_pct_depth)]
    pub pct_depth: usize,
    /// Threads exploring at once (default: the number of cores). The result depends on the
    /// seed and the job count, not on thread timing.
    #[arg(long, value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Treat a warning as a failure: `no-concurrency` (no execution ever had two threads that
    /// could run at once, so nothing concurrent was tested).
    #[arg(long, value_name = "WARNING", value_parser = ["no-concurrency"])]
    pub deny: Vec<String>,
    /// Report the failing schedule as found, without shrinking it first.
    #[arg(long = "no-minimize")]
    pub no_minimize: bool,
    /// Run on real threads in a child process under the guard-page allocator, which catches
    /// use-after-free, overflow and underflow at the faulting access.
    #[arg(long = "guard-pages")]
    pub guard_pages: bool,
    /// Write summary.json and, for a failure, schedule.txt into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct TrackArgs {
    /// The scenario to track (see `lockhound list`).
    pub scenario: String,
    /// The variant to track; every variant of the scenario when omitted.
    #[arg(long)]
    pub variant: Option<String>,
    /// Iterations of the body on real threads.
    #[arg(long, default_value = "100", value_parser = parse_count)]
    pub iterations: u64,
    /// Most seconds to spend per variant.
    #[arg(long = "time-limit", value_name = "SECS", default_value = "30", value_parser = parse_seconds)]
    pub time_limit: Duration,
    /// A wait at least this long is reported by the watchdog.
    #[arg(long = "watchdog-ms", value_name = "MS", default_value = "500", value_parser = parse_count)]
    pub watchdog_ms: u64,
    /// Time the hold of one lock acquisition in N, at random (1: every one, two clock reads each).
    #[arg(long = "hold-sample", value_name = "N", default_value_t = lockhound::tracker::TrackOptions::default().hold_sample_period, value_parser = clap::value_parser!(u32).range(1..))]
    pub hold_sample: u32,
    /// Write report.txt, report.json, wait.svg, hold.svg, wait.folded, hold.folded and
    /// lock-order.dot into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The child side of `run --guard-pages`: the body on real threads, nothing else.
#[derive(Args)]
pub struct GuardChildArgs {
    pub scenario: String,
    #[arg(long)]
    pub variant: String,
    #[arg(long, value_parser = parse_count)]
    pub iterations: u64,
    #[arg(long = "time-limit", value_parser = parse_seconds)]
    pub time_limit: Duration,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The scenario the schedule belongs to.
    pub scenario: String,
    /// The variant the schedule belongs to.
    #[arg(long)]
    pub variant: String,
    /// The schedule text, or @FILE to read it from a file.
    #[arg(long)]
    pub schedule: String,
    /// Also print the execution step by step (the trace).
    #[arg(long)]
    pub trace: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

/// loom's preemption bound as given on the command line (`none`: unbounded).
#[derive(Clone, Copy)]
pub struct PreemptionBound(pub Option<usize>);

pub fn parse_bound(s: &str) -> Result<PreemptionBound, String> {
    limits::preemption_bound(s).map(PreemptionBound)
}

pub fn parse_count(s: &str) -> Result<u64, String> {
    limits::count(s)
}

pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    limits::seconds(s)
}

pub fn parse_jobs(s: &str) -> Result<usize, String> {
    limits::jobs(s)
}

pub fn parse_pct_depth(s: &str) -> Result<usize, String> {
    limits::pct_depth(s)
}
