//! `lockhound`: the command line over the built-in catalog.

/// Off unless LOCKHOUND_GUARD says otherwise (then one relaxed load per allocation):
/// `run --guard-pages` turns it on in the child process it starts.
#[global_allocator]
static ALLOC: lockhound::guard::GuardAlloc = lockhound::guard::GuardAlloc::from_env_lazy();

fn main() -> std::process::ExitCode {
    lockhound_cli::run(lockhound_scenarios::catalog(), lockhound_cli::Target::command_line())
}
