//! The holder registry: for every thread, the locks it holds (acquisition site, mode, since
//! when) and the lock it waits for. Each thread writes only its own record; the watchdog and
//! waiters read the others'.
//!
//! The uncontended path must stay close to parking_lot's cost (about 5 ns for a lock and
//! unlock), so it reads no clock and takes no shared lock: "since when" is a coarse tick kept
//! by the watchdog, hold times are measured for one acquisition in `hold_sample_period`, and
//! statistics are kept per thread and merged into the session's aggregate now and then (the
//! per-thread side is in `local`). A thread's held stack *is* its published record: entries
//! are written in place through relaxed atomics, without a seqlock or a private copy; a
//! reader may see a torn entry, so the watchdog only trusts what two scans agree on.

use super::class::{ClassId, LockMeta};
use super::folded;
use super::local;
use super::stack::{self, StackId};
use super::Mode;
use parking_lot::Mutex;
use std::hash::Hasher;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::OnceLock;
use std::time::Instant;

/// Locks one thread can hold at once and still be tracked; deeper ones go untracked.
pub(crate) const MAX_HELD: usize = 32;
/// The bits of a session's epoch kept in a held entry's word, to tell the current session's
/// entries from those still held since an earlier one.
pub(crate) const EPOCH_TAG_MASK: u64 = (1 << 24) - 1;
/// Bit of a held entry's word: its hold is being timed, since [`Slot::timed_since`].
pub(crate) const TIMED: u64 = 1 << 2;
/// Waits at least this long capture the waiter's own stack; shorter ones use the first
/// stack seen at their site (capturing costs a few microseconds).
const OWN_STACK_WAIT_NS: u64 = 20_000;

/// The current session's epoch; 0 when no session runs (tracking off).
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Milliseconds since the session started, advanced by the watchdog.
static TICK_MS: AtomicU64 = AtomicU64::new(0);
/// Time one acquisition in this many for hold times.
static HOLD_SAMPLE: AtomicU32 = AtomicU32::new(64);

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

pub(crate) fn hold_sample_period() -> u32 {
    HOLD_SAMPLE.load(Relaxed).max(1)
}

pub(crate) fn set_tick(ms: u64) {
    TICK_MS.store(ms, Relaxed);
}

#[inline]
pub(crate) fn tick() -> u64 {
    TICK_MS.load(Relaxed)
}

/// Nanoseconds since the first call in this process: the clock of timed holds. An `Instant`
/// cannot be published in an atomic, and a report reads the start of every hold still held.
pub(crate) fn clock_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
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
    /// The waiter's stack: the first one seen at `site` (captured when the wait began if
    /// there was none), so a wait that never ends can still be charged to it.
    pub stack: StackId,
    /// (acquisition site, class, mode) of every other thread's hold of the lock when the
    /// wait began: the wait is charged to their stacks too.
    pub holders: Vec<(usize, ClassId, Mode)>,
}

/// One held entry as published: written only by its thread, read by the watchdog and by
/// waiters looking for the holders of a lock.
#[derive(Default)]
pub(crate) struct Slot {
    /// The lock's id; 0 for a hole (an entry released below the top of the stack).
    pub lock: AtomicU64,
    /// epoch tag << 40 | class << 8 | mode bits
    pub word: AtomicU64,
    /// Address of the acquisition site's `Location`.
    pub site: AtomicUsize,
    /// The coarse tick when it was taken.
    pub since: AtomicU64,
    /// [`clock_ns`] when the hold started, if it is timed (the word's [`TIMED`] bit).
    pub timed_since: AtomicU64,
}

/// One thread's published state.
pub(crate) struct ThreadRec {
    /// Unique per thread (a record is reused by a later thread with a new index).
    index: AtomicU64,
    label: Mutex<String>,
    /// Slots in use (holes included).
    pub len: AtomicUsize,
    pub slots: [Slot; MAX_HELD],
    pub waiting: Mutex<Option<WaitRec>>,
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

fn threads() -> &'static Mutex<Vec<&'static ThreadRec>> {
    static THREADS: OnceLock<Mutex<Vec<&'static ThreadRec>>> = OnceLock::new();
    THREADS.get_or_init(Default::default)
}

impl ThreadRec {
    pub fn index(&self) -> u64 {
        self.index.load(Relaxed)
    }

    pub fn label(&self) -> String {
        self.label.lock().clone()
    }

