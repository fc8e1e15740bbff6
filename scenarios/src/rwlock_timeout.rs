//! `rwlock-timeout`: parking_lot's RwLock state word corrupted to 0xFFFF_FFFF_FFFF_FFFF by a
//! timed writer racing the last reader (parking_lot #465, fixed in 0.12.4 by #466).
//!
//! The model follows `src/raw_rwlock.rs` and `parking_lot_core::park`/`unpark_one` closely:
//! the state word with its bits, the main queue (key `addr`) and the writer queue (key
//! `addr + 1`) as one mutex-protected list (parking_lot_core's bucket), and the timeout as a
//! step the scheduler may place anywhere: "lock the queue; if still queued, dequeue and run
//! the timed-out callback, else the thread was unparked". Spinning is left out (it only
//! delays), and a wake of the main queue wakes every waiter, which for the one waiter here is
//! what `unpark_filter` does.

use lockhound::scenario::{Scenario, Variant};
use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::thread;

const PARKED_BIT: usize = 0b0001;
const WRITER_PARKED_BIT: usize = 0b0010;
const UPGRADABLE_BIT: usize = 0b0100;
const WRITER_BIT: usize = 0b1000;
const READERS_MASK: usize = !0b1111;
const ONE_READER: usize = 0b1_0000;

/// Readers alive in this scenario: the word's reader count can never exceed it.
const LIVE_READERS: usize = 1;

/// The scenario, as `lockhound list` shows it and the gate runs it.
pub fn scenario() -> Scenario {
    Scenario::new("rwlock-timeout")
        .summary("parking_lot RwLock word wraps to 0xFFFF_FFFF_FFFF_FFFF when try_write_for times out as the last reader leaves")
        .provenance(
            "parking_lot issue #465 (Fly.io, May 2025); fixed by PR #466 in parking_lot 0.12.4 (src/raw_rwlock.rs)",
            "A timed writer's wait_for_readers times out with an empty timed-out callback, then clears \
            WRITER_BIT|WRITER_PARKED_BIT by subtraction. If the last reader's unlock_shared_slow ran \
            unpark_one on the now-empty writer queue in between, its callback already cleared \
            WRITER_PARKED_BIT: the bit is cleared twice and the word wraps to usize::MAX. The lock \
            then looks held forever; every later waiter sleeps with no holder (Fly.io's hourly hang).",
            "The timed-out callback clears WRITER_PARKED_BIT with fetch_and while it holds the queue \
            lock, and the TimedOut branch subtracts only WRITER_BIT.",
        )
        .with(
            Variant::must_fail("buggy", buggy)
                .description("parking_lot 0.12.3: empty timed-out callback, subtracts WRITER_BIT|WRITER_PARKED_BIT")
        )
        .with(
            Variant::must_pass("fixed", fixed)
                .description("parking_lot 0.12.4: callback clears WRITER_PARKED_BIT under the queue lock, subtracts WRITER_BIT")
        )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    /// parking_lot 0.12.3
    Buggy,
    /// parking_lot 0.12.4
    Fixed,
}

fn buggy() {
    readers_and_timed_writer(Version::Buggy)
}

fn fixed() {
    readers_and_timed_writer(Version::Fixed)
}

/// A reader R holds the lock; a writer W calls `try_write_for` and a writer X calls `write`.
/// R releases. Everyone must get through, and the lock must end free.
fn readers_and_timed_writer(version: Version) {
    let lock = Arc::new(RawRwLock::new(version));
    // R acquired shared access before the writers arrived (the fast path: one CAS).
    lock.word.store(ONE_READER, "lock_shared takes a read lock");

    let r = {
        let lock = lock.clone();
        thread::spawn(move || {
            // The reader works under its lock for a while before it leaves.
            real_time_passes(4_000);
            lock.unlock_shared()
        })
    };
    let w = {
        let lock = lock.clone();
        thread::spawn(move || {
            if lock.try_lock_exclusive_for() {
                lock.unlock_exclusive();
            }
        })
    };
    let x = {
        let lock = lock.clone();
        thread::spawn(move || {
            lock.lock_exclusive();
            lock.unlock_exclusive();
        })
    };
    r.join().unwrap();
    w.join().unwrap();
    x.join().unwrap();

    // After everyone released, a try_write must succeed: otherwise the lock is orphaned
    // (held by nobody, yet unavailable).
    let state = lock.word.load();
    assert!(
        lock.word.0.compare_exchange(0, WRITER_BIT, Ordering::Acquire, Ordering::Relaxed).is_ok(),
        "orphaned lock: every thread released it, but try_write fails on state {}",
        describe(state)
    );
}

