//! Each thread's own tracking state: the held-lock stack (a fixed array published in place to
//! the watchdog), the caches that keep the uncontended path free of shared writes, and the
//! statistics merged into the session's aggregate now and then.
//!
//! This is the path every tracked lock and unlock takes inside a session, and it has to stay
//! within a few nanoseconds of parking_lot's own lock+unlock. So on that path:
//! - the state is a `const`-initialized thread-local of `Cell`s without a destructor, which
//!   compiles to plain thread-pointer-relative accesses: no lazy-init or destructor state
//!   check, no `RefCell` flag. What needs a destructor or a heap lives in [`Cold`], touched
//!   only off the common path;
//! - no clock is read (hold times are sampled, "since when" is the watchdog's coarse tick);
//! - no process-wide lock is taken and no shared cache line is written: the held entry goes
//!   to this thread's own slots (relaxed stores, plain moves on x86), and a lock-order pair
//!   already validated hits a per-thread direct-mapped cache;
//! - a release finds its entry by the slot index its guard kept, not by a search, and an
//!   entry released out of order becomes a hole instead of shifting and republishing the
//!   entries above it;
//! - statistics are one per-class counter per acquisition and nothing per release: when the
//!   thread merges its statistics, the holds released are the acquisitions counted minus
//!   those still held, and the uncontended ones are those minus the contended ones.

use super::class::ClassId;
use super::folded::{self, LocalStats};
use super::order;
use super::registry::{self, Acquisition, ThreadRec, EPOCH_TAG_MASK, MAX_HELD, TIMED};
use super::stack;
use super::Mode;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::panic::Location;
use std::sync::atomic::Ordering::*;

/// Size of the per-thread cache of acquisition sites whose first stack is recorded.
const SITE_CACHE: usize = 64;
/// Size of the per-thread direct-mapped cache of validated (held class, new class) pairs.
const PAIR_CACHE: usize = 64;
/// Classes counted in the hot state's fixed arrays; higher class ids count in [`Cold`].
const HOT_CLASSES: usize = 256;
/// Timed acquisitions (one in `hold_sample_period`) after which a thread merges its
/// statistics into the session's aggregate (so a thread that outlives the session still
/// contributes most of what it did).
const FLUSH_EVERY: u32 = 1 << 10;

/// What the common path reads and writes.
struct Hot {
    /// The session the state belongs to; 0 before set-up and once the thread is exiting.
    epoch: Cell<u64>,
    rec: Cell<Option<&'static ThreadRec>>,
    /// Entries in use in `rec.slots`, holes included (a hole has lock id 0).
    len: Cell<usize>,
    sample: Cell<u32>,
    sites: [Cell<usize>; SITE_CACHE],
    /// `pair_key`s already validated (0: empty).
    pair_cache: [Cell<u64>; PAIR_CACHE],
    /// Per class: tracked acquisitions since the last merge, plus the holds carried over
    /// from it (see [`Cold::flush`]).
    acquired: [Cell<u64>; HOT_CLASSES],
}

/// What only the set-up, the sampled, the contended and the first-seen paths touch.
struct Cold {
    rec: &'static ThreadRec,
    sample_period: u32,
    until_flush: u32,
    /// `Hot::acquired` of the classes beyond `HOT_CLASSES`.
    acquired: Vec<u64>,
    /// Per class: holds still held at the last merge, counted again in `acquired`.
    carried: Vec<u64>,
    /// Per class: acquisitions since the last merge that waited.
    contended: Vec<u64>,
    /// Every pair validated in this session (the cache forgets, this does not).
    pairs: HashSet<u64, BuildHasherDefault<registry::PairHasher>>,
    stats: LocalStats,
}

thread_local! {
    static HOT: Hot = const {
        Hot {
            epoch: Cell::new(0),
            rec: Cell::new(None),
            len: Cell::new(0),
            sample: Cell::new(1),
            sites: [const { Cell::new(0) }; SITE_CACHE],
            pair_cache: [const { Cell::new(0) }; PAIR_CACHE],
            acquired: [const { Cell::new(0) }; HOT_CLASSES],
        }
    };
    static COLD: RefCell<Cold> = RefCell::new(Cold::new());
}

/// Runs `f` on the calling thread's cold state (created, and the thread registered, on
/// first use). `None` in a thread-local destructor after ours ran, or if re-entered.
fn with_cold<R>(f: impl FnOnce(&mut Cold) -> R) -> Option<R> {
    COLD.try_with(|cell| cell.try_borrow_mut().ok().map(|mut c| f(&mut c))).ok().flatten()
}

