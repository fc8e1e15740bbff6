//! One function per subcommand: resolve the arguments, call the harness, print the report.

pub mod check;
pub mod guard;
mod list;
mod replay;
mod run;
mod track;

use crate::args::{self, Command};
use crate::output::{self, ReportDir};
use crate::target::Target;
use crate::{Outcome, UsageError};
use clap::Parser;
use lockhound::scenario::{Scenario, Variant};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The scenarios a lockhound binary knows, checked once: names a command line can carry and a
/// gate case id can hold, no two scenarios or variants of one scenario alike.
pub struct Catalog {
    scenarios: Vec<Scenario>,
}

impl Catalog {
    pub fn new(scenarios: Vec<Scenario>) -> Result<Catalog, UsageError> {
        for (i, s) in scenarios.iter().enumerate() {
            check_name("scenario", &s.name)?;
            if scenarios[..i].iter().any(|earlier| earlier.name == s.name) {
                return Err(UsageError(format!("two scenarios are called '{}'", s.name)));
            }
            if s.variants().is_empty() {
                return Err(UsageError(format!(
                    "scenario '{}' has no variant: give it a body (`.body(..)`) or variants (`.must_pass(..)`, `.must_fail(..)`)",
                    s.name
                )));
            }
            for v in s.variants() {
                check_name(&format!("scenario '{}': variant", s.name), &v.name)?;
            }
        }
        Ok(Catalog { scenarios })
    }

    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// The scenario called `name`, or an error that lists the ones there are.
    pub fn scenario(&self, name: &str) -> Result<&Scenario, UsageError> {
        self.scenarios.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.scenarios.iter().map(|s| s.name.as_ref()).collect();
            UsageError(format!("unknown scenario '{}' (known: {})", output::shown(name), names.join(", ")))
        })
    }
}

/// Scenario and variant names travel on command lines, in file names and in test ids
/// (`scenario/variant/backend`): letters, digits, `-`, `_` and `.`, not starting with `-`.
fn check_name(what: &str, name: &str) -> Result<(), UsageError> {
    let fits = !name.is_empty()
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if fits {
        Ok(())
    } else {
        Err(UsageError(format!(
            "{what} name '{}' cannot be used: names are letters, digits, '-', '_' and '.', not starting with '-'",
            output::shown(name)
        )))
    }
}

/// The variant called `name` of `scenario`, or an error that lists its variants.
pub fn variant<'a>(scenario: &'a Scenario, name: &str) -> Result<&'a Variant, UsageError> {
    scenario.variant(name).ok_or_else(|| {
        let names: Vec<&str> = scenario.variants().iter().map(|v| v.name.as_ref()).collect();
        UsageError(format!(
            "scenario '{}' has no variant '{}' (it has: {})",
            scenario.name,
            output::shown(name),
            names.join(", ")
        ))
    })
}

/// The variant called `name`, or every variant of `scenario` when no name is given.
pub fn variants<'a>(scenario: &'a Scenario, name: Option<&str>) -> Result<Vec<&'a Variant>, UsageError> {
    match name {
        Some(name) => Ok(vec![variant(scenario, name)?]),
        None => Ok(scenario.variants().iter().collect()),
    }
}

/// Where a variant's files go inside a report folder: the folder itself, or a folder per
/// variant when several variants share one `--out`.
pub fn variant_sub_dir(variants: usize, variant: &str) -> PathBuf {
    if variants > 1 {
        PathBuf::from(variant)
    } else {
        PathBuf::new()
    }
}

/// Writes a command's report folder once everything is known. A report that cannot be written
/// is said on stderr after the output was printed; the exit status stays 1 when something was
/// found (the finding is what matters), and is 2 otherwise.
pub fn write_report(
    out: &ReportDir,
    files: &[(PathBuf, Vec<u8>)],
    outcome: Outcome,
) -> Result<(), UsageError> {
    match out.write(files) {
        Ok(()) => Ok(()),
        Err(e) => {
            let message = format!("cannot write the report to {}: {e}", out.path().display());
            match outcome {
                Outcome::Found => {
                    let _ = writeln!(std::io::stderr(), "lockhound: {message}");
                    Ok(())
                }
                Outcome::Clean => Err(UsageError(message)),
            }
        }
    }
}

/// What a command needs besides its arguments: the scenarios and how to name this binary.
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub target: &'a Target,
    /// How to invoke this binary in printed commands.
    pub program: String,
    /// `-v`/`-q`: whether a progress line may be drawn.
    pub verbosity: crate::logging::Verbosity,
}

/// `completions SHELL`: clap's completion script for this command line.
fn completions(shell: clap_complete::Shell) -> Result<Outcome, UsageError> {
    let mut command = <args::Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "lockhound", &mut script);
    output::print(&String::from_utf8_lossy(&script));
    Ok(Outcome::Clean)
}

/// Parses `args` as a lockhound command line and runs the command.
pub fn run(catalog: &Catalog, target: &Target, args: Vec<OsString>) -> ExitCode {
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return output::clap_error(e),
    };
    let verbosity = crate::logging::Verbosity { verbose: cli.verbose, quiet: cli.quiet };
    crate::logging::init(verbosity);
    let cx = Context { catalog, target, program: target.program(), verbosity };
    let result = match cli.command {
        Command::List { json } => list::list(&cx, json),
        Command::Run(a) => run::run(&cx, a),
        Command::Replay(a) => replay::replay(&cx, a),
        Command::Track(a) => track::track(&cx, a),
        Command::Check(a) => check::check(&cx, a),
        Command::Completions { shell } => completions(shell),
        Command::GuardChild(a) => guard::child(&cx, a),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Found) => ExitCode::from(1),
        Err(UsageError(message)) => output::usage_error(&message),
    }
}