/// On real threads, spins for a random time below `max_spins`, as real code between two
/// steps takes time, so that the stress engine and the tracker land in the same windows a
/// model checker explores. Under loom and shuttle time does not exist: the scheduler already
/// chooses every order, and a spin would only add steps.
fn real_time_passes(max_spins: u64) {
    use std::hash::{BuildHasher, Hasher};
    if lockhound::is_model_checked() {
        return;
    }
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    for _ in 0..random % max_spins {
        std::hint::spin_loop();
    }
}

/// The state word, with every change checked against the lock's invariants.
struct Word(AtomicUsize);

impl Word {
    #[track_caller]
    fn load(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    #[track_caller]
    fn store(&self, value: usize, what: &str) {
        let old = self.0.swap(value, Ordering::Release);
        check(old, value, what);
    }

    #[track_caller]
    fn fetch_add(&self, delta: usize, what: &str) -> usize {
        let old = self.0.fetch_add(delta, Ordering::Relaxed);
        check(old, old.wrapping_add(delta), what);
        old
    }

    #[track_caller]
    fn fetch_sub(&self, delta: usize, what: &str) -> usize {
        let old = self.0.fetch_sub(delta, Ordering::Release);
        check(old, old.wrapping_sub(delta), what);
        old
    }

    #[track_caller]
    fn fetch_and(&self, mask: usize, what: &str) -> usize {
        let old = self.0.fetch_and(mask, Ordering::Relaxed);
        check(old, old & mask, what);
        old
    }

    #[track_caller]
    fn compare_exchange(&self, current: usize, new: usize, what: &str) -> Result<usize, usize> {
        let result = self.0.compare_exchange(current, new, Ordering::Acquire, Ordering::Relaxed);
        if result.is_ok() {
            check(current, new, what);
        }
        result
    }
}

/// The invariants of the word: it never reads usize::MAX, its reader count never exceeds the
/// readers alive, and WRITER_PARKED_BIT is only set by the writer that owns WRITER_BIT.
fn check(old: usize, new: usize, what: &str) {
    let readers = (new & READERS_MASK) / ONE_READER;
    let parked_writer_without_writer = new & WRITER_PARKED_BIT != 0 && new & WRITER_BIT == 0;
    if new == usize::MAX || readers > LIVE_READERS || parked_writer_without_writer {
        panic!("rwlock state word corrupted: {what} turned {} into {}", describe(old), describe(new));
    }
}

/// `0x0000_0000_0000_001B (readers=1, PARKED|WRITER_PARKED|WRITER)`, the way a person
/// decodes a lock word from a core dump.
fn describe(word: usize) -> String {
    let hex = format!("{word:016X}");
    let grouped: Vec<&str> = (0..4).map(|i| &hex[i * 4..i * 4 + 4]).collect();
    let flags: Vec<&str> = [
        (PARKED_BIT, "PARKED"),
        (WRITER_PARKED_BIT, "WRITER_PARKED"),
        (UPGRADABLE_BIT, "UPGRADABLE"),
        (WRITER_BIT, "WRITER"),
    ]
    .iter()
    .filter(|(bit, _)| word & bit != 0)
    .map(|(_, name)| *name)
    .collect();
    let flags = if flags.is_empty() { "no flags".to_string() } else { flags.join("|") };
    format!("0x{} (readers={}, {flags})", grouped.join("_"), (word & READERS_MASK) / ONE_READER)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    /// `addr`: threads waiting for WRITER_BIT or for shared access.
    Main,
    /// `addr + 1`: the writer that owns WRITER_BIT, waiting for readers to drain.
    Writer,
}

enum ParkResult {
    Unparked,
    Invalid,
    TimedOut,
}

struct UnparkResult {
    have_more_threads: bool,
}

/// A parked thread's wake-up call.
struct Slot {
    woken: Mutex<bool>,
    wake: Condvar,
}

struct Waiter {
    key: Key,
    slot: Arc<Slot>,
}

/// parking_lot_core's hash bucket for the lock's two keys: one queue under one lock.
struct ParkingLot {
    queue: Mutex<Vec<Waiter>>,
}

impl ParkingLot {
    /// `parking_lot_core::park`. A timed park times out at a point of the scheduler's choosing.
    fn park(
        &self,
        key: Key,
        validate: impl FnOnce() -> bool,
        timed_out: impl FnOnce(bool),
        timed: bool,
    ) -> ParkResult {
        let slot = Arc::new(Slot { woken: Mutex::new(false), wake: Condvar::new() });
        {
            let mut queue = self.queue.lock().unwrap();
            if !validate() {
                return ParkResult::Invalid;
            }
            queue.push(Waiter { key, slot: slot.clone() });
        }
        if timed {
            // The deadline passes: relock the bucket; if still queued, leave and time out.
            let mut queue = self.queue.lock().unwrap();
            if let Some(i) = queue.iter().position(|w| Arc::ptr_eq(&w.slot, &slot)) {
                queue.remove(i);
                let was_last_thread = !queue.iter().any(|w| w.key == key);
                timed_out(was_last_thread);
                return ParkResult::TimedOut;
            }
            // An unparker dequeued us first: wait for its wake-up, as parking_lot_core does.
        }
        let mut woken = slot.woken.lock().unwrap();
        while !*woken {
            woken = slot.wake.wait(woken).unwrap();
        }
        ParkResult::Unparked
    }

