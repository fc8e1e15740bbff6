//! Data races on facade cells under shuttle, told the way loom tells them: by happens-before.
//!
//! shuttle keeps a vector clock per thread (its `vector-clocks` feature, which lockhound turns
//! on) and joins clocks at every synchronization its primitives make: spawn and join, lock and
//! unlock, condvar wake-ups, channel messages, and every atomic access (shuttle's atomics are
//! sequentially consistent: each load acquires what every earlier store released). A cell
//! remembers its last write and the reads since, each as an epoch: the accessing thread and its
//! own entry of its clock at the access. Right after recording an access, the thread's own
//! entry is incremented, so any clock the thread publishes later carries a larger value, and
//! any it published earlier a value no larger. Hence the exact test: access `(t, e)` happened
//! before the current point of thread `u` if and only if `clock_u[t] > e`.
//!
//! What this finds: two accesses, one a write, that no synchronization orders, in the first
//! execution where both happen, whatever their order in it (shuttle alone would need a
//! schedule whose order also breaks an assertion). What it cannot find: a race that only weak
//! memory allows (data published by a Relaxed store), since shuttle orders every atomic
//! access; loom's lane finds those. It never reports accesses that shuttle's clocks order,
//! so a correct body is never flagged (the catalog's fixed variants check that).

use shuttle_engine::runtime::execution::ExecutionState;
use std::panic::Location;

/// One access: who, at which point of their own clock, and where in the source.
#[derive(Clone, Copy, Debug)]
struct Access {
    thread: usize,
    epoch: u32,
    site: &'static Location<'static>,
}

/// Whether an access is a read or a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
        }
    }
}

/// Two accesses no synchronization orders, one of them a write.
#[derive(Clone, Debug)]
pub(crate) struct Race {
    pub earlier: (Kind, usize, &'static Location<'static>),
    pub later: (Kind, usize, &'static Location<'static>),
}

/// The accesses of one cell that a later access could race with: the last write, and the
/// reads since (one per thread: a thread's later read covers its earlier one).
#[derive(Debug, Default)]
pub(crate) struct History {
    write: Option<Access>,
    reads: Vec<Access>,
}

impl History {
    /// Records an access of the current shuttle thread at `site`; `Err` names the earlier
    /// access it races with. Outside a shuttle execution (a cell used after the run, or while
    /// shuttle tears an execution down) nothing is recorded; nor while the thread unwinds (a
    /// destructor's access after a failure, or shuttle unwinding the stacks of an execution that
    /// is over), where a second panic would abort the process and the execution has failed or
    /// ended already.
    pub(crate) fn access(&mut self, kind: Kind, site: &'static Location<'static>) -> Result<(), Race> {
        if std::thread::panicking() {
            return Ok(());
        }
        ExecutionState::try_with(|state| {
            let Some(me) = state.try_current().map(|task| task.id()) else { return Ok(()) };
            let clock: &[u32] = state.get_clock(me);
            let me = usize::from(me);
            if let Some((earlier_kind, earlier)) = self.unordered(kind, me, clock) {
                return Err(Race {
                    earlier: (earlier_kind, earlier.thread, earlier.site),
                    later: (kind, me, site),
                });
            }
            let access = Access { thread: me, epoch: clock.get(me).copied().unwrap_or(0), site };
            self.record(kind, access);
            // What this thread publishes from now on is later than the access just recorded.
            state.increment_clock();
            Ok(())
        })
        .unwrap_or(Ok(()))
    }

    /// The earlier access that an access of `kind` by thread `me`, whose clock is `clock`,
    /// conflicts with and is not ordered after.
    fn unordered(&self, kind: Kind, me: usize, clock: &[u32]) -> Option<(Kind, Access)> {
        // A thread missing from the clock has not been seen at all.
        let ordered = |a: &&Access| a.thread == me || clock.get(a.thread).is_some_and(|&seen| seen > a.epoch);
        let write = self.write.iter().find(|w| !ordered(w)).map(|w| (Kind::Write, *w));
        match kind {
            // Reads do not conflict with each other.
            Kind::Read => write,
            Kind::Write => {
                write.or_else(|| self.reads.iter().find(|r| !ordered(r)).map(|r| (Kind::Read, *r)))
            }
        }
    }

    fn record(&mut self, kind: Kind, access: Access) {
        match kind {
            Kind::Read => match self.reads.iter_mut().find(|r| r.thread == access.thread) {
                Some(read) => *read = access,
                None => self.reads.push(access),
            },
            Kind::Write => {
                self.write = Some(access);
                self.reads.clear();
            }
        }
    }
}
