//! `lockhound::check`: run a body under lockhound's engines from a user's own `cargo test`.

use crate::backend::{Backend, RunConfig};
use crate::explore::{self, Body, ReplayOutcome};
use crate::finding::{Finding, RunReport};
use crate::limits;
use crate::schedule::Schedule;
use std::sync::Arc;
use std::time::Duration;

/// Explores `body` with the backend and budget of the environment (see [`Check::from_env`])
/// and panics with the finding, and how to replay it, if anything fails. A body in which no
/// two threads could ever run at once passes with a warning on stderr (which the test
/// harness shows with the test's output), or fails if told to deny it
/// ([`Check::deny_no_concurrency`], `LOCKHOUND_DENY=no-concurrency`).
///
/// ```
/// use lockhound::sync::{Arc, Mutex};
/// lockhound::check(|| {
///     let counter = Arc::new(Mutex::new(0));
///     let c = counter.clone();
///     let t = lockhound::thread::spawn(move || *c.lock().unwrap() += 1);
///     *counter.lock().unwrap() += 1;
///     t.join().unwrap();
///     assert_eq!(*counter.lock().unwrap(), 2);
/// });
/// ```
#[track_caller]
pub fn check<F: Fn() + Send + Sync + 'static>(body: F) {
    Check::from_env().run(body);
}

/// A configured check. Environment variables, read by [`Check::from_env`]:
/// `LOCKHOUND_BACKEND` (auto, loom, shuttle-random, shuttle-pct, shuttle-dfs, stress),
/// `LOCKHOUND_ITERATIONS`, `LOCKHOUND_TIME_LIMIT` (seconds), `LOCKHOUND_SEED`,
/// `LOCKHOUND_PREEMPTION_BOUND` (a number, or `none`), `LOCKHOUND_JOBS` (threads exploring
/// at once; 1 by default, since test harnesses already run tests in parallel),
/// `LOCKHOUND_DENY` (`no-concurrency`: fail a body that never ran two threads at once), and
/// `LOCKHOUND_REPLAY` (a schedule printed by an earlier failure, replayed instead of
/// exploring).
#[derive(Clone, Debug, Default)]
pub struct Check {
    pub config: RunConfig,
    pub replay: Option<Schedule>,
}

impl Check {
    /// The defaults: `auto`, 10,000 executions, 30 seconds, seed 0.
    pub fn new() -> Self {
        Check::default()
    }

    /// The defaults overridden by the `LOCKHOUND_*` environment. Panics, naming the variable,
    /// on a value it cannot read: a typo must not silently weaken a test.
    #[track_caller]
    pub fn from_env() -> Self {
        match Check::try_from_env(|k| std::env::var(k).ok()) {
            Ok(check) => check,
            Err(e) => panic!("lockhound::check: {e}"),
        }
    }

