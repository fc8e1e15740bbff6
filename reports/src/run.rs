//! `lockhound run` and `lockhound replay`: results as text and as the JSON of the design's
//! command-line contract.

use crate::{executions, millis};
use lockhound::finding::{Coverage, Outcome};
use lockhound::{Finding, NoSchedule, RunReport, Schedule};
use serde_json::{json, Value};

/// A finished run and what the command line knows around it.
pub struct RunView<'a> {
    pub scenario: &'a str,
    pub variant: &'a str,
    pub report: &'a RunReport,
    /// The command that replays the finding, when it has a schedule.
    pub replay_command: Option<String>,
    /// The folder the report files were written to.
    pub out_dir: Option<String>,
}

/// A finished replay.
pub struct ReplayView<'a> {
    pub scenario: &'a str,
    pub variant: &'a str,
    pub schedule: &'a Schedule,
    /// The failure the schedule led to, or `None` when the body passed.
    pub finding: Option<&'a Finding>,
    /// The execution step by step, when asked for.
    pub trace: Option<&'a lockhound::trace::Trace>,
}

/// The human report of a run.
pub fn text(view: &RunView<'_>) -> String {
    let r = view.report;
    let mut out = String::new();
    let head = format!("{} ({})", view.scenario, view.variant);
    match &r.finding {
        None => {
            let verdict = if r.succeeded() { "pass" } else { "FAIL" };
            out.push_str(&format!(
                "{head}: {verdict} — {} in {} under {}\n",
                executions(r.executions),
                millis(r.elapsed),
                r.backend
            ));
            out.push_str(&format!("  covered: {}\n", coverage(&r.coverage)));
            for w in &r.warnings {
                let denied = if w.denied { format!(" (denied: {})", w.kind.name()) } else { String::new() };
                out.push_str(&format!("  warning: {}{denied}\n", w.message));
            }
        }
        Some(f) => {
            out.push_str(&format!(
                "{head}: FAIL — {} found by {} after {} in {}",
                f.kind.name(),
                f.backend,
                executions(f.executions),
                millis(r.search_elapsed)
            ));
            if r.attempts.len() > 1 {
                out.push_str(&format!(
                    " ({}: {} executions, {})",
                    r.backend,
                    r.executions,
                    millis(r.elapsed)
                ));
            }
            out.push('\n');
            for line in f.message.lines() {
                out.push_str(&format!("  {line}\n"));
            }
            if let Some(location) = &f.location {
                out.push_str(&format!("  at {location}\n"));
            }
            for limited in &r.coverage.limited {
                out.push_str(&format!("  {}\n", limited_text(limited)));
            }
            if let Some(schedule) = &f.schedule {
                let mut facts = Vec::new();
                if let Some(steps) = f.steps {
                    facts.push(format!("{steps} steps"));
                }
                if let Some(p) = f.preemptions {
                    facts.push(format!("{p} preemptions"));
                }
                if let (Some(shrink), Some(steps), Some(p)) = (&f.shrink, f.steps, f.preemptions) {
                    facts = vec![format!(
                        "minimized: {} -> {steps} steps, {} -> {p} preemptions",
                        shrink.steps_before, shrink.preemptions_before
                    )];
                }
                let facts = if facts.is_empty() { String::new() } else { format!(" ({})", facts.join(", ")) };
                out.push_str(&format!("  schedule{facts}: {schedule}\n"));
            }
            if let Some(trace) = &f.trace {
                out.push_str(&crate::trace::text(trace));
            }
            match &view.replay_command {
                Some(cmd) => out.push_str(&format!("  replay: {cmd}\n")),
                None if f.no_schedule() == Some(NoSchedule::Hung) => out.push_str(
                    "  replay: none (the stuck execution never ended, so it left no schedule to replay)\n",
                ),
                None => out.push_str(
                    "  replay: none (found on real threads); rerun with --backend auto for a replayable schedule\n",
                ),
            }
        }
    }
    if let Some(dir) = &view.out_dir {
        out.push_str(&format!("  report written to {dir}/\n"));
    }
    out
}

/// What a run covered, in one line: "proved within 2 preemptions (loom, 14,924 executions);
/// sampled 10,000 schedules (shuttle-pct d=3 5,000, shuttle-random 5,000); loom not
/// applicable: ...".
pub fn coverage(c: &Coverage) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &c.proof {
        let within = match p.preemption_bound {
            Some(1) => "within 1 preemption".to_string(),
            Some(b) => format!("within {b} preemptions"),
            None => "every schedule".to_string(),
        };
        parts.push(format!("proved {within} ({}, {} executions)", p.backend, count(p.executions)));
    }
    if !c.sampled.is_empty() {
        let by: Vec<String> =
            c.sampled.iter().map(|s| format!("{} {}", s.strategy, count(s.executions))).collect();
        let total = c.sampled_executions();
        let noun = if total == 1 { "schedule" } else { "schedules" };
        parts.push(format!("sampled {} {noun} ({})", count(total), by.join(", ")));
    }
    parts.extend(c.limited.iter().map(limited_text));
    if parts.is_empty() {
        "nothing was explored".to_string()
    } else {
        parts.join("; ")
    }
}

