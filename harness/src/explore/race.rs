//! Parallel exploration that stays deterministic.
//!
//! Several lanes (OS threads) explore at once, each running its own engines with its own
//! seed. The first finding should stop the others, but "first in wall-clock time" depends on
//! how the OS schedules the lanes, and a run must give the same finding for a given seed and
//! job count. So time is virtual: every execution of an engine costs a fixed number of ticks
//! (its typical cost relative to the others), and a lane's execution number `k` of an engine
//! ends at tick `offset + k * cost`, where `offset` is what the lane's earlier engines spent.
//! When a lane finds a bug, or an engine proves the body correct within its bounds, the event
//! is posted at its tick; the other lanes stop before starting an execution that would end
//! after it. The event with the smallest `(tick, lane)` decides the run: no lane could have
//! posted an earlier one, since every lane runs every execution that ends before it. Lanes do
//! a little extra work (up to the tick of the winner) in exchange for a reproducible result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Virtual ticks one execution costs, per engine. Only the ratio matters for speed, and
/// nothing for correctness: a wrong ratio makes a lane wait a little longer for the others to
/// catch up to a winning tick, never changes which outcome wins for a given seed and job
/// count. With recycled coroutine stacks a loom execution costs about 1.3-2.2 shuttle
/// executions on the catalog; loom's 20 (5 shuttle executions) also lets `auto`'s rotation run
/// its first 4 executions before the loom lane needs a thread. Measured on the catalog with
/// 10, 20 and 30 (docs/performance.md): 10 made shuttle-found bugs wait for loom's lane (up
/// to 2x slower), 30 delayed loom-found ones (about 1.4x slower).
pub(crate) const SHUTTLE_TICKS: u64 = 4;
pub(crate) const LOOM_TICKS: u64 = 20;

/// A point of virtual time; lanes break ties in index order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mark {
    pub tick: u64,
    pub lane: usize,
}

/// The earliest event posted so far by any lane.
#[derive(Debug)]
pub(crate) struct Race {
    /// `best`'s tick, readable without the lock on every execution.
    best_tick: AtomicU64,
    best: Mutex<Option<Mark>>,
}

impl Race {
    pub(crate) fn new() -> Race {
        Race { best_tick: AtomicU64::new(u64::MAX), best: Mutex::new(None) }
    }

    /// Whether an execution ending at `at` could still change the outcome.
    pub(crate) fn matters(&self, at: Mark) -> bool {
        // Relaxed is enough: a stale (larger) tick only lets a lane run one execution more,
        // and `post` settles the winner under the lock.
        if at.tick < self.best_tick.load(Ordering::Relaxed) {
            return true;
        }
        match *self.best.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(best) => at < best,
            None => true,
        }
    }

    /// Posts an event (a finding or a proof) at `at`.
    pub(crate) fn post(&self, at: Mark) {
        let mut best = self.best.lock().unwrap_or_else(|e| e.into_inner());
        if best.is_none_or(|b| at < b) {
            *best = Some(at);
            self.best_tick.store(at.tick, Ordering::Relaxed);
        }
    }

    /// The winning event, once every lane has finished.
    pub(crate) fn winner(&self) -> Option<Mark> {
        *self.best.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Told the end of every execution a lane is about to start, before it starts: how a
/// parallel run starts the lanes whose first execution would end before it (see `parallel`).
#[derive(Clone)]
pub(crate) struct Reach(pub Arc<dyn Fn(Mark) + Send + Sync>);

impl std::fmt::Debug for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reach")
    }
}

/// One engine's view of its lane: where its executions fall in virtual time.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    pub race: Arc<Race>,
    pub lane: usize,
    /// Ticks the lane's earlier engines spent.
    pub offset: u64,
    /// Ticks per execution of this engine.
    pub cost: u64,
    pub reach: Option<Reach>,
}

impl Clock {
    /// Where this engine's execution number `n` (counted from 1) ends.
    pub(crate) fn mark(&self, n: u64) -> Mark {
        Mark { tick: self.offset.saturating_add(n.saturating_mul(self.cost)), lane: self.lane }
    }

    /// Whether execution number `n` is still worth starting.
    pub(crate) fn may_start(&self, n: u64) -> bool {
        let end = self.mark(n);
        if let Some(reach) = &self.reach {
            (reach.0)(end);
        }
        self.race.matters(end)
    }

    /// Posts an event at the end of execution number `n`.
    pub(crate) fn post(&self, n: u64) {
        self.race.post(self.mark(n))
    }
}

/// The seed of lane `lane`: lane 0 keeps the run's seed (so one job explores exactly what
/// a single-threaded run does), the others get well-mixed seeds of their own (splitmix64).
pub(crate) fn lane_seed(seed: u64, lane: usize) -> u64 {
    if lane == 0 {
        return seed;
    }
    let mut z = seed.wrapping_add((lane as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Splits `total` executions over `lanes` lanes, the remainder to the first ones.
pub(crate) fn share(total: u64, lanes: usize, lane: usize) -> u64 {
    let lanes = lanes.max(1) as u64;
    total / lanes + u64::from((lane as u64) < total % lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_event_wins_whatever_order_lanes_post_in() {
        let race = Race::new();
        race.post(Mark { tick: 40, lane: 1 });
        race.post(Mark { tick: 12, lane: 0 });
        race.post(Mark { tick: 12, lane: 1 });
        race.post(Mark { tick: 90, lane: 0 });
        assert_eq!(race.winner(), Some(Mark { tick: 12, lane: 0 }));
    }

    #[test]
    fn lanes_keep_running_until_they_pass_the_winner() {
        let race = Arc::new(Race::new());
        let (a, b) = (
            // Costs of their own, so that the ticks below do not follow the tuned constants.
            Clock { race: race.clone(), lane: 0, offset: 0, cost: 30, reach: None },
            Clock { race: race.clone(), lane: 1, offset: 0, cost: 4, reach: None },
        );
        assert!(a.may_start(1) && b.may_start(1_000));
        a.post(2); // lane 0 found something at tick 60
        assert!(b.may_start(14), "tick 56 ends before the finding: it may find an earlier bug");
        assert!(!b.may_start(15), "tick 60 ties, and lane 0 wins ties with lane 1");
        assert!(!a.may_start(3));
    }

    #[test]
    fn lane_zero_keeps_the_seed_and_shares_cover_the_budget() {
        assert_eq!(lane_seed(7, 0), 7);
        assert_ne!(lane_seed(7, 1), lane_seed(7, 2));
        assert_ne!(lane_seed(7, 1), 7);
        let shares: Vec<u64> = (0..3).map(|lane| share(10, 3, lane)).collect();
        assert_eq!(shares, [4, 3, 3]);
        assert_eq!(shares.iter().sum::<u64>(), 10);
    }
}