    /// [`Check::from_env`] over any source of variables, reporting instead of panicking.
    pub fn try_from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut check = Check::new();
        let parse = |key: &str| var(key).map(|v| (key.to_string(), v.trim().to_string()));
        if let Some((_, v)) = parse("LOCKHOUND_BACKEND") {
            check.config.backend = v.parse().map_err(|e| format!("LOCKHOUND_BACKEND: {e}"))?;
        }
        if let Some((k, v)) = parse("LOCKHOUND_ITERATIONS") {
            check.config.budget.executions = limits::count(&v).map_err(|e| format!("{k}: {e}"))?;
        }
        if let Some((k, v)) = parse("LOCKHOUND_TIME_LIMIT") {
            check.config.budget.time = limits::seconds(&v).map_err(|e| format!("{k}: {e}"))?;
        }
        if let Some((k, v)) = parse("LOCKHOUND_SEED") {
            check.config.seed = limits::seed(&v).map_err(|e| format!("{k}: {e}"))?;
        }
        if let Some((k, v)) = parse("LOCKHOUND_PREEMPTION_BOUND") {
            check.config.loom.preemption_bound =
                limits::preemption_bound(&v).map_err(|e| format!("{k}: {e}"))?;
        }
        if let Some((k, v)) = parse("LOCKHOUND_JOBS") {
            check.config.jobs = limits::jobs(&v).map_err(|e| format!("{k}: {e}"))?;
        }
        if let Some((k, v)) = parse("LOCKHOUND_DENY") {
            for warning in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                match warning {
                    "no-concurrency" => check.config.deny_no_concurrency = true,
                    other => {
                        return Err(format!("{k}: '{other}' is not a warning (expected no-concurrency)"))
                    }
                }
            }
        }
        if let Some((k, v)) = parse("LOCKHOUND_REPLAY") {
            check.replay = Some(v.parse().map_err(|e| format!("{k}: {e}"))?);
        }
        Ok(check)
    }

    pub fn backend(mut self, backend: Backend) -> Self {
        self.config.backend = backend;
        self
    }

    pub fn iterations(mut self, executions: u64) -> Self {
        self.config.budget.executions = executions;
        self
    }

    pub fn time_limit(mut self, time: Duration) -> Self {
        self.config.budget.time = time;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    pub fn preemption_bound(mut self, bound: Option<usize>) -> Self {
        self.config.loom.preemption_bound = bound;
        self
    }

    /// Threads exploring at once (1 to `limits::MAX_JOBS`). The outcome depends on the seed
    /// and the job count, never on how the threads happen to be scheduled, unless the time
    /// limit ends the run.
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.config.jobs = jobs.max(1);
        self
    }

    /// Fails a body in which no execution ever had two threads that could run at once: its
    /// test explored nothing concurrent, and passes only because every schedule is the same.
    pub fn deny_no_concurrency(mut self) -> Self {
        self.config.deny_no_concurrency = true;
        self
    }

    /// Explores (or replays) and returns the report without panicking.
    pub fn explore<F: Fn() + Send + Sync + 'static>(&self, body: F) -> RunReport {
        let body: Body = Arc::new(body);
        explore::run(&body, &self.config)
    }

    /// Explores, or replays `LOCKHOUND_REPLAY`, and panics with the finding if anything fails,
    /// or with a warning the check was told to deny. Other warnings go to stderr: this is the
    /// one place the harness writes anything, since a test's author sees nothing else, and the
    /// test harness captures it with the test's output.
    #[track_caller]
    pub fn run<F: Fn() + Send + Sync + 'static>(&self, body: F) {
        let body: Body = Arc::new(body);
        if let Some(schedule) = &self.replay {
            match explore::replay_traced(&body, schedule, &self.config) {
                (ReplayOutcome::Failed(mut finding), trace) => {
                    if finding.trace.is_none() && !trace.events.is_empty() {
                        finding.trace = Some(trace);
                    }
                    panic!("{}", describe(&finding, Some(schedule)))
                }
                (ReplayOutcome::Passed, _) => {}
                (ReplayOutcome::NotApplicable(why), _) => panic!("lockhound: LOCKHOUND_REPLAY {why}"),
            }
            return;
        }
        let report = explore::run(&body, &self.config);
        if let Some(finding) = &report.finding {
            panic!("{}", describe(finding, None));
        }
        for warning in &report.warnings {
            if warning.denied {
                panic!("lockhound: {} (denied: {})", warning.message, warning.kind.name());
            }
            eprintln!("lockhound: warning: {}", warning.message);
        }
    }
}

/// The panic message of a failed check: what failed, where, the failing execution's trace and
/// how to replay it; for a replay of `replayed`, the engine that followed it and, if the
/// schedule says, the strategy that found it (the replay itself ran no strategy and searched
/// nothing).
fn describe(f: &Finding, replayed: Option<&Schedule>) -> String {
    let mut text = match replayed {
        Some(schedule) => {
            let found_by = match schedule.found_by().filter(|b| b.name() != schedule.engine()) {
                Some(strategy) => format!(" (found by {strategy})"),
                None => String::new(),
            };
            format!(
                "lockhound found a {} replaying LOCKHOUND_REPLAY under {}{found_by}: {}",
                f.kind.name(),
                schedule.engine(),
                f.message
            )
        }
        None => format!(
            "lockhound found a {} under {} after {} execution{} ({} ms): {}",
            f.kind.name(),
            f.backend,
            f.executions,
            if f.executions == 1 { "" } else { "s" },
            f.elapsed.as_millis(),
            f.message
        ),
    };
    if let Some(location) = &f.location {
        text.push_str(&format!("\n  at {location}"));
    }
    // The story of the failing execution, as the command line shows it; the replay line
    // comes last, where it is easy to copy.
    if let Some(trace) = f.trace.as_ref().filter(|t| !t.events.is_empty()) {
        text.push_str("\n  trace:\n");
        text.push_str(crate::trace::text::text(trace).trim_end());
    }
    match &f.schedule {
        Some(s) => text.push_str(&format!("\n  replay: LOCKHOUND_REPLAY='{s}' cargo test {}", this_test())),
        None if f.no_schedule() == Some(crate::NoSchedule::Hung) => {
            text.push_str("\n  no replay: the stuck execution never ended, so it left no schedule to replay")
        }
        None => text.push_str(
            "\n  found on real threads: rerun, or use a model-checking backend to get a replayable schedule",
        ),
    }
    text
}

