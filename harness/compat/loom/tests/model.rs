//! lockhound-loom's entry: a loom test's verdict, lockhound's report on a failure, the replay
//! line, and loom's non-`Send` spawn on every model checker (and nowhere else).
//!
//! The crate is used under the name a switched crate gives it.

use lockhound_loom as loom;
use loom::cell::UnsafeCell;
use loom::model::{Builder, Verdict};
use loom::sync::atomic::AtomicUsize;
use loom::sync::{Arc, Mutex, Notify};
use loom::thread;
use std::collections::HashMap;
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

/// The panic message of `f`, which must panic.
fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("the model should fail");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// Variables as a test's environment would have them, without touching the process's.
fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

/// Two threads incrementing through a load and a store: loses an update.
fn lost_update() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let t = thread::spawn(move || {
        let v = n2.load(SeqCst);
        n2.store(v + 1, SeqCst);
    });
    let v = n.load(SeqCst);
    n.store(v + 1, SeqCst);
    t.join().unwrap();
    assert_eq!(n.load(SeqCst), 2, "an increment was lost");
}

#[test]
fn a_correct_model_passes() {
    loom::model(|| {
        let n = Arc::new(Mutex::new(0));
        let n2 = n.clone();
        let t = thread::spawn(move || *n2.lock().unwrap() += 1);
        *n.lock().unwrap() += 1;
        t.join().unwrap();
        assert_eq!(*n.lock().unwrap(), 2);
    });
}

#[test]
fn a_failing_model_panics_with_lockhound_s_report_and_a_replay_line_naming_the_test() {
    let text = panic_text(|| loom::model(lost_update));
    // The heading names the test (libtest's thread name) and the entry, and who found what.
    assert!(
        text.starts_with(
            "a_failing_model_panics_with_lockhound_s_report_and_a_replay_line_naming_the_test (loom::model): \
             FAIL — panic found by loom"
        ),
        "{text}"
    );
    assert!(text.contains("an increment was lost"), "{text}");
    // The trace: a column per thread, the failing assertion last.
    assert!(text.contains("| t0 ") && text.contains("| t1 "), "{text}");
    assert!(text.contains("   FAIL   t0: assertion `left == right` failed: an increment was lost"), "{text}");
    // The replay line selects exactly this test, in this package and test target.
    assert!(text.contains("replay: LOCKHOUND_REPLAY=lh2:loom:"), "a loom path: {text}");
    assert!(
        text.contains(
            " cargo test -p lockhound-loom --test model -- --exact \
             a_failing_model_panics_with_lockhound_s_report_and_a_replay_line_naming_the_test\n"
        ),
        "{text}"
    );
    // Not loom's own output.
    assert!(!text.contains("LOOM_CHECKPOINT_FILE"), "{text}");
}

/// Run only by `a_failing_test_prints_a_replay_line_that_replays_it`, in child processes.
#[test]
#[ignore = "run by a_failing_test_prints_a_replay_line_that_replays_it"]
fn replayed_child() {
    loom::model(lost_update);
}

/// The words of a shell command as lockhound prints it: bare words and single-quoted ones.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => (word, any) = (word + &c.to_string(), true),
        }
    }
    assert!(!quoted, "an unclosed quote in {line}");
    if any {
        words.push(word);
    }
    words
}

/// Runs this test binary as `cargo test` would run one test of it, with `env`.
fn run_child(args: &[String], env: Option<(&str, &str)>) -> (bool, String) {
    let mut child = Command::new(std::env::current_exe().unwrap());
    // The test is ignored in this suite, so that only this test runs it.
    child.args(args).args(["--ignored", "--test-threads=1"]).env_remove("LOCKHOUND_REPLAY");
    if let Some((key, value)) = env {
        child.env(key, value);
    }
    let out = child.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// What a user sees: the failing test, run as `cargo test` runs it, prints lockhound's report
/// and a replay line; the command on that line, run as printed, replays the failure.
#[test]
fn a_failing_test_prints_a_replay_line_that_replays_it() {
    let (passed, output) = run_child(&["--exact".into(), "replayed_child".into()], None);
    assert!(!passed, "the model should fail: {output}");
    assert!(output.contains("replayed_child (loom::model): FAIL — panic found by loom"), "{output}");
    assert!(output.contains("an increment was lost"), "{output}");
    assert!(output.contains("   FAIL   t0:"), "the report shows the trace: {output}");
    assert!(!output.contains("LOOM_CHECKPOINT_FILE"), "not loom's own output: {output}");
    let line = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("a replay line: {output}"));
    let words = shell_words(line);
    let (assignment, command) = words.split_first().expect("a command");
    let schedule = assignment.strip_prefix("LOCKHOUND_REPLAY=").expect("the schedule first");
    assert!(schedule.starts_with("lh2:loom:"), "{line}");
    let dashes = command.iter().position(|w| w == "--").expect("the test's own arguments");
    assert_eq!(command[..dashes], ["cargo", "test", "-p", "lockhound-loom", "--test", "model"], "{line}");
    assert_eq!(command[dashes + 1..], ["--exact", "replayed_child"], "{line}");

    let (passed, replayed) = run_child(&command[dashes + 1..], Some(("LOCKHOUND_REPLAY", schedule)));
    assert!(!passed, "the replay should fail the test: {replayed}");
    assert!(
        replayed.contains("replayed_child (loom::model): FAIL — panic reproduced under loom"),
        "{replayed}"
    );
    assert!(replayed.contains("an increment was lost"), "{replayed}");
    assert!(replayed.contains("   FAIL   t0:"), "the replay shows its trace: {replayed}");
    assert!(
        !replayed.contains("found by loom"),
        "a replay runs the schedule, it does not search: {replayed}"
    );
}

