#!/usr/bin/env bash
# A fresh crate outside the workspace, in a temporary folder, with nothing but its
# `lockhound = { path = ... }` line (no [patch], no profile settings): its `cargo test` must
# compile, and fail on a lost update with lockhound's finding and a replay line that names the
# test; the same crate with the correct body must pass. Then `cargo publish --dry-run` of the
# packages a user gets from the registry: what crates.io would serve builds without this
# repository around it.
#
#   scripts/outside-crate.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "outside-crate: $*" >&2; exit 1; }

mkdir -p "$work/user/tests"
cat >"$work/user/Cargo.toml" <<TOML
[package]
name = "user"
version = "0.0.0"
edition = "2021"
publish = false
[dev-dependencies]
lockhound = { path = "$repo/harness" }
[workspace]
TOML
# The same locked versions as the workspace, so the check does not wait on new releases.
cp "$repo/Cargo.lock" "$work/user/Cargo.lock"

write_test() { # INCREMENT: the body of the spawned thread's increment
  cat >"$work/user/tests/counter.rs" <<RS
use lockhound::sync::{Arc, Mutex};

#[test]
fn counter_is_exact() {
    lockhound::check(|| {
        let n = Arc::new(Mutex::new(0));
        let m = n.clone();
        let t = lockhound::thread::spawn(move || { $1 });
        *n.lock().unwrap() += 1;
        t.join().unwrap();
        assert_eq!(*n.lock().unwrap(), 2, "an increment was lost");
    });
}
RS
}

echo "== outside crate: a lost update fails with lockhound's finding"
write_test 'let seen = *m.lock().unwrap(); *m.lock().unwrap() = seen + 1;'
set +e
out="$(cd "$work/user" && cargo test --test counter 2>&1)"
status=$?
set -e
[ "$status" -ne 0 ] || fail "the lost update passed: $out"
grep -q "lockhound found a panic" <<<"$out" || fail "no lockhound finding in: $out"
grep -q "an increment was lost" <<<"$out" || fail "the finding does not name the assertion: $out"
replay="$(grep -o "LOCKHOUND_REPLAY='[^']*'" <<<"$out" | head -1)"
[ -n "$replay" ] || fail "no replay line in: $out"
echo "ok: $(grep -m1 "lockhound found" <<<"$out" | sed 's/^ *//')"

echo "== outside crate: the printed replay reproduces it"
set +e
again="$(cd "$work/user" && env "${replay//\'/}" cargo test --test counter 2>&1)"
status=$?
set -e
[ "$status" -ne 0 ] && grep -q "an increment was lost" <<<"$again" || fail "the replay did not reproduce: $again"
echo "ok: replayed"

echo "== outside crate: the correct body passes"
write_test '*m.lock().unwrap() += 1;'
(cd "$work/user" && cargo test --test counter -q 2>&1 | tail -3) || fail "the correct body failed"

echo "== cargo publish --dry-run: lockhound, lockhound-reports, lockhound-scenarios, lockhound-cli"
# cargo verifies each package against the ones packaged before it: it writes them to a local
# registry under the target folder and unpacks them into $CARGO_HOME/registry/src, in a folder
# named after that registry's path. It never unpacks a crate a second time (a registry crate
# never changes, says cargo), so with the repository's own target folder a second dry run in
# the same clone compiles against the first run's lockhound 0.1.0 instead of today's source.
# A target folder of this run's own gives a registry path, and an unpack folder, never used
# before; the unpack folders this run made are removed again afterwards.
src_root="${CARGO_HOME:-$HOME/.cargo}/registry/src"
mkdir -p "$src_root"
before="$(ls "$src_root")"
set +e
published="$(cd "$repo" && cargo publish --dry-run --allow-dirty --target-dir "$work/publish-target" \
  -p lockhound -p lockhound-reports -p lockhound-scenarios -p lockhound-cli 2>&1)"
status=$?
set -e
for made in $(comm -13 <(sort <<<"$before") <(ls "$src_root" | sort)); do
  # Only a folder holding nothing but lockhound's own packages is this run's unpacking.
  if ! ls "$src_root/$made" | grep -qv '^lockhound'; then rm -rf "${src_root:?}/$made"; fi
done
grep -E "^ *(Packaging|Verifying|Uploading|error)" <<<"$published" || true
[ "$status" -eq 0 ] || fail "cargo publish --dry-run failed (exit $status)"
echo "outside-crate: all checks passed"
