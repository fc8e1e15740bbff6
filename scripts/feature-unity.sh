#!/usr/bin/env bash
# Checks that the README's two commands share one build of every dependency.
#
#   scripts/feature-unity.sh
#
# `cargo run -p lockhound-cli -- check` (the main job) and `cargo test --workspace` (the tests)
# would build a dependency twice when they enable different features of it (dev-dependencies
# turn on more). workspace-hack/ asks for the union; this script compares the two unit graphs
# that cargo plans (nightly's `--unit-graph`, which builds nothing) and lists every dependency
# the main job builds with another feature set than the tests, with the features to add to
# workspace-hack/Cargo.toml.
#
# Exit status: 0 every dependency of the main job is built once for both; 1 some differ (listed);
# 2 the check could not run (no python3, or cargo could not plan a build).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || { echo "feature-unity: python3 is needed" >&2; exit 2; }
# `--unit-graph` is a nightly flag (it only plans; the build itself stays on stable).
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "== installing a minimal nightly toolchain (for cargo's --unit-graph)"
  rustup toolchain install nightly --profile minimal
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo +nightly build -p lockhound-cli --unit-graph -Z unstable-options >"$scratch/run.json" \
    || { echo "feature-unity: cargo could not plan the main job's build" >&2; exit 2; }
cargo +nightly test --workspace --no-run --unit-graph -Z unstable-options >"$scratch/test.json" \
    || { echo "feature-unity: cargo could not plan the tests' build" >&2; exit 2; }

python3 - "$scratch/run.json" "$scratch/test.json" <<'PY'
import json, sys

def units(path):
    """(package, target, mode) -> set of (features, profile) cargo plans to build."""
    plan = {}
    for unit in json.load(open(path))["units"]:
        package = unit["pkg_id"].split("#")[-1]
        key = (package, unit["target"]["name"], unit["mode"])
        profile = unit["profile"]
        shape = (tuple(sorted(unit["features"])), profile["opt_level"], str(profile.get("debuginfo")))
        plan.setdefault(key, set()).add(shape)
    return plan

run, test = units(sys.argv[1]), units(sys.argv[2])
differ = []
for key, shapes in sorted(run.items()):
    if key in test and not shapes & test[key]:
        differ.append((key, shapes, test[key]))
if not differ:
    print(f"feature-unity: the tests reuse all {len(run)} units of the main job's build")
    sys.exit(0)
print(f"feature-unity: {len(differ)} of the main job's {len(run)} units are built again by the tests:")
for (package, target, mode), shapes, wanted in differ:
    have = sorted({f for shape in shapes for f in shape[0]})
    need = sorted({f for shape in wanted for f in shape[0]} - set(have))
    print(f"  {package} ({target}, {mode}): add features {need or '(profile differs)'} to workspace-hack/Cargo.toml")
sys.exit(1)
PY
