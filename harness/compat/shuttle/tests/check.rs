//! lockhound-shuttle's entries: each strategy finds what it should, a failure is lockhound's
//! report with a replay line, and `replay` replays lockhound's schedules and only those.
//!
//! The crate is used under the name a switched crate gives it.

use lockhound_shuttle as shuttle;
use shuttle::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use shuttle::sync::{Arc, Mutex};
use shuttle::thread;
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;

/// The panic message of `f`, which must panic.
fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("the check should fail");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
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

/// Correct: the increments are under a lock.
fn locked_increments() {
    let n = Arc::new(Mutex::new(0));
    let ts: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            thread::spawn(move || *n.lock().unwrap() += 1)
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(*n.lock().unwrap(), 2);
}

#[test]
fn correct_bodies_pass_under_every_entry() {
    shuttle::check_random(locked_increments, 100);
    shuttle::check_random_with_seed(locked_increments, 9, 100);
    shuttle::check_urw(locked_increments, 100);
    shuttle::check_pct(locked_increments, 100, 3);
    shuttle::check_dfs(locked_increments, None);
    shuttle::check(locked_increments);
}

#[test]
fn each_strategy_finds_the_lost_update_and_says_which_it_was() {
    for (entry, found_by, text) in [
        ("shuttle::check_random", "shuttle-random", panic_text(|| shuttle::check_random(lost_update, 1000))),
        ("shuttle::check_urw", "shuttle-random", panic_text(|| shuttle::check_urw(lost_update, 1000))),
        ("shuttle::check_pct", "shuttle-pct", panic_text(|| shuttle::check_pct(lost_update, 1000, 2))),
        ("shuttle::check_dfs", "shuttle-dfs", panic_text(|| shuttle::check_dfs(lost_update, None))),
    ] {
        let heading =
            format!("each_strategy_finds_the_lost_update_and_says_which_it_was ({entry}): FAIL — panic found by {found_by}");
        assert!(text.starts_with(&heading), "{text}");
        assert!(text.contains("an increment was lost"), "{text}");
        // Minimized, with the trace and a replay line for this test.
        assert!(text.contains("schedule (minimized: "), "{text}");
        assert!(text.contains("   FAIL   t"), "{text}");
        assert!(
            text.contains(
                " cargo test -p lockhound-shuttle --test check -- --exact \
                 each_strategy_finds_the_lost_update_and_says_which_it_was\n"
            ),
            "{text}"
        );
    }
}

#[test]
fn the_budget_is_the_iterations_asked_for() {
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    shuttle::check_random(
        move || {
            counted.fetch_add(1, Relaxed);
        },
        37,
    );
    assert_eq!(runs.load(Relaxed), 37);

    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    shuttle::check_dfs(
        move || {
            counted.fetch_add(1, Relaxed);
        },
        Some(3),
    );
    // A body with no concurrency has one schedule, and the search ends with it.
    assert_eq!(runs.load(Relaxed), 1);

    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    shuttle::check(move || {
        counted.fetch_add(1, Relaxed);
        locked_increments();
    });
    assert_eq!(runs.load(Relaxed), 1);
}

#[test]
fn check_dfs_without_a_bound_runs_every_schedule() {
    // A failure that only one interleaving of many shows: the second thread must run entirely
    // between the first thread's two steps. The depth-first search reaches it.
    let text = panic_text(|| {
        shuttle::check_dfs(
            || {
                let n = Arc::new(AtomicUsize::new(0));
                let n2 = n.clone();
                let t = thread::spawn(move || {
                    n2.fetch_add(1, SeqCst);
                    n2.fetch_add(1, SeqCst);
                    n2.fetch_add(1, SeqCst);
                });
                let a = n.load(SeqCst);
                let b = n.load(SeqCst);
                t.join().unwrap();
                assert!(b - a != 3, "the whole thread ran in between");
            },
            None,
        )
    });
    assert!(text.contains("FAIL — panic found by shuttle-dfs"), "{text}");
}

/// The schedule in a report's replay line.
fn schedule_of(text: &str) -> String {
    text.split("LOCKHOUND_REPLAY=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a replay line")
        .trim_matches('\'')
        .to_string()
}

#[test]
fn replay_replays_a_lockhound_schedule() {
    let schedule = schedule_of(&panic_text(|| shuttle::check_pct(lost_update, 1000, 2)));
    let text = panic_text(|| shuttle::replay(lost_update, &schedule));
    assert!(text.contains("(shuttle::replay): FAIL — panic reproduced under shuttle"), "{text}");
    assert!(text.contains("an increment was lost"), "{text}");
    // The same schedule on a correct body runs to its end.
    shuttle::replay(locked_increments, &schedule);
}

#[test]
fn replay_refuses_shuttle_s_own_schedules() {
    let text = panic_text(|| shuttle::replay(lost_update, "91021000904092940400"));
    assert!(text.starts_with("lockhound-shuttle: replay takes a schedule lockhound printed"), "{text}");
}

