//! `bounded-cache`: a size-bounded client-side cache whose lock scope was narrowed. A lookup
//! under the read lock decides two things, "is there room?" and "which store holds this key?",
//! and a second critical section under the write lock acts on both without asking again.
//! Between the two sections another thread may fill the cache (it grows past its bound) or
//! drop the key's store from the map (an entry goes into a store nobody can reach: a leak).
//!
//! The model follows rueidis' `lru.go` (`GetOrPrepare`, `Delete`): a map from key to a
//! per-key store of cached commands, an LRU list of entries, a size counter and a bound, all
//! guarded by one `RwLock` (`lru.mu`). Two threads: `t0` misses on `GET k` while `k`'s store
//! already caches `TTL k`; `t1` misses on `GET j`, then applies the server's invalidation of
//! `k` (RESP3 client tracking), which drops `k`'s store. The bound is two entries and the
//! cache starts with one, so the two misses together fill it exactly.
//!
//! - `buggy`: the write section trusts the read section's "there is room" and evicts nothing.
//!   Both misses see one entry of two, both insert: the cache holds 3 entries, bound 2.
//! - `buggy-stale` (rueidis before 069b77a): the write section reuses the store found under
//!   the read lock. If the invalidation dropped it in between, the new entry is counted in the
//!   size and the LRU list but is not reachable from the map, so no invalidation or lookup
//!   will ever find it again.
//! - `fixed`: the write section re-validates both: it looks the store up again (creating it
//!   if it is gone) and evicts until the size is within the bound. One fixed variant covers
//!   both code paths; the workload is the same in all three variants.
//!
//! Oracle: at the end of every write section of a miss, the size is within the bound; after
//! both threads finish, every entry in the LRU list is reachable from the map.
//!
//! Who sees what: loom, shuttle (random and PCT) and `auto` find both buggy variants within a
//! few executions. `buggy-stale` needs one preemption (`t0` stops between its sections while
//! `t1` runs its miss and the invalidation); `buggy` needs two (`t1` stops after its read
//! section, `t0` runs its miss, `t1` inserts last), since `t1`'s own invalidation would
//! otherwise shrink the cache first. Real threads (`stress`) see each only rarely, about once
//! in 30,000 to 100,000 iterations (4 to 19 s measured on a shared two-core machine): the
//! window is the few instructions between one lock's release and the next acquisition, and
//! the other thread must run a whole critical section (two, for `buggy-stale`) inside it;
//! only thread start-up skew lines that up now and then. That is the incident's profile too:
//! the proxy leaked slowly, under production load. The leak itself is silent on real threads
//! (nothing crashes); only the oracle's walk from the LRU list to the map reports it.

use lockhound::cell::UnsafeCell;
use lockhound::scenario::{Scenario, Variant};
use lockhound::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use lockhound::sync::{Arc, RwLock};
use lockhound::thread;
use std::collections::{BTreeMap, VecDeque};

/// The scenario, as `lockhound list` shows it and the gate runs it.
pub fn scenario() -> Scenario {
    Scenario::new("bounded-cache")
        .summary(
            "a bounded cache re-uses what it saw under the read lock in its write section: it \
            grows past its bound, or counts an entry it can no longer reach",
        )
        .provenance(
            "a Go Redis proxy's client-side cache (RESP3 client tracking) that grew from 10 GB \
            to 80 GB after its lock scope was narrowed; the stale-store shape is rueidis \
            commit 069b77a (lru.go, GetOrPrepare)",
            "GetOrPrepare looks the key's store up under the read lock and, on a miss, takes the \
            write lock to add a pending entry. Before 069b77a it reused the store found under \
            the read lock (`if store == nil { look up or create }`): if the store had been \
            deleted from the map in between, the entry went into a detached store, stayed in \
            the LRU list and was never found, updated or evicted again: a leak. The same \
            narrowing applied to the size check (room seen under one lock, insert under the \
            next) lets concurrent misses push the cache past its bound.",
            "Re-validate under the write lock: rueidis 069b77a always looks the store up again \
            (`if store, ok = c.store[key]; !ok { create }`); the size is re-checked, with \
            eviction, in the same critical section that inserts.",
        )
        .with(Variant::must_fail("buggy", buggy).description(
            "the write section inserts without re-checking the size: it evicts only if \
                    the read section saw the cache full",
        ))
        .with(Variant::must_fail("buggy-stale", buggy_stale).description(
            "rueidis before 069b77a: the write section adds the entry to the store \
                    found under the read lock without looking it up again",
        ))
        .with(Variant::must_pass("fixed", fixed).description(
            "the write section looks the store up again and evicts until the size is \
                    within the bound",
        ))
}

/// The cache's bound, in entries.
const MAX: usize = 2;

/// What the write section of a miss checks again instead of trusting the read section.
#[derive(Clone, Copy)]
struct Revalidate {
    size: bool,
    store: bool,
}

/// One key's store: the commands cached for the key (rueidis' `keyCache`). Guarded by
/// `lru.mu` like the rest of the cache; the `Arc` is what lets a thread carry it out of one
/// critical section into the next.
struct KeyCache {
    cmds: UnsafeCell<Vec<&'static str>>,
}

// SAFETY: `cmds` is only read under `lru.mu`'s read or write lock and only written under its
// write lock, in every variant (the stale store is written under the write lock too). loom
// checks this claim on every execution.
unsafe impl Sync for KeyCache {}
unsafe impl Send for KeyCache {}

impl KeyCache {
    /// Created where the caller stands, so traces tell the initial store from later ones.
    #[track_caller]
    fn new(key: &'static str) -> Self {
        // Named per key, so the trace shows which store a thread writes into.
        let name = match key {
            "k" => "store[k]",
            "j" => "store[j]",
            _ => "store",
        };
        KeyCache { cmds: UnsafeCell::named(name, Vec::new()) }
    }

