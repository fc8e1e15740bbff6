//! `cargo lockhound`: lockhound over every lockhound target of a workspace.
//!
//! A lockhound target is a test target of a workspace member that depends on `lockhound-cli`
//! and is called `lockhound`, or is named in the package's metadata:
//!
//! ```toml
//! [package.metadata.lockhound]
//! targets = ["concurrency"]
//! ```
//!
//! `cargo lockhound [-p PACKAGE] [--release] COMMAND [ARGS]` finds them (`cargo metadata`),
//! builds them (`cargo test --no-run`), and runs the command on them: `list` on every target,
//! `run`/`replay`/`track` on the target that has the scenario, `check` on every target with
//! one merged JUnit document, and `miri`, the miri suite of every target. The commands the
//! targets print (replays) go back through `cargo lockhound`.

use crate::output;
use crate::target::PROGRAM_ENV;
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "\
cargo lockhound: run lockhound on the workspace's lockhound targets

Usage: cargo lockhound [OPTIONS] COMMAND [ARGS]

Commands (forwarded to the targets; `cargo lockhound COMMAND --help` shows their options):
  list      every target's scenarios
  run       explore a scenario (on the target that has it)
  replay    replay a schedule
  track     run a scenario with the lock-holder tracker
  check     the gate of every target; --junit FILE writes one document for the workspace
  miri      each target's variants once on real threads under miri (cargo +nightly miri)

Options:
  -p, --package NAME     only this package's targets
      --release          build the targets with the release profile
      --manifest-path P  the workspace's Cargo.toml
  -h, --help             this text

A lockhound target is a test target (harness = false) that depends on lockhound-cli and is
called `lockhound`, or is listed in [package.metadata.lockhound] targets = [..].
Exit status: 0 nothing found, 1 a finding (or a missed expectation), 2 bad usage or input.";

/// The `cargo-lockhound` binary's `main`.
pub fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Run as `cargo lockhound ...`, cargo passes the subcommand's name first.
    if args.first().is_some_and(|a| a == "lockhound") {
        args.remove(0);
    }
    match run(args) {
        Ok(code) => code,
        Err(message) => output::usage_error(&message),
    }
}

/// `cargo lockhound`'s own options, before the command.
#[derive(Default)]
struct Options {
    package: Option<String>,
    release: bool,
    manifest_path: Option<PathBuf>,
}

fn run(args: Vec<OsString>) -> Result<ExitCode, String> {
    let mut options = Options::default();
    let mut rest = args.into_iter();
    let command = loop {
        let Some(arg) = rest.next() else {
            output::print(&format!("{USAGE}\n"));
            return Ok(ExitCode::from(2));
        };
        match arg.to_str() {
            Some("-h" | "--help" | "help") => {
                output::print(&format!("{USAGE}\n"));
                return Ok(ExitCode::SUCCESS);
            }
            Some("-p" | "--package") => options.package = Some(string(rest.next(), "--package")?),
            Some("--release") => options.release = true,
            Some("--manifest-path") => {
                options.manifest_path = Some(string(rest.next(), "--manifest-path")?.into())
            }
            Some(flag) if flag.starts_with('-') => {
                return Err(format!("unknown option '{}' (see cargo lockhound --help)", output::shown(flag)))
            }
            Some(command) => break command.to_string(),
            None => return Err("arguments must be valid UTF-8".to_string()),
        }
    };
    let args: Vec<OsString> = rest.collect();
    let targets = discover(&options)?;
    if targets.is_empty() {
        return Err(match &options.package {
            Some(p) => {
                format!("package '{}' has no lockhound target (see cargo lockhound --help)", output::shown(p))
            }
            None => "no lockhound target in this workspace: add a test target `lockhound` (harness = false) \
                     that depends on lockhound-cli (see cargo lockhound --help)"
                .to_string(),
        });
    }
    if command == "miri" {
        return miri(&options, &targets, &args);
    }
    let built = build(&options, &targets)?;
    let several = built.len() > 1;
    match command.as_str() {
        "list" => list(&built, &args),
        "check" => check(&built, &args, several),
        "run" | "replay" | "track" => {
            let wants_help = args.iter().any(|a| a == "--help" || a == "-h");
            let target = if wants_help { &built[0] } else { owner(&built, &args)? };
            Ok(forward(target, &command, &args, several)?.0)
        }
        other => Err(format!(
            "unknown command '{}' (expected list, run, replay, track, check or miri)",
            output::shown(other)
        )),
    }
}

fn string(value: Option<OsString>, flag: &str) -> Result<String, String> {
    value.and_then(|v| v.into_string().ok()).ok_or_else(|| format!("{flag} needs a value"))
}

/// A lockhound target of the workspace.
#[derive(Clone, Debug)]
struct Target {
    package: String,
    name: String,
    manifest_dir: PathBuf,
}