/// Run only by `a_failing_test_prints_a_replay_line_that_replays_it`, in child processes.
#[test]
#[ignore = "run by a_failing_test_prints_a_replay_line_that_replays_it"]
fn replayed_child() {
    shuttle::check_random(lost_update, 1000);
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
    assert!(!passed, "the test should fail: {output}");
    assert!(
        output.contains("replayed_child (shuttle::check_random): FAIL — panic found by shuttle-random"),
        "{output}"
    );
    assert!(output.contains("an increment was lost"), "{output}");
    assert!(output.contains("   FAIL   t"), "the report shows the trace: {output}");
    assert!(!output.contains("failing schedule"), "not shuttle's own output: {output}");
    let line = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("a replay line: {output}"));
    let words = shell_words(line);
    let (assignment, command) = words.split_first().expect("a command");
    let schedule = assignment.strip_prefix("LOCKHOUND_REPLAY=").expect("the schedule first");
    assert!(schedule.starts_with("lh1:shuttle"), "{line}");
    let dashes = command.iter().position(|w| w == "--").expect("the test's own arguments");
    assert_eq!(command[..dashes], ["cargo", "test", "-p", "lockhound-shuttle", "--test", "check"], "{line}");
    assert_eq!(command[dashes + 1..], ["--exact", "replayed_child"], "{line}");

    let (passed, replayed) = run_child(&command[dashes + 1..], Some(("LOCKHOUND_REPLAY", schedule)));
    assert!(!passed, "the replay should fail the test: {replayed}");
    // A replay runs the schedule, it does not search: it names the strategy that found the
    // schedule, and claims no search of its own.
    assert!(
        replayed.contains(
            "replayed_child (shuttle::check_random): FAIL — panic reproduced under shuttle (found by \
             shuttle-random)\n"
        ),
        "{replayed}"
    );
    assert!(replayed.contains("an increment was lost"), "{replayed}");
    assert!(replayed.contains("   FAIL   t"), "the replay shows its trace: {replayed}");
    assert!(
        !replayed.contains("panic found by"),
        "a replay runs the schedule, it does not search: {replayed}"
    );
}

/// A waiter that times out and waits again until a flag is set: lockhound explores each
/// timeout (shuttle's own `wait_timeout` never times out), so the depth-first search has no
/// end: the waiter may time out again and again before the flag is set.
fn waits_with_timeouts_until_set() {
    use shuttle::sync::Condvar;
    use std::time::Duration;
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p = pair.clone();
    let t = thread::spawn(move || {
        let (set, condvar) = &*p;
        let mut set = set.lock().unwrap();
        while !*set {
            set = condvar.wait_timeout(set, Duration::from_secs(10)).unwrap().0;
        }
    });
    *pair.0.lock().unwrap() = true;
    pair.1.notify_one();
    t.join().unwrap();
}

#[test]
#[ignore = "run by check_dfs_without_a_number_passes_within_its_budget_and_says_so"]
fn endless_dfs_child() {
    shuttle::check_dfs(waits_with_timeouts_until_set, None);
}

#[test]
#[ignore = "run by check_dfs_without_a_number_passes_within_its_budget_and_says_so"]
fn finished_dfs_child() {
    shuttle::check_dfs(locked_increments, None);
}

/// `check_dfs(f, None)`: a search that its default budget ends passes, with one line on
/// stderr saying that it was not exhaustive (captured with the test's output, as libtest
/// captures any passing test's); one that ends by itself says nothing.
#[test]
fn check_dfs_without_a_number_passes_within_its_budget_and_says_so() {
    let budget = Some(("LOCKHOUND_TIME_LIMIT", "1"));
    let shown = "--show-output".to_string();
    let (passed, output) = run_child(&["--exact".into(), "endless_dfs_child".into(), shown.clone()], budget);
    assert!(passed, "{output}");
    let notes: Vec<&str> = output.lines().filter(|l| l.contains("not exhaustive")).collect();
    assert_eq!(notes.len(), 1, "{output}");
    assert!(
        notes[0].starts_with("lockhound: endless_dfs_child (shuttle::check_dfs) explored ")
            && notes[0].contains(" schedules in ")
            && notes[0].contains("without finding a bug"),
        "{}",
        notes[0]
    );
    let (passed, output) = run_child(&["--exact".into(), "finished_dfs_child".into(), shown], budget);
    assert!(passed, "{output}");
    assert!(!output.contains("not exhaustive"), "an exhaustive search says nothing: {output}");
}

/// The budget never hides a bug the search reaches: a buggy body still fails.
#[test]
fn check_dfs_without_a_number_still_finds_bugs() {
    let text = panic_text(|| shuttle::check_dfs(lost_update, None));
    assert!(text.contains("FAIL — panic found by shuttle-dfs"), "{text}");
}