    fn holds(&self, cmd: &str) -> bool {
        // SAFETY: callers hold `lru.mu` (see the `Sync` impl).
        self.cmds.with(|cmds| unsafe { (*cmds).contains(&cmd) })
    }

    fn add(&self, cmd: &'static str) {
        // SAFETY: callers hold `lru.mu`'s write lock.
        self.cmds.with_mut(|cmds| unsafe { (*cmds).push(cmd) });
    }

    /// Removes `cmd`; returns whether the store is now empty.
    fn remove(&self, cmd: &str) -> bool {
        // SAFETY: callers hold `lru.mu`'s write lock.
        self.cmds.with_mut(|cmds| unsafe {
            (*cmds).retain(|c| *c != cmd);
            (*cmds).is_empty()
        })
    }

    /// Empties the store and returns what it held.
    fn take(&self) -> Vec<&'static str> {
        // SAFETY: callers hold `lru.mu`'s write lock.
        self.cmds.with_mut(|cmds| unsafe { std::mem::take(&mut *cmds) })
    }
}

/// What `lru.mu` guards.
struct Lru {
    /// Key to its store (`c.store`).
    store: BTreeMap<&'static str, Arc<KeyCache>>,
    /// Every entry counted in the size, oldest first: (key, command) (`c.list`).
    list: VecDeque<(&'static str, &'static str)>,
}

struct Cache {
    mu: RwLock<Lru>,
    /// Entries counted against the bound. Changed only under `mu`'s write lock; atomic so the
    /// read section can consult it, and so traces show its values.
    size: AtomicUsize,
    revalidate: Revalidate,
}

impl Cache {
    /// A cache holding one entry, `TTL k`.
    fn new(revalidate: Revalidate) -> Self {
        let k = Arc::new(KeyCache::new("k"));
        k.add("TTL");
        let lru = Lru { store: BTreeMap::from([("k", k)]), list: VecDeque::from([("k", "TTL")]) };
        Cache { mu: RwLock::named("lru.mu", lru), size: AtomicUsize::named("lru.size", 1), revalidate }
    }

    /// rueidis' `GetOrPrepare`: a hit under the read lock, or, on a miss, a pending entry added
    /// under the write lock (the request then goes to the server).
    fn get_or_prepare(&self, key: &'static str, cmd: &'static str) {
        // Critical section 1, read lock: the fast path the narrowed scope introduced.
        let (found, room) = {
            let lru = self.mu.read().unwrap();
            let found = lru.store.get(key).cloned();
            if found.as_ref().is_some_and(|store| store.holds(cmd)) {
                return;
            }
            (found, self.size.load(SeqCst) < MAX)
        };
        // Here, between the sections, another thread may fill the cache or drop `found`.

        // Critical section 2, write lock: add the entry.
        let mut lru = self.mu.write().unwrap();
        let store = match found {
            // The stale reference: the store found under the read lock, used as it is.
            Some(store) if !self.revalidate.store => store,
            _ => lru.store.entry(key).or_insert_with(|| Arc::new(KeyCache::new(key))).clone(),
        };
        store.add(cmd);
        lru.list.push_back((key, cmd));
        let mut size = self.size.fetch_add(1, SeqCst) + 1;
        if self.revalidate.size {
            while size > MAX {
                size = self.evict_oldest(&mut lru);
            }
        } else if !room {
            // The check-then-act: room was decided in the read section.
            size = self.evict_oldest(&mut lru);
        }
        assert!(size <= MAX, "cache holds {size} entries, bound {MAX}");
    }

    /// Removes the least recently used entry, and its store once empty; returns the new size.
    fn evict_oldest(&self, lru: &mut Lru) -> usize {
        let (key, cmd) = lru.list.pop_front().expect("a cache over its bound has entries");
        if lru.store.get(key).is_some_and(|store| store.remove(cmd)) {
            lru.store.remove(key);
        }
        self.size.fetch_sub(1, SeqCst) - 1
    }

    /// rueidis' `Delete`: the server invalidated `key`, so its store and every entry the store
    /// holds go. An entry not in the store is not found here: it stays counted.
    fn invalidate(&self, key: &'static str) {
        let mut lru = self.mu.write().unwrap();
        if let Some(store) = lru.store.remove(key) {
            let cmds = store.take();
            lru.list.retain(|&(k, c)| !(k == key && cmds.contains(&c)));
            self.size.fetch_sub(cmds.len(), SeqCst);
        }
    }

    /// The leak oracle: every entry counted in the size can be reached from the map.
    fn assert_counted_entries_reachable(&self) {
        let lru = self.mu.read().unwrap();
        for &(key, cmd) in &lru.list {
            let why = match lru.store.get(key) {
                None => format!("lru.store has no store for {key}"),
                Some(store) if !store.holds(cmd) => format!("store[{key}] in lru.store does not hold it"),
                Some(_) => continue,
            };
            panic!("entry {cmd} {key} counted in size but not reachable from the map: {why}");
        }
    }
}

fn run(revalidate: Revalidate) {
    let cache = Arc::new(Cache::new(revalidate));
    let other = {
        let cache = cache.clone();
        thread::spawn(move || {
            cache.get_or_prepare("j", "GET");
            cache.invalidate("k");
        })
    };
    cache.get_or_prepare("k", "GET");
    other.join().unwrap();
    cache.assert_counted_entries_reachable();
}

fn buggy() {
    run(Revalidate { size: false, store: true })
}

fn buggy_stale() {
    run(Revalidate { size: true, store: false })
}

fn fixed() {
    run(Revalidate { size: true, store: true })
}
