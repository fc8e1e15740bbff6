//! loom's checkpoint file (a failure's path is read from it, a replay stages its path in it)
//! lives in a private temporary folder of a random name, made through `tempfile`: a symlink
//! another user plants where the file used to go (`$TMPDIR/lockhound-loom-<pid>-<n>.json`) is
//! never followed, and nothing is left behind. One test in its own binary, since it points
//! `TMPDIR` at a folder of its own.

use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::Arc;
use lockhound::{explore, thread, Backend, Body, RunConfig, Schedule};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

/// What the body saw of the checkpoint folders while it ran: (mode, holds `path.json`).
static SEEN: Mutex<Vec<(u32, bool)>> = Mutex::new(Vec::new());

fn tmp() -> PathBuf {
    std::env::temp_dir()
}

/// A lost update that loom finds; each execution looks at the temporary folder.
fn lost_update() {
    for entry in std::fs::read_dir(tmp()).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if name.starts_with("lockhound-loom-") && meta.is_dir() {
            let mode = meta.permissions().mode() & 0o777;
            SEEN.lock().unwrap().push((mode, path.join("path.json").exists()));
        }
    }
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let t = thread::spawn(move || {
        let v = m.load(Ordering::SeqCst);
        m.store(v + 1, Ordering::SeqCst);
    });
    let v = n.load(Ordering::SeqCst);
    n.store(v + 1, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
}

#[test]
fn a_planted_symlink_at_the_old_checkpoint_name_is_never_followed() {
    let private = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("victim");
    std::fs::write(&victim, "the victim's own contents").unwrap();
    // The only test of this binary: nothing else reads the environment meanwhile.
    std::env::set_var("TMPDIR", private.path());
    assert_eq!(tmp(), private.path());
    let pid = std::process::id();
    let planted: Vec<PathBuf> =
        (0..32).map(|n| tmp().join(format!("lockhound-loom-{pid}-{n}.json"))).collect();
    for link in &planted {
        std::os::unix::fs::symlink(&victim, link).unwrap();
    }

    let body: Body = std::sync::Arc::new(lost_update);
    let config = RunConfig { backend: Backend::Loom, ..RunConfig::default() };
    // The run captures the failure's path through a checkpoint file.
    let report = explore::run(&body, &config);
    let finding = report.finding.expect("loom finds the lost update");
    let schedule = finding.schedule.expect("a loom schedule");
    assert!(matches!(schedule, Schedule::Loom(_)), "{schedule}");
    // The replay stages the path in a checkpoint file for loom to read.
    SEEN.lock().unwrap().clear();
    match explore::replay(&body, &schedule, &config) {
        explore::ReplayOutcome::Failed(f) => assert!(f.message.contains("lost update"), "{}", f.message),
        other => panic!("the replay: {other:?}"),
    }

    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the victim's own contents");
    let seen = SEEN.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the replay's checkpoint was in no folder of its own");
    for (mode, staged) in seen {
        assert_eq!(mode, 0o700, "a checkpoint folder others can enter");
        assert!(staged, "the staged path was not in the checkpoint folder");
    }
    // Nothing left behind but what was planted.
    let mut left: Vec<PathBuf> = std::fs::read_dir(tmp()).unwrap().flatten().map(|e| e.path()).collect();
    left.sort();
    let mut expected = planted.clone();
    expected.sort();
    assert_eq!(left, expected);
    for link in &planted {
        assert!(std::fs::symlink_metadata(link).unwrap().file_type().is_symlink());
    }
}
