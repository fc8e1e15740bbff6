//! A shuttle schedule names the strategy that found its finding (`lh1:shuttle:pct:...`), and a
//! replay says so; a schedule of the older form (`lh1:shuttle:...`) replays as before and
//! claims no strategy.

use serde_json::Value;
use std::process::{Command, Output};

const SCENARIO: &str = "rwlock-timeout";

fn lockhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockhound")).args(args).output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(o), stderr(o)))
}

/// `run --json` of the buggy variant with `extra` flags: the document of its finding.
fn found(extra: &[&str]) -> Value {
    let mut args = vec!["run", SCENARIO, "--variant", "buggy", "--json"];
    args.extend(extra);
    let o = lockhound(&args);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    json(&o)
}

fn replay(schedule: &str, extra: &[&str]) -> Output {
    let mut args = vec!["replay", SCENARIO, "--variant", "buggy", "--schedule", schedule];
    args.extend(extra);
    lockhound(&args)
}

/// What a schedule names after `lh1:shuttle:`, for a shuttle strategy (`shuttle-pct` is `pct`).
fn tag(backend: &str) -> String {
    format!("lh1:shuttle:{}:", backend.strip_prefix("shuttle-").expect("a shuttle strategy"))
}

#[test]
fn each_strategy_names_itself_in_the_minimized_schedule_it_prints() {
    for backend in ["shuttle-pct", "shuttle-random"] {
        let doc = found(&["--backend", backend]);
        assert_eq!(doc["found_by"], backend);
        let schedule = doc["schedule"].as_str().unwrap();
        assert!(schedule.starts_with(&tag(backend)), "{backend}: {schedule}");
        // Minimization replays other schedules than the strategy's; what it keeps still
        // replays the strategy's finding.
        assert!(doc["minimized_from"].is_object(), "{backend}: {doc}");
        assert!(doc["replay_command"].as_str().unwrap().contains(schedule), "{doc}");
    }
    // The text report prints the same schedule.
    let o = lockhound(&["run", SCENARIO, "--variant", "buggy", "--backend", "shuttle-pct"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("FAIL — panic found by shuttle-pct"), "{text}");
    assert!(text.contains(&format!(": {}", tag("shuttle-pct"))), "{text}");
    assert!(text.contains(&format!("--schedule '{}", tag("shuttle-pct"))), "{text}");
}

#[test]
fn under_auto_the_schedule_names_the_member_that_found_it() {
    // The rotation's members take turns and loom runs beside them: whichever finds it, with
    // one job or on parallel lanes, is the one the schedule names.
    let mut finders = std::collections::BTreeSet::new();
    for jobs in ["1", "2"] {
        for seed in ["0", "1", "2", "3"] {
            let doc = found(&["--backend", "auto", "--jobs", jobs, "--seed", seed]);
            let found_by = doc["found_by"].as_str().unwrap().to_string();
            let schedule = doc["schedule"].as_str().unwrap();
            let expected = if found_by == "loom" { "lh2:loom:".to_string() } else { tag(&found_by) };
            assert!(schedule.starts_with(&expected), "jobs {jobs}, seed {seed}: {found_by}: {schedule}");
            finders.insert(found_by);
        }
    }
    // Not only the rotation's first member: a turn of another one found it, and is named.
    assert!(finders.len() > 1, "{finders:?}");
}

#[test]
fn a_replay_says_which_strategy_found_the_schedule_in_text_and_json() {
    let doc = found(&["--backend", "shuttle-pct"]);
    let schedule = doc["schedule"].as_str().unwrap();

    let o = replay(schedule, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(
        text.lines().next(),
        Some("rwlock-timeout (buggy): FAIL — panic reproduced under shuttle (found by shuttle-pct)"),
        "{text}"
    );

    let o = replay(schedule, &["--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let replayed = json(&o);
    assert_eq!(replayed["found_by"], "shuttle-pct", "{replayed}");
    assert_eq!(replayed["replayed_by"], "shuttle", "{replayed}");
    assert_eq!(replayed["schedule"], schedule, "the replay followed the schedule it was given");
    assert_eq!(replayed["kind"], doc["kind"]);
    assert_eq!(replayed["location"], doc["location"]);
}

#[test]
fn a_schedule_of_the_older_form_replays_the_same_and_names_no_strategy() {
    let doc = found(&["--backend", "shuttle-pct"]);
    let schedule = doc["schedule"].as_str().unwrap();
    let old = schedule.replacen(&tag("shuttle-pct"), "lh1:shuttle:", 1);
    assert_ne!(old, schedule);

    // The same execution, step by step: only the head line differs.
    let (new_out, old_out) = (replay(schedule, &["--trace"]), replay(&old, &["--trace"]));
    assert_eq!(old_out.status.code(), Some(1), "{}", stderr(&old_out));
    let (new_text, old_text) = (stdout(&new_out), stdout(&old_out));
    assert_eq!(
        old_text.lines().next(),
        Some("rwlock-timeout (buggy): FAIL — panic reproduced under shuttle")
    );
    assert_eq!(new_text.lines().skip(1).collect::<Vec<_>>(), old_text.lines().skip(1).collect::<Vec<_>>());

    let replayed = json(&replay(&old, &["--json"]));
    assert!(replayed["found_by"].is_null(), "says nothing it does not know: {replayed}");
    assert_eq!(replayed["replayed_by"], "shuttle");
    assert_eq!(replayed["schedule"], old.as_str());
    assert_eq!(replayed["kind"], doc["kind"]);
}

#[test]
fn an_unknown_strategy_is_bad_input() {
    for (schedule, named) in [
        (
            "lh1:shuttle:fifo:t0@5~t2,t2@10>t1",
            "strategy 'fifo' is unknown (expected one of: random, pct, urw, dfs)",
        ),
        ("lh1:shuttle:loom:t0@5~t2", "strategy 'loom' is unknown"),
        ("lh1:shuttle::t0@5~t2", "strategy '' is unknown"),
    ] {
        let o = replay(schedule, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{schedule}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{schedule}: {err}");
        assert!(err.starts_with("lockhound: --schedule: schedule "), "{schedule}: {err}");
        assert!(err.contains(named), "{schedule}: {err}");
    }
}