/// A target built, with its executable.
#[derive(Clone, Debug)]
struct Built {
    target: Target,
    exe: PathBuf,
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Nightly cargo, for miri. Run as a cargo subcommand, `CARGO` is the toolchain's own cargo,
/// which does not take `+nightly`: rustup picks the toolchain instead.
fn nightly_cargo() -> Command {
    let mut command = Command::new("rustup");
    command.args(["run", "nightly", "cargo"]);
    command
}

/// The workspace's lockhound targets, from `cargo metadata`.
fn discover(options: &Options) -> Result<Vec<Target>, String> {
    let mut command = cargo();
    command.args(["metadata", "--format-version", "1", "--no-deps"]);
    if let Some(path) = &options.manifest_path {
        command.arg("--manifest-path").arg(path);
    }
    let out =
        command.stderr(Stdio::inherit()).output().map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err("cargo metadata failed (see above)".to_string());
    }
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    Ok(targets_of(&doc, options.package.as_deref()))
}

/// The lockhound targets a `cargo metadata` document lists (of `package` alone, if given).
fn targets_of(doc: &Value, package: Option<&str>) -> Vec<Target> {
    let members: Vec<&str> =
        doc["workspace_members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut targets = Vec::new();
    for p in doc["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default();
        if !members.contains(&p["id"].as_str().unwrap_or_default())
            || package.is_some_and(|want| want != name)
        {
            continue;
        }
        let uses_cli =
            p["dependencies"].as_array().into_iter().flatten().any(|d| d["name"] == "lockhound-cli");
        let listed: Vec<&str> = p["metadata"]["lockhound"]["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let manifest_dir = Path::new(p["manifest_path"].as_str().unwrap_or_default())
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        for t in p["targets"].as_array().into_iter().flatten() {
            let target = t["name"].as_str().unwrap_or_default();
            let is_test = t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "test"));
            if is_test && ((uses_cli && target == "lockhound") || listed.contains(&target)) {
                targets.push(Target {
                    package: name.to_string(),
                    name: target.to_string(),
                    manifest_dir: manifest_dir.clone(),
                });
            }
        }
    }
    targets
}

/// Builds every target with one `cargo test --no-run` and finds their executables.
fn build(options: &Options, targets: &[Target]) -> Result<Vec<Built>, String> {
    let mut command = cargo();
    command.args(["test", "--no-run", "--message-format=json-render-diagnostics"]);
    if options.release {
        command.arg("--release");
    }
    if let Some(path) = &options.manifest_path {
        command.arg("--manifest-path").arg(path);
    }
    for t in targets {
        command.args(["-p", &t.package, "--test", &t.name]);
    }
    let out = command.stderr(Stdio::inherit()).output().map_err(|e| format!("cannot run cargo test: {e}"))?;
    if !out.status.success() {
        return Err("building the lockhound targets failed (see above)".to_string());
    }
    let mut built = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else { continue };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(exe), Some(name)) = (msg["executable"].as_str(), msg["target"]["name"].as_str()) else {
            continue;
        };
        let manifest_dir =
            msg["manifest_path"].as_str().map(|m| Path::new(m).parent().unwrap_or(Path::new(".")));
        let found =
            targets.iter().find(|t| t.name == name && manifest_dir.is_none_or(|d| d == t.manifest_dir));
        if let Some(target) = found {
            built.push(Built { target: target.clone(), exe: PathBuf::from(exe) });
        }
    }
    if built.len() != targets.len() {
        return Err(
            "cargo built the lockhound targets but did not say where their executables are".to_string()
        );
    }
    Ok(built)
}

/// How a target's printed commands start: through `cargo lockhound`, naming the package when
/// the workspace has several targets.
fn program_of(built: &Built, several: bool) -> String {
    if several {
        format!("cargo lockhound -p {}", built.target.package)
    } else {
        "cargo lockhound".to_string()
    }
}

/// A target's executable, set up to run as `cargo test` would run it, but in the user's
/// working folder (so `--out` and `--junit` paths mean what they say).
fn target_command(built: &Built, several: bool) -> Command {
    let mut command = Command::new(&built.exe);
    command.env(PROGRAM_ENV, program_of(built, several));
    command.env("CARGO_MANIFEST_DIR", &built.target.manifest_dir);
    command
}

/// Runs `command ARGS` on one target, its output passing through; returns its exit status.
fn forward(
    built: &Built,
    command: &str,
    args: &[OsString],
    several: bool,
) -> Result<(ExitCode, i32), String> {
    let status = target_command(built, several)
        .arg(command)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", built.exe.display()))?;
    let code = status.code().unwrap_or(2);
    Ok((ExitCode::from(u8::try_from(code).unwrap_or(2)), code))
}

