use super::{yield_now, Executor, Stats};
use crate::sync::{Arc, Mutex};
use crate::{thread, Backend, Check, FindingKind, RunReport};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A one-shot value another thread hands to a task.
#[derive(Default)]
struct Slot {
    value: Option<u32>,
    waker: Option<Waker>,
}

/// Waits for the slot's value.
struct Recv(Arc<Mutex<Slot>>);

impl Future for Recv {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut slot = self.0.lock().unwrap();
        match slot.value {
            Some(v) => Poll::Ready(v),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn explore(backend: Backend, body: fn()) -> RunReport {
    Check::new()
        .backend(backend)
        .preemption_bound(None)
        .iterations(20_000)
        .time_limit(Duration::from_secs(60))
        .explore(body)
}

const ENGINES: [Backend; 4] = [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::Stress];

/// A task waiting on a value from another facade thread is woken by it, whichever runs
/// first: loom proves it over every interleaving (an idle executor blocks on its condvar
/// and the wake notifies it; nothing is lost between the check and the wait).
#[test]
fn a_waker_called_from_another_thread_wakes_an_idle_executor() {
    fn body() {
        let slot = Arc::new(Mutex::new(Slot::default()));
        let sender = slot.clone();
        let t = thread::spawn(move || {
            let waker = {
                let mut slot = sender.lock().unwrap();
                slot.value = Some(7);
                slot.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        let got = Rc::new(RefCell::new(None));
        let mut ex = Executor::new();
        let seen = got.clone();
        ex.spawn("receiver", async move { *seen.borrow_mut() = Some(Recv(slot).await) });
        let stats = ex.run();
        t.join().unwrap();
        assert_eq!(*got.borrow(), Some(7));
        assert!(stats.polls == 1 || stats.polls == 2, "{stats:?}");
    }
    for backend in ENGINES {
        let report = explore(backend, body);
        assert!(report.passed(), "{backend}: {:?}", report.finding);
    }
    assert!(explore(Backend::Loom, body).exhaustive);
}

/// `yield_now` sends a task to the back of the queue: two yielding tasks alternate.
#[test]
fn yield_now_lets_the_other_ready_task_run() {
    fn body() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut ex = Executor::new();
        for name in ["a", "b"] {
            let log = log.clone();
            ex.spawn(name, async move {
                for i in 0..3 {
                    log.borrow_mut().push(format!("{name}{i}"));
                    yield_now().await;
                }
            });
        }
        let stats = ex.run();
        assert_eq!(log.borrow().join(" "), "a0 b0 a1 b1 a2 b2");
        // Each task: three yields, then a final poll that completes.
        assert_eq!(stats.polls, 8);
    }
    let report = explore(Backend::Loom, body);
    assert!(report.passed() && report.exhaustive, "{:?}", report.finding);
}

/// Sleeping tasks wake in deadline order, the idle clock jumps to each deadline, and work
/// moves the clock by exactly what tasks say.
#[test]
fn timers_fire_in_deadline_order_on_a_virtual_clock() {
    fn body() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut ex = Executor::new();
        for (name, sleep, work) in [("slow", 5, 2), ("fast", 3, 1)] {
            let (log, clock) = (log.clone(), ex.clock());
            ex.spawn(name, async move {
                clock.sleep(sleep).await;
                log.borrow_mut().push(format!("{name}@{}", clock.now()));
                clock.work(work);
            });
        }
        let stats = ex.run();
        // fast wakes at 3 and works to 4; slow is due at 5 (the clock jumps from 4 to 5).
        assert_eq!(log.borrow().join(" "), "fast@3 slow@5");
        assert_eq!(stats.now, 7);
        assert_eq!((stats.max_wait, stats.longest_poll), (0, 2));
    }
    let report = explore(Backend::Loom, body);
    assert!(report.passed() && report.exhaustive, "{:?}", report.finding);
}

/// A poll that does ten units of work keeps a timer due at 2 from being served until 10.
fn one_long_poll() {
    let mut ex = Executor::new().starvation_bound(3);
    let clock = ex.clock();
    ex.spawn("ticker", async move { clock.sleep(2).await });
    let clock = ex.clock();
    ex.spawn("hog", async move { clock.work(10) });
    ex.run();
}

const LONG_POLL: &str = "starvation: task 'ticker' was ready at work unit 2 but not polled until unit \
                         10, 8 units later (bound 3): task 'hog' held the executor for a single \
                         poll of 10 units (units 0 to 10)";

#[test]
fn a_poll_longer_than_the_bound_is_a_starvation_finding_with_exact_numbers() {
    for backend in [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct] {
        let finding = explore(backend, one_long_poll).finding.expect("starvation found");
        assert_eq!(finding.kind, FindingKind::Starvation, "{backend}");
        assert_eq!(finding.message, LONG_POLL, "{backend}");
        // Raised at the caller of `run`, not inside the executor.
        let location = finding.location.unwrap_or_default();
        assert!(location.contains("executor/tests.rs"), "{backend}: {location}");
        assert_eq!(finding.kind.name(), "starvation");
    }
    // The stress engine reports the same words (it does not classify kinds of panics yet).
    let finding = explore(Backend::Stress, one_long_poll).finding.expect("found on real threads");
    assert_eq!(finding.message, LONG_POLL);
}

/// The same work split by yields: the ticker waits at most one slice of work.
#[test]
fn work_split_by_yields_stays_within_the_bound() {
    fn body() {
        let mut ex = Executor::new().starvation_bound(3);
        let clock = ex.clock();
        ex.spawn("ticker", async move {
            for _ in 0..3 {
                clock.sleep(2).await;
            }
        });
        let clock = ex.clock();
        ex.spawn("worker", async move {
            for _ in 0..4 {
                clock.work(3);
                yield_now().await;
            }
        });
        let stats = ex.run();
        // ticker due at 2, served at 3 (waited 1); due at 5, served at 6; due at 8, at 9.
        let expect = Stats {
            now: 12,
            polls: 9,
            max_wait: 1,
            max_wait_task: Some("ticker".into()),
            longest_poll: 3,
            longest_poll_task: Some("worker".into()),
        };
        assert_eq!(stats, expect);
    }
    for backend in [Backend::Loom, Backend::ShuttleRandom, Backend::Stress] {
        let report = explore(backend, body);
        assert!(report.passed(), "{backend}: {:?}", report.finding);
    }
}

/// Only the executor's own finding is a starvation: a user's assertion that happens to say
/// "starvation" stays a panic.
#[test]
fn a_panic_that_says_starvation_is_still_a_panic() {
    fn body() {
        let mut ex = Executor::new();
        ex.spawn("task", async { panic!("starvation: task 'heartbeat' was ready at work unit 2") });
        ex.run();
    }
    for backend in [Backend::Loom, Backend::ShuttlePct] {
        let finding = explore(backend, body).finding.expect("the panic is found");
        assert_eq!(finding.kind, FindingKind::Panic, "{backend}: {}", finding.message);
        assert!(finding.message.starts_with("starvation: task 'heartbeat'"), "{}", finding.message);
    }
}

#[test]
fn work_outside_a_poll_is_refused() {
    fn body() {
        Executor::new().clock().work(1);
    }
    let finding = explore(Backend::ShuttleRandom, body).finding.expect("refused");
    assert_eq!(finding.kind, FindingKind::Panic);
    assert!(finding.message.contains("outside a task's poll"), "{}", finding.message);
}
