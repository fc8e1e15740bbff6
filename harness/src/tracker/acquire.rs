//! The acquisition protocol shared by every tracked lock and mode: an uncontended attempt
//! first (recorded without reading a clock), and only when it fails the slow path, which
//! registers the wait, checks the lock order before blocking (so a run that really
//! deadlocks still reports its cycle), blocks, and records the wait.

use super::class::LockMeta;
use super::registry::{self, Acquisition, WaitKind};
use super::Mode;
use std::panic::Location;
use std::time::Instant;

/// The record of one tracked hold: dropping it records the release. Guards keep it after
/// the parking_lot guard, so the release is recorded once the lock is really free.
pub(crate) struct Held<'a> {
    pub meta: &'a LockMeta,
    pub mode: Mode,
    /// The thread's held-entry slot + 1, so the release needs no search; 0 if untracked.
    pub slot: u32,
}

impl Held<'_> {
    /// Records an upgrade or downgrade of the hold.
    pub fn change(&mut self, to: Mode) {
        if self.slot != 0 {
            self.slot = registry::changed_mode(self.meta.id, self.mode, to, self.slot);
        }
        self.mode = to;
    }
}

impl Drop for Held<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.slot != 0 {
            registry::released(self.meta.id, self.mode, self.slot);
        }
    }
}

#[inline]
fn record<'a>(
    meta: &'a LockMeta,
    mode: Mode,
    site: &'static Location<'static>,
    ordered: bool,
    wait_ns: Option<u64>,
) -> Held<'a> {
    let slot = registry::acquired(&Acquisition { meta, mode, site, ordered, wait_ns });
    Held { meta, mode, slot }
}

/// A blocking acquisition.
#[inline]
pub(crate) fn lock<'a, G>(
    meta: &'a LockMeta,
    mode: Mode,
    site: &'static Location<'static>,
    fast: impl FnOnce() -> Option<G>,
    slow: impl FnOnce() -> G,
) -> (G, Held<'a>) {
    match fast() {
        Some(g) => (g, record(meta, mode, site, true, None)),
        None => lock_slow(meta, mode, site, slow),
    }
}

#[cold]
#[inline(never)]
fn lock_slow<'a, G>(
    meta: &'a LockMeta,
    mode: Mode,
    site: &'static Location<'static>,
    slow: impl FnOnce() -> G,
) -> (G, Held<'a>) {
    let acq = Acquisition { meta, mode, site, ordered: true, wait_ns: None };
    let w = registry::begin_wait(&acq, WaitKind::Lock);
    let g = slow();
    let wait_ns = registry::end_wait(w, true);
    (g, record(meta, mode, site, true, wait_ns))
}

/// A try-lock: never blocks, so it adds no lock-order edge.
#[inline]
pub(crate) fn try_lock<'a, G>(
    meta: &'a LockMeta,
    mode: Mode,
    site: &'static Location<'static>,
    attempt: impl FnOnce() -> Option<G>,
) -> Option<(G, Held<'a>)> {
    attempt().map(|g| (g, record(meta, mode, site, false, None)))
}

/// An acquisition with a timeout. It can block, so it adds lock-order edges: a cycle that
/// only timeouts break is still a stall worth knowing about.
#[inline]
pub(crate) fn lock_until<'a, G>(
    meta: &'a LockMeta,
    mode: Mode,
    site: &'static Location<'static>,
    fast: impl FnOnce() -> Option<G>,
    slow: impl FnOnce(Instant) -> Option<G>,
    deadline: Instant,
) -> Option<(G, Held<'a>)> {
    if let Some(g) = fast() {
        return Some((g, record(meta, mode, site, true, None)));
    }
    let acq = Acquisition { meta, mode, site, ordered: true, wait_ns: None };
    let w = registry::begin_wait(&acq, WaitKind::Timed);
    let g = slow(deadline);
    let wait_ns = registry::end_wait(w, g.is_some());
    g.map(|g| (g, record(meta, mode, site, true, wait_ns)))
}

/// Waits in `wait` with a hold released and registered as a wait of kind `kind`, then
/// records the hold again (condition variable waits, upgrades).
pub(crate) fn wait_released<R>(
    held: &mut Held<'_>,
    site: &'static Location<'static>,
    kind: WaitKind,
    wait: impl FnOnce() -> R,
) -> R {
    let (meta, mode) = (held.meta, held.mode);
    if held.slot != 0 {
        registry::released(meta.id, mode, held.slot);
        held.slot = 0;
    }
    let acq = Acquisition { meta, mode, site, ordered: false, wait_ns: None };
    let w = registry::begin_wait(&acq, kind);
    let r = wait();
    registry::end_wait(w, true);
    *held = record(meta, mode, site, true, None);
    r
}
