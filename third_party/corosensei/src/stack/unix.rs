extern crate std;

use core::mem::ManuallyDrop;
use std::cell::{Cell, RefCell};
use std::io::{Error, Result};
use std::ptr;
use std::thread_local;
use std::vec::Vec;

use super::valgrind::ValgrindStackRegistration;
use super::{Stack, StackPointer, MIN_STACK_SIZE};

fn page_size() -> usize {
    let pagesize = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    assert!(pagesize.is_power_of_two());
    pagesize
}

// lockhound patch (see `third_party/PATCHES.md`): a per-thread cache of freed stacks.
//
// Upstream maps a stack (`mmap`, then `mprotect` for all but the guard page) for every
// coroutine and unmaps it when the coroutine is dropped. shuttle creates its coroutines
// afresh for every run of its `Runner`, so a short run (a test that fails at once, one replay
// of a schedule) spends much of its time in these calls and in the first touch of each stack
// page. A thread that turns the cache on keeps the stacks it frees, guard page and all, and
// hands them to its next coroutines of the same size. Off (a limit of 0) is upstream
// behaviour, and the default.
thread_local! {
    static LIMIT: Cell<usize> = const { Cell::new(0) };
    static KEPT: RefCell<Kept> = const { RefCell::new(Kept(Vec::new())) };
}

/// The kept mappings of a thread, as (lowest address, length including the guard page),
/// unmapped when the thread exits.
struct Kept(Vec<(usize, usize)>);

impl Drop for Kept {
    fn drop(&mut self) {
        for (mmap, mmap_len) in self.0.drain(..) {
            // SAFETY: a kept mapping is a whole stack that no coroutine uses any more (see
            // `keep`).
            unsafe { libc::munmap(mmap as _, mmap_len) };
        }
    }
}

/// Keeps up to `limit` freed stacks on the calling thread for its later coroutines, and
/// returns the previous limit. With 0 (the default), every stack is mapped when it is created
/// and unmapped when it is dropped, as upstream. Stacks already kept stay kept (bounded by the
/// largest limit set) while the limit is 0, but are not handed out; they are unmapped when the
/// thread exits.
pub fn recycle_stacks(limit: usize) -> usize {
    LIMIT.with(|l| l.replace(limit))
}

/// A kept mapping of `mmap_len` bytes, if the cache is on.
fn take_kept(mmap_len: usize) -> Option<usize> {
    if LIMIT.try_with(Cell::get).unwrap_or(0) == 0 {
        return None;
    }
    KEPT.try_with(|kept| {
        let kept = &mut kept.borrow_mut().0;
        let at = kept.iter().rposition(|&(_, len)| len == mmap_len)?;
        Some(kept.swap_remove(at).0)
    })
    .ok()
    .flatten()
}

/// Keeps the mapping at `mmap` if the cache is on and has room; false if it must be unmapped
/// (also during thread exit, when the cache may be gone). Called only where upstream would
/// unmap the stack, so no coroutine runs on it any more.
fn keep(mmap: usize, mmap_len: usize) -> bool {
    let limit = match LIMIT.try_with(Cell::get) {
        Ok(limit) if limit > 0 => limit,
        _ => return false,
    };
    KEPT.try_with(|kept| {
        let kept = &mut kept.borrow_mut().0;
        let room = kept.len() < limit;
        if room {
            kept.push((mmap, mmap_len));
        }
        room
    })
    .unwrap_or(false)
}

/// Default stack implementation which uses `mmap`.
pub struct DefaultStack {
    base: StackPointer,
    mmap_len: usize,
    valgrind: ManuallyDrop<ValgrindStackRegistration>,
}

impl DefaultStack {
    /// Creates a new stack which has at least the given capacity.
    pub fn new(size: usize) -> Result<Self> {
        // Apply minimum stack size.
        let size = size.max(MIN_STACK_SIZE);

        // Add a guard page to the requested size and round the size up to
        // a page boundary.
        let page_size = page_size();
        let mmap_len = size
            .checked_add(page_size + page_size - 1)
            .expect("integer overflow while calculating stack size")
            & !(page_size - 1);

        // OpenBSD requires MAP_STACK on anything that is used as a stack.
        cfg_if::cfg_if! {
            if #[cfg(target_os = "openbsd")] {
                let map_flags = libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_STACK;
            } else {
                let map_flags = libc::MAP_ANONYMOUS | libc::MAP_PRIVATE;
            }
        }

        // lockhound patch: a kept mapping of the same length has the same guard page and the
        // same writable part (the length is the writable size rounded up, plus the guard).
        if let Some(mmap) = take_kept(mmap_len) {
            return Ok(Self {
                base: StackPointer::new(mmap + mmap_len).unwrap(),
                mmap_len,
                valgrind: ManuallyDrop::new(ValgrindStackRegistration::new(mmap as *mut u8, mmap_len)),
            });
        }

        unsafe {
            // Reserve some address space for the stack.
            let mmap = libc::mmap(ptr::null_mut(), mmap_len, libc::PROT_NONE, map_flags, -1, 0);
            if mmap == libc::MAP_FAILED {
                return Err(Error::last_os_error());
            }

            // Create the result here. If the mprotect call fails then this will
            // be dropped and the memory will be unmapped.
            let out = Self {
                base: StackPointer::new(mmap as usize + mmap_len).unwrap(),
                mmap_len,
                valgrind: ManuallyDrop::new(ValgrindStackRegistration::new(
                    mmap as *mut u8,
                    mmap_len,
                )),
            };

            // Make everything except the guard page writable.
            if libc::mprotect(
                mmap.cast::<u8>().add(page_size).cast(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
            ) != 0
            {
                return Err(Error::last_os_error());
            }

            Ok(out)
        }
    }
}

impl Default for DefaultStack {
    fn default() -> Self {
        Self::new(1024 * 1024).expect("failed to allocate stack")
    }
}

impl Drop for DefaultStack {
    fn drop(&mut self) {
        unsafe {
            // De-register the stack first.
            ManuallyDrop::drop(&mut self.valgrind);

            let mmap = self.base.get() - self.mmap_len;
            // lockhound patch: keep the mapping for this thread's next stack if there is room.
            if keep(mmap, self.mmap_len) {
                return;
            }
            let ret = libc::munmap(mmap as _, self.mmap_len);
            debug_assert_eq!(ret, 0);
        }
    }
}

unsafe impl Stack for DefaultStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        StackPointer::new(self.base.get() - self.mmap_len).unwrap()
    }
}
