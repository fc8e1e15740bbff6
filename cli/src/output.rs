//! Where the command line's output goes: stdout (never a panic when the reader has gone),
//! one-line errors on stderr, and report files written as a whole (see [`report_dir`]).

pub mod progress;
pub mod report_dir;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub use lockhound::limits::shown;
pub use progress::{ExplorationProgress, Progress};
pub use report_dir::ReportDir;

/// Prints `text` on stdout. A reader that has gone away (`lockhound list | head -1`) ends the
/// output quietly instead of panicking on the broken pipe.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        // Nothing more can be shown; the exit status still says what happened.
    }
}

/// Prints a JSON document on stdout: exactly one document per command.
pub fn print_json(doc: &serde_json::Value) {
    let mut text = serde_json::to_string_pretty(doc).expect("JSON values always serialize");
    text.push('\n');
    print(&text);
}

/// A one-line error on stderr, exit status 2.
pub fn usage_error(message: &str) -> ExitCode {
    let message: String =
        message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    let _ = writeln!(std::io::stderr().lock(), "lockhound: {message}");
    ExitCode::from(2)
}

/// clap's errors in one line, naming what is wrong (help and version print in full and
/// succeed).
pub fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(2)
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(names)) => names.join(", "),
                Some(ContextValue::String(name)) => name.clone(),
                _ => "an argument".to_string(),
            };
            usage_error(&format!("missing required argument: {missing} (see --help)"))
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            usage_error(&format!("{} (see --help)", shown_line(first)))
        }
    }
}

/// A message line that echoes input (clap's, say): escaped, and cut if it runs long.
fn shown_line(text: &str) -> String {
    lockhound::limits::shown_within(text, 200)
}

/// Writes `contents` to `path` atomically (a reader sees the old file or the new one, never a
/// half-written one), through a temporary file in the same folder that a kill leaves nowhere
/// but there, under a name no other file has.
pub fn write_file_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new().prefix(".lockhound-").suffix(".tmp").tempfile_in(dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
