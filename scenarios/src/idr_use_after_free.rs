//! `idr-use-after-free`: an ID-to-object map frees a removed entry at once while a concurrent
//! reader is still using it; the fix defers the free past the last reader, as idr-ebr does
//! with epoch-based reclamation.

use lockhound::scenario::{Miri, Scenario, Variant};
use lockhound::sync::atomic::{fence, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use lockhound::sync::Arc;
use lockhound::thread;
use std::ptr::{self, null_mut};
use std::sync::atomic::{AtomicPtr as OraclePtr, Ordering::Relaxed};

/// The scenario, as `lockhound list` shows it and the gate runs it.
pub fn scenario() -> Scenario {
    Scenario::new("idr-use-after-free")
        .summary("remove frees an entry immediately while a concurrent get still dereferences it")
        .provenance(
            "idr-ebr (concurrent ID-to-object map on epoch-based reclamation): the structure \
            without its deferred reclamation",
            "A reader looks an entry up by key and loads the slot's pointer; a concurrent remove \
            swaps the pointer out and frees the entry at once. The reader then dereferences \
            memory that is already freed (and possibly reused): a use-after-free that neither \
            the type system nor a data-race detector sees, because the pointer itself was read \
            atomically.",
            "Deferred reclamation: remove only unlinks the entry and retires it; it is freed \
            once no reader can still hold it. idr-ebr pins an epoch (sdd's EBR) around every \
            read; here each slot counts its readers and the last one out frees the retired \
            entry.",
        )
        .with(
            Variant::must_fail("buggy", buggy)
                .description("remove swaps the pointer out and drops the Box at once")
                .miri(Miri::Ub),
        )
        .with(Variant::must_pass("fixed", fixed).description(
            "readers are counted per slot; remove retires the entry and the last \
                    reader out (or remove, if none) frees it",
        ))
}

const LIVE: u64 = 0x11D0_11D0_11D0_11D0;
const DEAD: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// A stored object: 256 bytes, boxed, as an IDR's values are. Small enough for one guarded
/// slot, so the guard allocator in `all` mode places it against a guard page and keeps it
/// inaccessible in quarantine once freed.
#[repr(C)]
struct Entry {
    magic: u64,
    id: u64,
    payload: [u64; 30],
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Poison on drop, so a reader that gets through to freed memory without guard pages
        // most likely reads DEAD (volatile: a store just before the free is otherwise dead).
        // Not in a guarded block: there the guard page catches the reader's access itself,
        // and a reader landing between this store and the free would see the poison instead,
        // a failure the allocator cannot attribute.
        if lockhound::guard::is_guarded(self as *const Entry as *const u8) {
            return;
        }
        // SAFETY: `self.magic` is a valid, aligned field of a live value.
        unsafe { std::ptr::write_volatile(&mut self.magic, DEAD) };
    }
}

/// One slot of the map: the entry's pointer, and, for the fixed variant, its reader count and
/// retired entry.
struct Slot {
    ptr: AtomicPtr<Entry>,
    readers: AtomicUsize,
    retired: AtomicPtr<Entry>,
    /// Oracle in plain std atomics (no scheduling point): the last entry this slot freed.
    freed: OraclePtr<Entry>,
}

struct Idr {
    slots: Vec<Slot>,
    deferred: bool,
}

impl Idr {
    fn new(capacity: usize, deferred: bool) -> Self {
        let slots = (0..capacity)
            .map(|_| Slot {
                ptr: AtomicPtr::new(null_mut()),
                readers: AtomicUsize::new(0),
                retired: AtomicPtr::new(null_mut()),
                freed: OraclePtr::new(null_mut()),
            })
            .collect();
        Idr { slots, deferred }
    }

    /// Stores `value` in a free slot and returns its key.
    fn insert(&self, value: Entry) -> Option<usize> {
        let p = Box::into_raw(Box::new(value));
        for (key, slot) in self.slots.iter().enumerate() {
            if slot.ptr.compare_exchange(null_mut(), p, SeqCst, SeqCst).is_ok() {
                return Some(key);
            }
        }
        // SAFETY: `p` was never published, so this is its only owner.
        drop(unsafe { Box::from_raw(p) });
        None
    }

