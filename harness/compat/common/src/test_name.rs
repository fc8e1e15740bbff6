//! Which test is running, for the replay line a failure prints. libtest runs each test on a
//! thread named after it (`module::test`); cargo sets `CARGO_PKG_NAME` and `CARGO_MANIFEST_DIR`
//! for the test binaries it runs, and names an integration test's binary after its file.

use lockhound_reports::shell_quote;
use std::path::Path;

/// A test as `cargo test` selects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TestName {
    /// The test's path in its crate, as libtest names its thread (`module::test`).
    pub name: String,
    /// The package, when cargo runs the binary.
    pub package: Option<String>,
    /// The integration-test target (`tests/NAME.rs`), when the binary is one.
    pub target: Option<String>,
}

impl TestName {
    /// The test the calling thread runs, or `None` outside libtest (its main thread, a
    /// thread the test spawned without a name, a program of the user's own).
    pub(crate) fn current() -> Option<TestName> {
        let name = std::thread::current().name()?.to_string();
        if name == "main" {
            return None;
        }
        let package = std::env::var("CARGO_PKG_NAME").ok().filter(|p| !p.is_empty());
        let target = std::env::current_exe().ok().and_then(|exe| {
            let stem = exe.file_stem()?.to_str()?.to_string();
            integration_target(&stem, &std::env::var_os("CARGO_MANIFEST_DIR")?.into_string().ok()?)
        });
        Some(TestName { name, package, target })
    }
}

/// The integration-test target whose binary is `stem` (`NAME-HASH`), if the package at
/// `manifest_dir` has `tests/NAME.rs` (cargo turns `-` into `_` in the binary's name).
fn integration_target(stem: &str, manifest_dir: &str) -> Option<String> {
    let (name, hash) = stem.rsplit_once('-')?;
    if hash.is_empty() || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let tests = Path::new(manifest_dir).join("tests");
    [name.to_string(), name.replace('_', "-")].into_iter().find(|n| tests.join(format!("{n}.rs")).is_file())
}

/// The command that replays `schedule` in `test`, or in the test that printed it when the
/// test is not known.
pub(crate) fn replay_command(schedule: &str, test: Option<&TestName>) -> String {
    let mut cmd = format!("LOCKHOUND_REPLAY={} cargo test", shell_quote(schedule));
    match test {
        Some(test) => {
            if let Some(package) = &test.package {
                cmd.push_str(&format!(" -p {}", shell_quote(package)));
            }
            if let Some(target) = &test.target {
                cmd.push_str(&format!(" --test {}", shell_quote(target)));
            }
            cmd.push_str(&format!(" -- --exact {}", shell_quote(&test.name)));
        }
        None => cmd.push_str(" <this test>"),
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_thread_is_named_after_the_test() {
        let test = TestName::current().expect("libtest names the thread of each test");
        assert_eq!(test.name, "test_name::tests::a_test_thread_is_named_after_the_test");
    }

    #[test]
    fn the_command_selects_exactly_that_test() {
        let test = TestName {
            name: "arc::basic_usage".into(),
            package: Some("my-crate".into()),
            target: Some("arc".into()),
        };
        assert_eq!(
            replay_command("lh1:shuttle:0.1-2", Some(&test)),
            "LOCKHOUND_REPLAY=lh1:shuttle:0.1-2 cargo test -p my-crate --test arc -- --exact arc::basic_usage"
        );
        let bare = TestName { name: "t".into(), package: None, target: None };
        assert_eq!(replay_command("a b", Some(&bare)), "LOCKHOUND_REPLAY='a b' cargo test -- --exact t");
        assert_eq!(replay_command("s", None), "LOCKHOUND_REPLAY=s cargo test <this test>");
    }

    #[test]
    fn an_integration_binary_names_its_target_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/my-suite.rs"), "").unwrap();
        std::fs::write(dir.path().join("tests/plain.rs"), "").unwrap();
        let root = dir.path().to_str().unwrap();
        assert_eq!(integration_target("my_suite-0123abcdef456789", root).as_deref(), Some("my-suite"));
        assert_eq!(integration_target("plain-0123abcdef456789", root).as_deref(), Some("plain"));
        // The package's own unit tests, or a binary cargo did not name.
        assert_eq!(integration_target("my_crate-0123abcdef456789", root), None);
        assert_eq!(integration_target("plain", root), None);
    }
}