    fn held(&self, epoch: u64) -> Vec<HeldSnap> {
        let len = self.len.load(Acquire).min(MAX_HELD);
        self.slots[..len]
            .iter()
            .filter_map(|s| {
                let lock = s.lock.load(Relaxed);
                let word = s.word.load(Relaxed);
                (lock != 0 && word >> 40 == epoch & EPOCH_TAG_MASK).then(|| HeldSnap {
                    lock,
                    class: (word >> 8) as ClassId,
                    mode: Mode::from_bits(word),
                    site: s.site.load(Relaxed),
                    since_ms: s.since.load(Relaxed),
                })
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
            index: t.index(),
            label: t.label(),
            held: t.held(epoch),
            waiting: t.waiting.lock().clone().filter(|w| w.epoch == epoch),
        })
        .filter(|t| !t.held.is_empty() || t.waiting.is_some())
        .collect()
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

/// Records of exited threads, reused by new ones: a record is `'static` so the hot path
/// needs neither reference counting nor unsafe code, and reuse keeps the leak bounded by the
/// largest number of threads alive at once.
fn free_recs() -> &'static Mutex<Vec<&'static ThreadRec>> {
    static FREE: OnceLock<Mutex<Vec<&'static ThreadRec>>> = OnceLock::new();
    FREE.get_or_init(Default::default)
}

/// A record for the calling thread, registered for the watchdog.
pub(crate) fn register_thread() -> &'static ThreadRec {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let index = NEXT.fetch_add(1, Relaxed);
    let label = match std::thread::current().name() {
        Some(name) => format!("{name} (#{index})"),
        None => format!("thread #{index}"),
    };
    let rec = free_recs().lock().pop().unwrap_or_else(|| {
        Box::leak(Box::new(ThreadRec {
            index: AtomicU64::new(0),
            label: Mutex::new(String::new()),
            len: AtomicUsize::new(0),
            slots: Default::default(),
            waiting: Mutex::new(None),
        }))
    });
    rec.index.store(index, Relaxed);
    *rec.label.lock() = label;
    rec.len.store(0, Release);
    threads().lock().push(rec);
    rec
}

/// Unregisters an exiting thread's record and returns it to the pool.
pub(crate) fn unregister_thread(rec: &'static ThreadRec) {
    threads().lock().retain(|t| !std::ptr::eq(*t, rec));
    rec.len.store(0, Release);
    *rec.waiting.lock() = None;
    free_recs().lock().push(rec);
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

/// Records that the calling thread now holds a lock. Returns the slot of its entry + 1, for
/// the guard to release it by; 0 when it went untracked (no session, or too many locks
/// held), in which case its release must not be recorded.
#[inline]
pub(crate) fn acquired(a: &Acquisition) -> u32 {
    let epoch = epoch();
    if epoch == 0 {
        return 0;
    }
    local::acquired(a, epoch)
}

/// Records the release of a lock whose acquisition was tracked in slot `slot` (+ 1).
#[inline]
pub(crate) fn released(lock: u64, mode: Mode, slot: u32) {
    local::released(lock, mode, slot);
}

/// Changes the mode of a held lock in place (upgrade or downgrade of a reader-writer lock);
/// returns the slot it is now in.
pub(crate) fn changed_mode(lock: u64, from: Mode, to: Mode, slot: u32) -> u32 {
    local::changed_mode(lock, from, to, slot)
}

/// A wait in progress, published in its thread's record (`ThreadRec::waiting`) so the
/// watchdog and the report see it.
pub(crate) struct Waiting {
    rec: &'static ThreadRec,
    epoch: u64,
}

/// The (site, class, mode) of every other thread's hold of `lock` in `epoch`, read in place
/// (no copy of the other threads' state).
fn holders_of(epoch: u64, lock: u64, except: &ThreadRec) -> Vec<(usize, ClassId, Mode)> {
    holders_among(&threads().lock(), epoch, lock, except)
}

/// [`holders_of`] among `threads`.
fn holders_among(
    threads: &[&'static ThreadRec],
    epoch: u64,
    lock: u64,
    except: &ThreadRec,
) -> Vec<(usize, ClassId, Mode)> {
    let mut out = Vec::new();
    for t in threads.iter().filter(|t| !std::ptr::eq(**t, except)) {
        let len = t.len.load(Acquire).min(MAX_HELD);
        for s in &t.slots[..len] {
            let word = s.word.load(Relaxed);
            if s.lock.load(Relaxed) == lock && word >> 40 == epoch & EPOCH_TAG_MASK {
                out.push((s.site.load(Relaxed), (word >> 8) as ClassId, Mode::from_bits(word)));
            }
        }
    }
    out
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
    let rec = local::rec(epoch)?;
    if a.ordered {
        local::check_order_of(a);
    }
    let holders = if kind == WaitKind::Condvar { Vec::new() } else { holders_of(epoch, meta.id, rec) };
    let stack = stack::site_stack(site);
    let since = Instant::now();
    *rec.waiting.lock() =
        Some(WaitRec { lock: meta.id, class: meta.class, mode, site, since, kind, epoch, stack, holders });
    Some(Waiting { rec, epoch })
}

/// Ends a wait and returns its length in nanoseconds. Lock waits are charged to the wait
/// statistics and folded stacks by the acquisition they end in ([`acquired`]) or, when they
/// time out, here; condition variable waits are idle time, not contention, and are not.
///
/// A wait still published when a report is built is charged by the report ([`ongoing`]);
/// the report is built after tracking is turned off, and a wait taken out of its record
/// after that is not charged here, so no wait is charged twice.
#[cold]
pub(crate) fn end_wait(w: Option<Waiting>, acquired: bool) -> Option<u64> {
    let w = w?;
    let rec = w.rec.waiting.lock().take()?;
    let ns = rec.since.elapsed().as_nanos() as u64;
    if rec.kind == WaitKind::Condvar || w.epoch != epoch() {
        return None;
    }
    let own = if ns >= OWN_STACK_WAIT_NS { stack::capture() } else { rec.stack };
    let holders: Vec<(StackId, ClassId, Mode)> =
        rec.holders.iter().map(|&(site, class, mode)| (stack::known_site_stack(site), class, mode)).collect();
    folded::charge_wait(w.epoch, own, rec.class, rec.mode, &holders, ns);
    if !acquired {
        local::record_failed_wait(rec.class, ns);
    }
    Some(ns)
}

/// A lock wait still going on when a report is built, charged up to then.
pub(crate) struct OngoingWait {
    pub class: ClassId,
    pub mode: Mode,
    pub stack: StackId,
    /// Acquisition sites (and class, mode) of the threads holding the lock now.
    pub holders: Vec<(usize, ClassId, Mode)>,
    pub ns: u64,
}

/// A timed hold still held when a report is built, charged up to then.
pub(crate) struct OngoingHold {
    pub site: usize,
    pub class: ClassId,
    pub mode: Mode,
    pub ns: u64,
}

/// The lock waits and timed holds of session `epoch` still in progress: a hung iteration's
/// threads never end theirs, and they are what its report is about. Called once tracking is
/// off and the aggregate taken (see [`end_wait`]), so none of them is also charged by its
/// own thread.
pub(crate) fn ongoing(epoch: u64) -> (Vec<OngoingWait>, Vec<OngoingHold>) {
    let (mut waits, mut holds) = (Vec::new(), Vec::new());
    let now = Instant::now();
    let now_ns = clock_ns();
    let tag = epoch & EPOCH_TAG_MASK;
    let list: Vec<&'static ThreadRec> = threads().lock().clone();
    for &t in &list {
        let wait =
            t.waiting.lock().as_ref().filter(|w| w.epoch == epoch && w.kind != WaitKind::Condvar).cloned();
        if let Some(w) = wait {
            // The holders now, not those when the wait began: a wait that began as another
            // thread took the lock, before that thread published its hold, saw no holder.
            // A wait still going on is held up by whoever holds the lock now.
            waits.push(OngoingWait {
                class: w.class,
                mode: w.mode,
                stack: w.stack,
                holders: holders_among(&list, epoch, w.lock, t),
                ns: now.saturating_duration_since(w.since).as_nanos() as u64,
            });
        }
        let len = t.len.load(Acquire).min(MAX_HELD);
        for s in &t.slots[..len] {
            let (lock, word) = (s.lock.load(Relaxed), s.word.load(Relaxed));
            if lock == 0 || word >> 40 != tag || word & TIMED == 0 {
                continue;
            }
            let (since, site) = (s.timed_since.load(Relaxed), s.site.load(Relaxed));
            // Entries are published without a seqlock: trust one only if it did not change
            // while it was read (its thread may still be running).
            if s.lock.load(Relaxed) != lock || s.word.load(Relaxed) != word {
                continue;
            }
            let (class, mode) = ((word >> 8) as ClassId, Mode::from_bits(word));
            holds.push(OngoingHold { site, class, mode, ns: now_ns.saturating_sub(since) });
        }
    }
    (waits, holds)
}

/// Merges the calling thread's statistics into the session's aggregate now (the end of a
/// body, before the session reads the aggregate).
pub(crate) fn flush_thread() {
    local::flush();
}