impl Cold {
    fn new() -> Cold {
        let rec = registry::register_thread();
        HOT.with(|h| h.rec.set(Some(rec)));
        Cold {
            rec,
            sample_period: 1,
            until_flush: FLUSH_EVERY,
            acquired: Vec::new(),
            carried: Vec::new(),
            contended: Vec::new(),
            pairs: HashSet::default(),
            stats: LocalStats::default(),
        }
    }

    /// Merges this thread's statistics of the session it was in into the aggregate. The hot
    /// path counts acquisitions only; a hold is counted as released once it is no longer
    /// held here, so a hold still held now is carried: subtracted from this merge and left in
    /// `acquired` for the next one.
    fn flush(&mut self, h: &Hot) {
        self.until_flush = FLUSH_EVERY;
        let epoch = h.epoch.get();
        let mut held_now: Vec<u64> = Vec::new();
        if let Some(rec) = h.rec.get() {
            for s in &rec.slots[..h.len.get()] {
                let w = s.word.load(Relaxed);
                if s.lock.load(Relaxed) != 0 && w >> 40 == epoch & EPOCH_TAG_MASK {
                    let class = (w >> 8) as ClassId as usize;
                    grow(&mut held_now, class);
                    held_now[class] += 1;
                }
            }
        }
        let classes = (HOT_CLASSES + self.acquired.len()).max(self.contended.len()).max(held_now.len());
        for class in 0..classes {
            let acquired = match h.acquired.get(class) {
                Some(n) => n.get(),
                None => self.acquired.get(class - HOT_CLASSES).copied().unwrap_or(0),
            };
            let carried = self.carried.get(class).copied().unwrap_or(0);
            let contended = self.contended.get(class).copied().unwrap_or(0);
            let still = held_now.get(class).copied().unwrap_or(0);
            if acquired == 0 {
                continue;
            }
            let s = self.stats.class(class as ClassId);
            s.wait.record_zeros((acquired - carried).saturating_sub(contended));
            s.hold.count += acquired.saturating_sub(still);
            match h.acquired.get(class) {
                Some(n) => n.set(still),
                None => self.acquired[class - HOT_CLASSES] = still,
            }
        }
        self.carried = held_now;
        self.contended.clear();
        if epoch != 0 {
            folded::merge(epoch, &mut self.stats);
        }
        self.stats = LocalStats::default();
    }

    /// Starts the counters afresh for a new session (holds of the old one are not counted).
    fn reset_counts(&mut self, h: &Hot) {
        h.acquired.iter().for_each(|n| n.set(0));
        self.acquired.clear();
        self.carried.clear();
    }
}

/// Makes `v[i]` exist.
fn grow(v: &mut Vec<u64>, i: usize) {
    if i >= v.len() {
        v.resize(i + 1, 0);
    }
}

impl Drop for Cold {
    fn drop(&mut self) {
        let rec = self.rec;
        HOT.with(|h| {
            self.flush(h);
            // From now on this thread is untracked: its record goes back to the pool.
            h.epoch.set(0);
            h.rec.set(None);
            h.len.set(0);
            self.reset_counts(h);
        });
        registry::unregister_thread(rec);
    }
}

/// Epoch tag, class and mode of a held entry, in one word.
#[inline]
fn word(epoch: u64, class: ClassId, mode: Mode) -> u64 {
    (epoch & EPOCH_TAG_MASK) << 40 | (class as u64) << 8 | mode.bits()
}

#[inline]
fn pair_key(held: ClassId, new: ClassId) -> u64 {
    // +1 keeps 0 free to mean "empty" (class ids are far below u32::MAX).
    ((held as u64) << 32 | new as u64).wrapping_add(1)
}

/// Makes the calling thread's state belong to session `epoch` (set up on first use; caches
/// and statistics start afresh). Held entries stay: they carry their session's tag, and their
/// guards still release them. False if the thread cannot be tracked (it is exiting).
#[cold]
#[inline(never)]
fn sync(h: &Hot, epoch: u64) -> bool {
    with_cold(|c| {
        c.flush(h);
        c.reset_counts(h);
        h.epoch.set(epoch);
        c.pairs.clear();
        h.pair_cache.iter().for_each(|p| p.set(0));
        c.sample_period = registry::hold_sample_period();
        h.sample.set(first_countdown(c.sample_period));
    })
    .is_some()
}

