//! The miri suite: `cargo +nightly miri test -p lockhound --test miri` (scripts/miri.sh).
//! Everything here is also an ordinary test, fast enough for miri's interpreter: facade bodies
//! on real threads (the `Std` arms, tracked parking_lot locks underneath), and the harness's
//! pure code that sits next to unsafe code: schedule text, the guard
//! allocator's slot classification and its async-signal-safe report format. loom and shuttle
//! do not run under miri (their context switches are not something miri can interpret), so
//! nothing here uses them.

use lockhound::cell::UnsafeCell;
use lockhound::guard::report::{format_raw, parse_raw, Frames, RawReport, StackBuf, REPORT_BYTES};
use lockhound::guard::{Access, FaultKind, FreeCheck, Geometry, SlotState, SlotView};
use lockhound::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use lockhound::sync::{Arc, Condvar, Mutex, RwLock};
use lockhound::{Backend, Check, FindingKind, Schedule};

/// One execution on real threads: what miri checks is the body's memory accesses and the
/// facade's own unsafe code along the way.
fn once() -> Check {
    Check::new().backend(Backend::Stress).iterations(1)
}

#[test]
fn mutex_rwlock_and_atomics_on_real_threads() {
    once().run(|| {
        let counter = Arc::new(Mutex::new(0u32));
        let table = Arc::new(RwLock::new(vec![0u32; 4]));
        let hits = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|i| {
                let (counter, table, hits) = (counter.clone(), table.clone(), hits.clone());
                lockhound::thread::spawn(move || {
                    *counter.lock().unwrap() += 1;
                    table.write().unwrap()[i] = i as u32 + 1;
                    let _sum: u32 = table.read().unwrap().iter().sum();
                    hits.fetch_add(1, Ordering::AcqRel);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), 2);
        assert_eq!(*table.read().unwrap(), vec![1, 2, 0, 0]);
        assert_eq!(hits.load(Ordering::Acquire), 2);
    });
}

/// A cell shared the way user code shares one: Sync by the author's promise, which miri checks.
struct Shared(UnsafeCell<u64>);
// SAFETY: accesses are ordered by the Release/Acquire handoff in the test below.
unsafe impl Sync for Shared {}

#[test]
fn condvar_handshake_and_unsafe_cell_on_real_threads() {
    once().run(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        // Written by one thread, then read by the other after a Release/Acquire handoff: miri
        // checks that the handoff really orders the accesses.
        let cell = Arc::new(Shared(UnsafeCell::new(0u64)));
        let ready = Arc::new(AtomicBool::new(false));
        let (p, c, r) = (pair.clone(), cell.clone(), ready.clone());
        let t = lockhound::thread::spawn(move || {
            // SAFETY: the main thread reads the cell only after `ready` is set with Release.
            c.0.with_mut(|v| unsafe { *v = 42 });
            r.store(true, Ordering::Release);
            *p.0.lock().unwrap() = true;
            p.1.notify_one();
        });
        let mut done = pair.0.lock().unwrap();
        while !*done {
            done = pair.1.wait(done).unwrap();
        }
        drop(done);
        assert!(ready.load(Ordering::Acquire));
        // SAFETY: the writer finished its write before the Release store observed above.
        assert_eq!(cell.0.with(|v| unsafe { *v }), 42);
        t.join().unwrap();
    });
}

#[test]
fn a_failing_body_on_real_threads_is_a_finding() {
    let report = once().explore(|| {
        let t = lockhound::thread::spawn(|| panic!("boom in a spawned thread"));
        let _ = t.join();
    });
    let finding = report.finding.expect("the panic is reported");
    assert_eq!(finding.kind, FindingKind::Panic);
    assert!(finding.message.contains("boom in a spawned thread"), "{}", finding.message);
    assert!(finding.schedule.is_none(), "real threads give no schedule");
}

#[test]
fn schedules_round_trip() {
    for text in ["lh1:shuttle:", "lh1:shuttle:t0@4>t2,t2@9>t0,t1@2~t3"] {
        let s: Schedule = text.parse().unwrap();
        assert_eq!(s.to_string(), text);
    }
    let loom =
        Schedule::Loom(lockhound::schedule::LoomPath { json: "{\"branches\":[1,2,3]}".into(), spawns: None });
    assert_eq!(loom.to_string().parse::<Schedule>().unwrap(), loom);
    assert!("lh1:loom:AAAA".parse::<Schedule>().is_err());
}

#[test]
fn guard_slots_classify_faults_and_frees() {
    let g = Geometry { base: 0x10_0000, page: 0x1000, slot_pages: 1, slots: 3 };
    let slots = [
        SlotView { state: SlotState::Live, ptr: g.place(0, 16, 8, true), size: 16 },
        SlotView { state: SlotState::Freed, ptr: g.slot_start(1), size: 32 },
        SlotView { state: SlotState::Free, ptr: 0, size: 0 },
    ];
    let view = |i: usize| slots[i];
    // One byte past the right-aligned live block is the guard page: an overflow.
    let past = g.classify(slots[0].ptr + 16, view).unwrap();
    assert_eq!((past.kind, past.slot, past.offset), (FaultKind::Overflow, Some(0), 16));
    assert_eq!(g.classify(slots[1].ptr + 4, view).unwrap().kind, FaultKind::UseAfterFree);
    assert_eq!(g.classify(g.slot_start(2) + 8, view).unwrap().kind, FaultKind::Wild);
    assert_eq!(g.classify(g.base + g.region_len(), view), None);
    assert_eq!(g.check_free(slots[0].ptr, view), FreeCheck::Live(0));
    assert_eq!(g.check_free(slots[1].ptr, view), FreeCheck::DoubleFree(1));
    assert_eq!(g.check_free(slots[0].ptr + 1, view), FreeCheck::Invalid(Some(0)));
    assert_eq!(g.check_free(0x42, view), FreeCheck::NotOurs);
}

#[test]
fn guard_reports_round_trip_through_the_signal_safe_formatter() {
    let mut at = Frames::EMPTY;
    at.pcs[..3].copy_from_slice(&[0x1000, 0x2000, 0xdead_beef]);
    at.len = 3;
    let raw = RawReport {
        kind: FaultKind::UseAfterFree,
        access: Access::Read,
        address: 0x7f00_0000_1010,
        offset: -16,
        size: 48,
        tid: 7,
        thread_name: *b"worker-1\0\0\0\0\0\0\0\0",
        anchor: 0x5555_0000,
        at,
        alloc_tid: 3,
        alloc: Frames::EMPTY,
        free_tid: 4,
        free: at,
    };
    let mut buf = StackBuf::<REPORT_BYTES>::new();
    format_raw(&raw, &mut buf);
    let text = std::str::from_utf8(buf.as_bytes()).unwrap();
    let parsed = parse_raw(&format!("noise before\n{text}noise after")).unwrap();
    assert_eq!(
        (parsed.kind, parsed.access, parsed.offset, parsed.size),
        (FaultKind::UseAfterFree, Access::Read, -16, 48)
    );
    assert_eq!((parsed.address, parsed.thread_name.as_str()), (0x7f00_0000_1010, "worker-1"));
    assert_eq!(
        (parsed.at, parsed.free),
        (vec![0x1000, 0x2000, 0xdead_beef], vec![0x1000, 0x2000, 0xdead_beef])
    );
    // A report cut short (the buffer truncates silently) is refused, not half-read.
    let cut = &text[..text.len() - 5];
    assert!(parse_raw(cut).unwrap_err().contains("truncated"));
}
