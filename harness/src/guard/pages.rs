//! The guarded pool: one `PROT_NONE` region of slots and guard pages (see `layout`), and a
//! slot table, free stack and quarantine ring in a second mapping. Neither comes from the
//! allocator being implemented, so bookkeeping never recurses. The pool is process-wide: the
//! signal handler must find it from a bare address.

use super::config::{GuardConfig, MAX_SLOTS};
use super::layout::{FreeCheck, Geometry, SlotState, SlotView};
use super::quarantine::Quarantine;
use super::report::{Access, FaultKind, Frames, RawReport, MAX_FRAMES};
use super::stacks;
use std::cell::Cell;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::OnceLock;

// A slot's state word: the state in the low two bits, and above them the slot's generation,
// which each new block in the slot increments. A free checks the block and then frees it
// with one compare-and-swap of the very word it checked, so a free that lost a race to
// another free of the same block, and to the reuse of its slot after it, fails instead of
// freeing whatever the slot holds now. 62 bits of generation never wrap.
const FREE: u64 = 0;
const LIVE: u64 = 1;
const FREED: u64 = 2;
const STATE_BITS: u64 = 0b11;
const ONE_GENERATION: u64 = 1 << 2;

fn state_of(word: u64) -> u64 {
    word & STATE_BITS
}

fn generation_of(word: u64) -> u64 {
    word & !STATE_BITS
}

/// Snapshots of a slot tried before one torn by a concurrent reuse is taken as it is.
const SNAPSHOT_TRIES: usize = 64;

/// One slot's block and stacks. All atomics: the signal handler reads them without the lock,
/// and an all-zero mapping is a valid table of free slots (generation 0).
#[repr(C)]
pub(crate) struct SlotMeta {
    /// The state word (see `FREE`); `ptr` and `size` change only while it is `FREE`.
    state: AtomicU64,
    alloc_tid: AtomicU32,
    free_tid: AtomicU32,
    ptr: AtomicUsize,
    size: AtomicUsize,
    alloc_len: AtomicUsize,
    free_len: AtomicUsize,
    alloc: [AtomicUsize; MAX_FRAMES],
    free: [AtomicUsize; MAX_FRAMES],
}

pub(crate) struct Pool {
    pub(crate) geo: Geometry,
    meta: &'static [SlotMeta],
    /// Recycled slots, a stack; `fresh` hands out never-used ones first.
    free_stack: &'static [AtomicU32],
    free_top: AtomicUsize,
    fresh: AtomicUsize,
    quarantine: Quarantine<'static>,
    lock: AtomicBool,
    /// Where reports go (see `channel::open_report`): the inherited report file, a new file
    /// at `LOCKHOUND_GUARD_REPORT`, or standard error.
    pub(crate) report_fd: i32,
}

/// Slots given mappings of their own at first use (`Pool::shape`): at most four mappings
/// each (first page, inner pages, last page, the guard after), so at most about 16,400 for
/// the pool, a quarter of Linux's default `vm.max_map_count` (65530). Slots are handed out
/// lowest first, so only a pool of more slots, nearly all in use, reaches past these; those
/// share the region's mapping, which each `mprotect` splits and merges.
pub(crate) const SHAPED_SLOTS: usize = 4096;

static POOL: OnceLock<Option<Pool>> = OnceLock::new();
/// The region, readable with two relaxed loads on `dealloc`'s hot path (0, 0 until mapped).
/// On a cache line of its own, written once: the pool's lock and counters, written on every
/// guarded allocation, must not share it, or every `dealloc` in every thread would miss.
#[repr(align(128))]
struct Region {
    base: AtomicUsize,
    len: AtomicUsize,
}
static REGION: Region = Region { base: AtomicUsize::new(0), len: AtomicUsize::new(0) };

/// Whether `ptr` lies in the guarded region.
#[inline]
pub(crate) fn owns(ptr: *mut u8) -> bool {
    // `len` first, with acquire: a non-zero length guarantees the base is visible, so a
    // system block freed while another thread maps the region is never taken for ours.
    let len = REGION.len.load(Acquire);
    (ptr as usize).wrapping_sub(REGION.base.load(Relaxed)) < len
}

