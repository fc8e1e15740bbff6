//! The holder registry: for every thread, the locks it holds (acquisition site, mode, since
//! when) and the lock it waits for. Each thread writes only its own record; the watchdog and
//! waiters read the others'.
//!
//! The uncontended path must stay close to parking_lot's cost (about 5 ns for a lock and
//! unlock), so it reads no clock and takes no shared lock: "since when" is a coarse tick kept
//! by the watchdog, hold times are measured for one acquisition in `hold_sample_period`, and
//! statistics are kept per thread and merged into the session's aggregate now and then.
//! Held entries are published through relaxed atomics without a seqlock: a reader may see a
//! torn entry, so the watchdog only trusts what two scans agree on.

use super::class::{ClassId, LockMeta};
use super::folded::{self, LocalStats};
use super::order;
use super::stack::{self, StackId};
use super::Mode;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Locks one thread can hold at once and still be tracked; deeper ones go untracked.
const MAX_HELD: usize = 32;
/// Size of the per-thread cache of acquisition sites whose first stack is recorded.
const SITE_CACHE: usize = 64;
/// Events after which a thread merges its statistics into the session's aggregate.
const FLUSH_EVERY: u32 = 1 << 16;
/// Waits at least this long capture the waiter's own stack; shorter ones use the first
/// stack seen at their site (capturing costs a few microseconds).
const OWN_STACK_WAIT_NS: u64 = 20_000;

/// The current session's epoch; 0 when no session runs (tracking off).
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Milliseconds since the session started, advanced by the watchdog.
static TICK_MS: AtomicU64 = AtomicU64::new(0);
/// Time one acquisition in this many for hold times.
static HOLD_SAMPLE: AtomicU32 = AtomicU32::new(16);

#[inline]
pub(crate) fn epoch() -> u64 {
    EPOCH.load(Relaxed)
}

/// A new session's epoch, not yet enabled (its aggregates are reset first).
pub(crate) fn next_epoch() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

/// Turns tracking on for session `epoch`.
pub(crate) fn enable(epoch: u64, hold_sample_period: u32) {
    HOLD_SAMPLE.store(hold_sample_period.max(1), Relaxed);
    TICK_MS.store(0, Relaxed);
    EPOCH.store(epoch, SeqCst);
}

/// Turns tracking off.
pub(crate) fn disable() {
    EPOCH.store(0, SeqCst);
}

pub(crate) fn set_tick(ms: u64) {
    TICK_MS.store(ms, Relaxed);
}

#[inline]
pub(crate) fn tick() -> u64 {
    TICK_MS.load(Relaxed)
}

/// Why a thread is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitKind {
    /// A blocking acquisition.
    Lock,
    /// An acquisition with a timeout (`try_lock_for` and the like).
    Timed,
    /// Waiting on a condition variable, with the mutex released.
    Condvar,
    /// Upgrading an upgradable read to a write (it holds the lock already).
    Upgrade,
}

#[derive(Clone, Debug)]
pub(crate) struct WaitRec {
    pub lock: u64,
    pub class: ClassId,
    pub mode: Mode,
    pub site: &'static Location<'static>,
    pub since: Instant,
    pub kind: WaitKind,
    pub epoch: u64,
}

#[derive(Default)]
struct Slot {
    lock: AtomicU64,
    /// class << 8 | mode bits
    word: AtomicU64,
    site: AtomicUsize,
    since: AtomicU64,
    epoch: AtomicU64,
}

/// One thread's published state.
pub(crate) struct ThreadRec {
    pub index: u64,
    pub label: String,
    len: AtomicUsize,
    slots: [Slot; MAX_HELD],
    waiting: Mutex<Option<WaitRec>>,
}

/// A held lock as a reader sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeldSnap {
    pub lock: u64,
    pub class: ClassId,
    pub mode: Mode,
    pub site: usize,
    pub since_ms: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct ThreadSnap {
    pub index: u64,
    pub label: String,
    pub held: Vec<HeldSnap>,
    pub waiting: Option<WaitRec>,
}

