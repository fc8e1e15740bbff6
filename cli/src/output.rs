//! Where the command line's output goes: stdout and stderr, and report files written
//! atomically.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// clap's errors in one line (help and version print in full and succeed).
pub fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("lockhound: {first} (see lockhound --help)");
            ExitCode::from(2)
        }
    }
}

/// Prints a JSON document on stdout, on one line per the contract: exactly one document.
pub fn print_json(doc: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(doc).expect("JSON values always serialize"));
}

/// Writes `contents` to `dir/name` atomically: a reader sees the old file or the new one,
/// never a half-written one.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))
}

/// Prepares an output folder, creating it if needed.
pub fn prepare_out_dir(dir: &Path) -> Result<(), crate::UsageError> {
    if dir.exists() && !dir.is_dir() {
        return Err(crate::UsageError(format!("--out {}: exists and is not a folder", dir.display())));
    }
    std::fs::create_dir_all(dir).map_err(|e| crate::UsageError(format!("--out {}: {e}", dir.display())))
}

/// Runs `f` with stderr sent to /dev/null. shuttle writes notes to stderr on failures and
/// deadlocks that lockhound reports itself, better; they would only confuse the output.
/// Set LOCKHOUND_VERBOSE=1 to see them.
pub fn without_engine_chatter<R>(f: impl FnOnce() -> R) -> R {
    if std::env::var_os("LOCKHOUND_VERBOSE").is_some() {
        return f();
    }
    // SAFETY: plain fd calls on descriptors this function opens and closes itself; fd 2 is
    // restored before returning (also when `f` panics, by the guard's drop).
    unsafe {
        let saved = libc::dup(2);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if saved < 0 || null < 0 {
            return f();
        }
        libc::dup2(null, 2);
        libc::close(null);
        struct Restore(i32);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: `self.0` is the duplicate of the original stderr made above.
                unsafe {
                    libc::dup2(self.0, 2);
                    libc::close(self.0);
                }
            }
        }
        let _restore = Restore(saved);
        f()
    }
}
