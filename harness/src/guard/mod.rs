//! Guard-page allocator, GWP-ASan style: a [`GlobalAlloc`] that places sampled (or all)
//! allocations against a `PROT_NONE` guard page and keeps freed ones inaccessible in a
//! bounded quarantine, so an overflow, underflow or use-after-free faults at the faulting
//! instruction. A signal handler classifies the fault and writes a raw report; a double or
//! invalid free is caught in `dealloc`. [`child::run_guarded`] runs a program under it in a
//! child process and returns the symbolized [`GuardReport`].
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: lockhound::guard::GuardAlloc = lockhound::guard::GuardAlloc::from_env_lazy();
//! ```
//!
//! Linux only (x86_64 and aarch64); elsewhere every allocation goes to the system allocator.

#[cfg(target_os = "linux")]
mod channel;
pub mod child;
mod config;
mod layout;
#[cfg(target_os = "linux")]
mod pages;
#[cfg(target_os = "linux")]
mod quarantine;
pub mod report;
#[cfg(target_os = "linux")]
pub(crate) mod signal;
#[cfg(target_os = "linux")]
mod stacks;
#[cfg(target_os = "linux")]
mod supervise;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod unwind;

pub use child::{
    run_guarded, Frame, GuardOptions, GuardOutcome, GuardReport, GuardRun, ThreadInfo, CHILD_MARGIN,
};
pub use config::{
    parse_mode, parse_side, GuardConfig, Mode, Side, ENV_MAX_SIZE, ENV_MODE, ENV_QUARANTINE, ENV_REPORT,
    ENV_REPORT_FD, ENV_SIDE, ENV_SLOTS,
};
pub use layout::{Classified, FreeCheck, Geometry, Place, SlotState, SlotView};
pub use report::{Access, FaultKind};

use config::{decode_mode, decode_side, encode_mode, encode_side};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// The mode word before the environment has been read (`from_env_lazy`).
const UNREAD: u32 = u32::MAX;

/// The guard-page allocator. Const-constructible, so it can be the `#[global_allocator]`;
/// in mode [`Mode::Off`] each allocation costs one relaxed load over the system allocator,
/// so a binary can always install it and turn it on from the environment.
pub struct GuardAlloc {
    /// Encoded [`Mode`]: the only word the hot path reads.
    mode: AtomicU32,
    side: AtomicU32,
    config: GuardConfig,
    from_env: bool,
}

impl GuardAlloc {
    /// An allocator configured in code; the environment is not read (except
    /// `LOCKHOUND_GUARD_REPORT`, where reports go).
    pub const fn new(config: GuardConfig) -> Self {
        GuardAlloc {
            mode: AtomicU32::new(encode_mode(config.mode)),
            side: AtomicU32::new(encode_side(config.side)),
            config,
            from_env: false,
        }
    }

    /// An allocator configured from the `LOCKHOUND_GUARD*` variables, read at the first
    /// allocation (through `getenv`, without allocating). Unset means off.
    pub const fn from_env_lazy() -> Self {
        Self::from_env_lazy_with(GuardConfig::new())
    }

    /// Like [`from_env_lazy`](Self::from_env_lazy), with `config` for what the environment
    /// does not set.
    pub const fn from_env_lazy_with(config: GuardConfig) -> Self {
        GuardAlloc {
            mode: AtomicU32::new(UNREAD),
            side: AtomicU32::new(encode_side(config.side)),
            config,
            from_env: true,
        }
    }

