//! The progress line a long command draws on a terminal's stderr (indicatif): never when
//! stderr is not a terminal, under `-q`, or with `--json` (whose stdout must stay one
//! document), so CI logs and pipes see only the results.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A progress line, or nothing when none may be drawn.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total` steps (`unit` names them), drawn only if `shown`.
    pub fn bar(shown: bool, total: u64, unit: &str) -> Progress {
        if !shown {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template =
            format!("{{spinner}} {{pos}}/{{len}} {unit} [{{elapsed_precise}}, about {{eta}} left] {{msg}}");
        bar.set_style(
            ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    /// Prints `text` on stdout without tearing the line.
    pub fn print(&self, text: &str) {
        match &self.0 {
            Some(bar) => bar.suspend(|| super::print(text)),
            None => super::print(text),
        }
    }

    /// One more step done; `message` says what.
    pub fn step(&self, message: &str) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
            bar.set_message(message.to_string());
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// The progress line of one exploration (`run`, `track`): executions so far, their rate and
/// the time taken, against the run's budgets, updated a few times a second by a thread of its
/// own from [`lockhound::progress::ExecutionCounter`]. Nothing is drawn unless `shown`.
pub struct ExplorationProgress {
    bar: ProgressBar,
    ticker: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl ExplorationProgress {
    /// A line for `what` (`rwlock-timeout (buggy)`), with at most `executions` executions in
    /// at most `time`.
    pub fn start(shown: bool, what: &str, executions: u64, time: Duration) -> ExplorationProgress {
        if !shown {
            return ExplorationProgress { bar: ProgressBar::hidden(), ticker: None };
        }
        let bar = ProgressBar::with_draw_target(Some(executions), ProgressDrawTarget::stderr());
        let template = format!(
            "{{spinner}} {{prefix}}: {{pos}} executions ({{msg}}) [{{elapsed_precise}} of at most {} s]",
            time.as_secs()
        );
        bar.set_style(
            ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        // The name goes in as data, not into the template, where a brace would be markup.
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        let stop = Arc::new(AtomicBool::new(false));
        let counter = lockhound::progress::ExecutionCounter::start();
        let ticker = {
            let (bar, stop) = (bar.clone(), stop.clone());
            std::thread::Builder::new().name("lockhound-progress".into()).spawn(move || {
                let started = std::time::Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let executions = counter.executions();
                    bar.set_position(executions);
                    let seconds = started.elapsed().as_secs_f64().max(0.001);
                    bar.set_message(format!("{:.0}/s", executions as f64 / seconds));
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        // Without its thread the line would stand still: better none than a wrong one.
        match ticker {
            Ok(ticker) => ExplorationProgress { bar, ticker: Some((stop, ticker)) },
            Err(_) => ExplorationProgress { bar: ProgressBar::hidden(), ticker: None },
        }
    }
}

impl Drop for ExplorationProgress {
    /// Removes the line before anything else is printed.
    fn drop(&mut self) {
        if let Some((stop, ticker)) = self.ticker.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = ticker.join();
        }
        self.bar.finish_and_clear();
    }
}