    /// `parking_lot_core::unpark_one`: runs the callback under the bucket lock even when no
    /// thread was waiting, the behaviour behind the double clear.
    fn unpark_one(&self, key: Key, callback: impl FnOnce(UnparkResult)) {
        let mut queue = self.queue.lock().unwrap();
        let woken = queue.iter().position(|w| w.key == key).map(|i| queue.remove(i));
        callback(UnparkResult { have_more_threads: queue.iter().any(|w| w.key == key) });
        drop(queue);
        if let Some(w) = woken {
            wake(&w.slot);
        }
    }

    /// Wakes every thread parked on `key`, the callback running under the bucket lock.
    fn unpark_all(&self, key: Key, callback: impl FnOnce(UnparkResult)) {
        let mut queue = self.queue.lock().unwrap();
        let (woken, kept): (Vec<Waiter>, Vec<Waiter>) = queue.drain(..).partition(|w| w.key == key);
        *queue = kept;
        callback(UnparkResult { have_more_threads: false });
        drop(queue);
        for w in woken {
            wake(&w.slot);
        }
    }
}

fn wake(slot: &Slot) {
    *slot.woken.lock().unwrap() = true;
    slot.wake.notify_one();
}

/// `parking_lot::RawRwLock`, the paths involved in the bug.
struct RawRwLock {
    word: Word,
    lot: ParkingLot,
    version: Version,
}

impl RawRwLock {
    fn new(version: Version) -> Self {
        RawRwLock {
            word: Word(AtomicUsize::named("state", 0)),
            lot: ParkingLot { queue: Mutex::named("bucket", Vec::new()) },
            version,
        }
    }

    fn unlock_shared(&self) {
        let state = self.word.fetch_sub(ONE_READER, "unlock_shared's fetch_sub(ONE_READER)");
        if state & (READERS_MASK | WRITER_PARKED_BIT) == (ONE_READER | WRITER_PARKED_BIT) {
            self.unlock_shared_slow();
        }
    }

    fn unlock_shared_slow(&self) {
        // Clears WRITER_PARKED_BIT "since there can only be one parked writer thread", even
        // when that writer already left the queue.
        self.lot.unpark_one(Key::Writer, |_| {
            self.word.fetch_and(!WRITER_PARKED_BIT, "unlock_shared_slow's unpark_one callback");
        });
    }

    /// `write()`: no timeout.
    fn lock_exclusive(&self) {
        let acquired = self.lock_common(false) && self.wait_for_readers(false);
        assert!(acquired, "an untimed lock_exclusive cannot time out");
    }

    /// `try_write_for(timeout)`.
    fn try_lock_exclusive_for(&self) -> bool {
        self.lock_common(true) && self.wait_for_readers(true)
    }

