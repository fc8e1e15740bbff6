//! `--out DIR`: a run's report files, written as one unit. The files go into a fresh staging
//! folder beside `DIR`, which then takes `DIR`'s place, so a reader (or a run killed half-way)
//! sees the previous report or the new one whole, never files of two runs mixed.
//!
//! `DIR` is checked before the run explores anything (a report that cannot be written is said
//! at once, not after minutes of exploration), and only a folder that is new, empty, or an
//! earlier lockhound report (it holds [`MARKER`]) is replaced: a folder of the user's own
//! files is refused. Staging folders that a killed run left behind are removed the next time.

use crate::UsageError;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file that marks a folder as a lockhound report, safe to replace.
pub const MARKER: &str = ".lockhound-report";

/// Staging and retired folders are named `.NAME.lockhound-PID-RANDOM`.
const INFIX: &str = ".lockhound-";

/// A report folder being prepared.
#[derive(Debug)]
pub struct ReportDir {
    target: PathBuf,
    /// The parent folder, where staging happens (a rename never crosses file systems).
    parent: PathBuf,
}

impl ReportDir {
    /// Checks that `target` can receive a report: its parent can be created and written, and
    /// `target` is absent, an empty folder, or an earlier report.
    pub fn prepare(target: &Path, flag: &str) -> Result<ReportDir, UsageError> {
        let bad = |why: String| UsageError(format!("{flag} {}: {why}", target.display()));
        let name = target.file_name().ok_or_else(|| bad("not a folder name".to_string()))?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| bad(format!("cannot create its parent folder: {e}")))?;
        match std::fs::symlink_metadata(target) {
            Ok(meta) if meta.is_dir() => {
                if !replaceable(target).map_err(|e| bad(format!("cannot read it: {e}")))? {
                    return Err(bad(format!(
                        "holds files lockhound did not write (no {MARKER}); give a new or empty folder"
                    )));
                }
            }
            Ok(_) => return Err(bad("exists and is not a folder".to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(bad(e.to_string())),
        }
        remove_leftovers(&parent, &name.to_string_lossy());
        // Try a staging folder now: a read-only place fails here, before exploring.
        let probe = staging_dir(&parent, &name.to_string_lossy())
            .map_err(|e| bad(format!("cannot write there: {e}")))?;
        drop(probe);
        Ok(ReportDir { target: target.to_path_buf(), parent })
    }

    /// Where the report will be, as given.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Where a sub-folder of the report will be (`relative` empty: the report itself).
    pub fn path_of(&self, relative: &Path) -> PathBuf {
        if relative.as_os_str().is_empty() {
            self.target.clone()
        } else {
            self.target.join(relative)
        }
    }

    /// Writes `files` (paths relative to the report folder, sub-folders allowed) as the new
    /// report, replacing the old one whole.
    pub fn write(&self, files: &[(PathBuf, Vec<u8>)]) -> io::Result<()> {
        let name = self.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let staging = staging_dir(&self.parent, &name)?;
        for (relative, contents) in files {
            let path = staging.path().join(relative);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::File::create(&path)?;
            file.write_all(contents)?;
            file.sync_all()?;
        }
        std::fs::File::create(staging.path().join(MARKER))?.sync_all()?;
        let staged = staging.keep();
        swap_in(&staged, &self.target, &self.parent, &name).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&staged);
        })
    }
}

/// A new staging folder in `parent` for the report called `name`.
fn staging_dir(parent: &Path, name: &str) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix(&format!(".{name}{INFIX}{}-", std::process::id())).tempdir_in(parent)
}

/// Puts `staged` in `target`'s place. An old report is first moved aside under a staging
/// name (one rename each way: a reader sees the old folder, no folder for an instant, or the
/// new one), then removed.
fn swap_in(staged: &Path, target: &Path, parent: &Path, name: &str) -> io::Result<()> {
    match std::fs::rename(staged, target) {
        Ok(()) => return Ok(()),
        // The target exists (an earlier report, or an empty folder): move it aside first.
        Err(_) if target.is_dir() => {}
        Err(e) => return Err(e),
    }
    let retired = staging_dir(parent, name)?.keep();
    std::fs::remove_dir(&retired)?;
    std::fs::rename(target, &retired)?;
    std::fs::rename(staged, target)?;
    std::fs::remove_dir_all(&retired)
}

/// Whether a folder may be replaced: empty, or marked as a lockhound report.
fn replaceable(dir: &Path) -> io::Result<bool> {
    let mut entries = std::fs::read_dir(dir)?;
    Ok(entries.next().is_none() || dir.join(MARKER).is_file())
}

/// Removes staging folders for `name` that runs no longer alive left in `parent`.
fn remove_leftovers(parent: &Path, name: &str) {
    let prefix = format!(".{name}{INFIX}");
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !alive(pid) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` still runs (it may be writing its report).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let status = unsafe { libc::kill(pid, 0) };
        status == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        // Without a cheap check, a leftover is kept rather than risk removing a live run's.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: u8) -> Vec<(PathBuf, Vec<u8>)> {
        vec![(PathBuf::from("summary.json"), vec![n]), (PathBuf::from("fixed/trace.txt"), vec![n])]
    }

    #[test]
    fn a_report_replaces_the_last_one_whole() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        ReportDir::prepare(&out, "--out").unwrap().write(&files(1)).unwrap();
        std::fs::write(out.join("schedule.txt"), "from the first run").unwrap();
        ReportDir::prepare(&out, "--out").unwrap().write(&files(2)).unwrap();
        assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), vec![2]);
        assert!(!out.join("schedule.txt").exists(), "no file of the earlier run is left");
        let names: Vec<_> =
            std::fs::read_dir(root.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out")], "no staging folder left");
    }

    #[test]
    fn a_folder_of_the_users_own_files_is_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("notes.txt"), "mine").unwrap();
        let err = ReportDir::prepare(root.path(), "--out").unwrap_err();
        assert!(err.0.contains("did not write"), "{}", err.0);
        let file = root.path().join("notes.txt");
        assert!(ReportDir::prepare(&file, "--out").unwrap_err().0.contains("not a folder"));
    }

    #[test]
    fn leftovers_of_dead_runs_are_removed() {
        let root = tempfile::tempdir().unwrap();
        // A pid that cannot be running: above the kernel's limit.
        let dead = root.path().join(".out.lockhound-4294967-abc");
        std::fs::create_dir(&dead).unwrap();
        ReportDir::prepare(&root.path().join("out"), "--out").unwrap();
        assert!(!dead.exists());
    }
}