/// The pool, if mapped. A plain atomic load: usable in the signal handler.
pub(crate) fn pool() -> Option<&'static Pool> {
    POOL.get()?.as_ref()
}

/// The pool, mapping it on first use; `None` if mapping failed (the allocator then never
/// guards). `std::sync::Once` blocks on a futex and does not allocate.
pub(crate) fn pool_or_init(config: &GuardConfig) -> Option<&'static Pool> {
    POOL.get_or_init(|| {
        let pool = Pool::new(config, super::channel::open_report())?;
        crate::fault::ensure_installed();
        stacks::forget_tid_on_fork();
        REGION.base.store(pool.geo.base, Relaxed);
        REGION.len.store(pool.geo.region_len(), Release);
        Some(pool)
    })
    .as_ref()
}

/// A `free` that passed its checks, not yet done: the slot's state word it saw (live), and the
/// block's address and size at that moment.
pub(crate) struct Validated {
    addr: usize,
    slot: usize,
    word: u64,
    size: usize,
}

/// Anonymous private memory, `None` on failure.
fn map(len: usize, prot: i32, extra: i32) -> Option<usize> {
    // SAFETY: a fresh anonymous mapping aliases nothing; the result is checked.
    let p = unsafe {
        libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra, -1, 0)
    };
    (p != libc::MAP_FAILED).then_some(p as usize)
}

fn protect(start: usize, end: usize, prot: i32) -> bool {
    // SAFETY: callers pass page-aligned ranges inside the pool's own region, which nothing
    // outside the pool maps or references while the pages change protection.
    unsafe { libc::mprotect(start as *mut libc::c_void, end - start, prot) == 0 }
}

/// Changes the kernel's flags of a page-aligned range of the region; protection and contents
/// stay as they are.
fn advise(start: usize, end: usize, advice: i32) -> bool {
    // SAFETY: callers pass page-aligned ranges inside the pool's own region; DONTDUMP and
    // RANDOM change only flags (core dumps, read-ahead), never protection or contents.
    unsafe { libc::madvise(start as *mut libc::c_void, end - start, advice) == 0 }
}

impl Pool {
    /// A pool of its own mappings, reporting to `report_fd`; nothing process-wide (the
    /// region's bounds, the signal handler) is touched: that is `pool_or_init`'s.
    fn new(config: &GuardConfig, report_fd: i32) -> Option<Pool> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        let slots = config.slots.clamp(1, MAX_SLOTS) as usize;
        let slot_pages = (config.max_size as usize).div_ceil(page).max(1);
        // Keep at least one slot out of quarantine so guarding never stalls.
        let quarantine = (config.quarantine as usize).min(slots - 1);
        let mut geo = Geometry { base: 0, page, slot_pages, slots };
        // NORESERVE: the region is address space, not memory, until blocks are made
        // accessible one by one.
        geo.base = map(geo.region_len(), libc::PROT_NONE, libc::MAP_NORESERVE)?;

        let meta_bytes = slots * std::mem::size_of::<SlotMeta>();
        let table_bytes = meta_bytes + (slots + quarantine) * 4;
        let table = map(table_bytes, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        // SAFETY: the mapping is zeroed, page-aligned (so aligned for SlotMeta, whose size is a
        // multiple of its 8-byte alignment, and for the u32 arrays after it), large enough for
        // all three arrays, and never unmapped; all-zero bytes are valid atomics.
        let (meta, free_stack, ring) = unsafe {
            (
                std::slice::from_raw_parts(table as *const SlotMeta, slots),
                std::slice::from_raw_parts((table + meta_bytes) as *const AtomicU32, slots),
                std::slice::from_raw_parts((table + meta_bytes + slots * 4) as *const AtomicU32, quarantine),
            )
        };
        Some(Pool {
            geo,
            meta,
            free_stack,
            free_top: AtomicUsize::new(0),
            fresh: AtomicUsize::new(0),
            quarantine: Quarantine::new(ring),
            lock: AtomicBool::new(false),
            report_fd,
        })
    }

    fn locked<R>(&self, f: impl FnOnce() -> R) -> R {
        while self.lock.compare_exchange_weak(false, true, Acquire, Relaxed).is_err() {
            // The holder only pops, pushes and mprotects: short. sched_yield allocates nothing.
            std::thread::yield_now();
        }
        let r = f();
        self.lock.store(false, Release);
        r
    }

