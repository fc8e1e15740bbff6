//! The bug-finding suite (`lockhound_scenarios::suite`) under every backend: for each version
//! of each program, how many seeds found a bug (flagged, for a correct version), and the
//! median executions and time to the finding. Prints a markdown table (docs/performance.md).
//!
//! `cargo bench -p lockhound-benches --bench suite` runs every version under `lockhound::
//! Check::new()`'s defaults (auto, 1 job), `auto` with 2 jobs (the command line's default on
//! this machine) and each single backend, seeds 0..5, with the default budget (10,000
//! executions, 30 s). Options after `--`:
//! - `--seeds N`, `--iterations N`, `--time-limit SECS`: fewer seeds or a smaller budget;
//! - `--backends auto,shuttle-pct,...` (`auto-2` is auto with 2 jobs): those contenders only;
//! - any other word: only programs or versions whose `program/version` name contains it.
//!
//! Each contender runs every seed of a version before the next contender, in this process.
//! The executions of a run are the executions of all its engines up to the finding (for
//! `auto`, its rotation and loom; with 2 jobs, both lanes). Time is the search's
//! (`search_elapsed`: no minimization, no trace). After the table of every run, a summary: one
//! row per version, one column per contender, for docs/performance.md.

use lockhound::{explore, Backend, Body, Budget, RunConfig, RunReport};
use lockhound_scenarios::suite::{self, Expected, Program, Version};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A column of the table: a backend and a job count.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Contender {
    backend: Backend,
    jobs: usize,
}

impl Contender {
    fn name(self) -> String {
        match (self.backend, self.jobs) {
            (Backend::Auto, 1) => "defaults (auto)".to_string(),
            (backend, 1) => backend.name().to_string(),
            (backend, jobs) => format!("{backend} ({jobs} jobs)"),
        }
    }
}

const CONTENDERS: [Contender; 8] = [
    Contender { backend: Backend::Auto, jobs: 1 },
    Contender { backend: Backend::Auto, jobs: 2 },
    Contender { backend: Backend::Loom, jobs: 1 },
    Contender { backend: Backend::ShuttleRandom, jobs: 1 },
    Contender { backend: Backend::ShuttlePct, jobs: 1 },
    Contender { backend: Backend::ShuttleUrw, jobs: 1 },
    Contender { backend: Backend::ShuttleDfs, jobs: 1 },
    Contender { backend: Backend::Stress, jobs: 1 },
];

struct Options {
    seeds: u64,
    budget: Budget,
    contenders: Vec<Contender>,
    filters: Vec<String>,
}

fn options() -> Options {
    let mut o =
        Options { seeds: 5, budget: Budget::default(), contenders: CONTENDERS.to_vec(), filters: Vec::new() };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let number = |what: &str, v: Option<String>| -> u64 {
        v.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{what} takes a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seeds" => o.seeds = number("--seeds", args.next()),
            "--iterations" => o.budget.executions = number("--iterations", args.next()),
            "--time-limit" => o.budget.time = Duration::from_secs(number("--time-limit", args.next())),
            "--backends" => {
                let list = args.next().expect("--backends takes a list");
                o.contenders = list
                    .split(',')
                    .map(|name| match name.strip_suffix("-2") {
                        Some("auto") => Contender { backend: Backend::Auto, jobs: 2 },
                        _ => Contender { backend: name.parse().unwrap_or_else(|e| panic!("{e}")), jobs: 1 },
                    })
                    .collect();
            }
            filter => o.filters.push(filter.to_string()),
        }
    }
    o
}

/// What one contender did on one seed.
struct Run {
    found: bool,
    executions: u64,
    search: Duration,
    /// A finding on a correct version, or a run that explored nothing: what it said.
    note: Option<String>,
}

