//! `lockhound check`, the CI gate: the binary on the repository's own config, its exit status,
//! JUnit and JSON, shards and the corpus; and the gate library on a synthetic catalog whose
//! "fixed" variant fails, which the built-in catalog cannot provide.

use lockhound::scenario::{Scenario, Variant};
use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::Arc;
use lockhound::{explore, Backend, ReplayOutcome};
use lockhound_cli::gate::{self, Corpus, GateConfig, Settings, Source};
use lockhound_reports::gate::{self as render, quick_junit::TestCaseStatus, GateView};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs `lockhound check ARGS` in `dir`.
fn check_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockhound"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("lockhound runs")
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not one JSON document ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

fn case_ids(doc: &serde_json::Value) -> Vec<String> {
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}/{}/{}",
                c["scenario"].as_str().unwrap(),
                c["variant"].as_str().unwrap(),
                c["backend"].as_str().unwrap()
            )
        })
        .collect()
}

fn stderr_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "one line on stderr: {err}");
    assert!(err.starts_with("lockhound: "), "{err}");
    err.trim_end().to_string()
}

#[test]
fn the_repository_gate_passes_and_writes_valid_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("reports/junit.xml");
    let out = check_in(&repo(), &["--junit", junit.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let doc = json_of(&out);
    assert_eq!(doc["config"], "lockhound.toml");
    // Every variant of the catalog under the config's backends (both defaults, unless a
    // variant names its own), every expectation met.
    let catalog = lockhound_scenarios::catalog();
    let text = std::fs::read_to_string(repo().join("lockhound.toml")).unwrap();
    let config = GateConfig::parse("lockhound.toml", &text, &catalog).expect("the repository config parses");
    let expected = gate::plan(&catalog, &config, &Settings::default(), None).len();
    let variants: usize = catalog.iter().map(|s| s.variants().len()).sum();
    assert!(expected >= variants, "every variant is gated under some backend");
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), expected);
    assert_eq!((doc["passed"].as_u64(), doc["failed"].as_u64()), (Some(expected as u64), Some(0)));
    for c in cases {
        assert_eq!(c["met"], true, "{c}");
        let outcome = if c["expect"] == "fail" { "fail" } else { "pass" };
        assert_eq!(c["outcome"], outcome, "{c}");
    }

    let xml = std::fs::read_to_string(&junit).unwrap();
    let report = render::parse_junit(&xml).expect("well-formed JUnit XML");
    let testcases: Vec<_> = report.test_suites.iter().flat_map(|s| &s.test_cases).collect();
    assert_eq!(testcases.len(), expected);
    assert_eq!(report.test_suites.len(), lockhound_scenarios::catalog().len());
    assert!(testcases.iter().all(|t| matches!(t.status, TestCaseStatus::Success { .. })));
    assert!(testcases.iter().any(|t| t.name.as_str() == "buggy [loom]"));
    // Written atomically: no temporary file is left next to it.
    let left: Vec<_> = std::fs::read_dir(junit.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn human_output_has_a_line_per_case_and_the_summary() {
    let out = check_in(&repo(), &["--iterations", "300", "--shard", "1/4"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let cases = text.lines().filter(|l| l.starts_with("ok ") || l.starts_with("MISSED ")).count();
    assert!(cases > 0);
    assert_eq!(text.lines().last(), Some(format!("{cases} passed, 0 failed").as_str()), "{text}");
}

#[test]
fn a_bug_not_detected_exits_1_and_the_junit_failure_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.toml");
    // One loom execution cannot find rwlock-timeout's bug (loom needs a couple of hundred).
    std::fs::write(
        &config,
        "[defaults]\ninclude = \"listed\"\nbackends = [\"loom\"]\niterations = 1\n\n\
         [scenario.rwlock-timeout]\nvariants = [\"buggy\"]\n",
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let out = check_in(dir.path(), &["--config", "gate.toml", "--junit", "junit.xml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("MISSED rwlock-timeout/buggy/loom: the known bug was NOT detected"), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
    let report = render::parse_junit(&std::fs::read_to_string(junit).unwrap()).unwrap();
    let case = &report.test_suites[0].test_cases[0];
    assert_eq!(report.test_suites[0].name.as_str(), "rwlock-timeout");
    match &case.status {
        TestCaseStatus::NonSuccess { description, .. } => {
            assert!(description.as_ref().unwrap().as_str().contains("NOT detected"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn shards_cover_every_case_exactly_once() {
    let all = json_of(&check_in(&repo(), &["--iterations", "300", "--json"]));
    let mut seen = Vec::new();
    for shard in ["1/2", "2/2"] {
        let doc = json_of(&check_in(&repo(), &["--iterations", "300", "--json", "--shard", shard]));
        assert_eq!(doc["shard"], shard);
        let ids = case_ids(&doc);
        assert!(!ids.is_empty(), "shard {shard} is empty");
        seen.extend(ids);
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a case ran in both shards: {seen:?}");
    assert_eq!(unique, case_ids(&all).into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn cases_run_side_by_side_report_in_plan_order_with_the_same_outcomes() {
    let outcomes = |jobs: &str| -> Vec<(String, serde_json::Value, serde_json::Value)> {
        let doc = json_of(&check_in(&repo(), &["--iterations", "300", "--json", "--jobs", jobs]));
        doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let id = format!("{}/{}/{}", c["scenario"], c["variant"], c["backend"]);
                (id, c["met"].clone(), c["executions"].clone())
            })
            .collect()
    };
    let one = outcomes("1");
    assert!(one.len() >= 16, "{one:?}");
    assert_eq!(outcomes("3"), one);
}

#[test]
fn bad_shards_and_configs_exit_2_with_one_line() {
    for shard in ["0/2", "3/2", "1/0", "x"] {
        let out = check_in(&repo(), &["--shard", shard]);
        assert_eq!(out.status.code(), Some(2), "{shard}");
        assert!(stderr_line(&out).contains(&format!("shard '{shard}'")));
    }
    let dir = tempfile::tempdir().unwrap();
    for (text, expect) in [
        ("[defaults]\nbackends = [\"loom\",\n  \"foo\"]\n", "line 3: unknown backend 'foo'"),
        ("[defaults]\niteratons = 5\n", "line 2: unknown field `iteratons`"),
        ("\n[scenario.nope]\n", "line 2: unknown scenario 'nope'"),
        (
            "[scenario.rwlock-timeout]\nvariants = [\"fixd\"]\n",
            "line 2: scenario 'rwlock-timeout' has no variant 'fixd'",
        ),
        ("[defaults]\niterations = 0\n", "line 2: expected a number of at least 1, got 0"),
        ("[defaults]\nbackends = []\n", "line 2: backends is empty"),
        ("[defaults\n", "line 1:"),
    ] {
        std::fs::write(dir.path().join("lockhound.toml"), text).unwrap();
        // Read implicitly from the working folder, and named in the error as it was found.
        let out = check_in(dir.path(), &[]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let line = stderr_line(&out);
        assert!(line.contains(&format!("lockhound.toml: {expect}")), "{text}: {line}");
    }
    let out = check_in(dir.path(), &["--config", "missing.toml"]);
    assert!(stderr_line(&out).contains("missing.toml: cannot read"));
}

#[test]
fn the_corpus_records_failures_and_replays_them_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gate.toml"),
        "[defaults]\ninclude = \"listed\"\nbackends = [\"shuttle-pct\"]\n\n\
         [scenario.routing-table-init]\nvariants = [\"buggy\"]\n",
    )
    .unwrap();
    // Entries this lockhound cannot use are notes, not failures.
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    std::fs::write(dir.path().join("corpus/old.lhcorpus"), "lockhound-corpus v0\n").unwrap();
    std::fs::write(
        dir.path().join("corpus/gone.lhcorpus"),
        "lockhound-corpus v1\nscenario gone\nvariant buggy\nbackend loom\nschedule lh1:shuttle:\n",
    )
    .unwrap();
    let args = ["--config", "gate.toml", "--corpus", "corpus", "--json"];

    let first = json_of(&check_in(dir.path(), &args));
    assert_eq!(first["failed"], 0, "{first}");
    let notes = first["notes"].to_string();
    assert!(notes.contains("format 'lockhound-corpus v0'") && notes.contains("scenario 'gone'"), "{notes}");
    let case = &first["cases"][0];
    assert_eq!(case["corpus"]["replayed"], 0);
    let saved = PathBuf::from(case["corpus"]["saved"].as_str().expect("the schedule was saved"));
    let entry = std::fs::read_to_string(dir.path().join(&saved)).unwrap();
    assert!(
        entry.starts_with("lockhound-corpus v1\nscenario routing-table-init\nvariant buggy\n"),
        "{entry}"
    );
    assert!(entry.contains(&format!("schedule {}", case["schedule"].as_str().unwrap())), "{entry}");

    let second = json_of(&check_in(dir.path(), &args));
    let case = &second["cases"][0];
    assert_eq!(
        (case["corpus"]["replayed"].as_u64(), case["corpus"]["reproduced"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(case["corpus"]["saved"], serde_json::Value::Null, "the same schedule is kept once");
    assert_eq!(second["failed"], 0);
}

// A synthetic catalog: "fixed" claims to pass but loses an update. It cannot be added to the
// built-in catalog, so the gate library runs it directly.

fn lost_update() {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let t = lockhound::thread::spawn(move || {
        let v = m.load(Ordering::SeqCst);
        m.store(v + 1, Ordering::SeqCst);
    });
    let v = n.load(Ordering::SeqCst);
    n.store(v + 1, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
}

fn exact() {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let t = lockhound::thread::spawn(move || {
        m.fetch_add(1, Ordering::SeqCst);
    });
    n.fetch_add(1, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 2);
}

fn counter() -> Scenario {
    Scenario::new("counter")
        .summary("a counter whose fix did not fix it")
        .provenance("test", "load then store", "claimed")
        .with(Variant::must_fail("buggy", lost_update).description("load then store"))
        .with(Variant::must_pass("fixed", lost_update).description("still load then store"))
        .with(Variant::must_pass("really-fixed", exact).description("fetch_add"))
}

fn synthetic_view<'a>(results: &'a [gate::CaseResult]) -> GateView<'a> {
    GateView { results, program: "lockhound", shard: None, config: None, corpus: None, notes: &[] }
}

#[test]
fn a_fixed_variant_that_fails_misses_its_expectation_with_a_replay_command() {
    let catalog = [counter()];
    let overrides = Settings { iterations: Some(300), ..Settings::default() };
    let cases = gate::plan(&catalog, &GateConfig::default(), &overrides, None);
    assert_eq!(cases.len(), 6, "3 variants under the built-in loom and shuttle-pct");
    let results: Vec<_> = cases.iter().map(|c| gate::run_case(c, None)).collect();
    let met: Vec<_> = results.iter().map(|r| (r.variant.as_str(), r.backend, r.met)).collect();
    assert_eq!(
        met,
        [
            ("buggy", Backend::Loom, true),
            ("buggy", Backend::ShuttlePct, true),
            ("fixed", Backend::Loom, false),
            ("fixed", Backend::ShuttlePct, false),
            ("really-fixed", Backend::Loom, true),
            ("really-fixed", Backend::ShuttlePct, true),
        ]
    );
    assert_eq!(gate::tally(&results), (4, 2));
    let view = synthetic_view(&results);
    assert!(render::text(&view).ends_with("\n4 passed, 2 failed\n"));

    let report = render::parse_junit(&render::junit(&view)).unwrap();
    assert_eq!(report.test_suites[0].name.as_str(), "counter");
    let failures: Vec<_> = report.test_suites[0]
        .test_cases
        .iter()
        .filter_map(|t| match &t.status {
            TestCaseStatus::NonSuccess { description, ty, .. } => {
                Some((t, description.clone().unwrap(), ty.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 2);
    for (case, text, ty) in failures {
        assert!(case.name.as_str().starts_with("fixed ["));
        assert_eq!(case.classname.as_ref().unwrap().as_str(), "lockhound.counter");
        assert_eq!(ty.unwrap().as_str(), "panic");
        let text = text.as_str();
        assert!(text.contains("counter/fixed/") && text.contains("lost update"), "{text}");
        assert!(text.contains(&format!("at {}:", file!())), "{text}");
        let replay = text.lines().find_map(|l| l.strip_prefix("replay: ")).expect("a replay line");
        let (command, schedule) = replay.split_once(" --schedule ").unwrap();
        assert_eq!(command, "lockhound replay counter --variant fixed");
        // Quoted for the shell when it needs it (a shuttle schedule has '>').
        let schedule = schedule.trim_matches('\'');
        // lh1 for shuttle, lh2 for loom (with its spawn sites).
        assert!(schedule.starts_with("lh1:shuttle:") || schedule.starts_with("lh2:loom:"), "{replay}");
        // The schedule in the command replays the failure.
        let schedule = schedule.parse().unwrap();
        let outcome =
            explore::replay(&catalog[0].variant("fixed").unwrap().body(), &schedule, &Default::default());
        assert!(matches!(outcome, ReplayOutcome::Failed(f) if f.message.contains("lost update")));
    }
}

#[test]
fn a_recorded_failure_is_replayed_before_exploring() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = [counter()];
    let config = GateConfig::parse(
        "t.toml",
        "[defaults]\nbackends = [\"shuttle-pct\"]\n[scenario.counter]\nvariants = [\"fixed\"]\n",
        &catalog,
    )
    .unwrap();
    let cases = gate::plan(&catalog, &config, &Settings::default(), None);
    assert_eq!(cases.len(), 1);

    let corpus = Corpus::open(dir.path(), &catalog).unwrap();
    let first = gate::run_case(&cases[0], Some(&corpus));
    assert!(!first.met && first.source == Source::Explore);
    let saved = first.corpus.saved.clone().expect("saved");

    // Next run: the entry reproduces the failure before any exploration.
    let corpus = Corpus::open(dir.path(), &catalog).unwrap();
    assert_eq!(corpus.entries().len(), 1);
    let second = gate::run_case(&cases[0], Some(&corpus));
    assert!(!second.met);
    assert_eq!(second.source, Source::Corpus(saved));
    assert!(second.report.is_none(), "exploration was skipped");
    assert_eq!((second.corpus.replayed, second.corpus.reproduced), (1, 1));
    assert_eq!(second.finding.unwrap().message, first.finding.unwrap().message);

    // Once the variant really is fixed, the same entry no longer reproduces; the gate explores
    // and passes (a schedule that does not fit is a note, never a failure).
    let fixed = [fixed_counter()];
    let corpus = Corpus::open(dir.path(), &fixed).unwrap();
    let case = &gate::plan(
        &fixed,
        &GateConfig::default(),
        &Settings { backends: Some(vec![Backend::ShuttlePct]), iterations: Some(300), ..Settings::default() },
        None,
    )[1];
    let third = gate::run_case(case, Some(&corpus));
    assert!(third.met, "{:?}", third.finding);
    assert_eq!(third.corpus.replayed, 1);
    assert_eq!(third.corpus.reproduced, 0);
}

fn fixed_counter() -> Scenario {
    Scenario::new("counter")
        .summary("the counter, fixed for real")
        .provenance("test", "load then store", "fetch_add")
        .must_fail("buggy", lost_update)
        .must_pass("fixed", exact)
}

/// A corpus folder is read, not trusted: a FIFO or a link to /dev/zero among its entries is
/// skipped with a note (it once hung `check`, or read until memory ran out), and a huge bad
/// entry is named in a short line (it was once echoed whole, twice).
#[cfg(unix)]
#[test]
fn a_hostile_corpus_is_skipped_in_short_notes_and_never_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("a.fixed.loom.0.lhcorpus");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string naming a path in a folder of this test.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("b.fixed.loom.0.lhcorpus")).unwrap();
    let huge = format!(
        "{CORPUS}\nscenario counter\nvariant fixed\nbackend loom\nschedule lh1:{}\n",
        "x".repeat(120_000)
    );
    std::fs::write(dir.path().join("c.fixed.loom.0.lhcorpus"), huge).unwrap();
    let catalog = [counter()];
    let corpus = Corpus::open(dir.path(), &catalog).unwrap();
    assert!(corpus.entries().is_empty());
    let notes = corpus.notes();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[0].contains("not a regular file") && notes[1].contains("not a regular file"), "{notes:?}");
    assert!(notes[2].contains("bad schedule"), "{notes:?}");
    assert!(notes.iter().all(|n| n.len() < 400), "{notes:?}");
}

const CORPUS: &str = lockhound_cli::gate::CORPUS_HEADER;

fn six_threads() {
    let n = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let n = n.clone();
            lockhound::thread::spawn(move || {
                n.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(n.load(Ordering::SeqCst), 5);
}

#[test]
fn a_case_its_backend_cannot_run_is_skipped_with_the_reason_never_passed_or_failed() {
    let catalog = [Scenario::new("crowd")
        .summary("six threads, one more than loom models")
        .with(Variant::must_pass("fixed", six_threads).description("fetch_add from five threads"))];
    let overrides = Settings { iterations: Some(200), ..Settings::default() };
    let cases = gate::plan(&catalog, &GateConfig::default(), &overrides, None);
    let results: Vec<_> = cases.iter().map(|c| gate::run_case(c, None)).collect();
    let loom = results.iter().find(|r| r.backend == Backend::Loom).expect("a loom case");
    let why = loom.skipped.as_deref().expect("loom cannot run six threads: skipped");
    assert!(why.contains("loom") && why.contains("thread"), "the reason names loom's thread limit: {why}");
    assert!(loom.finding.is_none(), "an engine limit is no finding: {:?}", loom.finding);
    let pct = results.iter().find(|r| r.backend == Backend::ShuttlePct).expect("a shuttle-pct case");
    assert!(pct.met && pct.skipped.is_none() && pct.executions == 200, "shuttle explores it");
    let summary = lockhound_reports::gate::summary_line(&results);
    assert_eq!(summary, "2 passed (1 of them skipped), 0 failed");
    let text = lockhound_reports::gate::case_text("lockhound", loom);
    assert!(text.starts_with("skip   crowd/fixed/loom: skipped: loom: "), "{text}");
}
