//! Lock-holder tracker: tracked [`Mutex`] and [`RwLock`] (drop-ins for parking_lot's) that
//! record who holds what and who waits for what, wait and hold times per lock class, and a
//! lockdep-style lock-order graph whose cycles are potential deadlocks, reported even from
//! runs that completed. A watchdog joins long waits with their holders and flags deadlock
//! cycles, long holders, self re-entry and orphaned locks (waiters but no holder).
//!
//! Tracking is active only inside a session ([`track`]); outside one, tracked locks cost one
//! relaxed load more than parking_lot's. Nothing here prints: [`track`] returns a
//! [`TrackReport`].
//!
//! A lock class is the lock's name ([`Mutex::named`]) or else its creation site.

mod acquire;
mod class;
mod folded;
mod local;
mod mutex;
mod order;
mod registry;
mod report;
mod rwlock;
mod session;
mod stack;
mod stats;
mod watchdog;

pub use class::LockKind;
pub use mutex::{Mutex, MutexGuard};
pub use registry::WaitKind;
pub use report::{
    ClassReport, CycleEdge, DurationStats, Frame, HolderInfo, OrderEdge, OrderGraph, PotentialDeadlock, Site,
    TrackReport, Verdict, WaiterInfo, WatchdogReport,
};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard};
pub use session::{track, TrackOptions};

pub(crate) use mutex::{condvar_wait, condvar_wait_for};

/// How a lock is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A mutex, or a reader-writer lock taken for writing.
    Write,
    /// A reader-writer lock taken for reading.
    Read,
    /// A reader-writer lock taken for an upgradable read.
    Upgradable,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Write => "write",
            Mode::Read => "read",
            Mode::Upgradable => "upgradable",
        }
    }

    pub(crate) fn from_bits(bits: u64) -> Mode {
        match bits & 3 {
            1 => Mode::Read,
            2 => Mode::Upgradable,
            _ => Mode::Write,
        }
    }

    pub(crate) fn bits(self) -> u64 {
        match self {
            Mode::Write => 0,
            Mode::Read => 1,
            Mode::Upgradable => 2,
        }
    }
}
