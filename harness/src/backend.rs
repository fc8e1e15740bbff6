//! The exploration engines a run can use, and how each is configured.

use crate::limits;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which engine explores a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// loom: exhaustive with partial-order reduction, weak memory, data-race detection.
    Loom,
    /// shuttle with uniformly random scheduling.
    ShuttleRandom,
    /// shuttle with probabilistic concurrency testing (PCT) of a given depth.
    ShuttlePct,
    /// shuttle's selectively uniform random walk (URW, ASPLOS'25): each step runs a thread
    /// with a probability in proportion to the steps it has left, estimated from a first
    /// execution, so that every interleaving is about equally likely however many threads and
    /// steps each has. Strong on bodies with many threads.
    ShuttleUrw,
    /// shuttle's depth-first exhaustive search.
    ShuttleDfs,
    /// real threads, many iterations, hang detection.
    Stress,
    /// a portfolio of the others, the default.
    Auto,
}

impl Backend {
    pub const ALL: [Backend; 7] = [
        Backend::Auto,
        Backend::Loom,
        Backend::ShuttleRandom,
        Backend::ShuttlePct,
        Backend::ShuttleUrw,
        Backend::ShuttleDfs,
        Backend::Stress,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Loom => "loom",
            Backend::ShuttleRandom => "shuttle-random",
            Backend::ShuttlePct => "shuttle-pct",
            Backend::ShuttleUrw => "shuttle-urw",
            Backend::ShuttleDfs => "shuttle-dfs",
            Backend::Stress => "stress",
            Backend::Auto => "auto",
        }
    }

    /// Whether a finding of this backend comes with a schedule that replays it exactly.
    pub fn replayable(self) -> bool {
        !matches!(self, Backend::Stress)
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Backend::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            let names: Vec<_> = Backend::ALL.iter().map(|b| b.name()).collect();
            format!("unknown backend '{s}' (expected one of: {})", names.join(", "))
        })
    }
}

/// How much a run may spend. Every run ends when either is used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// The most executions (schedules) to explore.
    pub executions: u64,
    /// The most wall-clock time to spend.
    pub time: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { executions: 10_000, time: Duration::from_secs(30) }
    }
}

/// Options of the loom engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LoomOptions {
    /// Bound on preemptions per execution; `None` explores every interleaving.
    pub preemption_bound: Option<usize>,
    /// Branch points allowed in one execution before loom gives up on it.
    pub max_branches: usize,
}

impl Default for LoomOptions {
    fn default() -> Self {
        LoomOptions { preemption_bound: Some(2), max_branches: 10_000 }
    }
}

/// Everything a run needs besides the body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunConfig {
    pub backend: Backend,
    /// Seed of the randomized strategies; the same seed explores the same schedules.
    pub seed: u64,
    pub budget: Budget,
    pub loom: LoomOptions,
    /// Depth of PCT: the number of priority change points plus one.
    pub pct_depth: usize,
    /// Scheduling steps one shuttle execution may take. An execution that reaches it is
    /// continued under a fair schedule for as many steps again: if it still does not end, it
    /// is a livelock finding; if it ends, it was the strategy's unfairness and no finding.
    pub max_steps: usize,
    /// Under stress, an iteration that makes no progress this long is reported as a hang.
    pub hang_timeout: Duration,
    /// Shrink a failing shuttle schedule before reporting it.
    pub minimize: bool,
    /// Threads exploring at once: shuttle seeds and portfolio members run side by side, and
    /// the first finding stops the others. The outcome is the same for a given seed and job
    /// count however the threads are scheduled (see `explore::race`), as long as the time
    /// budget does not end the run: a binding time budget ends it after however many
    /// executions the machine managed (docs/guide.md, "What is deterministic").
    pub jobs: usize,
    /// A run in which no execution ever had two threads that could run at once fails
    /// (`RunReport::succeeded`), instead of passing with a warning.
    pub deny_no_concurrency: bool,
}

impl RunConfig {
    /// The settings a run honours. The command line, `lockhound.toml` and the environment
    /// refuse what is out of range (`limits`); a configuration built through the API gets it
    /// brought within range here, the one place every run goes through: a preemption bound
    /// past [`limits::MAX_PREEMPTION_BOUND`] is searched as the full space (which holds every
    /// schedule the bound allows), and job counts and PCT depths are clamped.
    pub fn effective(&self) -> RunConfig {
        let mut c = self.clone();
        c.loom.preemption_bound = limits::clamped_preemption_bound(c.loom.preemption_bound);
        c.jobs = c.jobs.clamp(1, limits::MAX_JOBS);
        c.pct_depth = c.pct_depth.clamp(1, limits::MAX_PCT_DEPTH);
        c
    }

    /// The cores this machine offers: the command line's default job count.
    pub fn available_jobs() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            backend: Backend::Auto,
            seed: 0,
            budget: Budget::default(),
            loom: LoomOptions::default(),
            pct_depth: 3,
            max_steps: 100_000,
            hang_timeout: Duration::from_secs(3),
            minimize: true,
            jobs: 1,
            deny_no_concurrency: false,
        }
    }
}
