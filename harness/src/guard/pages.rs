//! The guarded pool: one `PROT_NONE` region of slots and guard pages (see `layout`), and a
//! slot table, free stack and quarantine ring in a second mapping. Neither comes from the
//! allocator being implemented, so bookkeeping never recurses. The pool is process-wide: the
//! signal handler must find it from a bare address.

use super::config::{GuardConfig, MAX_SLOTS};
use super::layout::{FreeCheck, Geometry, SlotState, SlotView};
use super::quarantine::Quarantine;
use super::report::{Access, FaultKind, Frames, RawReport, MAX_FRAMES};
use super::{signal, stacks};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::*};
use std::sync::OnceLock;

const FREE: u32 = 0;
const LIVE: u32 = 1;
const FREED: u32 = 2;

/// One slot's block and stacks. All atomics: the signal handler reads them without the lock,
/// and an all-zero mapping is a valid table of free slots.
#[repr(C)]
pub(crate) struct SlotMeta {
    state: AtomicU32,
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
    /// Where reports go: the `LOCKHOUND_GUARD_REPORT` file, or standard error.
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
    POOL.get_or_init(|| Pool::map(config)).as_ref()
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
    fn map(config: &GuardConfig) -> Option<Pool> {
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
        // SAFETY: the mapping is zeroed, page-aligned (so aligned for SlotMeta and u32), large
        // enough for all three arrays, and never unmapped; all-zero bytes are valid atomics.
        let (meta, free_stack, ring) = unsafe {
            (
                std::slice::from_raw_parts(table as *const SlotMeta, slots),
                std::slice::from_raw_parts((table + meta_bytes) as *const AtomicU32, slots),
                std::slice::from_raw_parts((table + meta_bytes + slots * 4) as *const AtomicU32, quarantine),
            )
        };
        signal::ensure_installed();
        stacks::forget_tid_on_fork();
        REGION.base.store(geo.base, Relaxed);
        REGION.len.store(geo.region_len(), Release);
        Some(Pool {
            geo,
            meta,
            free_stack,
            free_top: AtomicUsize::new(0),
            fresh: AtomicUsize::new(0),
            quarantine: Quarantine::new(ring),
            lock: AtomicBool::new(false),
            report_fd: super::channel::open_report(),
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
        let m = &self.meta[slot];
        let state = match m.state.load(Acquire) {
            LIVE => SlotState::Live,
            FREED => SlotState::Freed,
            _ => SlotState::Free,
        };
        SlotView { state, ptr: m.ptr.load(Relaxed), size: m.size.load(Relaxed) }
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
        m.ptr.store(ptr, Relaxed);
        m.size.store(size, Relaxed);
        m.alloc_tid.store(stacks::cached_tid(), Relaxed);
        store_frames(&m.alloc, &m.alloc_len, &frames);
        m.free_len.store(0, Relaxed);
        m.free_tid.store(0, Relaxed);
        m.state.store(LIVE, Release);
        Some(ptr as *mut u8)
    }

    /// Frees a block of the region; `Err` with a report for a double or invalid free.
    // The report is large, but boxing it would allocate inside the allocator.
    #[allow(clippy::result_large_err)]
    pub(crate) fn free(&self, ptr: *mut u8) -> Result<(), RawReport> {
        let addr = ptr as usize;
        let bad = |kind, slot: Option<usize>| {
            let mut r = self.report(kind, Access::Unknown, addr, slot);
            r.at = stacks::capture();
            r
        };
        let slot = match self.geo.check_free(addr, |i| self.view(i)) {
            FreeCheck::Live(slot) => slot,
            FreeCheck::DoubleFree(slot) => return Err(bad(FaultKind::DoubleFree, Some(slot))),
            FreeCheck::Invalid(slot) => return Err(bad(FaultKind::InvalidFree, slot)),
            FreeCheck::NotOurs => unreachable!("free() is only called for owned pointers"),
        };
        let m = &self.meta[slot];
        // Two threads freeing the same block race here: one wins, the other double-frees.
        if m.state.compare_exchange(LIVE, FREED, AcqRel, Relaxed).is_err() {
            return Err(bad(FaultKind::DoubleFree, Some(slot)));
        }
        m.free_tid.store(stacks::cached_tid(), Relaxed);
        store_frames(&m.free, &m.free_len, &stacks::capture());
        let (start, end) = self.geo.pages_of(addr, m.size.load(Relaxed));
        protect(start, end, libc::PROT_NONE);
        if let Some(evicted) = self.locked(|| self.quarantine.push(slot as u32)) {
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
        self.meta[slot].state.store(FREE, Release);
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