fn threads() -> &'static Mutex<Vec<Arc<ThreadRec>>> {
    static THREADS: OnceLock<Mutex<Vec<Arc<ThreadRec>>>> = OnceLock::new();
    THREADS.get_or_init(Default::default)
}

impl ThreadRec {
    fn held(&self, epoch: u64) -> Vec<HeldSnap> {
        let len = self.len.load(Acquire).min(MAX_HELD);
        self.slots[..len]
            .iter()
            .filter(|s| s.epoch.load(Relaxed) == epoch)
            .map(|s| {
                let word = s.word.load(Relaxed);
                HeldSnap {
                    lock: s.lock.load(Relaxed),
                    class: (word >> 8) as ClassId,
                    mode: Mode::from_bits(word),
                    site: s.site.load(Relaxed),
                    since_ms: s.since.load(Relaxed),
                }
            })
            .collect()
    }
}

/// Every live thread's state in `epoch` (a process-wide lock: the watchdog and the
/// contended path only).
pub(crate) fn snapshot(epoch: u64) -> Vec<ThreadSnap> {
    let list: Vec<_> = threads().lock().clone();
    list.iter()
        .map(|t| ThreadSnap {
            index: t.index,
            label: t.label.clone(),
            held: t.held(epoch),
            waiting: t.waiting.lock().clone().filter(|w| w.epoch == epoch),
        })
        .filter(|t| !t.held.is_empty() || t.waiting.is_some())
        .collect()
}

/// The local mirror of one held entry, plus what only the owner needs.
#[derive(Clone, Copy)]
struct Held {
    lock: u64,
    class: ClassId,
    mode: Mode,
    site: &'static Location<'static>,
    epoch: u64,
    since_ms: u64,
    timed_from: Option<Instant>,
}

/// Multiplicative hashing for the per-thread caches: SipHash would cost more than the lock.
#[derive(Default)]
pub(crate) struct PairHasher(u64);

impl Hasher for PairHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

struct Local {
    rec: Arc<ThreadRec>,
    epoch: u64,
    held: Vec<Held>,
    sample_period: u32,
    sample: u32,
    events: u32,
    /// (held class, new class) pairs already validated against the lock-order graph.
    pairs: HashSet<u64, BuildHasherDefault<PairHasher>>,
    sites: [usize; SITE_CACHE],
    stats: LocalStats,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

impl Local {
    fn new() -> Local {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let index = NEXT.fetch_add(1, Relaxed);
        let label = match std::thread::current().name() {
            Some(name) => format!("{name} (#{index})"),
            None => format!("thread #{index}"),
        };
        let rec = Arc::new(ThreadRec {
            index,
            label,
            len: AtomicUsize::new(0),
            slots: Default::default(),
            waiting: Mutex::new(None),
        });
        threads().lock().push(rec.clone());
        Local {
            rec,
            epoch: 0,
            held: Vec::with_capacity(MAX_HELD),
            sample_period: 16,
            sample: 16,
            events: 0,
            pairs: HashSet::default(),
            sites: [0; SITE_CACHE],
            stats: LocalStats::default(),
        }
    }

    /// Starts this thread's caches and statistics afresh when a new session began.
    #[inline]
    fn sync(&mut self, epoch: u64) {
        if self.epoch != epoch {
            self.flush();
            self.epoch = epoch;
            self.pairs.clear();
            self.sample_period = HOLD_SAMPLE.load(Relaxed).max(1);
            self.sample = self.sample_period;
        }
    }

    fn flush(&mut self) {
        self.events = 0;
        if self.epoch != 0 {
            folded::merge(self.epoch, &mut self.stats);
        }
        self.stats = LocalStats::default();
    }

