//! `lockhound check`: the gate's results as text lines, one JSON document, and JUnit XML.

use crate::{executions, millis, shell_quote};
use lockhound::gate::{CaseResult, Source};
use lockhound::scenario::Expect;
use lockhound::{Finding, NoSchedule, Schedule};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::{json, Value};

pub use quick_junit;

/// A finished gate and what the command line knows around it.
pub struct GateView<'a> {
    pub results: &'a [CaseResult],
    /// How to invoke lockhound in the replay commands shown.
    pub program: &'a str,
    /// The shard run, `K/N`, when the gate was split.
    pub shard: Option<&'a str>,
    /// The config file used, when there was one.
    pub config: Option<&'a str>,
    /// The corpus folder, when there was one.
    pub corpus: Option<&'a str>,
    /// Notes that belong to no case (unusable corpus files).
    pub notes: &'a [String],
}

/// The command that replays a case's finding, when it has a schedule.
pub fn replay_command(program: &str, r: &CaseResult) -> Option<String> {
    let schedule = r.finding.as_ref()?.schedule.as_ref()?;
    Some(format!(
        "{program} replay {} --variant {} --schedule {}",
        r.scenario,
        r.variant,
        shell_quote(&schedule.to_string())
    ))
}

fn expect_name(e: Expect) -> &'static str {
    match e {
        Expect::Pass => "pass",
        Expect::Fail => "fail",
    }
}

/// One line saying why a case missed its expectation (or, when it held, what happened).
fn headline(r: &CaseResult) -> String {
    if let Some(why) = &r.skipped {
        return format!("skipped: {why}");
    }
    let spent = format!("{} in {}", executions(r.executions), millis(r.elapsed));
    match (r.expect, &r.finding) {
        (Expect::Fail, Some(f)) => {
            format!(
                "bug detected: {} found by {} after {}",
                f.kind.name(),
                f.backend,
                executions(f.executions)
            )
        }
        (Expect::Fail, None) => format!(
            "the known bug was NOT detected in {spent}: the checker has regressed or the budget is too small"
        ),
        (Expect::Pass, None) => match &r.report {
            Some(report) => format!("passed {spent}: {}", crate::run::coverage(&report.coverage)),
            None => format!("passed {spent}"),
        },
        (Expect::Pass, Some(f)) => {
            let first = f.message.lines().next().unwrap_or_default();
            match &r.source {
                Source::Corpus(_) => {
                    format!("expected to pass, a recorded schedule fails again: {}: {first}", f.kind.name())
                }
                Source::Explore => format!(
                    "expected to pass, {} found by {} after {}: {first}",
                    f.kind.name(),
                    f.backend,
                    executions(f.executions)
                ),
            }
        }
    }
}

/// The failure's details: kind, message, location, schedule, how to replay, where it came from.
fn details(program: &str, r: &CaseResult, f: &Finding) -> Vec<String> {
    let mut out = vec![format!("kind: {}", f.kind.name())];
    let mut message = f.message.lines();
    out.push(format!("message: {}", message.next().unwrap_or_default()));
    out.extend(message.map(|l| format!("  {l}")));
    if let Some(location) = &f.location {
        out.push(format!("at {location}"));
    }
    if let Some(schedule) = &f.schedule {
        out.push(format!("schedule: {schedule}"));
    }
    match replay_command(program, r) {
        Some(cmd) => out.push(format!("replay: {cmd}")),
        None if f.no_schedule() == Some(NoSchedule::Hung) => out
            .push("replay: none (the stuck execution never ended, so it left no schedule to replay)".into()),
        None => {
            out.push("replay: none (found on real threads; a model-checking backend gives a schedule)".into())
        }
    }
    if let Source::Corpus(file) = &r.source {
        out.push(format!("reproduced by corpus entry {}", file.display()));
    }
    out
}

