//! A body thread that loops without a facade call never hands control back to a model
//! checker: the run ends with a `hang` finding once no scheduling point was reached for the
//! time budget, instead of hanging (harness/src/explore/watchdog.rs). The stuck loops here
//! sleep rather than spin, so that the abandoned threads cost no CPU, and each test releases
//! its loop at the end, so that they finish.

use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::Arc;
use lockhound::{explore, thread, Backend, Body, Budget, Check, FindingKind, RunConfig};
use std::sync::atomic::{AtomicBool, AtomicUsize as StdAtomicUsize};
use std::time::Duration;

/// A body whose spawned thread waits for a plain flag (no facade call: the model checker
/// cannot run the main thread, which would set it) until `release` is set.
fn waits_without_yielding(release: &'static AtomicBool) -> Body {
    std::sync::Arc::new(move || {
        let ready = Arc::new(AtomicUsize::new(0));
        let seen = ready.clone();
        let t = thread::spawn(move || {
            seen.load(Ordering::SeqCst);
            while !release.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        ready.store(1, Ordering::SeqCst);
        t.join().unwrap();
    })
}

fn config(backend: Backend, jobs: usize) -> RunConfig {
    RunConfig {
        backend,
        budget: Budget { executions: 1_000, time: Duration::from_secs(1) },
        jobs,
        ..RunConfig::default()
    }
}

fn assert_hang(backend: Backend, jobs: usize, release: &'static AtomicBool) {
    let report = explore::run(&waits_without_yielding(release), &config(backend, jobs));
    let finding = report.finding.unwrap_or_else(|| panic!("{backend} jobs={jobs}: no finding"));
    assert_eq!(finding.kind, FindingKind::Hang, "{backend} jobs={jobs}: {}", finding.message);
    assert!(
        finding.message.starts_with("no scheduling point for 1 s"),
        "{backend} jobs={jobs}: {}",
        finding.message
    );
    assert!(finding.message.contains("yield_now"), "{}", finding.message);
    if backend != Backend::Loom {
        // shuttle says which thread it ran last.
        assert!(finding.message.contains("in thread t1"), "{backend}: {}", finding.message);
    }
    assert!(finding.message.contains("watchdog.rs"), "the last facade call's site: {}", finding.message);
}

#[test]
fn a_loop_without_a_scheduling_point_is_a_hang_under_loom() {
    static RELEASE: AtomicBool = AtomicBool::new(false);
    assert_hang(Backend::Loom, 1, &RELEASE);
    RELEASE.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_loop_without_a_scheduling_point_is_a_hang_under_shuttle_and_auto() {
    static RELEASE: AtomicBool = AtomicBool::new(false);
    assert_hang(Backend::ShuttleRandom, 1, &RELEASE);
    assert_hang(Backend::ShuttlePct, 2, &RELEASE);
    assert_hang(Backend::Auto, 1, &RELEASE);
    assert_hang(Backend::Auto, 2, &RELEASE);
    RELEASE.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_check_and_a_replay_of_such_a_body_return() {
    static RELEASE: AtomicBool = AtomicBool::new(false);
    let check = Check::new().backend(Backend::ShuttleRandom).time_limit(Duration::from_secs(1));
    let body = waits_without_yielding(&RELEASE);
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check.run(move || body())))
        .expect_err("the check fails");
    let message = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("lockhound found a hang"), "{message}");
    assert!(message.contains("no scheduling point for 1 s in thread t1"), "{message}");
    // No schedule, and not because of real threads: the stuck execution kept it.
    assert!(message.contains("no replay: the stuck execution never ended"), "{message}");
    assert!(!message.contains("real threads"), "{message}");

    let schedule = "lh1:shuttle:".parse().expect("the empty schedule");
    let outcome = explore::replay(&waits_without_yielding(&RELEASE), &schedule, &config(Backend::Auto, 1));
    match outcome {
        explore::ReplayOutcome::Failed(f) => assert_eq!(f.kind, FindingKind::Hang, "{}", f.message),
        other => panic!("the replay: {other:?}"),
    }
    RELEASE.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_body_that_reaches_scheduling_points_is_no_hang() {
    // Runs for longer than the window (1 s) in all, but never goes a second without a facade
    // call.
    let body: Body = std::sync::Arc::new(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        let t = thread::spawn(move || {
            m.fetch_add(1, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(300));
        n.fetch_add(1, Ordering::SeqCst);
        t.join().unwrap();
    });
    let config = RunConfig {
        budget: Budget { executions: 5, time: Duration::from_secs(1) },
        ..config(Backend::ShuttleRandom, 1)
    };
    let report = explore::run(&body, &config);
    assert!(report.passed(), "{:?}", report.finding);
    assert!(report.executions >= 4, "{} executions", report.executions);
}

/// Set in the re-executed test process that forks (see below).
const FORK_CASE: &str = "LOCKHOUND_TEST_WATCHDOG_FORK";

/// A process forked after its caller thread got a companion has the companion on record but
/// not its thread: nobody takes the run's job. The caller takes it back after the shortest
/// window and runs it itself, unwatched, rather than waiting forever for a result. Forking
/// happens in a re-executed test process that runs this test alone (no other test's threads,
/// whose locks a fork could copy held).
#[cfg(unix)]
#[test]
fn a_run_in_a_process_forked_after_a_run_is_taken_back_and_completes() {
    let test = "a_run_in_a_process_forked_after_a_run_is_taken_back_and_completes";
    if std::env::var_os(FORK_CASE).is_some() {
        fork_and_run();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(FORK_CASE, "1")
        .output()
        .expect("start the test process");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("the forked process's run passed"), "{text}");
}

#[cfg(unix)]
fn fork_and_run() {
    let body: Body = std::sync::Arc::new(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        let t = thread::spawn(move || {
            m.fetch_add(1, Ordering::SeqCst);
        });
        n.fetch_add(1, Ordering::SeqCst);
        t.join().unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 2);
    });
    let config = RunConfig {
        budget: Budget { executions: 20, time: Duration::from_secs(5) },
        ..config(Backend::ShuttleRandom, 1)
    };
    // This thread's companion exists from now on; once it sleeps waiting for the next run, it
    // holds no lock a fork could copy.
    assert!(explore::run(&body, &config).passed());
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: the child only runs lockhound (whose locks no other thread holds now: the
    // companion sleeps) and then leaves with `_exit`, running no destructor of the parent's.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        let report = explore::run(&body, &config);
        let code = if report.passed() && report.executions == 20 { 0 } else { 3 };
        // SAFETY: ends the child at once, as a forked child of a threaded process should.
        unsafe { libc::_exit(code) };
    }
    // The test's own timeout: a run that is never taken back hangs the child forever.
    let start = std::time::Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, writing its status into a live integer.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(waited >= 0, "waitpid");
        if waited == pid {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            // SAFETY: kills our own child, which is hung.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked process's run never returned");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked run failed: status {status}"
    );
    println!("the forked process's run passed");
}

/// A subscriber that counts the events named `body-event`.
struct CountsBodyEvents(std::sync::Arc<StdAtomicUsize>);

impl tracing::Subscriber for CountsBodyEvents {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "body-event" {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The run explores on a companion thread (and lanes on pool threads), but the subscriber
/// the caller's thread set for itself still gets the body's events, under every engine and
/// with lanes, as it would if the body ran on the caller's thread.
#[test]
fn the_caller_s_own_subscriber_sees_the_body_s_events() {
    for (backend, jobs) in [(Backend::ShuttleDfs, 1), (Backend::Loom, 1), (Backend::ShuttleRandom, 2)] {
        let events = std::sync::Arc::new(StdAtomicUsize::new(0));
        let subscriber = CountsBodyEvents(events.clone());
        let body: Body = std::sync::Arc::new(|| {
            thread::spawn(|| tracing::info!(target: "body-event", "in a spawned thread")).join().unwrap();
        });
        let report = tracing::subscriber::with_default(subscriber, || {
            explore::run(
                &body,
                &RunConfig {
                    backend,
                    jobs,
                    budget: Budget { executions: 3, ..Budget::default() },
                    ..RunConfig::default()
                },
            )
        });
        assert!(report.finding.is_none(), "{backend}: {:?}", report.finding);
        assert!(
            events.load(std::sync::atomic::Ordering::SeqCst) >= 1,
            "{backend} jobs={jobs}: no event reached the subscriber"
        );
    }
}