    /// Calls `f` on the entry under `key`, if any.
    fn get_with<R>(&self, key: usize, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        let slot = &self.slots[key];
        if self.deferred {
            slot.readers.fetch_add(1, SeqCst);
            // Announce, then look: the fence pairs with remove's, so remove cannot both miss
            // this reader and have it see the old pointer (a store-load pattern, which
            // SeqCst accesses alone do not order under loom's model, like EBR's pin).
            fence(SeqCst);
        }
        let p = slot.ptr.load(SeqCst);
        let result = (!p.is_null()).then(|| {
            // The window between finding the entry and using it, where a real reader does
            // its own work: a scheduling point for the model checkers, a short spin on real
            // threads so the remover has a chance to land in it.
            thread::yield_now();
            if !lockhound::is_model_checked() {
                for _ in 0..200 {
                    std::hint::spin_loop();
                }
            }
            if lockhound::is_model_checked() && ptr::eq(slot.freed.load(Relaxed), p) {
                // Under loom and shuttle the access would be silent undefined behaviour:
                // stop just before it. On real threads the access happens, and the guard
                // allocator (or miri) catches it at the faulting instruction.
                // The address is left out: the message must be the same in every replay.
                panic!("use after free: get({key}) dereferences the entry remove({key}) already freed");
            }
            // SAFETY: only as sound as the reclamation scheme: with `deferred`, the entry
            // cannot be freed while this reader is counted. Without it, this is the bug.
            let entry = unsafe { &*p };
            // SAFETY: reading a field of `entry`, volatile so the read really happens.
            let magic = unsafe { std::ptr::read_volatile(&entry.magic) };
            assert_eq!(magic, LIVE, "use after free: get({key}) read a dropped entry ({magic:#x})");
            f(entry)
        });
        if self.deferred && slot.readers.fetch_sub(1, SeqCst) == 1 {
            Self::reclaim(slot);
        }
        result
    }

    /// Unlinks the entry under `key` and frees it: at once (buggy) or once no reader holds
    /// it (fixed).
    fn remove(&self, key: usize) -> bool {
        let slot = &self.slots[key];
        let p = slot.ptr.swap(null_mut(), SeqCst);
        if p.is_null() {
            return false;
        }
        if self.deferred {
            // Retire, then free only if no reader is inside. A reader that arrives after the
            // swap finds the slot empty; one inside frees the entry on its way out. The fence
            // pairs with get's: swap-then-load here against add-then-load there.
            slot.retired.store(p, SeqCst);
            fence(SeqCst);
            if slot.readers.load(SeqCst) == 0 {
                Self::reclaim(slot);
            }
        } else {
            Self::free(slot, p);
        }
        true
    }

    /// Frees the retired entry, if another thread has not already.
    fn reclaim(slot: &Slot) {
        let p = slot.retired.swap(null_mut(), SeqCst);
        if !p.is_null() {
            Self::free(slot, p);
        }
    }

    fn free(slot: &Slot, p: *mut Entry) {
        slot.freed.store(p, Relaxed);
        // SAFETY: `p` came from `Box::into_raw` in `insert`; the swap that unlinked it (or
        // took it from `retired`) made this thread its only freer.
        drop(unsafe { Box::from_raw(p) });
    }
}

impl Drop for Idr {
    fn drop(&mut self) {
        for slot in &self.slots {
            for p in [slot.ptr.swap(null_mut(), SeqCst), slot.retired.swap(null_mut(), SeqCst)] {
                if !p.is_null() {
                    Self::free(slot, p);
                }
            }
        }
    }
}

/// One reader and one remover race on the same key.
fn race(deferred: bool) {
    let idr = Arc::new(Idr::new(2, deferred));
    let key = idr.insert(Entry { magic: LIVE, id: 42, payload: [7; 30] }).expect("room");
    let reader = {
        let idr = idr.clone();
        thread::spawn(move || idr.get_with(key, |e| (e.id, e.payload[29])))
    };
    let remover = {
        let idr = idr.clone();
        thread::spawn(move || idr.remove(key))
    };
    let seen = reader.join().unwrap();
    assert!(remover.join().unwrap(), "the entry was removed once");
    assert!(matches!(seen, None | Some((42, 7))), "reader saw {seen:?}");
    assert!(idr.get_with(key, |e| e.id).is_none(), "removed entries stay removed");
}

fn buggy() {
    race(false);
}

fn fixed() {
    race(true);
}
