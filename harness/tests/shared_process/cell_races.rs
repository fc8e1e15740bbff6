//! Under shuttle, a facade cell reports two accesses that no synchronization orders, one a
//! write, as a data race in the first execution that makes both, whichever comes first; and it
//! never reports accesses that are ordered, in any schedule (checked exhaustively with
//! shuttle's depth-first search on bodies small enough to finish).

use lockhound::cell::UnsafeCell;
use lockhound::sync::atomic::{AtomicBool, Ordering};
use lockhound::sync::{mpsc, Arc, Barrier, Mutex};
use lockhound::{thread, Backend, Check, FindingKind, RunReport};

struct Shared(UnsafeCell<u64>);
// SAFETY: deliberately unchecked: whether the accesses are ordered is what these tests ask.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

fn shared() -> Arc<Shared> {
    Arc::new(Shared(UnsafeCell::named("shared", 0)))
}

fn read(s: &Shared) -> u64 {
    s.0.with(|p| unsafe { *p })
}

fn write(s: &Shared, v: u64) {
    s.0.with_mut(|p| unsafe { *p = v })
}

fn explore(backend: Backend, body: fn()) -> RunReport {
    Check::new().backend(backend).iterations(2_000).seed(3).explore(body)
}

/// The shuttle strategies; depth-first search last, since it is the one that proves.
const SHUTTLE: [Backend; 3] = [Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleDfs];

/// A race found in the first execution, whatever the strategy (so whatever the order of the
/// two accesses in it), named with the cell and both sites.
fn assert_race_at_once(body: fn(), earlier: &str, later: &str) {
    for backend in SHUTTLE {
        let report = explore(backend, body);
        let finding = report.finding.unwrap_or_else(|| panic!("{backend}: no race found"));
        assert_eq!(finding.kind, FindingKind::DataRace, "{backend}: {}", finding.message);
        assert_eq!(finding.executions, 1, "{backend}: {}", finding.message);
        assert!(finding.message.starts_with("data race on shared: "), "{}", finding.message);
        assert!(finding.message.contains(later) && finding.message.contains(earlier), "{}", finding.message);
        assert!(finding.message.contains("cell_races.rs:"), "{}", finding.message);
    }
}

/// No finding in any schedule: depth-first search ends exhaustively, and the randomized
/// strategies find nothing either.
fn assert_never_a_race(body: fn()) {
    for backend in SHUTTLE {
        let report = explore(backend, body);
        assert!(report.finding.is_none(), "{backend}: {}", report.finding.unwrap().message);
    }
    assert!(explore(Backend::ShuttleDfs, body).exhaustive, "the depth-first search must finish");
}

fn write_and_unordered_read() {
    let s = shared();
    let s2 = s.clone();
    let t = thread::spawn(move || write(&s2, 1));
    let _ = read(&s);
    t.join().unwrap();
}

fn read_and_unordered_write() {
    let s = shared();
    let s2 = s.clone();
    let t = thread::spawn(move || {
        let _ = read(&s2);
    });
    write(&s, 1);
    t.join().unwrap();
}

#[test]
fn a_write_and_a_read_of_two_threads_without_synchronization_race_in_any_order() {
    assert_race_at_once(write_and_unordered_read, "write by thread 1", "read by thread 0");
    assert_race_at_once(read_and_unordered_write, "read by thread 1", "write by thread 0");
}

fn write_and_unordered_write() {
    let s = shared();
    let s2 = s.clone();
    let t = thread::spawn(move || write(&s2, 1));
    write(&s, 2);
    t.join().unwrap();
}

#[test]
fn two_unordered_writes_race() {
    for backend in SHUTTLE {
        let finding = explore(backend, write_and_unordered_write).finding.expect("race");
        assert_eq!(finding.kind, FindingKind::DataRace, "{backend}: {}", finding.message);
        assert!(finding.message.matches("write by thread").count() == 2, "{}", finding.message);
    }
}

fn accesses_under_one_mutex() {
    let s = shared();
    let lock = Arc::new(Mutex::new(()));
    let (s2, lock2) = (s.clone(), lock.clone());
    let t = thread::spawn(move || {
        let _held = lock2.lock().unwrap();
        write(&s2, read(&s2) + 1);
    });
    {
        let _held = lock.lock().unwrap();
        write(&s, read(&s) + 1);
    }
    t.join().unwrap();
    assert_eq!(read(&s), 2);
}

fn spawn_and_join_order_the_accesses() {
    let s = shared();
    write(&s, 1);
    let s2 = s.clone();
    let t = thread::spawn(move || write(&s2, read(&s2) + 1));
    t.join().unwrap();
    assert_eq!(read(&s), 2);
    write(&s, 3);
}

fn concurrent_reads() {
    let s = shared();
    write(&s, 1);
    let s2 = s.clone();
    let t = thread::spawn(move || read(&s2));
    let mine = read(&s);
    assert_eq!(t.join().unwrap() + mine, 2);
}

/// The publication pattern: write, then set a flag; the reader reads only after seeing it.
fn published_before_the_flag() {
    let s = shared();
    let flag = Arc::new(AtomicBool::new(false));
    let (s2, flag2) = (s.clone(), flag.clone());
    let t = thread::spawn(move || {
        write(&s2, 7);
        flag2.store(true, Ordering::Release);
    });
    if flag.load(Ordering::Acquire) {
        assert_eq!(read(&s), 7);
    }
    t.join().unwrap();
}