/// Where a thread's hold-sampling countdown starts: uniformly at random in `1..=period`.
///
/// A countdown that started at `period` on every thread would time the `period`-th
/// acquisition of each thread and nothing before it, so threads that take fewer locks (a
/// body that spawns short-lived threads, each iteration of `lockhound track`) would never be
/// sampled. With a random phase, every acquisition of every thread is timed with probability
/// exactly `1 / period`, whatever the thread's lifetime. A countdown carried over from
/// exited threads would do it too, but only through shared state, and only for threads that
/// reuse an exited thread's record: threads alive at the same time would start afresh.
///
/// Runs once per thread and session, not on the acquisition path: a shared counter seeds a
/// small generator, one atomic add per thread, and the phases are independent of each other.
fn first_countdown(period: u32) -> u32 {
    use rand::{Rng, SeedableRng};
    static STREAM: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seed = STREAM.fetch_add(1, Relaxed);
    rand::rngs::SmallRng::seed_from_u64(seed).gen_range(1..=period.max(1))
}

/// The calling thread's record, after making its state belong to session `epoch`.
pub(crate) fn rec(epoch: u64) -> Option<&'static ThreadRec> {
    HOT.with(|h| if h.epoch.get() == epoch || sync(h, epoch) { h.rec.get() } else { None })
}

/// Adds the lock-order edges of `a`, about to wait, from the locks the thread holds.
pub(crate) fn check_order_of(a: &Acquisition) {
    HOT.with(|h| {
        if let (Some(rec), true) = (h.rec.get(), h.len.get() != 0) {
            check_order(h, rec, a);
        }
    });
}

/// Records a tracked acquisition in session `epoch`; returns its slot index + 1, or 0 if it
/// went untracked (more than [`MAX_HELD`] locks held, or the thread is exiting).
///
/// The common case (nothing else held or a try-lock, no wait, a known site, not the sampled
/// one) is handled here with no call, so the function needs no stack frame; everything
/// else goes to [`acquired_full`].
#[inline]
pub(crate) fn acquired(a: &Acquisition, epoch: u64) -> u32 {
    // The closure only passes the thread-local's address on: `with` stays small enough to be
    // inlined, which makes the access a thread-pointer offset instead of an indirect call.
    HOT.with(|h| acquired_in(h, a, epoch))
}

#[inline(never)]
fn acquired_in(h: &Hot, a: &Acquisition, epoch: u64) -> u32 {
    {
        let i = h.len.get();
        let site = a.site as *const Location as usize;
        let class = a.meta.class as usize;
        let sample = h.sample.get();
        if h.epoch.get() != epoch
            || h.sites[(site >> 3) % SITE_CACHE].get() != site
            || (a.ordered && i != 0)
            || a.wait_ns.is_some()
            || sample <= 1
        {
            return acquired_full(a, epoch);
        }
        let Some(rec) = h.rec.get() else { return acquired_full(a, epoch) };
        let (Some(count), Some(s)) = (h.acquired.get(class), rec.slots.get(i)) else {
            return acquired_full(a, epoch);
        };
        h.sample.set(sample - 1);
        count.set(count.get() + 1);
        s.lock.store(a.meta.id, Relaxed);
        s.word.store(word(epoch, class as ClassId, a.mode), Relaxed);
        s.site.store(site, Relaxed);
        s.since.store(registry::tick(), Relaxed);
        h.len.set(i + 1);
        // Release: a reader that sees the new length sees the entry's fields.
        rec.len.store(i + 1, Release);
        i as u32 + 1
    }
}

/// [`acquired`], every case.
#[cold]
#[inline(never)]
fn acquired_full(a: &Acquisition, epoch: u64) -> u32 {
    HOT.with(|h| {
        if h.epoch.get() != epoch && !sync(h, epoch) {
            return 0;
        }
        let Some(rec) = h.rec.get() else { return 0 };
        let site = a.site as *const Location as usize;
        let cached = &h.sites[(site >> 3) % SITE_CACHE];
        if cached.get() != site {
            cached.set(site);
            stack::site_stack(a.site);
        }
        if a.ordered && h.len.get() != 0 {
            check_order(h, rec, a);
        }
        let class = a.meta.class;
        let mut i = h.len.get();
        if i == MAX_HELD {
            i = compact(h, rec);
            if i == MAX_HELD {
                count_cold(class, a.wait_ns, false);
                return 0;
            }
        }
        match (a.wait_ns, h.acquired.get(class as usize)) {
            (None, Some(n)) => n.set(n.get() + 1),
            (wait, _) => count_cold(class, wait, true),
        }
        let mut w = word(epoch, class, a.mode);
        // A countdown, not a modulo: a division would cost more than the lock itself.
        let sample = h.sample.get().saturating_sub(1);
        h.sample.set(sample);
        if sample == 0 {
            w |= start_timing(h, rec, i);
        }
        let s = &rec.slots[i];
        s.lock.store(a.meta.id, Relaxed);
        s.word.store(w, Relaxed);
        s.site.store(site, Relaxed);
        s.since.store(registry::tick(), Relaxed);
        h.len.set(i + 1);
        // Release: a reader that sees the new length sees the entry's fields.
        rec.len.store(i + 1, Release);
        i as u32 + 1
    })
}

