//! `lockhound track`'s report files with the default options: hold times sampled and drawn,
//! lock names from the scenario's code, and `--hold-sample`.

use std::path::Path;
use std::process::{Command, Output};

fn lockhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockhound")).args(args).output().expect("the binary runs")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(dir, "report.json")).expect("report.json is JSON")
}

#[test]
fn bounded_cache_has_a_hold_flamegraph_and_hold_times_with_the_default_options() {
    let dir = tempfile::tempdir().unwrap();
    let o =
        lockhound(&["track", "bounded-cache", "--variant", "fixed", "--out", dir.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&o.stderr));

    // The cache's lock is `RwLock::named("lru.mu", ..)`: that is its class everywhere.
    let json = report(dir.path());
    assert_eq!(json["hold_sample_period"], 64);
    let classes = json["classes"].as_array().unwrap();
    let lru = classes.iter().find(|c| c["name"] == "lru.mu").unwrap_or_else(|| panic!("{json:#}"));
    assert!(lru["hold"]["timed"].as_u64().unwrap() > 0, "{lru:#}");
    assert!(lru["hold"]["total_ns"].as_u64().unwrap() > 0, "{lru:#}");
    let row = text.lines().find(|l| l.starts_with("lru.mu")).unwrap_or_else(|| panic!("{text}"));
    let hold_total = row.split_whitespace().nth(5).unwrap();
    assert_ne!(hold_total, "0ns", "{text}");

    let hold = read(dir.path(), "hold.svg");
    assert!(!hold.contains("no samples"), "{hold}");
    assert!(hold.contains("lock:lru.mu"), "hold.svg names no lru.mu frame");
    assert!(hold.contains("lockhound_scenarios::bounded_cache::Cache::get_or_prepare"));
    let folded = read(dir.path(), "hold.folded");
    assert!(folded.lines().all(|l| !l.contains("std::") && !l.contains("lockhound::")), "{folded}");
}

#[test]
fn hold_sample_sets_the_period_and_rejects_zero() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["track", "bounded-cache", "--variant", "fixed", "--iterations", "10", "--hold-sample", "1"];
    let o = lockhound(&[&args[..], &["--out", dir.path().to_str().unwrap()]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let json = report(dir.path());
    assert_eq!(json["hold_sample_period"], 1);
    let lru = json["classes"].as_array().unwrap().iter().find(|c| c["name"] == "lru.mu").cloned().unwrap();
    // Every hold timed.
    assert_eq!(lru["hold"]["timed"], lru["hold"]["count"], "{lru:#}");

    let o = lockhound(&["track", "bounded-cache", "--hold-sample", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--hold-sample"));
}
