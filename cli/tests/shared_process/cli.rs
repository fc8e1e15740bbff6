//! The command-line contract: exit statuses, one-line errors, JSON fields, replay commands
//! that reproduce, and report files.

use std::process::{Command, Output};

fn lockhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockhound")).args(args).output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn list_shows_every_scenario_with_its_provenance() {
    let o = lockhound(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for s in lockhound_scenarios_names() {
        assert!(text.contains(&s), "{s} missing from list");
    }
    assert!(text.contains("parking_lot issue #465") && text.contains("olric issue #247"));

    let o = lockhound(&["list", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let scenarios = doc["scenarios"].as_array().unwrap();
    assert!(scenarios.iter().all(|s| s["provenance"]["source"].is_string() && s["variants"].is_array()));
}

fn lockhound_scenarios_names() -> Vec<String> {
    let o = lockhound(&["list", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    doc["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

/// Runs the replay command a failed run printed, word for word.
fn run_printed_replay(run_output: &str) -> Output {
    let line = run_output.lines().find_map(|l| l.trim().strip_prefix("replay: ")).expect("a replay line");
    let schedule = line.split("--schedule ").nth(1).unwrap().trim_matches('\'');
    let variant = line.split("--variant ").nth(1).unwrap().split(' ').next().unwrap();
    let scenario = line.split(" replay ").nth(1).unwrap().split(' ').next().unwrap();
    lockhound(&["replay", scenario, "--variant", variant, "--schedule", schedule])
}

#[test]
fn a_buggy_run_fails_names_the_cause_and_prints_a_replay_that_reproduces_it() {
    // routing-table-init's cause is the race on `r.this`, in loom's words or in lockhound's
    // (under shuttle); which engine gets there first depends on the job count.
    for (scenario, causes) in [
        ("rwlock-timeout", &["rwlock state word corrupted"][..]),
        ("routing-table-init", &["data race on r.this", "Concurrent read and write accesses"][..]),
    ] {
        let o = lockhound(&["run", scenario, "--variant", "buggy"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let text = stdout(&o);
        let cause = causes.iter().find(|c| text.contains(**c)).unwrap_or_else(|| panic!("{text}"));
        assert!(text.contains("found by") && text.contains(" execution"), "{text}");
        let replay = run_printed_replay(&text);
        assert_eq!(replay.status.code(), Some(1), "{}", stderr(&replay));
        assert!(stdout(&replay).contains(cause));
    }
}

#[test]
fn the_word_is_named_as_a_person_reads_it() {
    let o = lockhound(&["run", "rwlock-timeout", "--variant", "buggy", "--backend", "shuttle-pct"]);
    // 0x..FFFF when the third thread was parked (0x1B, 0x0B, 0x09, wrap); 0x..FFFE when it was
    // not yet (0x1A, 0x0A, 0x08, wrap). Minimization prefers the latter: one preemption fewer.
    let text = stdout(&o);
    assert!(
        text.contains("into 0xFFFF_FFFF_FFFF_FFFF") || text.contains("into 0xFFFF_FFFF_FFFF_FFFE"),
        "{text}"
    );
}

#[test]
fn a_fixed_run_passes() {
    let o = lockhound(&["run", "routing-table-init", "--variant", "fixed", "--iterations", "500"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("pass"));
}

#[test]
fn run_json_carries_the_contract_fields() {
    let o =
        lockhound(&["run", "routing-table-init", "--variant", "buggy", "--backend", "shuttle-pct", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("exactly one JSON document");
    for field in [
        "scenario",
        "variant",
        "backend",
        "outcome",
        "executions",
        "elapsed_ms",
        "exhaustive",
        "kind",
        "message",
        "schedule",
        "preemptions",
        "steps",
        "trace",
    ] {
        assert!(doc.get(field).is_some(), "missing {field}: {doc}");
    }
    assert_eq!(doc["outcome"], "fail");
    assert_eq!(doc["backend"], "shuttle-pct");
    assert!(doc["schedule"].as_str().unwrap().starts_with("lh1:shuttle:"));
}

#[test]
fn out_writes_the_summary_and_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let o = lockhound(&["run", "rwlock-timeout", "--variant", "buggy", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["outcome"], "fail");
    let schedule = std::fs::read_to_string(out.join("schedule.txt")).unwrap();
    let at_file = format!("@{}", out.join("schedule.txt").display());
    let replay = lockhound(&["replay", "rwlock-timeout", "--variant", "buggy", "--schedule", &at_file]);
    assert_eq!(replay.status.code(), Some(1), "{schedule}: {}", stderr(&replay));
    // No temporary files are left behind by the atomic writes.
    let names: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    let mut names: Vec<_> = names.iter().map(|n| n.to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, [".lockhound-report", "schedule.txt", "summary.json", "trace.json", "trace.txt"]);
}

#[test]
fn bad_input_exits_2_with_one_line_and_no_panic() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let file_path = file.path().to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["run", "no-such-scenario"],
        &["run", "rwlock-timeout", "--variant", "nope"],
        &["run", "rwlock-timeout", "--iterations", "0"],
        &["run", "rwlock-timeout", "--time-limit", "0"],
        &["run", "rwlock-timeout", "--iterations", "many"],
        &["run", "rwlock-timeout", "--backend", "quantum"],
        &["run", "rwlock-timeout", "--preemption-bound", "-1"],
        &["run", "rwlock-timeout", "--out", file_path],
        &["replay", "rwlock-timeout", "--variant", "buggy", "--schedule", "garbage"],
        &["replay", "rwlock-timeout", "--variant", "buggy", "--schedule", "lh1:shuttle:t0@x>t1"],
        &["replay", "rwlock-timeout", "--variant", "buggy", "--schedule", "lh1:loom:AAAA"],
        &["replay", "rwlock-timeout", "--variant", "buggy", "--schedule", "@/no/such/file"],
        &["replay", "rwlock-timeout", "--variant", "fixed", "--schedule", "lh1:shuttle:t0@900>t5"],
        &["frobnicate"],
    ];
    for args in cases {
        let o = lockhound(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("lockhound: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn guard_pages_catch_the_use_after_free_at_the_readers_line_and_pass_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockhound(&[
        "run",
        "idr-use-after-free",
        "--variant",
        "buggy",
        "--guard-pages",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", stderr(&o));
    assert!(text.contains("use-after-free read"), "{text}");
    // The access, free and allocation sites, with source lines of the scenario.
    for part in ["access:", "freed", "allocated", "idr_use_after_free.rs:"] {
        assert!(text.contains(part), "{part} missing: {text}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["guard"]["outcome"], "fault");
    assert_eq!(summary["guard"]["kind"], "use-after-free");

    let o = lockhound(&[
        "run",
        "idr-use-after-free",
        "--variant",
        "fixed",
        "--guard-pages",
        "--iterations",
        "300",
        "--time-limit",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn track_reports_the_lock_order_inversion_from_a_run_that_completed() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockhound(&[
        "track",
        "lock-order-inversion",
        "--variant",
        "buggy",
        "--iterations",
        "20",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}{}", stderr(&o));
    assert!(text.contains("potential deadlock #1"), "{text}");
    // Both acquisition sites of the inverted order are named.
    assert!(
        text.contains("lock_order_inversion.rs:47") && text.contains("lock_order_inversion.rs:55"),
        "{text}"
    );
    for file in ["wait.svg", "hold.svg", "lock-order.dot", "report.txt", "report.json"] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    let svg = std::fs::read_to_string(dir.path().join("wait.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"), "not an SVG document");
    let dot = std::fs::read_to_string(dir.path().join("lock-order.dot")).unwrap();
    assert!(dot.starts_with("digraph") && dot.contains("lock_order_inversion.rs:41"), "{dot}");

    let o = lockhound(&["track", "lock-order-inversion", "--variant", "fixed", "--iterations", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

/// Runs `lockhound ARGS` with stderr on a pseudo-terminal (util-linux's `script`) and stdout in
/// a file: returns (stdout, what the terminal showed).
fn on_a_terminal(args: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout");
    let command = format!("{} {args} > {}", env!("CARGO_BIN_EXE_lockhound"), out.display());
    let o = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .output()
        .expect("util-linux's script runs (it provides the pseudo-terminal)");
    (std::fs::read_to_string(&out).unwrap_or_default(), String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn progress_is_drawn_on_a_terminal_only_and_never_in_json_output() {
    let (stdout, terminal) = on_a_terminal("check --shard 1/8");
    assert!(terminal.contains("cases ["), "no progress line on the terminal: {terminal}");
    assert!(!stdout.contains("cases ["), "progress reached stdout: {stdout}");
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");

    let (stdout, terminal) = on_a_terminal("check --shard 1/8 --json");
    assert!(!terminal.contains("cases ["), "progress drawn under --json: {terminal}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert_eq!(doc["failed"], 0);

    let (_, terminal) = on_a_terminal("check --shard 1/8 -q");
    assert!(!terminal.contains("cases ["), "progress drawn under -q: {terminal}");

    // Not a terminal: no progress at all.
    let o = lockhound(&["check", "--shard", "1/8"]);
    assert!(!stderr(&o).contains("cases ["), "{}", stderr(&o));
}

#[test]
fn a_long_run_and_track_show_their_executions_on_a_terminal_but_never_in_json_output() {
    // A fixed variant under a 1 s budget with no execution bound: it runs the whole second.
    let run =
        "run rwlock-timeout --variant fixed --backend shuttle-random --iterations 100000000 --time-limit 1";
    let (stdout, terminal) = on_a_terminal(run);
    assert!(
        terminal.contains("rwlock-timeout (fixed): ") && terminal.contains(" executions ("),
        "{terminal}"
    );
    assert!(!stdout.contains(" executions ("), "progress reached stdout: {stdout}");
    assert!(stdout.contains("pass"), "{stdout}");

    let (stdout, terminal) = on_a_terminal(&format!("{run} --json"));
    assert!(!terminal.contains(" executions ("), "progress drawn under --json: {terminal}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert!(doc["executions"].as_u64().is_some_and(|n| n > 0), "{doc}");

    let (_, terminal) =
        on_a_terminal("track rwlock-timeout --variant fixed --iterations 100000000 --time-limit 1");
    assert!(terminal.contains("on real threads: ") && terminal.contains(" executions ("), "{terminal}");
}

#[test]
fn completions_are_printed_for_each_shell_and_a_bad_shell_is_bad_usage() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = lockhound(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        assert!(stdout(&o).contains("lockhound"), "{shell}");
        assert!(stdout(&o).contains("replay"), "{shell}: the subcommands are completed");
    }
    let o = lockhound(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn verbose_logs_lockhound_decisions_and_lockhound_log_filters() {
    // With no -v the engines' own log records stay off (loom's generator logs an error for
    // every panic in a simulated thread).
    let o = lockhound(&["run", "lock-order-inversion", "--variant", "buggy", "--backend", "loom"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("set panic inside generator"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("engine attempt ended"), "no log without -v: {}", stderr(&o));
    // -v: how each engine's attempt ended; -vv: the run's settings and minimization too.
    let o = lockhound(&["run", "lock-order-inversion", "--variant", "buggy", "--backend", "loom", "-v"]);
    assert!(stderr(&o).contains("engine attempt ended engine=loom"), "{}", stderr(&o));
    assert!(stderr(&o).contains("outcome=Found"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("exploring"), "debug records only from -vv: {}", stderr(&o));
    let o =
        lockhound(&["run", "lock-order-inversion", "--variant", "buggy", "--backend", "shuttle-pct", "-vv"]);
    assert!(stderr(&o).contains("exploring backend=shuttle-pct"), "{}", stderr(&o));
    assert!(stderr(&o).contains("minimized replays="), "{}", stderr(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_lockhound"))
        .args(["run", "lock-order-inversion", "--variant", "buggy", "--backend", "loom"])
        .env("LOCKHOUND_LOG", "generator=error")
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("set panic inside generator"),
        "LOCKHOUND_LOG selects targets: {}",
        stderr(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_lockhound"))
        .args(["list"])
        .env("LOCKHOUND_LOG", "lockhound=[")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("LOCKHOUND_LOG"), "a bad filter is said: {}", stderr(&o));
}

#[test]
fn a_replay_names_the_engine_that_replayed_it_not_a_strategy_that_did_not_run() {
    let o = lockhound(&[
        "replay",
        "rwlock-timeout",
        "--variant",
        "buggy",
        "--schedule",
        "lh1:shuttle:t0@5~t2,t2@10>t1",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    assert_eq!(doc["outcome"], "fail");
    assert_eq!(doc["replayed_by"], "shuttle", "{doc}");
    // An old-form schedule does not say which strategy found it.
    assert!(doc["found_by"].is_null(), "a replay finds nothing by a strategy: {doc}");
}