#[test]
fn accesses_that_synchronization_orders_are_never_a_race() {
    assert_never_a_race(accesses_under_one_mutex);
    assert_never_a_race(spawn_and_join_order_the_accesses);
    assert_never_a_race(concurrent_reads);
    assert_never_a_race(published_before_the_flag);
}

/// The flag is set before the write: a reader that saw the flag is not ordered after the
/// write, although the writer's clock was published just before it (the exactness the
/// history's own clock entry increment gives).
fn written_after_the_flag() {
    let s = shared();
    let flag = Arc::new(AtomicBool::new(false));
    let (s2, flag2) = (s.clone(), flag.clone());
    let t = thread::spawn(move || {
        flag2.store(true, Ordering::Release);
        write(&s2, 7);
    });
    if flag.load(Ordering::Acquire) {
        let _ = read(&s);
    }
    t.join().unwrap();
}

#[test]
fn a_write_after_the_publishing_store_races_with_the_reader() {
    let report = explore(Backend::ShuttleDfs, written_after_the_flag);
    let finding = report.finding.expect("the depth-first search reaches the reader seeing the flag");
    assert_eq!(finding.kind, FindingKind::DataRace, "{}", finding.message);
}

/// Reads the cell when dropped, as a destructor of a user's structure may.
struct ReadsOnDrop(Arc<Shared>);

impl Drop for ReadsOnDrop {
    fn drop(&mut self) {
        let _ = read(&self.0);
    }
}

/// The body fails on its own; unwinding drops a reader whose access is not ordered after the
/// other thread's write, in the schedules where that write came first.
fn fails_while_holding_a_reader() {
    let s = shared();
    let s2 = s.clone();
    let _t = thread::spawn(move || write(&s2, 1));
    let _reader = ReadsOnDrop(s.clone());
    thread::yield_now();
    let done = AtomicBool::new(false);
    assert!(done.load(Ordering::SeqCst), "the body's own failure");
}

#[test]
fn an_access_while_the_thread_unwinds_is_not_checked() {
    // A race raised there would be a panic while panicking, which aborts the process.
    for seed in 0..16 {
        let report = Check::new()
            .backend(Backend::ShuttleRandom)
            .iterations(1)
            .seed(seed)
            .explore(fails_while_holding_a_reader);
        let finding = report.finding.expect("the body fails in every execution");
        assert_eq!(finding.message, "the body's own failure", "seed {seed}");
    }
}

// ---- channels and barriers: shuttle's own algorithms in the facade, with its clocks ----

/// A write before a send, a read after the receive of that message: ordered.
fn sent_after_the_write(bound: Option<usize>) {
    let s = shared();
    let s2 = s.clone();
    let (tx, rx) = match bound {
        None => {
            let (tx, rx) = mpsc::channel();
            (Ok(tx), rx)
        }
        Some(bound) => {
            let (tx, rx) = mpsc::sync_channel(bound);
            (Err(tx), rx)
        }
    };
    let t = thread::spawn(move || {
        write(&s2, 1);
        match tx {
            Ok(tx) => tx.send(()).unwrap(),
            Err(tx) => tx.send(()).unwrap(),
        }
    });
    rx.recv().unwrap();
    assert_eq!(read(&s), 1);
    t.join().unwrap();
}

/// A bounded channel of one: the second send waits for the room that the first receive
/// makes, so what the receiver did before that receive comes before the sender's next step.
fn room_made_by_a_receive() {
    let s = shared();
    let s2 = s.clone();
    let (tx, rx) = mpsc::sync_channel(1);
    let t = thread::spawn(move || {
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        let _ = read(&s2);
    });
    write(&s, 5);
    assert_eq!(rx.recv().unwrap() + rx.recv().unwrap(), 3);
    t.join().unwrap();
}

/// Two threads write before a barrier, and each reads the other's after it.
fn written_before_the_barrier() {
    let (a, b) = (shared(), shared());
    let barrier = Arc::new(Barrier::new(2));
    let (a2, b2, barrier2) = (a.clone(), b.clone(), barrier.clone());
    let t = thread::spawn(move || {
        write(&a2, 1);
        barrier2.wait();
        assert_eq!(read(&b2), 2);
    });
    write(&b, 2);
    barrier.wait();
    assert_eq!(read(&a), 1);
    t.join().unwrap();
}

#[test]
fn messages_and_barriers_order_the_accesses() {
    assert_never_a_race(|| sent_after_the_write(None));
    assert_never_a_race(|| sent_after_the_write(Some(1)));
    assert_never_a_race(|| sent_after_the_write(Some(0)));
    assert_never_a_race(room_made_by_a_receive);
    assert_never_a_race(written_before_the_barrier);
}

/// The read comes before the receive: nothing orders it after the sender's write.
fn read_before_the_receive() {
    let s = shared();
    let s2 = s.clone();
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        write(&s2, 1);
        tx.send(()).unwrap();
    });
    let _ = read(&s);
    rx.recv().unwrap();
    t.join().unwrap();
}

#[test]
fn a_read_before_the_receive_races_with_the_sender_s_write() {
    let finding = explore(Backend::ShuttleDfs, read_before_the_receive).finding.expect("a race");
    assert_eq!(finding.kind, FindingKind::DataRace, "{}", finding.message);
}
