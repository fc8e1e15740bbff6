//! The session's aggregate of statistics and folded stacks. Threads keep their own
//! [`LocalStats`] and merge them here now and then, so the acquisition path never shares a
//! cache line with other threads for bookkeeping.

use super::class::ClassId;
use super::registry::{OngoingHold, OngoingWait, PairHasher};
use super::stack::{self, StackId};
use super::stats::Durations;
use super::Mode;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

/// Wait and hold durations of one lock class.
#[derive(Clone, Default)]
pub(crate) struct ClassStats {
    pub wait: Durations,
    pub hold: Durations,
}

/// One thread's statistics since its last merge.
#[derive(Default)]
pub(crate) struct LocalStats {
    classes: Vec<ClassStats>,
    /// Timed hold nanoseconds by (acquisition site, class, mode).
    hold_sites: HashMap<(usize, ClassId, Mode), u64, BuildHasherDefault<PairHasher>>,
}

impl LocalStats {
    #[inline]
    pub fn class(&mut self, class: ClassId) -> &mut ClassStats {
        let i = class as usize;
        if i >= self.classes.len() {
            self.classes.resize_with(i + 1, Default::default);
        }
        &mut self.classes[i]
    }

    /// Charges a timed hold to its acquisition site (a `Location` address).
    pub fn hold_at(&mut self, site: usize, class: ClassId, mode: Mode, ns: u64) {
        *self.hold_sites.entry((site, class, mode)).or_default() += ns;
    }
}

/// Whose stack a wait is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Role {
    /// The waiting thread's stack.
    Waiting,
    /// The acquisition stack of a thread holding the lock while others waited.
    Holding,
}

/// The session's aggregate.
#[derive(Default)]
pub(crate) struct Aggregate {
    pub epoch: u64,
    pub classes: Vec<ClassStats>,
    /// Timed hold nanoseconds by (stack, class, mode).
    pub hold: HashMap<(StackId, ClassId, Mode), u64>,
    /// Wait nanoseconds by (role, stack, class, mode).
    pub wait: HashMap<(Role, StackId, ClassId, Mode), u64>,
}

fn aggregate() -> &'static Mutex<Aggregate> {
    static AGG: OnceLock<Mutex<Aggregate>> = OnceLock::new();
    AGG.get_or_init(Default::default)
}

impl Aggregate {
    fn class(&mut self, class: ClassId) -> &mut ClassStats {
        let i = class as usize;
        if i >= self.classes.len() {
            self.classes.resize_with(i + 1, Default::default);
        }
        &mut self.classes[i]
    }

    /// Charges the waits and timed holds still in progress when the report is built (see
    /// `registry::ongoing`), up to now: to the class statistics, and to the stacks as a wait
    /// that ended or a hold released would be.
    pub fn add_ongoing(&mut self, waits: &[OngoingWait], holds: &[OngoingHold]) {
        for w in waits {
            self.class(w.class).wait.record(w.ns);
            *self.wait.entry((Role::Waiting, w.stack, w.class, w.mode)).or_default() += w.ns;
            for &(site, class, mode) in &w.holders {
                let key = (Role::Holding, stack::known_site_stack(site), class, mode);
                *self.wait.entry(key).or_default() += w.ns;
            }
        }
        for h in holds {
            let s = self.class(h.class);
            s.hold.count += 1;
            s.hold.record_timed(h.ns);
            *self.hold.entry((stack::known_site_stack(h.site), h.class, h.mode)).or_default() += h.ns;
        }
    }
}

/// Starts a fresh aggregate for a new session.
pub(crate) fn reset(epoch: u64) {
    *aggregate().lock() = Aggregate { epoch, ..Default::default() };
}

/// Takes the aggregate of the session `epoch`.
pub(crate) fn take(epoch: u64) -> Aggregate {
    let mut agg = aggregate().lock();
    if agg.epoch != epoch {
        return Aggregate { epoch, ..Default::default() };
    }
    std::mem::take(&mut *agg)
}

/// Merges a thread's statistics of session `epoch` (dropped if that session is over).
pub(crate) fn merge(epoch: u64, local: &mut LocalStats) {
    let sites: Vec<_> = local
        .hold_sites
        .drain()
        .map(|((site, class, mode), ns)| ((stack::known_site_stack(site), class, mode), ns))
        .collect();
    let mut agg = aggregate().lock();
    if agg.epoch != epoch {
        return;
    }
    if agg.classes.len() < local.classes.len() {
        agg.classes.resize_with(local.classes.len(), Default::default);
    }
    for (a, l) in agg.classes.iter_mut().zip(&local.classes) {
        a.wait.merge(&l.wait);
        a.hold.merge(&l.hold);
    }
    for (key, ns) in sites {
        *agg.hold.entry(key).or_default() += ns;
    }
}

/// Charges a wait of `ns` to the waiter's stack and to each holder's acquisition stack.
pub(crate) fn charge_wait(
    epoch: u64,
    waiter: StackId,
    class: ClassId,
    mode: Mode,
    holders: &[(StackId, ClassId, Mode)],
    ns: u64,
) {
    let mut agg = aggregate().lock();
    if agg.epoch != epoch {
        return;
    }
    *agg.wait.entry((Role::Waiting, waiter, class, mode)).or_default() += ns;
    for &(stack, class, mode) in holders {
        *agg.wait.entry((Role::Holding, stack, class, mode)).or_default() += ns;
    }
}