/// The human lines of one case: `ok`/`MISSED`, the case and what happened, then for a miss
/// with a finding its details, and the case's corpus notes.
pub fn case_text(program: &str, r: &CaseResult) -> String {
    let mark = match (r.met, &r.skipped) {
        (_, Some(_)) => "skip  ",
        (true, None) => "ok    ",
        (false, None) => "MISSED",
    };
    let mut out = format!("{mark} {}: {}\n", r.id(), headline(r));
    if let (false, Some(f)) = (r.met, &r.finding) {
        for line in details(program, r, f) {
            out.push_str(&format!("       {line}\n"));
        }
    }
    for note in case_notes(r) {
        out.push_str(&format!("       note: {note}\n"));
    }
    out
}

fn case_notes(r: &CaseResult) -> Vec<String> {
    let c = &r.corpus;
    let mut notes: Vec<String> = warnings(r).map(|w| format!("warning: {w}")).collect();
    notes.extend(c.stale.iter().cloned());
    if c.replayed > 0 {
        notes.push(format!("corpus: {} replayed first, {} reproduced", c.replayed, c.reproduced));
    }
    if let Some(file) = &c.saved {
        notes.push(format!("schedule saved to the corpus as {}", file.display()));
    }
    if let Some(e) = &c.save_error {
        notes.push(format!("could not save the schedule to the corpus: {e}"));
    }
    notes
}

/// The warnings of a case's run, in words.
fn warnings(r: &CaseResult) -> impl Iterator<Item = String> + '_ {
    r.report.iter().flat_map(|report| &report.warnings).map(|w| {
        let denied = if w.denied { format!(" (denied: {})", w.kind.name()) } else { String::new() };
        format!("{}{denied}", w.message)
    })
}

/// The summary line, alone on its line: `N passed, M failed`, and `(K of them skipped)`
/// when a backend could not check some cases.
pub fn summary_line(results: &[CaseResult]) -> String {
    let (passed, failed) = lockhound::gate::tally(results);
    match lockhound::gate::skipped(results) {
        0 => format!("{passed} passed, {failed} failed"),
        skipped => format!("{passed} passed ({skipped} of them skipped), {failed} failed"),
    }
}

