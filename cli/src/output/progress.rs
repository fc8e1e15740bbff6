//! The progress line a long command draws on a terminal's stderr (indicatif): never when
//! stderr is not a terminal, under `-q`, or with `--json` (whose stdout must stay one
//! document), so CI logs and pipes see only the results.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
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
