//! Where guarded blocks sit in the guarded region and what an address in it means. Pure
//! arithmetic over a snapshot of the slot table, so it is unit-tested (and could run under
//! miri) apart from the mmap and signal code.
//!
//! The region is `[guard][slot 0][guard][slot 1] ... [slot n-1][guard]`: every slot is
//! `slot_pages` pages and every guard one page. A block uses only the pages it needs at one
//! end of its slot, so the rest of the slot is inaccessible too.
//!
//! Each slot's first page, its inner pages and its last page are kernel mappings (VMAs) of
//! their own (`pages.rs` gives neighbours different flags so they never merge): a block of
//! one page, or of the whole slot, changes the protection of whole mappings only.

use super::report::FaultKind;

/// The shape of the guarded region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub base: usize,
    pub page: usize,
    pub slot_pages: usize,
    pub slots: usize,
}

/// What a slot holds, as the classifier sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Never used, or recycled out of the quarantine.
    Free,
    Live,
    /// Freed and still in quarantine: inaccessible.
    Freed,
}

/// A slot's state and block, read from the slot table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotView {
    pub state: SlotState,
    pub ptr: usize,
    pub size: usize,
}

/// A faulting access classified against the slot table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    pub kind: FaultKind,
    /// The slot of the block the access is attributed to, if any.
    pub slot: Option<usize>,
    /// Address minus the block's start (negative before it).
    pub offset: isize,
}

/// Where an address falls in the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// In the pages of this slot.
    Slot(usize),
    /// In the guard page between two slots (`None` at either end of the region).
    Guard { before: Option<usize>, after: Option<usize> },
}

/// What a pointer given to `dealloc` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeCheck {
    /// Not in the guarded region: the system allocator's.
    NotOurs,
    /// The start of the live block in this slot.
    Live(usize),
    /// The start of a block already freed and still quarantined.
    DoubleFree(usize),
    /// In the region, but not the start of a live block.
    Invalid(Option<usize>),
}

impl Geometry {
    pub const fn stride(&self) -> usize {
        self.page * (self.slot_pages + 1)
    }

    /// Bytes of address space the region spans.
    pub const fn region_len(&self) -> usize {
        self.slots * self.stride() + self.page
    }

    pub const fn slot_bytes(&self) -> usize {
        self.page * self.slot_pages
    }

    pub fn contains(&self, addr: usize) -> bool {
        addr.wrapping_sub(self.base) < self.region_len()
    }

    pub const fn slot_start(&self, slot: usize) -> usize {
        self.base + self.page + slot * self.stride()
    }

    pub const fn slot_end(&self, slot: usize) -> usize {
        self.slot_start(slot) + self.slot_bytes()
    }

    /// The slot's pages between its first and its last (the last too when the slot has
    /// two pages); `None` for a one-page slot. Kept a mapping apart from its neighbours, so
    /// that the first and the last page are mappings of their own.
    pub const fn inner(&self, slot: usize) -> Option<(usize, usize)> {
        let start = self.slot_start(slot) + self.page;
        match self.slot_pages {
            0 | 1 => None,
            2 => Some((start, self.slot_end(slot))),
            _ => Some((start, self.slot_end(slot) - self.page)),
        }
    }

    /// Where `addr` falls: in a slot's pages or in a guard page; `None` outside the region.
    pub fn locate(&self, addr: usize) -> Option<Place> {
        if !self.contains(addr) {
            return None;
        }
        let off = addr - self.base;
        let index = off / self.stride();
        if off % self.stride() >= self.page {
            return Some(Place::Slot(index));
        }
        let before = index.checked_sub(1);
        let after = (index < self.slots).then_some(index);
        Some(Place::Guard { before, after })
    }

