//! `lockhound`: parses the command line, calls the harness, prints what the reports render.

mod args;
mod commands;
mod output;

use clap::Parser;

/// Off unless LOCKHOUND_GUARD says otherwise (then one relaxed load per allocation):
/// `run --guard-pages` turns it on in the child process it starts.
#[global_allocator]
static ALLOC: lockhound::guard::GuardAlloc = lockhound::guard::GuardAlloc::from_env_lazy();
use std::process::ExitCode;

/// A command's failure: bad usage or input (exit 2), said in one line.
pub struct UsageError(pub String);

impl<T: std::fmt::Display> From<T> for UsageError {
    fn from(e: T) -> Self {
        UsageError(e.to_string())
    }
}

/// What a command reports back: whether it found something.
pub enum Outcome {
    Clean,
    Found,
}

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return output::clap_error(e),
    };
    let result = match cli.command {
        args::Command::List { json } => commands::list(json),
        args::Command::Run(a) => commands::run(a),
        args::Command::Replay(a) => commands::replay(a),
        args::Command::Track(a) => commands::track(a),
        args::Command::Check(a) => commands::check(a),
        args::Command::GuardChild(a) => commands::guard::child(a),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Found) => ExitCode::from(1),
        Err(UsageError(message)) => {
            eprintln!("lockhound: {message}");
            ExitCode::from(2)
        }
    }
}