    /// Changes the mode at run time. Blocks guarded earlier stay guarded until freed.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(encode_mode(mode), Relaxed);
    }

    /// The current mode (reading the environment first if it has not been read).
    pub fn mode(&self) -> Mode {
        decode_mode(self.mode_word())
    }

    pub fn set_side(&self, side: Side) {
        self.side.store(encode_side(side), Relaxed);
    }

    /// The configuration in force: the code's, overridden by the environment if lazy.
    pub fn config(&self) -> GuardConfig {
        let mut c = self.config;
        if self.from_env {
            c = c.apply_env(getenv);
        }
        c.mode = self.mode();
        c.side = decode_side(self.side.load(Relaxed));
        c
    }

    #[inline]
    fn mode_word(&self) -> u32 {
        match self.mode.load(Relaxed) {
            UNREAD => self.read_env(),
            word => word,
        }
    }

    #[cold]
    fn read_env(&self) -> u32 {
        let c = self.config.apply_env(getenv);
        let _ =
            self.side.compare_exchange(encode_side(self.config.side), encode_side(c.side), Relaxed, Relaxed);
        // Racing first allocations compute the same word; `set_mode` in between wins.
        match self.mode.compare_exchange(UNREAD, encode_mode(c.mode), Relaxed, Relaxed) {
            Ok(_) => encode_mode(c.mode),
            Err(now) => now,
        }
    }

    /// Whether this allocation is the sampled one.
    #[inline]
    fn sampled(word: u32) -> bool {
        word == 1 || sample_hit(word)
    }

    /// A guarded block, or null if it cannot be guarded (too large, over-aligned, no free
    /// slot, nested inside the allocator's own slow path, not Linux).
    #[cfg(target_os = "linux")]
    fn alloc_guarded(&self, layout: Layout) -> *mut u8 {
        let Some(_busy) = stacks::Reentry::enter() else {
            return std::ptr::null_mut();
        };
        // The configuration (which may read the environment) only matters for the first
        // mapping: every later guarded allocation finds the pool with one load.
        let Some(pool) = pages::pool().or_else(|| pages::pool_or_init(&self.config())) else {
            return std::ptr::null_mut();
        };
        crate::fault::ensure_altstack();
        crate::fault::ensure_installed();
        let right = match decode_side(self.side.load(Relaxed)) {
            Side::Right => true,
            Side::Left => false,
            Side::Random => next_random() & 1 == 0,
        };
        pool.alloc(layout.size(), layout.align(), right).unwrap_or(std::ptr::null_mut())
    }

    #[cfg(not(target_os = "linux"))]
    fn alloc_guarded(&self, _layout: Layout) -> *mut u8 {
        std::ptr::null_mut()
    }

    #[cold]
    fn alloc_slow(&self, layout: Layout, word: u32) -> *mut u8 {
        let word = if word == UNREAD { self.read_env() } else { word };
        if word != 0 && Self::sampled(word) {
            let p = self.alloc_guarded(layout);
            if !p.is_null() {
                return p;
            }
        }
        // SAFETY: forwarded from `alloc`, whose caller guarantees a non-zero-sized layout.
        unsafe { System.alloc(layout) }
    }

    /// Frees a block of the guarded region; a double or invalid free is reported and aborts.
    #[cfg(target_os = "linux")]
    #[cold]
    fn dealloc_guarded(&self, ptr: *mut u8) {
        let Some(pool) = pages::pool() else { return };
        let busy = stacks::Reentry::enter();
        crate::fault::ensure_altstack();
        crate::fault::ensure_installed();
        if let Err(report) = pool.free(ptr) {
            drop(busy);
            signal::die_of_bad_free(pool, &report);
        }
    }
}

/// Whether `ptr` points into the guarded region (a guarded block, or its guard pages).
pub fn is_guarded(ptr: *const u8) -> bool {
    owns(ptr.cast_mut())
}

#[cfg(target_os = "linux")]
fn owns(ptr: *mut u8) -> bool {
    pages::owns(ptr)
}

#[cfg(not(target_os = "linux"))]
fn owns(_ptr: *mut u8) -> bool {
    false
}