    #[inline]
    fn publish(&self, i: usize) {
        let h = &self.held[i];
        let s = &self.rec.slots[i];
        s.lock.store(h.lock, Relaxed);
        s.word.store((h.class as u64) << 8 | h.mode.bits(), Relaxed);
        s.site.store(h.site as *const Location as usize, Relaxed);
        s.since.store(h.since_ms, Relaxed);
        s.epoch.store(h.epoch, Relaxed);
    }

    #[inline]
    fn acquired(&mut self, a: &Acquisition, epoch: u64) -> bool {
        self.sync(epoch);
        let site_key = a.site as *const Location as usize;
        let slot = (site_key >> 3) % SITE_CACHE;
        if self.sites[slot] != site_key {
            stack::site_stack(a.site);
            self.sites[slot] = site_key;
        }
        if a.ordered && !self.held.is_empty() {
            self.check_order(a);
        }
        let stats = self.stats.class(a.meta.class);
        match a.wait_ns {
            Some(ns) => stats.wait.record(ns),
            None => stats.wait.record_zero(),
        }
        let len = self.held.len();
        if len == MAX_HELD {
            return false;
        }
        // A countdown, not a modulo: a division would cost more than the lock itself.
        self.sample -= 1;
        let timed_from = if self.sample == 0 {
            self.sample = self.sample_period;
            Some(Instant::now())
        } else {
            None
        };
        self.held.push(Held {
            lock: a.meta.id,
            class: a.meta.class,
            mode: a.mode,
            site: a.site,
            epoch,
            since_ms: tick(),
            timed_from,
        });
        self.publish(len);
        self.rec.len.store(len + 1, Release);
        self.count_event();
        true
    }

    #[cold]
    fn check_order(&mut self, a: &Acquisition) {
        for i in 0..self.held.len() {
            let h = self.held[i];
            if h.epoch != self.epoch || h.lock == a.meta.id {
                continue;
            }
            let key = (h.class as u64) << 32 | a.meta.class as u64;
            if self.pairs.insert(key) {
                order::add_edge(
                    self.epoch,
                    &self.rec.label,
                    order::Acq { class: h.class, mode: h.mode, site: h.site },
                    order::Acq { class: a.meta.class, mode: a.mode, site: a.site },
                );
            }
        }
    }

    #[inline]
    fn released(&mut self, lock: u64, mode: Mode) {
        let Some(i) = self.held.iter().rposition(|h| h.lock == lock && h.mode == mode) else {
            return;
        };
        // Nearly always the last one: pop() avoids remove()'s call to memmove.
        let h = if i + 1 == self.held.len() { self.held.pop() } else { Some(self.held.remove(i)) };
        let Some(h) = h else { return };
        if h.epoch == self.epoch {
            let stats = self.stats.class(h.class);
            stats.hold.count += 1;
            if let Some(from) = h.timed_from {
                let ns = from.elapsed().as_nanos() as u64;
                stats.hold.record_timed(ns);
                self.stats.hold_at(h.site, h.class, h.mode, ns);
            }
        }
        for j in i..self.held.len() {
            self.publish(j);
        }
        self.rec.len.store(self.held.len(), Release);
        self.count_event();
    }

    #[inline]
    fn count_event(&mut self) {
        self.events += 1;
        if self.events >= FLUSH_EVERY {
            self.flush();
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.flush();
        threads().lock().retain(|t| !Arc::ptr_eq(t, &self.rec));
    }
}

fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    // try_with: a lock used from another thread-local's destructor is simply not tracked.
    LOCAL
        .try_with(|cell| {
            let mut local = cell.try_borrow_mut().ok()?;
            Some(f(local.get_or_insert_with(Local::new)))
        })
        .ok()
        .flatten()
}

/// An acquisition to record.
pub(crate) struct Acquisition<'a> {
    pub meta: &'a LockMeta,
    pub mode: Mode,
    pub site: &'static Location<'static>,
    /// Whether it can block (adds lock-order edges); try-locks cannot.
    pub ordered: bool,
    pub wait_ns: Option<u64>,
}