/// "loom not applicable: the body spawns 6 threads (main included); loom explores at most 5"
fn limited_text(l: &lockhound::finding::Limited) -> String {
    let outcome = match l.outcome {
        Outcome::NotApplicable => "not applicable",
        _ => "inconclusive",
    };
    format!("{} {outcome}: {}", l.backend, l.reason)
}

/// A count as people read it: `14,924` (as a trace writes its step numbers).
pub(crate) fn count(n: u64) -> String {
    lockhound::trace::text::grouped(n)
}

/// The run document: scenario, variant, backend, outcome, executions, elapsed_ms, search_ms,
/// exhaustive, coverage, warnings, and for a failure kind, message, schedule, preemptions,
/// steps and trace. `outcome` is "fail" for a finding and for a warning the run denied.
pub fn json(view: &RunView<'_>) -> Value {
    let r = view.report;
    let mut doc = json!({
        "scenario": view.scenario,
        "variant": view.variant,
        "backend": r.backend,
        "outcome": if r.succeeded() { "pass" } else { "fail" },
        "executions": r.executions,
        "elapsed_ms": r.elapsed.as_millis() as u64,
        // The exploration alone (no minimization, no trace), to the microsecond: most finds
        // take well under a millisecond.
        "search_ms": (r.search_elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "exhaustive": r.exhaustive,
        "preemption_bound": r.preemption_bound,
        "coverage": r.coverage,
        "coverage_text": coverage(&r.coverage),
        "concurrency": r.concurrency,
        "no_concurrency": r.warning(lockhound::finding::WarningKind::NoConcurrency).is_some(),
        "warnings": r.warnings,
        "attempts": r.attempts,
    });
    if let Some(f) = &r.finding {
        extend(&mut doc, finding_fields(f));
        extend(&mut doc, json!({ "replay_command": view.replay_command }));
    }
    doc
}

/// The fields a failure adds to a run or replay document.
fn finding_fields(f: &Finding) -> Value {
    json!({
        "kind": f.kind,
        "message": f.message,
        "location": f.location,
        "found_by": f.backend,
        "executions_to_find": f.executions,
        "elapsed_to_find_ms": f.elapsed.as_millis() as u64,
        "schedule": f.schedule,
        "preemptions": f.preemptions,
        "steps": f.steps,
        "minimized_from": f.shrink,
        "trace": f.trace.as_ref().map(crate::trace::json),
    })
}

fn extend(doc: &mut Value, more: Value) {
    if let (Value::Object(doc), Value::Object(more)) = (doc, more) {
        doc.extend(more);
    }
}

/// The human report of a replay.
pub fn replay_text(view: &ReplayView<'_>) -> String {
    let head = format!("{} ({})", view.scenario, view.variant);
    let trace = view.trace.map(crate::trace::text).unwrap_or_default();
    let verdict = match view.finding {
        None => format!("{head}: pass — the schedule ran to its end and nothing failed\n"),
        Some(f) => {
            let found_by = match found_by(view.schedule) {
                Some(strategy) => format!(" (found by {strategy})"),
                None => String::new(),
            };
            let mut out = format!(
                "{head}: FAIL — {} reproduced under {}{found_by}\n",
                f.kind.name(),
                view.schedule.engine()
            );
            for line in f.message.lines() {
                out.push_str(&format!("  {line}\n"));
            }
            if let Some(location) = &f.location {
                out.push_str(&format!("  at {location}\n"));
            }
            out
        }
    };
    format!("{verdict}{trace}")
}

/// The strategy that found the finding `schedule` replays, when the schedule says and it is
/// more than the engine's name (a loom path is loom's).
fn found_by(schedule: &Schedule) -> Option<lockhound::Backend> {
    schedule.found_by().filter(|b| b.name() != schedule.engine())
}

/// The replay document: scenario, variant, schedule, outcome, and the failure's fields.
pub fn replay_json(view: &ReplayView<'_>) -> Value {
    let mut doc = json!({
        "scenario": view.scenario,
        "variant": view.variant,
        "schedule": view.schedule,
        "outcome": if view.finding.is_some() { "fail" } else { "pass" },
    });
    if let Some(f) = view.finding {
        extend(&mut doc, finding_fields(f));
        // A replay searched nothing: it followed a schedule under the engine the schedule is
        // for. Who found the finding, and after how many executions, was the search's: the
        // schedule names the strategy (null in one from before strategies were recorded), and
        // the search's counts are not the replay's.
        if let Some(fields) = doc.as_object_mut() {
            fields.remove("executions_to_find");
            fields.remove("elapsed_to_find_ms");
            fields.insert("found_by".into(), json!(view.schedule.found_by()));
            fields.insert("replayed_by".into(), json!(view.schedule.engine()));
        }
    }
    if let Some(trace) = view.trace {
        extend(&mut doc, json!({ "trace": crate::trace::json(trace) }));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockhound::sync::{Arc, Mutex};
    use lockhound::{Backend, Check};

    fn view(report: &RunReport) -> RunView<'_> {
        RunView { scenario: "s", variant: "v", report, replay_command: None, out_dir: None }
    }

    fn no_threads() {
        let m = Mutex::new(1);
        *m.lock().unwrap() += 1;
    }

    fn two_threads() {
        let n = Arc::new(Mutex::new(0));
        let m = n.clone();
        let t = lockhound::thread::spawn(move || *m.lock().unwrap() += 1);
        *n.lock().unwrap() += 1;
        t.join().unwrap();
    }

    #[test]
    fn a_pass_says_what_it_covered_in_text_and_json() {
        let report = Check::new().explore(two_threads);
        let out = text(&view(&report));
        let covered = out.lines().find(|l| l.starts_with("  covered: ")).unwrap_or_else(|| panic!("{out}"));
        assert!(covered.contains("proved within 2 preemptions (loom, "), "{covered}");
        let doc = json(&view(&report));
        assert_eq!(doc["coverage"]["proof"]["backend"], "loom");
        assert_eq!(doc["coverage"]["proof"]["preemption_bound"], 2);
        assert_eq!(doc["coverage_text"].as_str(), covered.strip_prefix("  covered: "));
        assert_eq!(doc["no_concurrency"], false);
        assert!(doc["attempts"][0]["outcome"].as_str().is_some());
    }

    #[test]
    fn an_engine_that_cannot_run_the_body_is_named_with_its_reason() {
        let report = Check::new().backend(Backend::Loom).explore(|| {
            let threads: Vec<_> = (0..6).map(|_| lockhound::thread::spawn(|| ())).collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
        });
        let out = text(&view(&report));
        assert!(out.contains("loom not applicable: the body spawns at least 6 threads"), "{out}");
        let doc = json(&view(&report));
        assert_eq!(doc["attempts"][0]["outcome"], "not-applicable");
        assert_eq!(doc["attempts"][0]["limit"]["kind"], "loom-threads");
    }

    #[test]
    fn nothing_explored_is_a_warning_line_and_a_json_field_and_fails_when_denied() {
        let report = Check::new().explore(no_threads);
        let out = text(&view(&report));
        assert!(out.contains(": pass — "), "{out}");
        assert!(out.contains("  warning: nothing concurrent was explored"), "{out}");
        let doc = json(&view(&report));
        assert_eq!(doc["outcome"], "pass");
        assert_eq!(doc["no_concurrency"], true);
        assert_eq!(doc["warnings"][0]["kind"], "no-concurrency");

        let denied = Check::new().deny_no_concurrency().explore(no_threads);
        let out = text(&view(&denied));
        assert!(out.contains(": FAIL — ") && out.contains("(denied: no-concurrency)"), "{out}");
        assert_eq!(json(&view(&denied))["outcome"], "fail");
    }

    fn lost_update() {
        use lockhound::sync::atomic::{AtomicUsize, Ordering};
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        let t = lockhound::thread::spawn(move || m.store(m.load(Ordering::SeqCst) + 1, Ordering::SeqCst));
        n.store(n.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
        t.join().unwrap();
        assert!(n.load(Ordering::SeqCst) == 2, "lost update");
    }

    #[test]
    fn a_replay_names_the_strategy_its_schedule_records_and_nothing_false_without_one() {
        let found =
            |backend| Check::new().backend(backend).explore(lost_update).finding.unwrap().schedule.unwrap();
        let pct = found(Backend::ShuttlePct);
        let old: Schedule = pct.to_string().replace("lh1:shuttle:pct:", "lh1:shuttle:").parse().unwrap();
        let loom = found(Backend::Loom);
        let body: lockhound::Body = std::sync::Arc::new(lost_update);
        for (schedule, head, found_by) in [
            (
                &pct,
                "s (v): FAIL — panic reproduced under shuttle (found by shuttle-pct)",
                json!("shuttle-pct"),
            ),
            (&old, "s (v): FAIL — panic reproduced under shuttle", Value::Null),
            // Only loom writes a loom path: said in the JSON, not twice in the text.
            (&loom, "s (v): FAIL — panic reproduced under loom", json!("loom")),
        ] {
            let outcome = lockhound::explore::replay(&body, schedule, &Default::default());
            let lockhound::ReplayOutcome::Failed(f) = outcome else { panic!("{schedule}: {outcome:?}") };
            let view = ReplayView { scenario: "s", variant: "v", schedule, finding: Some(&f), trace: None };
            assert_eq!(replay_text(&view).lines().next(), Some(head));
            let doc = replay_json(&view);
            assert_eq!(doc["found_by"], found_by, "{doc}");
            assert_eq!(doc["replayed_by"], schedule.engine());
            assert_eq!(doc["schedule"], schedule.to_string(), "the schedule as given");
            // The search's counts: a replay has none.
            assert!(
                doc.get("executions_to_find").is_none() && doc.get("elapsed_to_find_ms").is_none(),
                "{doc}"
            );
        }
    }

    #[test]
    fn counts_read_in_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(14_924), "14,924");
        assert_eq!(count(1_000_000), "1,000,000");
    }
}