/// Counts an acquisition that waited `wait` ns, or one of a class beyond the hot arrays,
/// or (not `tracked`) one that found the held stack full.
#[cold]
#[inline(never)]
fn count_cold(class: ClassId, wait: Option<u64>, tracked: bool) {
    HOT.with(|h| {
        with_cold(|c| {
            let i = class as usize;
            match wait {
                Some(ns) => c.stats.class(class).wait.record(ns),
                None if !tracked => c.stats.class(class).wait.record_zeros(1),
                None => {}
            }
            if !tracked {
                return;
            }
            if wait.is_some() {
                grow(&mut c.contended, i);
                c.contended[i] += 1;
            }
            match h.acquired.get(i) {
                Some(n) => n.set(n.get() + 1),
                None => {
                    grow(&mut c.acquired, i - HOT_CLASSES);
                    c.acquired[i - HOT_CLASSES] += 1;
                }
            }
        })
    });
}

/// Starts timing the hold about to go in slot `i`; returns the word bit that says so. Also
/// counts down to the next merge of the statistics, off the common path.
#[cold]
#[inline(never)]
fn start_timing(h: &Hot, rec: &ThreadRec, i: usize) -> u64 {
    let started = with_cold(|c| {
        h.sample.set(c.sample_period);
        // Published with the entry (its word is stored after this), so that a report can
        // charge a hold still held when it is built.
        rec.slots[i].timed_since.store(registry::clock_ns(), Relaxed);
        c.until_flush -= 1;
        if c.until_flush == 0 {
            c.flush(h);
        }
    });
    if started.is_some() {
        TIMED
    } else {
        0
    }
}

