//! What a tracking session returns: plain serializable values, rendered elsewhere.

use super::class::LockKind;
use super::registry::WaitKind;
use super::Mode;
use serde::Serialize;
use std::fmt;
use std::panic::Location;

pub use super::stack::Frame;

/// A source location.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Site {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl Site {
    pub(crate) fn of(l: &Location<'_>) -> Site {
        Site { file: crate::source_path::shorten(l.file()), line: l.line(), column: l.column() }
    }

    pub(crate) fn unknown() -> Site {
        Site { file: "?".into(), line: 0, column: 0 }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Everything a tracking session saw.
#[derive(Clone, Debug, Serialize)]
pub struct TrackReport {
    /// Iterations of the body run (the last may have hung).
    pub iterations: u64,
    pub elapsed_ms: u64,
    /// Whether an iteration stopped making progress (its threads were abandoned).
    pub hung: bool,
    /// The first panic of the body, if any.
    pub panic: Option<String>,
    pub watchdog_threshold_ms: u64,
    /// One acquisition in this many had its hold time measured.
    pub hold_sample_period: u32,
    /// Cycles in the lock-order graph, each reported once.
    pub potential_deadlocks: Vec<PotentialDeadlock>,
    /// One report per stuck episode the watchdog saw.
    pub watchdog: Vec<WatchdogReport>,
    /// Per lock class statistics, by total wait time, largest first.
    pub classes: Vec<ClassReport>,
    pub order: OrderGraph,
    /// Folded stacks (`frame;frame;lock:NAME (mode) NANOSECONDS` per line) of wait time,
    /// under a `waiting` root for the waiters' stacks and a `holding` root for the
    /// acquisition stacks of the threads they waited for.
    pub wait_folded: String,
    /// Folded stacks of the measured hold time.
    pub hold_folded: String,
}

/// A cycle in the lock-order graph: the run may not have deadlocked, but another
/// interleaving of the same code can.
#[derive(Clone, Debug, Serialize)]
pub struct PotentialDeadlock {
    /// The lock classes of the cycle, in order.
    pub classes: Vec<String>,
    pub edges: Vec<CycleEdge>,
    /// The deadlocking interleaving spelled out, one line per thread.
    pub scenario: Vec<String>,
}

/// The first-seen witness of one lock-order edge: `from` was held while `to` was taken.
#[derive(Clone, Debug, Serialize)]
pub struct CycleEdge {
    /// The lock classes.
    pub from: String,
    pub to: String,
    /// The two locks of the witness, labelled apart within their class (`NAME #2`).
    pub from_lock: String,
    pub to_lock: String,
    pub from_mode: Mode,
    pub to_mode: Mode,
    /// Where the held lock was taken.
    pub from_site: Site,
    /// Where the second lock was taken while the first was held.
    pub to_site: Site,
    pub thread: String,
    /// First stack seen taking the held lock at `from_site`.
    pub from_stack: Vec<Frame>,
    /// Stack taking the second lock.
    pub to_stack: Vec<Frame>,
}

/// The lock-order graph by lock class.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OrderGraph {
    pub nodes: Vec<String>,
    pub edges: Vec<OrderEdge>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OrderEdge {
    pub from: String,
    pub to: String,
    pub from_site: Site,
    pub to_site: Site,
    /// Whether the edge belongs to a reported cycle.
    pub in_cycle: bool,
}

/// Statistics of one lock class.
#[derive(Clone, Debug, Serialize)]
pub struct ClassReport {
    pub name: String,
    pub kind: LockKind,
    pub created_at: Site,
    /// Every acquisition is counted and timed (uncontended ones as zero).
    pub wait: DurationStats,
    /// Every release is counted; `timed` of them were measured (see `hold_sample_period`).
    pub hold: DurationStats,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DurationStats {
    pub count: u64,
    pub timed: u64,
    pub total_ns: u64,
    pub max_ns: u64,
    pub p99_ns: u64,
}

/// One stuck episode: the long waits, the holders of what they wait for, and verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct WatchdogReport {
    /// When it was seen, in milliseconds since the session started.
    pub at_ms: u64,
    pub waiters: Vec<WaiterInfo>,
    pub holders: Vec<HolderInfo>,
    pub verdicts: Vec<Verdict>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WaiterInfo {
    pub thread: String,
    /// The lock class.
    pub lock: String,
    pub lock_id: u64,
    pub mode: Mode,
    pub kind: WaitKind,
    pub site: Site,
    pub waited_ms: u64,
    /// First stack seen at `site`.
    pub stack: Vec<Frame>,
    #[serde(skip)]
    pub(crate) stack_id: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct HolderInfo {
    pub thread: String,
    pub lock: String,
    pub lock_id: u64,
    pub mode: Mode,
    /// Where the lock was acquired.
    pub site: Site,
    /// How long it has been held (to the watchdog's tick, a few milliseconds).
    pub held_ms: u64,
    /// First stack seen at `site`.
    pub stack: Vec<Frame>,
    #[serde(skip)]
    pub(crate) stack_id: u32,
}

/// What the watchdog concluded about an episode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The threads wait for each other in a cycle: a deadlock.
    DeadlockCycle { threads: Vec<String>, description: String },
    /// A thread waits for a lock it holds itself.
    SelfReentry { thread: String, lock: String, description: String },
    /// A thread has held a lock others wait for longer than the threshold.
    LongHolder { thread: String, lock: String, held_ms: u64, description: String },
    /// Threads wait for a lock that no thread holds: a lost wakeup inside the lock, a
    /// corrupted lock word or a leaked guard. parking_lot's deadlock detector cannot see it.
    OrphanedLock { lock: String, waiters: Vec<String>, description: String },
    /// Threads wait on a condition variable whose mutex nobody holds: nobody is inside the
    /// critical section that would notify them.
    NoHolderCondvarWait { lock: String, waiters: Vec<String>, description: String },
}

impl Verdict {
    pub fn description(&self) -> &str {
        match self {
            Verdict::DeadlockCycle { description, .. }
            | Verdict::SelfReentry { description, .. }
            | Verdict::LongHolder { description, .. }
            | Verdict::OrphanedLock { description, .. }
            | Verdict::NoHolderCondvarWait { description, .. } => description,
        }
    }
}
