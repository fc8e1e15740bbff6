#!/usr/bin/env bash
# Prepares loom's coroutine crate `generator` 0.8.12 with lockhound's stack-recycling patch
# (harness/patches/generator-0.8.12-recycle-stacks.patch), for a `[patch.crates-io]` line:
#
#   scripts/patched-generator.sh [DEST]        (DEST default: target/patched/generator-0.8.12)
#
# then, in the Cargo.toml at the root of the workspace that builds lockhound:
#
#   [patch.crates-io]
#   generator = { path = "DEST" }
#
# The crate comes from cargo's own registry cache (fetched if missing); nothing of it is kept
# in this repository. What it buys, in numbers: docs/performance.md, "Coroutine stacks".
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
patch_file="$here/harness/patches/generator-0.8.12-recycle-stacks.patch"
dest="${1:-target/patched/generator-0.8.12}"

if [ -e "$dest" ]; then
  if [ -f "$dest/src/stack/recycle.rs" ]; then
    echo "already prepared: $dest"
    exit 0
  fi
  echo "patched-generator: $dest exists and is not a patched generator; remove it first" >&2
  exit 2
fi
command -v patch >/dev/null || { echo "patched-generator: needs the 'patch' program" >&2; exit 2; }

# Let cargo fetch the published crate into its registry cache and say where it is.
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
mkdir -p "$probe/src"
printf '[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\ngenerator = "=0.8.12"\n[workspace]\n' >"$probe/Cargo.toml"
: >"$probe/src/lib.rs"
manifest="$(cargo metadata --format-version 1 --manifest-path "$probe/Cargo.toml" |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "generator"))')"
source_dir="$(dirname "$manifest")"

mkdir -p "$(dirname "$dest")"
staging="$(mktemp -d "$(dirname "$dest")/.generator.XXXXXX")"
cp -R "$source_dir/." "$staging/"
chmod -R u+w "$staging"
rm -f "$staging/.cargo-ok" "$staging/.cargo_vcs_info.json"
(cd "$staging" && patch -p1 --quiet <"$patch_file")
mv "$staging" "$dest"
echo "prepared: $dest (add: generator = { path = \"$dest\" } under [patch.crates-io])"