    /// A snapshot of a slot for the classifier; lock-free, so the signal handler may call it.
    pub(crate) fn view(&self, slot: usize) -> SlotView {
        self.snapshot(slot).1
    }

    /// The slot's state word and a view of the block that goes with it: read again until
    /// the word is the same after the block as before it (a seqlock's read side; `alloc` is
    /// the writer, see there), at most `SNAPSHOT_TRIES` times. Lock-free.
    fn snapshot(&self, slot: usize) -> (u64, SlotView) {
        let m = &self.meta[slot];
        let mut tries = 0;
        loop {
            let word = m.state.load(Acquire);
            let (ptr, size) = (m.ptr.load(Relaxed), m.size.load(Relaxed));
            // Pairs with the release fence in `alloc`: if `ptr` or `size` came from a block
            // newer than `word`, the load below sees a newer word.
            fence(Acquire);
            tries += 1;
            if m.state.load(Relaxed) == word || tries == SNAPSHOT_TRIES {
                let state = match state_of(word) {
                    LIVE => SlotState::Live,
                    FREED => SlotState::Freed,
                    _ => SlotState::Free,
                };
                return (word, SlotView { state, ptr, size });
            }
        }
    }

    /// A guarded block, or `None` if it does not fit a slot or every slot is taken.
    pub(crate) fn alloc(&self, size: usize, align: usize, right: bool) -> Option<*mut u8> {
        if size > self.geo.slot_bytes() || align > self.geo.page {
            return None;
        }
        let frames = stacks::capture();
        let (slot, fresh) = self.locked(|| {
            let top = self.free_top.load(Relaxed);
            if top > 0 {
                self.free_top.store(top - 1, Relaxed);
                return Some((self.free_stack[top - 1].load(Relaxed) as usize, false));
            }
            let fresh = self.fresh.load(Relaxed);
            (fresh < self.geo.slots).then(|| {
                self.fresh.store(fresh + 1, Relaxed);
                (fresh, true)
            })
        })?;
        if fresh && slot < SHAPED_SLOTS {
            self.shape(slot);
        }
        let ptr = self.geo.place(slot, size, align, right);
        let (start, end) = self.geo.pages_of(ptr, size);
        if !protect(start, end, libc::PROT_READ | libc::PROT_WRITE) {
            self.recycle(slot);
            return None;
        }
        let m = &self.meta[slot];
        // The slot is FREE, and only this thread (which popped it) writes it now. The fence
        // orders the word's earlier change to FREE before the block's fields (see `snapshot`).
        let word = m.state.load(Relaxed);
        fence(Release);
        m.ptr.store(ptr, Relaxed);
        m.size.store(size, Relaxed);
        m.alloc_tid.store(stacks::cached_tid(), Relaxed);
        store_frames(&m.alloc, &m.alloc_len, &frames);
        m.free_len.store(0, Relaxed);
        m.free_tid.store(0, Relaxed);
        m.state.store(generation_of(word) + ONE_GENERATION + LIVE, Release);
        Some(ptr as *mut u8)
    }

    /// Frees a block of the region; `Err` with a report for a double or invalid free.
    // The report is large, but boxing it would allocate inside the allocator.
    #[allow(clippy::result_large_err)]
    pub(crate) fn free(&self, ptr: *mut u8) -> Result<(), RawReport> {
        self.commit(self.validate(ptr)?)
    }

    /// A bad free's report, with the stack of the call.
    fn bad_free(&self, kind: FaultKind, addr: usize, slot: Option<usize>) -> RawReport {
        let mut r = self.report(kind, Access::Unknown, addr, slot);
        r.at = stacks::capture();
        r
    }

    /// The first half of [`free`](Self::free): `ptr` must be the start of a live block.
    #[allow(clippy::result_large_err)]
    pub(crate) fn validate(&self, ptr: *mut u8) -> Result<Validated, RawReport> {
        let addr = ptr as usize;
        let seen = Cell::new((0, SlotView { state: SlotState::Free, ptr: 0, size: 0 }));
        let check = self.geo.check_free(addr, |i| {
            seen.set(self.snapshot(i));
            seen.get().1
        });
        match check {
            FreeCheck::Live(slot) => {
                let (word, view) = seen.get();
                Ok(Validated { addr, slot, word, size: view.size })
            }
            FreeCheck::DoubleFree(slot) => Err(self.bad_free(FaultKind::DoubleFree, addr, Some(slot))),
            FreeCheck::Invalid(slot) => Err(self.bad_free(FaultKind::InvalidFree, addr, slot)),
            FreeCheck::NotOurs => unreachable!("free() is only called for owned pointers"),
        }
    }