/// A model that loom's search cannot explore within the test's own bound fails the test, as
/// loom's does, with the limit named and no finding claimed about the code (loom's own test
/// double_panic_in_drop: two branches are not enough for three yields).
#[test]
fn a_model_beyond_loom_s_branch_limit_fails_without_a_finding() {
    let text = panic_text(|| {
        let mut builder = Builder::new();
        builder.max_branches = 2;
        builder.check(|| {
            let _arc = Arc::new(());
            thread::yield_now();
            thread::yield_now();
            thread::yield_now();
        });
    });
    assert!(text.starts_with("lockhound-loom: loom could not check"), "{text}");
    assert!(text.contains("(loom::model): an execution took more than loom's 2 branch points"), "{text}");
    assert!(!text.contains("FAIL"), "not a finding: {text}");
}

#[test]
fn builder_fields_reach_the_search() {
    // `max_branches`: see a_model_beyond_loom_s_branch_limit_fails_without_a_finding.

    // A lost update under a lock needs a preemption between the two critical sections: a
    // bound of 0 cannot see it, a bound of 1 can.
    fn lost_update_under_a_lock() {
        let n = Arc::new(Mutex::new(0));
        let n2 = n.clone();
        let t = thread::spawn(move || {
            let v = *n2.lock().unwrap();
            *n2.lock().unwrap() = v + 1;
        });
        let v = *n.lock().unwrap();
        *n.lock().unwrap() = v + 1;
        t.join().unwrap();
        assert_eq!(*n.lock().unwrap(), 2, "an increment was lost");
    }
    let mut builder = Builder::new();
    builder.preemption_bound = Some(0);
    builder.check(lost_update_under_a_lock);
    builder.preemption_bound = Some(1);
    let text = panic_text(move || builder.check(lost_update_under_a_lock));
    assert!(
        text.contains("FAIL — panic found by loom") && text.contains("schedule (1 preemptions)"),
        "{text}"
    );
}

/// An `Rc` shared with a spawned thread: loom's `spawn` does not ask for `Send`.
fn rc_across_threads() {
    let data = Rc::new((Mutex::new(0), AtomicUsize::new(0)));
    let ths: Vec<_> = (0..2)
        .map(|_| {
            let data = data.clone();
            thread::spawn(move || {
                let mut locked = data.0.lock().unwrap();
                let prev = data.1.fetch_add(1, SeqCst);
                assert_eq!(prev, *locked);
                *locked += 1;
                Rc::new(*locked) // a result that is not Send either
            })
        })
        .collect();
    let results: Vec<Rc<usize>> = ths.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results.iter().map(|r| **r).sum::<usize>(), 3);
    assert_eq!(*data.0.lock().unwrap(), 2);
}

#[test]
fn spawn_without_send_runs_under_every_model_checker() {
    let builder = Builder::new();
    for backend in ["loom", "shuttle-random", "shuttle-pct", "shuttle-dfs", "auto"] {
        let verdict = builder.verdict(rc_across_threads, &vars(&[("LOCKHOUND_BACKEND", backend)]));
        assert_eq!(verdict, Verdict::Passed, "under {backend}");
    }
}

#[test]
fn a_model_refuses_real_threads() {
    let builder = Builder::new();
    let Verdict::Refused(why) = builder.verdict(rc_across_threads, &vars(&[("LOCKHOUND_BACKEND", "stress")]))
    else {
        panic!("a loom model must not run on real threads");
    };
    assert!(why.starts_with("lockhound-loom: loom::model cannot run on real threads"), "{why}");
    assert!(why.contains("not Send"), "{why}");
}

#[test]
fn spawn_refuses_real_threads_wherever_it_is_called() {
    // A body of lockhound's own, on real threads, calling loom's spawn.
    let report = lockhound::Check::new().backend(lockhound::Backend::Stress).iterations(1).explore(|| {
        thread::spawn(|| ()).join().unwrap();
    });
    let finding = report.finding.expect("spawn must refuse");
    assert!(
        finding.message.starts_with("lockhound-loom: thread::spawn takes closures that are not Send"),
        "{}",
        finding.message
    );
}

#[test]
fn a_bad_lockhound_variable_is_refused_by_name() {
    let builder = Builder::new();
    let verdict = builder.verdict(|| (), &vars(&[("LOCKHOUND_BACKEND", "lom")]));
    assert!(
        matches!(&verdict, Verdict::Refused(why) if why.contains("unknown backend 'lom'")),
        "{verdict:?}"
    );
}

