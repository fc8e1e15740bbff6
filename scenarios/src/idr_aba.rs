//! `idr-aba`: an ID-to-object map reuses a slot, and a key of the slot's previous occupant
//! reaches the new one. Keys that carry the slot's generation fix it, but only if `get` reads
//! the slot in the right order with the right orderings, and only if `remove` takes away the
//! exact entry it checked. Modelled on idr-ebr's `Slot` (`get`, `uninit`, `init`) and its
//! page's free list, with one slot and occupants as ids instead of pointers (reclamation is
//! `idr-use-after-free`'s subject).
//!
//! Every variant runs the same three threads. The owner inserts A and hands A's key to a
//! reader and to a stale remover (someone else that also removes A, like a timeout racing a
//! completion), then removes A and inserts B, which reuses the slot. Neither `get` nor
//! `remove` through A's key may ever reach B.
//!
//! Which engines see which variant:
//! - `buggy` (bare index keys) and `buggy-remove-swap` (idr-ebr before commit 192356d) fail in
//!   sequentially consistent interleavings: loom, shuttle (random, PCT) and `auto` all find
//!   them; real threads (`stress`) only when the timing lines up. `buggy-remove-swap` follows
//!   what the fix describes (remove checked the key but did not CAS away the exact entry it
//!   checked), not the pre-fix lines themselves.
//! - `buggy-relaxed-data` fails only under weak memory, so only loom finds it. Its `get` loads
//!   the data Relaxed, then the generation. Nothing then orders the generation load after the
//!   store of B that the data load read: a get through A's key (the reader's, or the one inside
//!   the stale remover's remove, which is how idr-ebr's remove checks a key too) may see B's
//!   data together with the generation from before A's removal, as if it had loaded the
//!   generation first, and the check passes for B. In a sequentially consistent execution,
//!   reading B means the owner's generation bump (program-ordered before B's store) is already
//!   visible to the later generation load, so the check is right: shuttle, which runs threads
//!   sequentially consistent, cannot produce the outcome in any number of executions (its
//!   exhaustive DFS passes the whole space). loom lets a Relaxed load return any store that
//!   happens-before does not hide, which is exactly the stale generation. On real threads it
//!   needs loads reordered with loads: x86 hardware never does that (only a compiler could),
//!   Arm and POWER hardware may.
//!
//!   Why not model it as the two loads literally swapped (generation first, then data)? That
//!   is a bug too, but an interleaving one: a get loads generation 0, the owner removes A and
//!   inserts B, the get loads B. Shuttle finds that within a few dozen executions, so it would
//!   not show what only a weak-memory checker sees. The Relaxed data load is the form of "the
//!   generation is effectively read before the data" that sequential consistency hides.

use lockhound::scenario::{Scenario, Variant};
use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::Arc;
use lockhound::thread;
use std::fmt;

/// The scenario, as `lockhound list` shows it and the gate runs it.
pub fn scenario() -> Scenario {
    Scenario::new("idr-aba")
        .summary("a reused slot hands its new occupant to a stale key: get returns it, remove destroys it")
        .provenance(
            "idr-ebr (concurrent ID-to-object map on epoch-based reclamation): keys pack a slot \
            index and a per-slot generation; commit 192356d, before the first release, after \
            idr-ebr's own loom test caught remove(stale_key) destroying the new occupant",
            "A removed slot goes back on the free list and the next insert reuses it. With keys \
            that are bare slot indices, a reader or remover holding the old occupant's key \
            reaches the new occupant. Generations alone are not enough: remove checked the key \
            and then took away whatever the slot held by then (the new occupant, if the slot \
            was removed and reused in between), and a get that does not order its generation \
            load after its data load can pair the new occupant's data with the old generation.",
            "Slot::get loads the data with Acquire, then the generation, and compares it with the \
            key's; Slot::uninit (remove) looks the entry up that way and CASes that exact \
            pointer away (a CAS that fails if the slot was removed or reused meanwhile), then \
            bumps the generation before the slot goes back on the free list.",
        )
        .with(Variant::must_fail("buggy", buggy).description(
            "keys are bare slot indices: get returns whatever the slot holds, remove \
                    swaps out whatever the slot holds",
        ))
        .with(Variant::must_fail("buggy-remove-swap", buggy_remove_swap).description(
            "generational keys and a correct get, but remove checks the key and then \
                    swaps out whatever the slot holds by then, not the entry it checked \
                    (the shape commit 192356d fixed)",
        ))
        .with(
            Variant::must_fail("buggy-relaxed-data", buggy_relaxed_data)
                .description(
                    "generational keys, remove CASes the exact entry, but get loads the data \
                    Relaxed before the generation: weak memory lets the generation load \
                    return a value older than the data (only loom can see it)",
                )
                .weak_memory(),
        )
        .with(Variant::must_pass("fixed", fixed).description(
            "idr-ebr: get loads the data with Acquire, then the generation; remove \
                    looks the entry up by key and CASes that exact entry away",
        ))
}

/// Occupant ids (they show as 0x0A and 0x0B in traces); 0 is an empty slot.
const EMPTY: usize = 0;
const A: usize = 0xA;
const B: usize = 0xB;

/// The slab has one slot: every insert after a remove reuses it.
const SLOT: usize = 0;