    /// The second half of [`free`](Self::free): frees the block `validate` saw, if the slot
    /// still holds it, in one compare-and-swap of the word `validate` read.
    #[allow(clippy::result_large_err)]
    pub(crate) fn commit(&self, v: Validated) -> Result<(), RawReport> {
        let m = &self.meta[v.slot];
        let freed = generation_of(v.word) + FREED;
        if let Err(now) = m.state.compare_exchange(v.word, freed, AcqRel, Acquire) {
            // Same generation: another thread freed this very block first, and the slot's
            // stacks are its. A newer one: the block was freed and its slot holds another
            // block now, whose stacks say nothing about this one.
            if generation_of(now) == generation_of(v.word) {
                return Err(self.bad_free(FaultKind::DoubleFree, v.addr, Some(v.slot)));
            }
            let mut r = self.bad_free(FaultKind::DoubleFree, v.addr, None);
            r.size = v.size;
            return Err(r);
        }
        m.free_tid.store(stacks::cached_tid(), Relaxed);
        store_frames(&m.free, &m.free_len, &stacks::capture());
        let (start, end) = self.geo.pages_of(v.addr, v.size);
        protect(start, end, libc::PROT_NONE);
        if let Some(evicted) = self.locked(|| self.quarantine.push(v.slot as u32)) {
            self.recycle(evicted as usize);
        }
        Ok(())
    }

    /// Gives a slot, at its first use, mappings of its own: its first page, its inner pages
    /// and its last page (see `Geometry::inner`). Adjacent anonymous mappings merge when
    /// their flags are equal, and `mprotect` of part of a mapping splits it; so neighbours
    /// get different flags that change nothing a program sees: the guard pages on both sides
    /// `MADV_DONTDUMP` (they never hold data), the inner pages `MADV_RANDOM` (a swap
    /// read-ahead hint). Then a block of one page, or of the whole slot, flips the protection
    /// of whole mappings, which the kernel neither splits nor merges: about a third of the
    /// cost of an `mprotect` that does. If an `madvise` fails, mappings merge again and the
    /// `mprotect` calls split them, as for slots past `SHAPED_SLOTS`: slower, equally safe.
    fn shape(&self, slot: usize) {
        let (start, end, page) = (self.geo.slot_start(slot), self.geo.slot_end(slot), self.geo.page);
        advise(start - page, start, libc::MADV_DONTDUMP);
        advise(end, end + page, libc::MADV_DONTDUMP);
        if let Some((a, b)) = self.geo.inner(slot) {
            advise(a, b, libc::MADV_RANDOM);
        }
    }

    /// Returns a slot (already inaccessible) to the free stack. Its pages keep their memory:
    /// `madvise(DONTNEED)` here cost a system call and a TLB shootdown per free, and the
    /// resident set stays bounded by the slot count anyway.
    fn recycle(&self, slot: usize) {
        // Only the thread that evicted the slot from quarantine writes its word now.
        let state = &self.meta[slot].state;
        state.store(generation_of(state.load(Relaxed)) + FREE, Release);
        self.locked(|| {
            let top = self.free_top.load(Relaxed);
            self.free_stack[top].store(slot as u32, Relaxed);
            self.free_top.store(top + 1, Relaxed);
        });
    }