/// `getenv` without allocating: the key is copied into a stack buffer to add the NUL, and
/// the value is borrowed from the environment block.
fn getenv(key: &str) -> Option<&'static [u8]> {
    let mut buf = [0u8; 64];
    if key.len() >= buf.len() {
        return None;
    }
    buf[..key.len()].copy_from_slice(key.as_bytes());
    // SAFETY: `buf` is NUL-terminated. The value lives in the environment block, which stays
    // put as long as nobody calls setenv for that key; the allocator reads it once, at start.
    unsafe {
        let v = libc::getenv(buf.as_ptr().cast());
        (!v.is_null()).then(|| std::ffi::CStr::from_ptr(v).to_bytes())
    }
}

thread_local! {
    // Allocations left before the next sampled one (0: not yet drawn), and a xorshift state.
    static COUNTDOWN: Cell<u32> = const { Cell::new(0) };
    static RNG: Cell<u64> = const { Cell::new(0) };
}

fn next_random() -> u64 {
    RNG.try_with(|r| {
        let mut x = r.get();
        if x == 0 {
            // Seed from the TLS address (differs per thread) and the time-stamp of the moment.
            x = (r as *const Cell<u64> as u64) ^ 0x9e37_79b9_7f4a_7c15;
            x ^= std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(1, |d| d.as_nanos() as u64);
            x |= 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
    .unwrap_or(1)
}

/// One-in-`n` sampling with a per-thread countdown drawn uniformly from `1..=2n-1` (mean
/// `n`), GWP-ASan style: no shared state on the hot path and no fixed stride an allocation
/// pattern could dodge.
#[inline]
fn sample_hit(n: u32) -> bool {
    COUNTDOWN
        .try_with(|c| match c.get() {
            1 => {
                c.set(draw(n));
                true
            }
            0 => {
                c.set(draw(n));
                false
            }
            left => {
                c.set(left - 1);
                false
            }
        })
        .unwrap_or(false)
}

/// The inlined part of the sampler: `true` (not sampled) while this thread's countdown has
/// more than one allocation left, decrementing it. The last step (and the first draw) is
/// [`sample_hit`]'s, on the slow path. A thread being torn down is never sampled.
#[inline(always)]
fn countdown_tick() -> bool {
    COUNTDOWN
        .try_with(|c| {
            let left = c.get();
            if left > 1 {
                c.set(left - 1);
            }
            left > 1
        })
        .unwrap_or(true)
}

#[cold]
fn draw(n: u32) -> u32 {
    let span = u64::from(n).saturating_mul(2).saturating_sub(1).max(1);
    (next_random() % span) as u32 + 1
}

// SAFETY: every block comes either from `System` or from the pool, and goes back to where it
// came from: `owns` tells them apart by address (the pool's region is a private mapping
// `System` never hands out). Pool blocks honour the layout: at most a slot long, aligned to
// `layout.align()` (at most a page, else the block goes to `System`).
unsafe impl GlobalAlloc for GuardAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // The hot path reads the mode word (never written while the program allocates) and,
        // when sampling, this thread's countdown: no shared cache line is written.
        let word = self.mode.load(Relaxed);
        if word == 0 || (word != 1 && word != UNREAD && countdown_tick()) {
            // SAFETY: forwarded from our caller.
            return unsafe { System.alloc(layout) };
        }
        self.alloc_slow(layout, word)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if owns(ptr) {
            #[cfg(target_os = "linux")]
            self.dealloc_guarded(ptr);
            return;
        }
        // SAFETY: not ours, so `System` allocated it with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let word = self.mode_word();
        let ours = owns(ptr);
        if !ours && (word == 0 || !Self::sampled(word)) {
            // SAFETY: not ours, so `System` allocated it with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // A guarded block moves (its slot fits it exactly); an unguarded one picked by the
        // sampler moves into a slot. Either way: allocate, copy, free.
        // SAFETY: `realloc`'s contract makes `new_size` with the old alignment a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = if ours { unsafe { self.alloc(new_layout) } } else { self.alloc_slow(new_layout, 1) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