    /// Where a block of `size` bytes aligned to `align` starts in `slot`. Left: at the slot
    /// start (page-aligned, so any `align <= page` holds). Right: so the block ends at the
    /// guard page, except that the start must be aligned, which leaves
    /// `round_up(size, align) - size` bytes of slack between the block's end and the guard
    /// page: an overflow smaller than that slack is not caught.
    pub fn place(&self, slot: usize, size: usize, align: usize, right: bool) -> usize {
        if right {
            (self.slot_end(slot) - size.max(1)) & !(align - 1)
        } else {
            self.slot_start(slot)
        }
    }

    /// The page-aligned range a block needs accessible.
    pub fn pages_of(&self, ptr: usize, size: usize) -> (usize, usize) {
        let start = ptr & !(self.page - 1);
        let end = (ptr + size.max(1) + self.page - 1) & !(self.page - 1);
        (start, end)
    }

    /// Classifies a faulting address; `None` when it is not in the guarded region.
    pub fn classify(&self, addr: usize, view: impl Fn(usize) -> SlotView) -> Option<Classified> {
        let place = self.locate(addr)?;
        let attribute = |slot: usize| -> Option<Classified> {
            let v = view(slot);
            let offset = addr as isize - v.ptr as isize;
            let kind = match v.state {
                SlotState::Free => return None,
                SlotState::Freed => FaultKind::UseAfterFree,
                SlotState::Live if addr >= v.ptr + v.size => FaultKind::Overflow,
                SlotState::Live if addr < v.ptr => FaultKind::Underflow,
                // A live block is accessible: a fault inside it means the table changed under
                // us (the block was just freed). Call it what it most likely is.
                SlotState::Live => FaultKind::UseAfterFree,
            };
            Some(Classified { kind, slot: Some(slot), offset })
        };
        let found = match place {
            Place::Slot(slot) => attribute(slot),
            // In a guard page: blame the nearer block in use, GWP-ASan style.
            Place::Guard { before, after } => {
                let b = before.and_then(attribute);
                let a = after.and_then(attribute);
                match (b, a) {
                    (Some(b), Some(a)) => {
                        // Distance past the end of the block before, against distance short
                        // of the start of the block after.
                        let past_b =
                            b.offset.unsigned_abs().saturating_sub(before.map_or(0, |s| view(s).size));
                        if past_b <= a.offset.unsigned_abs() {
                            Some(b)
                        } else {
                            Some(a)
                        }
                    }
                    (b, a) => b.or(a),
                }
            }
        };
        Some(found.unwrap_or(Classified { kind: FaultKind::Wild, slot: None, offset: 0 }))
    }

