//! `lockhound run` on a user's body whose thread spins forever without a facade call ends,
//! under every model-checking backend, with the `hang` finding the watchdog decides on
//! (harness/src/explore/watchdog.rs, docs/guide.md "A thread that never yields"), instead of
//! hanging: issue 18's reproduction, at the command line.
//!
//! This target is what a user's `harness = false` lockhound target is (`lockhound_cli::main!`
//! without the guard allocator): run with a command, its binary is the command line for its
//! scenario. Run by `cargo test`, without one, it runs the tests below, which run it so.

use libtest_mimic::{Arguments, Failed, Trial};
use lockhound::scenario::{Scenario, Variant};
use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Set in the child: this binary is the user's command line.
const CHILD: &str = "LOCKHOUND_TEST_SPINNING_CHILD";

/// A run that has not ended by then is hung: the watchdog's window is 1 s here, and a debug
/// build on a busy machine is slow, but not this slow.
const GIVE_UP: Duration = Duration::from_secs(300);

fn scenario() -> Scenario {
    Scenario::new("spinning")
        .summary("a thread spins forever without a facade call")
        .with(Variant::must_pass("spins", spins).description("the spawned thread loops on a plain spin hint"))
}

/// The spawned thread never reaches a scheduling point, so the model checker never gets
/// control back from it.
fn spins() {
    let spinner = lockhound::thread::spawn(|| loop {
        std::hint::spin_loop();
    });
    spinner.join().unwrap();
}

fn main() -> ExitCode {
    if std::env::var_os(CHILD).is_some() {
        return lockhound_cli::run(scenario(), lockhound_cli::target!());
    }
    let trials = ["loom", "shuttle-random", "shuttle-pct", "shuttle-urw", "shuttle-dfs", "auto"]
        .into_iter()
        .map(|backend| {
            Trial::test(format!("a_spinning_body_ends_with_a_hang_finding_under_{backend}"), move || {
                a_spinning_body_ends_with_a_hang_finding(backend)
            })
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}

/// Runs this binary as the command line with `args`; its exit code, stdout and stderr, or a
/// failure if it has not ended within [`GIVE_UP`] (it is killed then).
fn lockhound(args: &[&str]) -> Result<(Option<i32>, String, String), Failed> {
    let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(args)
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > GIVE_UP {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`{}` still runs after {GIVE_UP:?}: hung", args.join(" ")).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok((status.code(), stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default()))
}

fn a_spinning_body_ends_with_a_hang_finding(backend: &str) -> Result<(), Failed> {
    let args = ["run", "spinning", "--variant", "spins", "--backend", backend, "--time-limit", "1"];
    let (code, stdout, stderr) = lockhound(&args)?;
    let context = format!("{backend}: exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    // A finding, not a pass and not lockhound's own error (2).
    if code != Some(1) {
        return Err(format!("expected exit 1 (a finding); {context}").into());
    }
    if !stdout.contains("hang")
        || !stdout.contains("no scheduling point for 1 s")
        || !stdout.contains("yield_now")
    {
        return Err(format!("expected the hang finding's words; {context}").into());
    }
    // No schedule to replay, and not because of real threads, which were not run.
    if !stdout.contains("replay: none (the stuck execution never ended") || stdout.contains("real threads") {
        return Err(format!("expected the replay line to say why there is no schedule; {context}").into());
    }
    // shuttle says which thread it ran last (under auto, whichever engine got there first).
    if backend.starts_with("shuttle") && !stdout.contains("in thread t1") {
        return Err(format!("expected shuttle to name thread t1; {context}").into());
    }
    Ok(())
}