/// The test that runs the check, as `cargo test` selects it: libtest runs each test on a thread
/// named after the test's path (`tests::transfer`). Outside libtest (a `main` thread, a thread
/// without a name), a placeholder says what to put there.
fn this_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => format!("{name} -- --exact"),
        _ => "<this test>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::atomic::{AtomicUsize, Ordering};

    fn lost_update() {
        let n = crate::sync::Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        let t = crate::thread::spawn(move || m.store(m.load(Ordering::SeqCst) + 1, Ordering::SeqCst));
        n.store(n.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
        t.join().unwrap();
        assert!(n.load(Ordering::SeqCst) == 2, "lost update");
    }

    /// The first line of the check's panic, and the schedule its replay line prints.
    fn failure(check: &Check) -> (String, String) {
        let payload = std::panic::catch_unwind(|| check.run(lost_update)).expect_err("the check fails");
        let message = *payload.downcast::<String>().unwrap();
        let head = message.lines().next().unwrap_or_default().to_string();
        let schedule = message.split("LOCKHOUND_REPLAY='").nth(1).and_then(|s| s.split('\'').next());
        (head, schedule.unwrap_or_else(|| panic!("no replay line: {message}")).to_string())
    }

    #[test]
    fn a_replay_says_which_strategy_found_its_schedule_and_prints_the_schedule_it_was_given() {
        for backend in [Backend::ShuttlePct, Backend::ShuttleRandom] {
            let (head, printed) = failure(&Check::new().backend(backend));
            assert!(head.starts_with(&format!("lockhound found a panic under {backend} after ")), "{head}");
            let schedule: Schedule = printed.parse().unwrap();
            assert_eq!(schedule.found_by(), Some(backend), "{printed}");

            let replay = Check { replay: Some(schedule), ..Check::new() };
            let (head, again) = failure(&replay);
            let expected = "lockhound found a panic replaying LOCKHOUND_REPLAY under shuttle";
            assert_eq!(head, format!("{expected} (found by {backend}): lost update"));
            assert_eq!(again, printed);
        }
    }

    /// The whole panic message of a check that must fail.
    fn message(check: &Check, body: fn()) -> String {
        let payload = std::panic::catch_unwind(|| check.run(body)).expect_err("the check fails");
        *payload.downcast::<String>().unwrap()
    }

    /// The trace part of a check's message: from its `trace:` line to the replay line, which
    /// must come after it.
    fn trace_part(message: &str) -> &str {
        let start = message.find("\n  trace:\n").unwrap_or_else(|| panic!("no trace in: {message}"));
        let end = message.find("\n  replay: ").unwrap_or_else(|| panic!("no replay line in: {message}"));
        assert!(start < end, "the replay line comes last: {message}");
        &message[start..end]
    }

    #[test]
    fn a_failure_shows_the_trace_of_the_failing_execution_under_every_engine() {
        for backend in [Backend::Loom, Backend::ShuttlePct, Backend::ShuttleRandom] {
            let message = message(&Check::new().backend(backend), lost_update);
            let trace = trace_part(&message);
            let header = trace.lines().nth(2).unwrap_or_default();
            assert!(header.starts_with("   step | t0 ") && header.contains(" | t1 "), "{backend}: {message}");
            // Both threads' read-modify-writes, with the values they saw and wrote: the two
            // loads read 0, which is the lost update.
            assert_eq!(trace.matches("load AtomicUsize").count(), 3, "{backend}: {message}");
            assert_eq!(trace.matches("store AtomicUsize").count(), 2, "{backend}: {message}");
            assert_eq!(trace.matches("0x00").count(), 2, "{backend}: {message}");
            assert!(trace.contains("FAIL   t0: lost update"), "{backend}: {message}");
        }
    }

    fn abba() {
        let a = crate::sync::Arc::new(crate::sync::Mutex::named("a", ()));
        let b = crate::sync::Arc::new(crate::sync::Mutex::named("b", ()));
        let (a2, b2) = (a.clone(), b.clone());
        let t = crate::thread::spawn(move || {
            let _a = a2.lock().unwrap();
            let _b = b2.lock().unwrap();
        });
        {
            let _b = b.lock().unwrap();
            let _a = a.lock().unwrap();
        }
        t.join().unwrap();
    }

    #[test]
    fn a_deadlock_shows_the_lock_attempts_that_never_returned() {
        for backend in [Backend::Loom, Backend::ShuttlePct] {
            let message = message(&Check::new().backend(backend), abba);
            assert!(message.starts_with(&format!("lockhound found a deadlock under {backend}")), "{message}");
            let trace = trace_part(&message);
            assert!(trace.contains("lock a (blocked)"), "{backend}: {message}");
            assert!(trace.contains("lock b (blocked)"), "{backend}: {message}");
            assert!(trace.contains("FAIL   t0, t1 blocked"), "{backend}: {message}");
        }
    }

    #[test]
    fn a_replayed_failure_shows_its_trace_too() {
        let (_, printed) = failure(&Check::new().backend(Backend::ShuttlePct));
        let replay = Check { replay: Some(printed.parse().unwrap()), ..Check::new() };
        let message = message(&replay, lost_update);
        assert!(trace_part(&message).contains("FAIL   t0: lost update"), "{message}");
    }

    #[test]
    fn a_replay_of_a_schedule_that_names_no_strategy_names_none() {
        let (_, printed) = failure(&Check::new().backend(Backend::ShuttlePct));
        let old = printed.replace("lh1:shuttle:pct:", "lh1:shuttle:");
        let replay = Check { replay: Some(old.parse().unwrap()), ..Check::new() };
        let (head, again) = failure(&replay);
        assert_eq!(head, "lockhound found a panic replaying LOCKHOUND_REPLAY under shuttle: lost update");
        assert_eq!(again, old);
    }
}
