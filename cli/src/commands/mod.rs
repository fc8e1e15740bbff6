//! One function per subcommand: resolve the arguments, call the harness, print the report.

pub mod check;
pub mod guard;
mod list;
mod replay;
mod run;
mod track;

pub use check::check;
pub use list::list;
pub use replay::replay;
pub use run::run;
pub use track::track;

use crate::UsageError;
use lockhound::scenario::{Scenario, Variant};

/// The scenario called `name`, or an error that lists the ones there are.
pub fn scenario(name: &str) -> Result<&'static Scenario, UsageError> {
    lockhound_scenarios::find(name).ok_or_else(|| {
        let names: Vec<_> = lockhound_scenarios::catalog().iter().map(|s| s.name).collect();
        UsageError(format!("unknown scenario '{name}' (known: {})", names.join(", ")))
    })
}

/// The variant called `name` of `scenario`, or an error that lists its variants.
pub fn variant(scenario: &'static Scenario, name: &str) -> Result<&'static Variant, UsageError> {
    scenario.variant(name).ok_or_else(|| {
        let names: Vec<_> = scenario.variants.iter().map(|v| v.name).collect();
        UsageError(format!(
            "scenario '{}' has no variant '{name}' (it has: {})",
            scenario.name,
            names.join(", ")
        ))
    })
}

/// The variant called `name`, or every variant of `scenario` when no name is given.
pub fn variants(
    scenario: &'static Scenario,
    name: Option<&str>,
) -> Result<Vec<&'static Variant>, UsageError> {
    match name {
        Some(name) => Ok(vec![variant(scenario, name)?]),
        None => Ok(scenario.variants.iter().collect()),
    }
}

/// Where a variant's report files go: `out` itself, or a folder per variant when several
/// variants share one `--out`.
pub fn variant_out_dir(
    out: Option<&std::path::Path>,
    variants: usize,
    variant: &str,
) -> Option<std::path::PathBuf> {
    match out {
        Some(dir) if variants > 1 => Some(dir.join(variant)),
        Some(dir) => Some(dir.to_path_buf()),
        None => None,
    }
}

/// The way this program was started, to print commands a user can paste.
pub fn program() -> String {
    let arg0 = std::env::args().next().unwrap_or_else(|| "lockhound".into());
    let path = std::path::Path::new(&arg0);
    // A bare name found on PATH stays as it is; a path is shown relative to the working
    // folder when it is inside it.
    if path.components().count() <= 1 {
        return arg0;
    }
    match std::env::current_dir().ok().and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.to_path_buf())) {
        Some(rel) => format!("./{}", rel.display()),
        None => arg0,
    }
}
