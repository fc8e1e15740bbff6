//! What lockhound says on stderr besides its results: the harness's `tracing` events at its
//! decision points (portfolio members, lanes, minimization), filtered by `-v`/`-q` or
//! `LOCKHOUND_LOG` (tracing-subscriber's `EnvFilter` syntax, like `RUST_LOG`), and whether a
//! progress line may be drawn.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The environment variable that sets the log filter (`LOCKHOUND_LOG=lockhound=debug`).
pub const LOG_ENV: &str = "LOCKHOUND_LOG";

/// How chatty the command line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verbosity {
    /// `-v` count.
    pub verbose: u8,
    pub quiet: bool,
}

impl Verbosity {
    /// Whether a progress line may be drawn: stderr is a terminal and nobody asked for quiet.
    pub fn progress(self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }
}

/// Installs the stderr log for this process. Without `-v` and `LOCKHOUND_LOG`, only warnings
/// of lockhound itself are shown; `-q` shows only errors. The engines' own log records (loom's
/// `generator` logs an error for every panic in a simulated thread) are off unless
/// `LOCKHOUND_LOG` asks for them: lockhound reports those failures itself.
pub fn init(v: Verbosity) {
    let default = match (v.quiet, v.verbose) {
        (true, _) => "lockhound=error,lockhound_cli=error",
        (false, 0) => "lockhound=warn,lockhound_cli=warn",
        (false, 1) => "lockhound=info,lockhound_cli=info",
        (false, 2) => "lockhound=debug,lockhound_cli=debug",
        (false, _) => "lockhound=trace,lockhound_cli=trace",
    };
    let filter = match std::env::var(LOG_ENV) {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(directives.trim())
            .unwrap_or_else(|e| {
                eprintln!("lockhound: {LOG_ENV}: {e}; using '{default}'");
                EnvFilter::new(default)
            }),
        _ => EnvFilter::new(default),
    };
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // A second call (a test calling the library twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .try_init();
}