/// How a variant's map is written.
#[derive(Clone, Copy)]
struct Code {
    /// Keys carry the slot's generation (otherwise they are the bare slot index).
    generations: bool,
    /// The ordering of get's data load (the generation load is Relaxed, as in idr-ebr).
    data_load: Ordering,
    /// remove takes away the exact entry it checked (CAS) rather than whatever is there (swap).
    remove_exact: bool,
}

#[derive(Clone, Copy)]
struct Key {
    slot: usize,
    generation: Option<usize>,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.generation {
            Some(generation) => write!(f, "(slot {}, generation {generation})", self.slot),
            None => write!(f, "(slot {})", self.slot),
        }
    }
}

/// idr-ebr's slot and the free list of its page, for one slot.
struct Slab {
    code: Code,
    /// The occupant, `EMPTY` when the slot is free (idr-ebr's `data` pointer).
    data: AtomicUsize,
    /// Bumped by every remove; a key is valid while it matches.
    generation: AtomicUsize,
    /// 1 while the slot is on the free list (the page's `free_head`).
    free: AtomicUsize,
}

impl Slab {
    fn new(code: Code) -> Self {
        Slab {
            code,
            data: AtomicUsize::named("slot.data", EMPTY),
            generation: AtomicUsize::named("slot.generation", 0),
            free: AtomicUsize::named("free_head", 1),
        }
    }

    /// Takes the slot off the free list, reads the key's generation, then publishes the
    /// occupant (`Page::reserve`, then `Slot::init`).
    fn insert(&self, id: usize) -> Option<Key> {
        // Acquire: pairs with remove's Release push, so the generation bump is visible here.
        self.free.compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed).ok()?;
        let generation = self.code.generations.then(|| self.generation.load(Ordering::Relaxed));
        // Release: a get that reads this id with Acquire also sees the generation it was
        // inserted under (everything before this store in this thread).
        self.data.store(id, Ordering::Release);
        Some(Key { slot: SLOT, generation })
    }

    /// The occupant under `key`, if the key is still valid (`Slot::get`): the data first,
    /// then the generation.
    fn get(&self, key: Key) -> Option<usize> {
        let data = self.data.load(self.code.data_load);
        if data == EMPTY {
            return None;
        }
        if let Some(generation) = key.generation {
            if self.generation.load(Ordering::Relaxed) != generation {
                return None;
            }
        }
        Some(data)
    }

    /// Removes the occupant under `key` and returns it (`Slot::uninit`, then
    /// `Page::add_free`).
    fn remove(&self, key: Key) -> Option<usize> {
        let checked = self.get(key)?;
        let removed = if self.code.remove_exact {
            // Fails if the slot was removed, or removed and reused, since the check: ids, like
            // idr-ebr's pointers under its EBR guard, are not reused while this runs.
            self.data.compare_exchange(checked, EMPTY, Ordering::AcqRel, Ordering::Relaxed).ok()?
        } else {
            // Takes whatever is there now: the check above may be stale already.
            self.data.swap(EMPTY, Ordering::AcqRel)
        };
        if removed == EMPTY {
            return None;
        }
        // Only the thread that emptied the slot gets here, so a store is enough (as in
        // idr-ebr). Relaxed: the Release push below carries it to the next insert.
        if let Some(generation) = key.generation {
            self.generation.store(generation + 1, Ordering::Relaxed);
        }
        self.free.store(1, Ordering::Release);
        Some(removed)
    }
}

/// The owner inserts A and hands A's key to a reader and to a stale remover, then removes A
/// and inserts B into the reused slot.
fn run(code: Code) {
    let slab = Arc::new(Slab::new(code));
    let key_a = slab.insert(A).expect("the slab starts with its slot free");
    let reader = {
        let slab = slab.clone();
        thread::spawn(move || {
            let seen = slab.get(key_a);
            assert!(
                seen != Some(B),
                "get(stale key {key_a}) returned occupant B, inserted after A was removed"
            );
            seen
        })
    };
    let stale_remover = {
        let slab = slab.clone();
        thread::spawn(move || {
            let removed = slab.remove(key_a);
            assert!(
                removed != Some(B),
                "remove(stale key {key_a}) destroyed occupant B, inserted after A was removed"
            );
            removed
        })
    };
    let owner_removed = slab.remove(key_a);
    // None if the stale remover emptied the slot but has not put it back on the free list yet.
    let key_b = slab.insert(B);
    let seen = reader.join().unwrap();
    let stale_removed = stale_remover.join().unwrap();

    assert!(matches!(seen, None | Some(A)), "get({key_a}) returned {seen:?}");
    let removals = [owner_removed, stale_removed];
    assert_eq!(
        removals.iter().filter(|r| **r == Some(A)).count(),
        1,
        "A must be removed exactly once (owner, stale remover: {removals:?})"
    );
    if let Some(key_b) = key_b {
        assert_eq!(slab.get(key_b), Some(B), "occupant B is not reachable through its own key {key_b}");
    }
}

fn buggy() {
    run(Code { generations: false, data_load: Ordering::Acquire, remove_exact: false });
}

fn buggy_remove_swap() {
    run(Code { generations: true, data_load: Ordering::Acquire, remove_exact: false });
}

fn buggy_relaxed_data() {
    run(Code { generations: true, data_load: Ordering::Relaxed, remove_exact: true });
}

fn fixed() {
    run(Code { generations: true, data_load: Ordering::Acquire, remove_exact: true });
}