    /// Step 1 of `lock_exclusive_slow`: take WRITER_BIT, parking on the main queue meanwhile.
    fn lock_common(&self, timed: bool) -> bool {
        let mut state = self.word.load();
        loop {
            // try_lock: grab WRITER_BIT even if there are parked threads.
            while state & (WRITER_BIT | UPGRADABLE_BIT) == 0 {
                match self.word.compare_exchange(state, state | WRITER_BIT, "lock_exclusive takes WRITER_BIT")
                {
                    Ok(_) => return true,
                    Err(x) => state = x,
                }
            }
            if state & PARKED_BIT == 0 {
                if let Err(x) =
                    self.word.compare_exchange(state, state | PARKED_BIT, "lock_common sets PARKED_BIT")
                {
                    state = x;
                    continue;
                }
            }
            let validate = || {
                let s = self.word.load();
                s & PARKED_BIT != 0 && s & (WRITER_BIT | UPGRADABLE_BIT) != 0
            };
            let timed_out = |was_last_thread: bool| {
                if was_last_thread {
                    self.word.fetch_and(!PARKED_BIT, "lock_common's timed-out callback");
                }
            };
            match self.lot.park(Key::Main, validate, timed_out, timed) {
                ParkResult::TimedOut => return false,
                ParkResult::Unparked | ParkResult::Invalid => state = self.word.load(),
            }
        }
    }

    /// Step 2 of `lock_exclusive_slow`: with WRITER_BIT held, wait for the readers to leave.
    fn wait_for_readers(&self, timed: bool) -> bool {
        let mut state = self.word.load();
        while state & READERS_MASK != 0 {
            if state & WRITER_PARKED_BIT == 0 {
                if let Err(x) = self.word.compare_exchange(
                    state,
                    state | WRITER_PARKED_BIT,
                    "wait_for_readers sets WRITER_PARKED_BIT",
                ) {
                    state = x;
                    continue;
                }
            }
            let validate = || {
                let s = self.word.load();
                s & READERS_MASK != 0 && s & WRITER_PARKED_BIT != 0
            };
            let timed_out = |_was_last_thread: bool| match self.version {
                Version::Buggy => {}
                Version::Fixed => {
                    self.word.fetch_and(!WRITER_PARKED_BIT, "wait_for_readers' timed-out callback");
                }
            };
            match self.lot.park(Key::Writer, validate, timed_out, timed) {
                ParkResult::Unparked | ParkResult::Invalid => state = self.word.load(),
                ParkResult::TimedOut => {
                    // parking_lot_core returns from park (unlocking the bucket, dropping its
                    // thread data) before this line runs: the window the reader lands in.
                    real_time_passes(2_000);
                    let release = match self.version {
                        Version::Buggy => WRITER_BIT | WRITER_PARKED_BIT,
                        Version::Fixed => WRITER_BIT,
                    };
                    let what = match self.version {
                        Version::Buggy => {
                            "try_write_for's timeout fetch_add(0 - (WRITER_BIT | WRITER_PARKED_BIT))"
                        }
                        Version::Fixed => "try_write_for's timeout fetch_add(0 - WRITER_BIT)",
                    };
                    let state = self.word.fetch_add(0usize.wrapping_sub(release), what);
                    if state & PARKED_BIT != 0 {
                        self.lot.unpark_all(Key::Main, |result| {
                            if !result.have_more_threads {
                                self.word.fetch_and(!PARKED_BIT, "the timeout's wake of the main queue");
                            }
                        });
                    }
                    return false;
                }
            }
        }
        true
    }

    fn unlock_exclusive(&self) {
        if self.word.compare_exchange(WRITER_BIT, 0, "unlock_exclusive fast path").is_ok() {
            return;
        }
        // unlock_exclusive_slow: wake the main queue; the callback stores the new state.
        self.lot.unpark_all(Key::Main, |result| {
            self.word.store(
                if result.have_more_threads { PARKED_BIT } else { 0 },
                "unlock_exclusive_slow's callback",
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn words_are_decoded_like_a_person_would() {
        assert_eq!(describe(0x1B), "0x0000_0000_0000_001B (readers=1, PARKED|WRITER_PARKED|WRITER)");
        assert!(describe(usize::MAX).starts_with("0xFFFF_FFFF_FFFF_FFFF (readers=1152921504606846975"));
    }
}