/// The text before the cases: what runs, and notes that belong to no case.
pub fn header_text(view: &GateView<'_>, cases: usize) -> String {
    let mut out = format!(
        "lockhound check: {cases} cases ({} config{}{})\n",
        view.config.unwrap_or("built-in"),
        view.shard.map(|s| format!(", shard {s}")).unwrap_or_default(),
        view.corpus.map(|c| format!(", corpus {c}")).unwrap_or_default(),
    );
    for note in view.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

/// The whole human report: header, one entry per case, the summary line.
pub fn text(view: &GateView<'_>) -> String {
    let mut out = header_text(view, view.results.len());
    for r in view.results {
        out.push_str(&case_text(view.program, r));
    }
    out.push_str(&summary_line(view.results));
    out.push('\n');
    out
}

/// The JSON document: every case with its expectation, outcome and finding.
pub fn json(view: &GateView<'_>) -> Value {
    let (passed, failed) = lockhound::gate::tally(view.results);
    let cases: Vec<Value> = view.results.iter().map(|r| case_json(view.program, r)).collect();
    json!({
        "passed": passed,
        "skipped": lockhound::gate::skipped(view.results),
        "failed": failed,
        "ok": failed == 0,
        "shard": view.shard,
        "config": view.config,
        "corpus": view.corpus,
        "notes": view.notes,
        "cases": cases,
    })
}

fn case_json(program: &str, r: &CaseResult) -> Value {
    let mut doc = json!({
        "scenario": r.scenario,
        "variant": r.variant,
        "backend": r.backend,
        "expect": expect_name(r.expect),
        "outcome": if r.finding.is_some() { "fail" } else { "pass" },
        "met": r.met,
        "executions": r.executions,
        "elapsed_ms": r.elapsed.as_millis() as u64,
        "exhaustive": r.exhaustive,
        "skipped": r.skipped,
        "coverage": r.report.as_ref().map(|report| &report.coverage),
        "coverage_text": r.report.as_ref().map(|report| crate::run::coverage(&report.coverage)),
        "warnings": r.report.as_ref().map_or(&[][..], |report| &report.warnings[..]),
        "source": match &r.source { Source::Explore => "explore", Source::Corpus(_) => "corpus" },
        "corpus": {
            "replayed": r.corpus.replayed,
            "reproduced": r.corpus.reproduced,
            "stale": r.corpus.stale,
            "saved": r.corpus.saved.as_ref().map(|p| p.display().to_string()),
        },
    });
    if let (Value::Object(map), Some(f)) = (&mut doc, &r.finding) {
        // A finding a corpus entry reproduced was found by the search that saved the entry:
        // its schedule names the strategy (null in an entry older than that field), and the
        // replay's own count is no search's.
        let (found_by, executions) = match &r.source {
            Source::Explore => (json!(f.backend), json!(f.executions)),
            Source::Corpus(_) => (json!(f.schedule.as_ref().and_then(Schedule::found_by)), Value::Null),
        };
        map.extend([
            ("kind".to_string(), json!(f.kind)),
            ("message".to_string(), json!(f.message)),
            ("location".to_string(), json!(f.location)),
            ("found_by".to_string(), found_by),
            ("executions_to_find".to_string(), executions),
            ("schedule".to_string(), json!(f.schedule)),
            ("preemptions".to_string(), json!(f.preemptions)),
            ("steps".to_string(), json!(f.steps)),
            ("replay_command".to_string(), json!(replay_command(program, r))),
        ]);
    }
    doc
}

/// JUnit XML: one test suite per scenario, one test case per variant and backend (named
/// `VARIANT [BACKEND]`, class `lockhound.SCENARIO`). A missed expectation is a `<failure>`
/// whose text carries the finding and its replay command.
pub fn junit(view: &GateView<'_>) -> String {
    let mut report = Report::new("lockhound check");
    let mut suites: Vec<TestSuite> = Vec::new();
    for r in view.results {
        let status = if let Some(why) = &r.skipped {
            let mut status = TestCaseStatus::skipped();
            status.set_message(why.clone());
            status
        } else if r.met {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(format!("{}: {}", r.id(), headline(r)));
            status.set_type(match &r.finding {
                Some(f) => f.kind.name(),
                None => "not-detected",
            });
            let mut text = vec![format!("{}: {}", r.id(), headline(r))];
            if let Some(f) = &r.finding {
                text.extend(details(view.program, r, f));
            } else {
                text.push(format!(
                    "the buggy variant must be found; rerun with a larger budget to tell a regression from a \
                     small budget: {} run {} --variant {} --backend {}",
                    view.program, r.scenario, r.variant, r.backend
                ));
            }
            status.set_description(text.join("\n"));
            status
        };
        let mut case = TestCase::new(format!("{} [{}]", r.variant, r.backend), status);
        case.set_classname(format!("lockhound.{}", r.scenario));
        case.set_time(r.elapsed);
        let mut notes = case_notes(r);
        if let Some(report) = &r.report {
            notes.insert(0, format!("covered: {}", crate::run::coverage(&report.coverage)));
        }
        if !notes.is_empty() {
            case.set_system_out(notes.join("\n"));
        }
        match suites.iter_mut().find(|s| s.name.as_str() == r.scenario.as_str()) {
            Some(suite) => {
                suite.add_test_case(case);
            }
            None => {
                let mut suite = TestSuite::new(r.scenario.clone());
                suite.add_test_case(case);
                suites.push(suite);
            }
        }
    }
    for suite in &mut suites {
        let time = view
            .results
            .iter()
            .filter(|r| r.scenario.as_str() == suite.name.as_str())
            .map(|r| r.elapsed)
            .sum();
        suite.set_time(time);
    }
    report.add_test_suites(suites);
    report.to_string().expect("quick-junit serializes to a String")
}

/// Reads JUnit XML back (for tests and tools that check a report): errors in one line.
pub fn parse_junit(xml: &str) -> Result<Report, String> {
    Report::deserialize_from_str(xml).map_err(|e| e.to_string().replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockhound::gate::CorpusReplay;
    use lockhound::Check;

    fn case(report: lockhound::RunReport) -> CaseResult {
        CaseResult {
            scenario: "s".into(),
            variant: "fixed".into(),
            backend: report.backend,
            expect: Expect::Pass,
            met: report.passed(),
            executions: report.executions,
            elapsed: report.elapsed,
            exhaustive: report.exhaustive,
            finding: report.finding.clone(),
            report: Some(report),
            source: Source::Explore,
            corpus: CorpusReplay::default(),
            skipped: None,
        }
    }

    fn view(results: &[CaseResult]) -> GateView<'_> {
        GateView { results, program: "lockhound", shard: None, config: None, corpus: None, notes: &[] }
    }

    fn lost_update() {
        use lockhound::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let n = std::sync::Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        let t = lockhound::thread::spawn(move || m.store(m.load(SeqCst) + 1, SeqCst));
        n.store(n.load(SeqCst) + 1, SeqCst);
        t.join().unwrap();
        assert_eq!(n.load(SeqCst), 2, "lost update");
    }

    #[test]
    fn a_finding_from_the_corpus_is_credited_to_the_strategy_its_schedule_names() {
        let found = Check::new().backend(lockhound::Backend::ShuttlePct).explore(lost_update);
        let schedule = found.finding.as_ref().and_then(|f| f.schedule.clone()).expect("a schedule");
        let body: lockhound::Body = std::sync::Arc::new(lost_update);
        let untagged: Schedule = schedule.to_string().replace(":shuttle:pct:", ":shuttle:").parse().unwrap();
        for (entry, found_by) in [(&schedule, json!("shuttle-pct")), (&untagged, Value::Null)] {
            let lockhound::ReplayOutcome::Failed(f) =
                lockhound::explore::replay(&body, entry, &Default::default())
            else {
                panic!("{entry} replays the failure")
            };
            let mut result = case(found.clone());
            result.finding = Some(f);
            result.report = None;
            result.source = Source::Corpus("s.fixed.auto.0.lhcorpus".into());
            let doc = json(&view(std::slice::from_ref(&result)));
            assert_eq!(doc["cases"][0]["found_by"], found_by, "{entry}: {doc}");
            assert_eq!(doc["cases"][0]["executions_to_find"], Value::Null, "{doc}");
        }
        // Found by exploring, the finding's own engine and count.
        let doc = json(&view(std::slice::from_ref(&case(found))));
        assert_eq!(doc["cases"][0]["found_by"], "shuttle-pct", "{doc}");
        assert!(doc["cases"][0]["executions_to_find"].as_u64().is_some_and(|n| n >= 1), "{doc}");
    }

    #[test]
    fn a_passing_case_says_what_it_covered_and_warns_when_nothing_was_explored() {
        let results = [case(Check::new().explore(|| {
            let m = lockhound::sync::Mutex::new(0);
            *m.lock().unwrap() += 1;
        }))];
        let out = text(&view(&results));
        assert!(out.contains("ok     s/fixed/auto: passed "), "{out}");
        assert!(out.contains(": proved "), "the headline carries the coverage: {out}");
        assert!(out.contains("note: warning: nothing concurrent was explored"), "{out}");
        let doc = json(&view(&results));
        assert!(doc["cases"][0]["coverage_text"].as_str().is_some_and(|c| c.starts_with("proved ")));
        assert_eq!(doc["cases"][0]["warnings"][0]["kind"], "no-concurrency");
        let xml = junit(&view(&results));
        let report = parse_junit(&xml).unwrap();
        let out = report.test_suites[0].test_cases[0]
            .system_out
            .as_ref()
            .map(|o| o.to_string())
            .unwrap_or_default();
        assert!(out.contains("covered: proved ") && out.contains("warning: nothing concurrent"), "{out}");
    }
}