/// Records that the calling thread now holds a lock; false when it went untracked (no
/// session, or too many locks held), in which case its release must not be recorded.
#[inline]
pub(crate) fn acquired(a: &Acquisition) -> bool {
    let epoch = epoch();
    epoch != 0 && with_local(|l| l.acquired(a, epoch)).unwrap_or(false)
}

/// Records the release of a lock whose acquisition was tracked.
#[inline]
pub(crate) fn released(lock: u64, mode: Mode) {
    with_local(|l| l.released(lock, mode));
}

/// Changes the mode of a held lock in place (upgrade or downgrade of a reader-writer lock).
pub(crate) fn changed_mode(lock: u64, from: Mode, to: Mode) {
    with_local(|l| {
        if let Some(i) = l.held.iter().rposition(|h| h.lock == lock && h.mode == from) {
            l.held[i].mode = to;
            l.publish(i);
        }
    });
}

/// A wait in progress: registered so the watchdog sees it.
pub(crate) struct Waiting {
    epoch: u64,
    start: Instant,
    class: ClassId,
    mode: Mode,
    site: &'static Location<'static>,
    /// Acquisition sites of the holders when the wait began, charged with the wait.
    holders: Vec<(usize, ClassId, Mode)>,
}

/// Registers the calling thread as waiting (the contended path only), after checking the
/// lock order of the acquisition it waits for.
#[cold]
pub(crate) fn begin_wait(a: &Acquisition, kind: WaitKind) -> Option<Waiting> {
    let epoch = epoch();
    if epoch == 0 {
        return None;
    }
    let (meta, mode, site) = (a.meta, a.mode, a.site);
    let rec = with_local(|l| {
        l.sync(epoch);
        if a.ordered && !l.held.is_empty() {
            l.check_order(a);
        }
        l.rec.clone()
    })?;
    let holders = if kind == WaitKind::Condvar {
        Vec::new()
    } else {
        snapshot(epoch)
            .iter()
            .filter(|t| t.index != rec.index)
            .flat_map(|t| t.held.iter().filter(|h| h.lock == meta.id))
            .map(|h| (h.site, h.class, h.mode))
            .collect()
    };
    let start = Instant::now();
    *rec.waiting.lock() =
        Some(WaitRec { lock: meta.id, class: meta.class, mode, site, since: start, kind, epoch });
    Some(Waiting { epoch, start, class: meta.class, mode, site, holders })
}

/// Ends a wait and returns its length in nanoseconds. Lock waits are charged to the wait
/// statistics and folded stacks by the acquisition they end in ([`acquired`]) or, when they
/// time out, here; condition variable waits are idle time, not contention, and are not.
#[cold]
pub(crate) fn end_wait(w: Option<Waiting>, acquired: bool, kind: WaitKind) -> Option<u64> {
    let w = w?;
    with_local(|l| *l.rec.waiting.lock() = None);
    let ns = w.start.elapsed().as_nanos() as u64;
    if kind == WaitKind::Condvar || w.epoch != epoch() {
        return None;
    }
    let own = if ns >= OWN_STACK_WAIT_NS { stack::capture() } else { stack::site_stack(w.site) };
    let holders: Vec<(StackId, ClassId, Mode)> =
        w.holders.iter().map(|&(site, class, mode)| (stack::known_site_stack(site), class, mode)).collect();
    folded::charge_wait(w.epoch, own, w.class, w.mode, &holders, ns);
    if !acquired {
        with_local(|l| l.stats.class(w.class).wait.record(ns));
    }
    Some(ns)
}

/// Merges the calling thread's statistics into the session's aggregate now (the end of a
/// body, before the session reads the aggregate).
pub(crate) fn flush_thread() {
    with_local(|l| l.flush());
}
