//! A value handed over through a `OneShot`. Its first version published the value with
//! `Relaxed` stores and loads of the flag: on hardware with weak memory the taker could see
//! the flag before the value, and read it while the sender was still writing it. loom finds
//! it (shuttle runs every execution sequentially consistent and cannot); miri, running the
//! variant once on real threads, reports the unordered accesses as a data race.

use lockhound::cell::UnsafeCell;
use lockhound::scenario::{Miri, Scenario, Variant};
use lockhound::sync::atomic::{AtomicBool, Ordering};
use lockhound::sync::Arc;
use lockhound::thread;
use queue::OneShot;

pub fn scenario() -> Scenario {
    Scenario::new("oneshot")
        .summary("a value handed from one thread to another through a lock-free slot")
        .with(
            Variant::must_fail("relaxed", || handover(RelaxedOneShot::new()))
                .description("the first version: the flag is stored and loaded Relaxed")
                .weak_memory()
                .miri(Miri::Ub),
        )
        .with(
            Variant::must_pass("fixed", || handover(OneShot::new()))
                .description("the library's slot: Release store, Acquire swap"),
        )
}

trait Slot: Send + Sync + 'static {
    fn send(&self, value: String);
    fn try_recv(&self) -> Option<String>;
}

impl Slot for OneShot<String> {
    fn send(&self, value: String) {
        OneShot::send(self, value)
    }
    fn try_recv(&self) -> Option<String> {
        OneShot::try_recv(self)
    }
}

fn handover(slot: impl Slot) {
    let slot = Arc::new(slot);
    let sender = {
        let slot = slot.clone();
        thread::spawn(move || slot.send("hello".to_string()))
    };
    let value = loop {
        match slot.try_recv() {
            Some(value) => break value,
            None => thread::yield_now(),
        }
    };
    assert_eq!(value, "hello");
    sender.join().unwrap();
}

/// The slot as it was first written.
struct RelaxedOneShot {
    value: UnsafeCell<Option<String>>,
    full: AtomicBool,
}

impl RelaxedOneShot {
    fn new() -> Self {
        RelaxedOneShot { value: UnsafeCell::new(None), full: AtomicBool::new(false) }
    }
}

// SAFETY (as the first version claimed it): one sender writes before setting `full`, one taker
// reads after seeing it. The claim is wrong with Relaxed orderings; the scenario shows why.
unsafe impl Sync for RelaxedOneShot {}

impl Slot for RelaxedOneShot {
    fn send(&self, value: String) {
        self.value.with_mut(|slot| unsafe { *slot = Some(value) });
        self.full.store(true, Ordering::Relaxed);
    }

    fn try_recv(&self) -> Option<String> {
        if !self.full.swap(false, Ordering::Relaxed) {
            return None;
        }
        self.value.with_mut(|slot| unsafe { (*slot).take() })
    }
}