/// Adds the lock-order edges of acquisition `a` from every lock held in this session.
/// A pair seen before hits the per-thread cache: no shared memory is touched.
#[inline(never)]
fn check_order(h: &Hot, rec: &ThreadRec, a: &Acquisition) {
    let tag = h.epoch.get() & EPOCH_TAG_MASK;
    for s in &rec.slots[..h.len.get()] {
        let lock = s.lock.load(Relaxed);
        let w = s.word.load(Relaxed);
        if lock == 0 || lock == a.meta.id || w >> 40 != tag {
            continue;
        }
        let held = (w >> 8) as ClassId;
        let key = pair_key(held, a.meta.class);
        let cached = &h.pair_cache[(key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize];
        if cached.get() != key {
            cached.set(key);
            let from = (held, Mode::from_bits(w), s.site.load(Relaxed), lock);
            new_pair(h, rec, key, from, a);
        }
    }
}

/// A pair missing from the cache: a new edge for the graph if the thread never saw it.
#[cold]
#[inline(never)]
fn new_pair(h: &Hot, rec: &ThreadRec, key: u64, from: (ClassId, Mode, usize, u64), a: &Acquisition) {
    if with_cold(|c| c.pairs.insert(key)) != Some(true) {
        return;
    }
    let (class, mode, site, lock) = from;
    let site = stack::site_of(site).unwrap_or(a.site);
    order::add_edge(
        h.epoch.get(),
        &rec.label(),
        order::Acq { class, mode, site, lock },
        order::Acq { class: a.meta.class, mode: a.mode, site: a.site, lock: a.meta.id },
    );
}

/// The slot of the hold `(lock, mode)` whose guard remembered slot `hint`: nearly always
/// `hint` itself; a search only if the entries were compacted since.
#[inline]
fn find(rec: &ThreadRec, len: usize, lock: u64, mode: Mode, hint: u32) -> Option<usize> {
    let matches = |i: usize| {
        let s = &rec.slots[i];
        s.lock.load(Relaxed) == lock && s.word.load(Relaxed) & 3 == mode.bits()
    };
    let i = (hint as usize).wrapping_sub(1);
    if i < len && matches(i) {
        return Some(i);
    }
    (0..len).rev().find(|&i| matches(i))
}

/// Records the release of the hold its guard knows as slot `hint`. Nothing is counted here
/// (see [`Cold::flush`]): the entry is dropped, and a timed hold charged.
///
/// The common case (the top of the stack, not timed, no hole below) is a leaf; everything
/// else goes to [`released_full`].
#[inline(never)]
pub(crate) fn released(lock: u64, mode: Mode, hint: u32) {
    HOT.with(|h| {
        let i = (hint as usize).wrapping_sub(1);
        if let Some(rec) = h.rec.get() {
            if i + 1 == h.len.get() && i < MAX_HELD {
                let s = &rec.slots[i];
                let below_held = i == 0 || rec.slots[i - 1].lock.load(Relaxed) != 0;
                if s.lock.load(Relaxed) == lock
                    && s.word.load(Relaxed) & (3 | TIMED) == mode.bits()
                    && below_held
                {
                    h.len.set(i);
                    rec.len.store(i, Release);
                    return;
                }
            }
        }
        released_full(lock, mode, hint)
    })
}

/// [`released`], every case.
#[cold]
#[inline(never)]
fn released_full(lock: u64, mode: Mode, hint: u32) {
    HOT.with(|h| {
        let Some(rec) = h.rec.get() else { return };
        let Some(i) = find(rec, h.len.get(), lock, mode, hint) else { return };
        let w = rec.slots[i].word.load(Relaxed);
        if w & TIMED != 0 {
            end_timing(h, rec, i, w);
        }
        if i + 1 == h.len.get() {
            // The usual case, a stack pop: also drop the holes left below it.
            let mut len = i;
            while len > 0 && rec.slots[len - 1].lock.load(Relaxed) == 0 {
                len -= 1;
            }
            h.len.set(len);
            rec.len.store(len, Release);
        } else {
            rec.slots[i].lock.store(0, Relaxed);
        }
    })
}

#[cold]
#[inline(never)]
fn end_timing(h: &Hot, rec: &ThreadRec, i: usize, w: u64) {
    if w >> 40 != h.epoch.get() & EPOCH_TAG_MASK {
        return;
    }
    let ns = registry::clock_ns().saturating_sub(rec.slots[i].timed_since.load(Relaxed));
    with_cold(|c| {
        let (class, mode) = ((w >> 8) as ClassId, Mode::from_bits(w));
        c.stats.class(class).hold.record_timed(ns);
        c.stats.hold_at(rec.slots[i].site.load(Relaxed), class, mode, ns);
    });
}

/// Changes the mode of a held entry in place (upgrade or downgrade); returns its slot.
pub(crate) fn changed_mode(lock: u64, from: Mode, to: Mode, hint: u32) -> u32 {
    HOT.with(|h| {
        let Some(rec) = h.rec.get() else { return hint };
        let Some(i) = find(rec, h.len.get(), lock, from, hint) else { return hint };
        let s = &rec.slots[i];
        s.word.store(s.word.load(Relaxed) & !3 | to.bits(), Relaxed);
        i as u32 + 1
    })
}

/// Squeezes the holes out of a full stack (locks released out of order, as in
/// hand-over-hand locking) and returns the new length. Guards whose slot moved find it again
/// by search.
#[cold]
#[inline(never)]
fn compact(h: &Hot, rec: &ThreadRec) -> usize {
    let mut to = 0;
    for from in 0..h.len.get() {
        let (src, dst) = (&rec.slots[from], &rec.slots[to]);
        let lock = src.lock.load(Relaxed);
        if lock == 0 {
            continue;
        }
        if from != to {
            // Invisible to readers while it moves: the length drops first.
            rec.len.store(to, Release);
            dst.word.store(src.word.load(Relaxed), Relaxed);
            dst.site.store(src.site.load(Relaxed), Relaxed);
            dst.since.store(src.since.load(Relaxed), Relaxed);
            dst.timed_since.store(src.timed_since.load(Relaxed), Relaxed);
            dst.lock.store(lock, Relaxed);
        }
        to += 1;
    }
    h.len.set(to);
    rec.len.store(to, Release);
    to
}

/// Merges the calling thread's statistics into the session's aggregate now.
pub(crate) fn flush() {
    HOT.with(|h| with_cold(|c| c.flush(h)));
}

/// Records a wait of `ns` that ended without the lock (a timeout).
pub(crate) fn record_failed_wait(class: ClassId, ns: u64) {
    with_cold(|c| c.stats.class(class).wait.record(ns));
}