    /// What `dealloc(ptr)` means.
    pub fn check_free(&self, ptr: usize, view: impl Fn(usize) -> SlotView) -> FreeCheck {
        match self.locate(ptr) {
            None => FreeCheck::NotOurs,
            Some(Place::Guard { .. }) => FreeCheck::Invalid(None),
            Some(Place::Slot(slot)) => {
                let v = view(slot);
                match v.state {
                    SlotState::Live if v.ptr == ptr => FreeCheck::Live(slot),
                    SlotState::Freed if v.ptr == ptr => FreeCheck::DoubleFree(slot),
                    _ => FreeCheck::Invalid(Some(slot)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: Geometry = Geometry { base: 0x10_0000, page: 0x1000, slot_pages: 2, slots: 4 };

    fn table(slots: [SlotView; 4]) -> impl Fn(usize) -> SlotView {
        move |i| slots[i]
    }

    const FREE: SlotView = SlotView { state: SlotState::Free, ptr: 0, size: 0 };

    #[test]
    fn layout_alternates_guards_and_slots() {
        assert_eq!(G.stride(), 0x3000);
        assert_eq!(G.region_len(), 4 * 0x3000 + 0x1000);
        assert_eq!(G.slot_start(0), 0x10_1000);
        assert_eq!(G.slot_end(0), 0x10_3000);
        assert_eq!(G.locate(0x10_0000), Some(Place::Guard { before: None, after: Some(0) }));
        assert_eq!(G.locate(0x10_3000), Some(Place::Guard { before: Some(0), after: Some(1) }));
        assert_eq!(
            G.locate(G.base + G.region_len() - 1),
            Some(Place::Guard { before: Some(3), after: None })
        );
        assert_eq!(G.locate(0x10_2fff), Some(Place::Slot(0)));
        assert_eq!(G.locate(G.base + G.region_len()), None);
        assert_eq!(G.locate(G.base - 1), None);
        assert_eq!(G.inner(1), Some((0x10_5000, 0x10_6000)), "two pages: the last is inner");
        let wide = Geometry { slot_pages: 16, ..G };
        assert_eq!(wide.inner(0), Some((wide.slot_start(0) + 0x1000, wide.slot_end(0) - 0x1000)));
        assert_eq!(Geometry { slot_pages: 1, ..G }.inner(0), None);
    }

    #[test]
    fn right_placement_honours_alignment_and_ends_near_the_guard() {
        let p = G.place(1, 13, 8, true);
        assert_eq!(p % 8, 0);
        assert!(p + 13 <= G.slot_end(1));
        assert!(G.slot_end(1) - (p + 13) < 8, "slack under one alignment unit");
        assert_eq!(G.place(1, 16, 16, true) + 16, G.slot_end(1));
        assert_eq!(G.place(1, 13, 8, false), G.slot_start(1));
        assert_eq!(G.pages_of(G.place(1, 13, 8, true), 13), (0x10_5000, 0x10_6000));
    }

    #[test]
    fn faults_are_classified() {
        let right = SlotView { state: SlotState::Live, ptr: G.slot_end(0) - 32, size: 32 };
        let left = SlotView { state: SlotState::Live, ptr: G.slot_start(1), size: 32 };
        let freed = SlotView { state: SlotState::Freed, ptr: G.slot_start(2), size: 64 };
        let t = table([right, left, freed, FREE]);
        // One past the right-aligned block: overflow by 0.
        let c = G.classify(G.slot_end(0), &t).unwrap();
        assert_eq!((c.kind, c.slot, c.offset), (FaultKind::Overflow, Some(0), 32));
        // Just before the left-aligned block, in the same guard page: underflow, nearer.
        let c = G.classify(G.slot_start(1) - 8, &t).unwrap();
        assert_eq!((c.kind, c.slot, c.offset), (FaultKind::Underflow, Some(1), -8));
        // Past the left-aligned block, in its unused page: overflow.
        let c = G.classify(G.slot_start(1) + 0x1000, &t).unwrap();
        assert_eq!((c.kind, c.offset), (FaultKind::Overflow, 0x1000));
        // Inside a freed block.
        let c = G.classify(G.slot_start(2) + 8, &t).unwrap();
        assert_eq!((c.kind, c.slot, c.offset), (FaultKind::UseAfterFree, Some(2), 8));
        // A free slot: wild, but ours.
        let c = G.classify(G.slot_start(3) + 8, &t).unwrap();
        assert_eq!((c.kind, c.slot), (FaultKind::Wild, None));
        // Outside the region: not ours.
        assert_eq!(G.classify(0x1000, &t), None);
    }

    #[test]
    fn frees_are_checked() {
        let live = SlotView { state: SlotState::Live, ptr: G.slot_start(0), size: 8 };
        let freed = SlotView { state: SlotState::Freed, ptr: G.slot_start(1) + 16, size: 8 };
        let t = table([live, freed, FREE, FREE]);
        assert_eq!(G.check_free(G.slot_start(0), &t), FreeCheck::Live(0));
        assert_eq!(G.check_free(G.slot_start(0) + 8, &t), FreeCheck::Invalid(Some(0)));
        assert_eq!(G.check_free(G.slot_start(1) + 16, &t), FreeCheck::DoubleFree(1));
        assert_eq!(G.check_free(G.slot_start(2), &t), FreeCheck::Invalid(Some(2)));
        assert_eq!(G.check_free(G.base, &t), FreeCheck::Invalid(None));
        assert_eq!(G.check_free(8, &t), FreeCheck::NotOurs);
    }
}