/// The scenarios of a target, from its `list --json`.
fn scenarios_of(built: &Built) -> Result<Vec<Value>, String> {
    let out = target_command(built, false)
        .args(["list", "--json"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", built.exe.display()))?;
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{} list --json: not one JSON document: {e}", built.target.name))?;
    Ok(doc["scenarios"].as_array().cloned().unwrap_or_default())
}

/// `list`: every target's scenarios, each named with its package when there are several.
fn list(built: &[Built], args: &[OsString]) -> Result<ExitCode, String> {
    if args.iter().any(|a| a == "--json") {
        let mut all = Vec::new();
        for b in built {
            for mut s in scenarios_of(b)? {
                s["package"] = Value::from(b.target.package.clone());
                all.push(s);
            }
        }
        output::print_json(&serde_json::json!({ "scenarios": all }));
        return Ok(ExitCode::SUCCESS);
    }
    let mut worst = 0;
    for b in built {
        if built.len() > 1 {
            output::print(&format!("== {} (test target {})\n", b.target.package, b.target.name));
        }
        worst = worst.max(forward(b, "list", args, built.len() > 1)?.1);
    }
    Ok(ExitCode::from(u8::try_from(worst).unwrap_or(2)))
}

/// The target that has the scenario named first in `args`.
fn owner<'a>(built: &'a [Built], args: &[OsString]) -> Result<&'a Built, String> {
    let Some(name) = args.iter().filter_map(|a| a.to_str()).find(|a| !a.starts_with('-')) else {
        return Err("name a scenario (see cargo lockhound list)".to_string());
    };
    if built.len() == 1 {
        return Ok(&built[0]);
    }
    let mut owners = Vec::new();
    let mut known = Vec::new();
    for b in built {
        for s in scenarios_of(b)? {
            let s = s["name"].as_str().unwrap_or_default().to_string();
            if s == name {
                owners.push(b);
            }
            known.push(s);
        }
    }
    match owners.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unknown scenario '{}' (known: {})", output::shown(name), known.join(", "))),
        several => Err(format!(
            "scenario '{}' is in several packages ({}): choose one with -p",
            output::shown(name),
            several.iter().map(|b| b.target.package.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// `check`: every target's gate; `--junit FILE` becomes one document for the workspace,
/// merged from each target's own.
fn check(built: &[Built], args: &[OsString], several: bool) -> Result<ExitCode, String> {
    let (junit, args) = take_junit(args)?;
    let staging = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let mut worst = 0;
    let mut reports = Vec::new();
    for (i, b) in built.iter().enumerate() {
        let mut target_args = args.clone();
        let file = staging.path().join(format!("{i}.xml"));
        if junit.is_some() {
            target_args.push("--junit".into());
            target_args.push(file.clone().into());
        }
        if several {
            output::print(&format!("== {} (test target {})\n", b.target.package, b.target.name));
        }
        let code = forward(b, "check", &target_args, several)?.1;
        worst = worst.max(code);
        if junit.is_some() && code != 2 {
            let xml = std::fs::read_to_string(&file)
                .map_err(|e| format!("{}: no JUnit report: {e}", b.target.name))?;
            reports.push(lockhound_reports::gate::parse_junit(&xml)?);
        }
    }
    if let Some(path) = junit {
        if worst != 2 {
            let merged = merge_junit(reports);
            output::write_file_atomic(&path, merged.as_bytes())
                .map_err(|e| format!("--junit {}: cannot write: {e}", path.display()))?;
        }
    }
    Ok(ExitCode::from(u8::try_from(worst).unwrap_or(2)))
}

/// `--junit FILE` (or `--junit=FILE`) taken out of `args`.
fn take_junit(args: &[OsString]) -> Result<(Option<PathBuf>, Vec<OsString>), String> {
    let mut rest = Vec::new();
    let mut junit = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--junit" {
            junit = Some(PathBuf::from(iter.next().ok_or("--junit needs a file")?));
        } else if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--junit=")) {
            junit = Some(PathBuf::from(value));
        } else {
            rest.push(arg.clone());
        }
    }
    Ok((junit, rest))
}

/// One JUnit document holding every target's test suites.
fn merge_junit(reports: Vec<lockhound_reports::gate::quick_junit::Report>) -> String {
    let mut merged = lockhound_reports::gate::quick_junit::Report::new("lockhound check");
    for report in reports {
        merged.add_test_suites(report.test_suites);
    }
    merged.to_string().expect("quick-junit serializes to a String")
}

/// `miri`: each target's miri suite under `cargo +nightly miri test`: the variants that must
/// pass in one run, then each variant marked to be stopped for undefined behaviour alone,
/// which must be.
fn miri(options: &Options, targets: &[Target], args: &[OsString]) -> Result<ExitCode, String> {
    if !args.is_empty() {
        return Err("miri takes no arguments (set MIRIFLAGS for miri's own)".to_string());
    }
    let mut failed = false;
    for t in targets {
        let base = || {
            let mut c = nightly_cargo();
            c.args(["miri", "test"]);
            if let Some(path) = &options.manifest_path {
                c.arg("--manifest-path").arg(path);
            }
            c.args(["-p", &t.package, "--test", &t.name]);
            // The facade reads LOCKHOUND_* variables and the clock.
            if std::env::var_os("MIRIFLAGS").is_none() {
                c.env("MIRIFLAGS", "-Zmiri-disable-isolation");
            }
            c
        };
        output::print(&format!("== miri: {} (test target {}): variants that must pass\n", t.package, t.name));
        let status = base()
            .status()
            .map_err(|e| format!("cannot run nightly cargo miri (rustup run nightly cargo miri): {e}"))?;
        failed |= !status.success();
        let listed = base()
            .args(["--", "--list", "--ignored", "--format", "terse"])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run nightly cargo miri (rustup run nightly cargo miri): {e}"))?;
        for name in String::from_utf8_lossy(&listed.stdout).lines().filter_map(|l| l.strip_suffix(": test")) {
            let out = base()
                .args(["--", "--ignored", "--exact", name])
                .output()
                .map_err(|e| format!("cannot run nightly cargo miri (rustup run nightly cargo miri): {e}"))?;
            let text = String::from_utf8_lossy(&out.stderr);
            let verdict = stopped_for_ub(out.status.success(), &text);
            match &verdict {
                Ok(first) => output::print(&format!("ok     {name}: stopped by miri: {first}\n")),
                Err(why) => {
                    failed = true;
                    output::print(&format!("FAILED {name}: {why}\n{text}\n"))
                }
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Whether a miri run that must be stopped for undefined behaviour was: `Ok` with miri's
/// first line about it, or why not.
fn stopped_for_ub(success: bool, stderr: &str) -> Result<String, String> {
    if success {
        return Err("expected miri to report undefined behaviour; the variant ran clean".to_string());
    }
    let Some(line) = stderr.lines().find(|l| l.contains("Undefined Behavior")) else {
        return Err("failed, but not for undefined behaviour".to_string());
    };
    Ok(line.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_test_targets_called_lockhound_of_members_using_the_cli_or_listed() {
        let doc = serde_json::json!({
            "workspace_members": ["a 0.1.0", "b 0.1.0", "c 0.1.0"],
            "packages": [
                {"id": "a 0.1.0", "name": "a", "manifest_path": "/w/a/Cargo.toml",
                 "dependencies": [{"name": "lockhound-cli"}], "metadata": null,
                 "targets": [{"name": "lockhound", "kind": ["test"]}, {"name": "other", "kind": ["test"]},
                             {"name": "a", "kind": ["lib"]}]},
                {"id": "b 0.1.0", "name": "b", "manifest_path": "/w/b/Cargo.toml",
                 "dependencies": [], "metadata": {"lockhound": {"targets": ["conc"]}},
                 "targets": [{"name": "conc", "kind": ["test"]}, {"name": "lockhound", "kind": ["test"]}]},
                {"id": "c 0.1.0", "name": "c", "manifest_path": "/w/c/Cargo.toml",
                 "dependencies": [], "metadata": null,
                 "targets": [{"name": "lockhound", "kind": ["test"]}]},
                {"id": "dep 1.0.0", "name": "dep", "manifest_path": "/r/dep/Cargo.toml",
                 "dependencies": [{"name": "lockhound-cli"}], "metadata": null,
                 "targets": [{"name": "lockhound", "kind": ["test"]}]}
            ]
        });
        let found: Vec<(String, String)> =
            targets_of(&doc, None).into_iter().map(|t| (t.package, t.name)).collect();
        assert_eq!(found, vec![("a".into(), "lockhound".into()), ("b".into(), "conc".into())]);
        assert_eq!(targets_of(&doc, Some("b")).len(), 1);
        assert!(targets_of(&doc, Some("c")).is_empty());
    }

    #[test]
    fn junit_flags_are_taken_out_in_both_spellings() {
        let args: Vec<OsString> = ["--json", "--junit", "a.xml", "--junit=b.xml", "--shard", "1/2"]
            .iter()
            .map(OsString::from)
            .collect();
        let (junit, rest) = take_junit(&args).unwrap();
        assert_eq!(junit, Some(PathBuf::from("b.xml")));
        assert_eq!(rest, ["--json", "--shard", "1/2"].map(OsString::from).to_vec());
    }

    #[test]
    fn a_variant_that_must_be_stopped_for_ub_is_only_ok_when_it_was() {
        assert!(stopped_for_ub(false, "error: Undefined Behavior: memory access failed").is_ok());
        assert!(stopped_for_ub(true, "").is_err());
        assert!(stopped_for_ub(false, "panicked at 'assertion failed'").is_err());
    }
}