fn run_once(body: &Body, contender: Contender, seed: u64, budget: Budget) -> Run {
    let config = RunConfig {
        backend: contender.backend,
        seed,
        budget,
        jobs: contender.jobs,
        minimize: false,
        ..RunConfig::default()
    };
    let report: RunReport = explore::run(body, &config);
    let note = match (&report.finding, report.not_run()) {
        (Some(f), _) => Some(format!("{}: {}", f.kind.name(), f.message.lines().next().unwrap_or_default())),
        (None, Some(limited)) => Some(format!("{} not run: {}", limited.backend, limited.reason)),
        (None, None) => None,
    };
    Run {
        found: report.finding.is_some(),
        executions: report.executions,
        search: report.search_elapsed,
        note,
    }
}

fn median<T: Copy + Ord>(mut values: Vec<T>) -> Option<T> {
    values.sort();
    values.get(values.len().saturating_sub(1) / 2).copied()
}

fn time(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1e3)
    }
}

/// One row: found (or flagged) out of the seeds; median executions and time over the seeds
/// that found it; for a correct version, what flagged it, if anything.
fn row(program: &Program, version: &Version, contender: Contender, runs: &[Run]) -> String {
    let found: Vec<&Run> = runs.iter().filter(|r| r.found).collect();
    let (executions, search) = if found.is_empty() {
        // Nothing found: what the whole budget took.
        (median(runs.iter().map(|r| r.executions).collect()), median(runs.iter().map(|r| r.search).collect()))
    } else {
        (
            median(found.iter().map(|r| r.executions).collect()),
            median(found.iter().map(|r| r.search).collect()),
        )
    };
    let cell = |what: &str| format!("{}/{} {what}", found.len(), runs.len());
    let verdict = match version.expected {
        Expected::Fail => cell("found"),
        Expected::Pass => cell("flagged"),
    };
    let spent = if found.is_empty() { " (budget)" } else { "" };
    let note = runs.iter().find_map(|r| r.note.clone()).unwrap_or_default();
    format!(
        "| {}/{} | {} | {verdict} | {}{spent} | {}{spent} | {note} |",
        program.name,
        version.name,
        contender.name(),
        executions.unwrap_or(0),
        search.map(time).unwrap_or_default(),
    )
}

/// One cell of the summary: found (or flagged) out of the seeds, and the median executions to
/// the finding; `-` when no seed found anything.
fn cell(runs: &[Run]) -> String {
    let found: Vec<u64> = runs.iter().filter(|r| r.found).map(|r| r.executions).collect();
    match median(found.clone()) {
        Some(executions) => format!("{}/{} · {executions}", found.len(), runs.len()),
        None => format!("0/{}", runs.len()),
    }
}

fn main() {
    let o = options();
    let mut summary: Vec<String> = Vec::new();
    let started = Instant::now();
    println!(
        "Seeds 0..{}, {} executions, {} s per run; executions and time: median over the seeds that found \
         the bug (over all seeds, marked (budget), when none did).\n",
        o.seeds,
        o.budget.executions,
        o.budget.time.as_secs()
    );
    println!("| program/version | backend | found | executions | time | note |");
    println!("|---|---|---|---|---|---|");
    for (program, version) in suite::versions() {
        let id = format!("{}/{}", program.name, version.name);
        if !o.filters.is_empty() && !o.filters.iter().any(|f| id.contains(f.as_str())) {
            continue;
        }
        let body: Body = Arc::new(version.body);
        let mut cells = Vec::new();
        for &contender in &o.contenders {
            let runs: Vec<Run> =
                (0..o.seeds).map(|seed| run_once(&body, contender, seed, o.budget)).collect();
            println!("{}", row(program, version, contender, &runs));
            cells.push(cell(&runs));
        }
        summary.push(format!("| {id} | {} |", cells.join(" | ")));
        eprintln!("{id} done at {:.0} s", started.elapsed().as_secs_f64());
    }
    let names: Vec<String> = o.contenders.iter().map(|c| c.name()).collect();
    println!(
        "\nSummary: found (for a correct version: flagged) out of the seeds · median executions to the finding.\n"
    );
    println!("| version | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    for line in summary {
        println!("{line}");
    }
    println!("\nTotal time: {:.0} s", started.elapsed().as_secs_f64());
}