#[test]
fn the_cell_s_race_checks_apply() {
    // loom's own unsafe_cell_race_mut_mut_1, under loom and under shuttle.
    fn race() {
        let x = Arc::new(UnsafeCell::new(1));
        let y = x.clone();
        let t = thread::spawn(move || x.with_mut(|p| unsafe { *p += 1 }));
        y.with_mut(|p| unsafe { *p += 1 });
        t.join().unwrap();
    }
    let builder = Builder::new();
    for backend in ["loom", "shuttle-random"] {
        let verdict = builder.verdict(race, &vars(&[("LOCKHOUND_BACKEND", backend)]));
        assert!(
            matches!(&verdict, Verdict::Failed(text) if text.contains("FAIL — data-race")),
            "{backend}: {verdict:?}"
        );
    }
}

#[test]
fn notify_hands_over_what_was_done_before_it() {
    fn handover() {
        let cell = Arc::new((UnsafeCell::new(0), Notify::new()));
        let c = cell.clone();
        let t = thread::spawn(move || {
            c.0.with_mut(|p| unsafe { *p = 1 });
            c.1.notify();
        });
        cell.1.wait();
        assert_eq!(cell.0.with(|p| unsafe { *p }), 1);
        t.join().unwrap();
    }
    let builder = Builder::new();
    for backend in ["loom", "shuttle-dfs"] {
        assert_eq!(
            builder.verdict(handover, &vars(&[("LOCKHOUND_BACKEND", backend)])),
            Verdict::Passed,
            "{backend}"
        );
    }
    // Waiting for a notification that never comes is a deadlock.
    let verdict = builder.verdict(|| Notify::new().wait(), &vars(&[]));
    assert!(matches!(&verdict, Verdict::Failed(text) if text.contains("FAIL — deadlock")), "{verdict:?}");
}

/// Executions a model runs under `backend` (at most 200 under shuttle), counted by the body.
fn executions_of(backend: &str, body: fn()) -> usize {
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let builder = Builder::new();
    let verdict = builder.verdict(
        move || {
            counted.fetch_add(1, Relaxed);
            body()
        },
        &vars(&[
            ("LOCKHOUND_BACKEND", backend),
            ("LOCKHOUND_ITERATIONS", if backend == "loom" { "1000000" } else { "200" }),
        ]),
    );
    assert_eq!(verdict, Verdict::Passed);
    runs.load(Relaxed)
}

fn three_racing_increments() {
    let n = Arc::new(AtomicUsize::new(0));
    let ts: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            thread::spawn(move || {
                n.fetch_add(1, SeqCst);
            })
        })
        .collect();
    n.fetch_add(1, SeqCst);
    for t in ts {
        t.join().unwrap();
    }
}

#[test]
fn stop_exploring_and_skip_branch_prune_loom_s_search() {
    let full = executions_of("loom", three_racing_increments);
    let stopped = executions_of("loom", || {
        loom::stop_exploring();
        three_racing_increments();
    });
    let skipped = executions_of("loom", || {
        loom::skip_branch();
        three_racing_increments();
    });
    // Exploring again after stopping explores the interleavings again.
    let resumed = executions_of("loom", || {
        loom::stop_exploring();
        loom::explore();
        three_racing_increments();
    });
    assert!(full > 8, "the full search has many interleavings: {full}");
    // One execution per round of lockhound's iterative preemption bounding (0, 1, 2, none).
    assert_eq!((stopped, skipped), (4, 4));
    assert_eq!(resumed, full);
}

#[test]
fn exploration_requests_do_nothing_under_shuttle() {
    let plain = executions_of("shuttle-random", three_racing_increments);
    let requested = executions_of("shuttle-random", || {
        loom::stop_exploring();
        loom::skip_branch();
        loom::explore();
        three_racing_increments();
    });
    assert_eq!((plain, requested), (200, 200));
}

/// As in loom: the body's own thread has no name, under every model checker, and a named
/// thread keeps its name.
#[test]
fn the_body_s_own_thread_is_unnamed_as_in_loom() {
    fn names() {
        assert_eq!(thread::current().name(), None);
        let main = thread::current().id();
        let t = thread::spawn(move || {
            assert_ne!(thread::current().id(), main);
            thread::current().name().map(str::to_string)
        });
        assert_eq!(t.thread().name(), None);
        assert_eq!(t.join().unwrap(), None);
        let named = thread::Builder::new()
            .name("worker".into())
            .spawn(|| thread::current().name().map(str::to_string));
        let named = named.unwrap();
        assert_eq!(named.thread().name(), Some("worker"));
        assert_eq!(named.join().unwrap().as_deref(), Some("worker"));
    }
    for backend in ["loom", "shuttle-random", "shuttle-pct", "shuttle-dfs"] {
        let verdict = Builder::new()
            .verdict(names, &vars(&[("LOCKHOUND_BACKEND", backend), ("LOCKHOUND_ITERATIONS", "50")]));
        assert_eq!(verdict, Verdict::Passed, "{backend}");
    }
}
