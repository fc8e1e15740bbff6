//! `cargo lockhound`: finds the workspace's lockhound targets, builds them, and runs a command
//! on them (see `lockhound_cli::cargo`).

fn main() -> std::process::ExitCode {
    lockhound_cli::cargo::main()
}
