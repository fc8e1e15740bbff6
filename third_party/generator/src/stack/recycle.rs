//! lockhound patch (see `third_party/PATCHES.md`): a per-thread cache of freed stacks.
//!
//! Upstream maps every stack when a generator is created (`mmap`, then `mprotect` for the
//! guard page) and unmaps it when the generator is dropped. A model checker creates a
//! generator for every thread of every execution, so those three system calls and the first
//! touch of each stack page can cost more than the execution itself. A thread that turns the
//! cache on keeps the stacks it frees, guard page and all, and hands them to its next
//! generators of the same size. Off (a limit of 0) is upstream behaviour, and the default.

use super::SysStack;
use std::cell::{Cell, RefCell};

thread_local! {
    static LIMIT: Cell<usize> = const { Cell::new(0) };
    static KEPT: RefCell<Kept> = const { RefCell::new(Kept(Vec::new())) };
}

/// The kept stacks of a thread, unmapped when the thread exits.
struct Kept(Vec<SysStack>);

impl Drop for Kept {
    fn drop(&mut self) {
        let page_size = super::sys::page_size();
        for stack in self.0.drain(..) {
            // SAFETY: a kept stack is a whole mapping that no generator uses any more (see
            // `keep`); its guard page sits just below `bottom`, as in `StackMem::drop`.
            unsafe {
                let guard = stack.bottom().cast::<u8>().wrapping_sub(page_size).cast();
                super::sys::deallocate_stack(guard, stack.len() + page_size);
            }
        }
    }
}

/// Keeps up to `limit` freed stacks on the calling thread for its later generators, and
/// returns the previous limit. With 0 (the default), every stack is mapped when a generator
/// is created and unmapped when it is dropped, as upstream. Stacks already kept stay kept
/// (bounded by the largest limit set) while the limit is 0, but are not handed out; they are
/// unmapped when the thread exits.
pub fn recycle_stacks(limit: usize) -> usize {
    LIMIT.with(|l| l.replace(limit))
}

/// A kept stack whose usable length (guard page excluded) is `len`, if the cache is on.
pub(super) fn take(len: usize) -> Option<SysStack> {
    if LIMIT.try_with(Cell::get).unwrap_or(0) == 0 {
        return None;
    }
    KEPT.try_with(|kept| {
        let kept = &mut kept.borrow_mut().0;
        let at = kept.iter().rposition(|s| s.len() == len)?;
        Some(kept.swap_remove(at))
    })
    .ok()
    .flatten()
}

/// Keeps `stack` (whose guard page is still in place) if the cache is on and has room;
/// otherwise hands it back to be unmapped. Called only where upstream would unmap the stack,
/// so no generator runs on it any more. During thread exit the cache may be gone: the stack is
/// then unmapped too.
pub(super) fn keep(stack: SysStack) -> Result<(), SysStack> {
    let limit = match LIMIT.try_with(Cell::get) {
        Ok(limit) if limit > 0 => limit,
        _ => return Err(stack),
    };
    let mut stack = Some(stack);
    let _ = KEPT.try_with(|kept| {
        let kept = &mut kept.borrow_mut().0;
        if kept.len() < limit {
            kept.extend(stack.take());
        }
    });
    stack.map_or(Ok(()), Err)
}