    /// A report for `addr`, filled from `slot`'s block and stacks; lock-free and
    /// allocation-free, for the signal handler too.
    pub(crate) fn report(
        &self,
        kind: FaultKind,
        access: Access,
        addr: usize,
        slot: Option<usize>,
    ) -> RawReport {
        let mut r = RawReport {
            kind,
            access,
            address: addr,
            offset: 0,
            size: 0,
            tid: stacks::tid(),
            thread_name: stacks::thread_name(),
            anchor: super::report::anchor(),
            at: Frames::EMPTY,
            alloc_tid: 0,
            alloc: Frames::EMPTY,
            free_tid: 0,
            free: Frames::EMPTY,
        };
        if let Some(m) = slot.and_then(|s| self.meta.get(s)) {
            let ptr = m.ptr.load(Relaxed);
            r.offset = (addr as isize).wrapping_sub(ptr as isize);
            r.size = m.size.load(Relaxed);
            r.alloc_tid = m.alloc_tid.load(Relaxed);
            r.alloc = load_frames(&m.alloc, &m.alloc_len);
            r.free_tid = m.free_tid.load(Relaxed);
            r.free = load_frames(&m.free, &m.free_len);
        }
        r
    }
}

fn store_frames(dst: &[AtomicUsize; MAX_FRAMES], len: &AtomicUsize, src: &Frames) {
    for (d, &s) in dst.iter().zip(src.as_slice()) {
        d.store(s, Relaxed);
    }
    len.store(src.len, Relaxed);
}

fn load_frames(src: &[AtomicUsize; MAX_FRAMES], len: &AtomicUsize) -> Frames {
    let mut f = Frames::EMPTY;
    f.len = len.load(Relaxed).min(MAX_FRAMES);
    for (d, s) in f.pcs.iter_mut().zip(src.iter()).take(f.len) {
        *d = s.load(Relaxed);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool apart from the process-wide one: `slots` slots of one page, no quarantine (a
    /// freed slot is reused at once), reports to standard error.
    fn pool(slots: u32) -> Pool {
        let config = GuardConfig::new().slots(slots).quarantine(0).max_size(4096);
        Pool::new(&config, libc::STDERR_FILENO).expect("map a test pool")
    }

    /// Thread A checks its free of block X and is preempted before the compare-and-swap;
    /// thread B frees X, and the slot is reused for block Y; A resumes. Replayed step by step
    /// on one thread: A's free is a double free of X, and Y, at the same address or not,
    /// stays live and accessible.
    #[test]
    #[cfg_attr(miri, ignore)] // PROT_NONE mappings
    fn a_stale_double_free_after_reuse_leaves_the_new_block_alone() {
        for (x_size, y_size) in [(64, 64), (64, 24)] {
            let pool = pool(1);
            let x = pool.alloc(x_size, 8, true).unwrap();
            let stale = pool.validate(x).expect("X is live when A checks it");
            pool.free(x).expect("B's free of X");
            let y = pool.alloc(y_size, 8, true).unwrap();
            assert_eq!(y == x, x_size == y_size, "the one slot is reused, right-aligned");

            let report = pool.commit(stale).expect_err("A's free of X is a double free");
            assert_eq!(report.kind, FaultKind::DoubleFree);
            assert_eq!((report.address, report.size), (x as usize, x_size));
            assert_eq!(report.alloc_tid, 0, "Y's stacks are not reported as X's");

            let view = pool.view(0);
            assert_eq!((view.state, view.ptr, view.size), (SlotState::Live, y as usize, y_size));
            // SAFETY: Y is a live block of `y_size` bytes: still accessible, untouched by A.
            unsafe {
                y.write_bytes(0xa5, y_size);
                assert!(std::slice::from_raw_parts(y, y_size).iter().all(|&b| b == 0xa5));
            }
            pool.free(y).expect("Y's own free");
        }
    }

    /// Two threads free the same live block: both checks pass, one free wins, and the other
    /// is a double free reported with the block's own stacks.
    #[test]
    #[cfg_attr(miri, ignore)] // PROT_NONE mappings
    fn racing_frees_of_one_block_free_it_once() {
        let pool = pool(2);
        let x = pool.alloc(40, 8, false).unwrap();
        let first = pool.validate(x).unwrap();
        let second = pool.validate(x).unwrap();
        pool.commit(first).expect("the first free");
        let report = pool.commit(second).expect_err("the second free");
        assert_eq!(report.kind, FaultKind::DoubleFree);
        assert_eq!((report.offset, report.size), (0, 40));
        assert_ne!(report.free_tid, 0, "the winning free's thread is the slot's");
        assert_ne!(report.alloc.len, 0, "and so is the allocation stack");
        assert_eq!(pool.view(0).state, SlotState::Free, "recycled once, out of a quarantine of 0");
    }
}
