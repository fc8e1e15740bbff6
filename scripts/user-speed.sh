#!/usr/bin/env bash
# How fast lockhound explores in a user's own crate, against the workspace's own command line,
# on the same body: loom's full search of idr-aba's fixed variant (62,330 executions), the
# body compiled inside a user crate (by #[path]) exactly as a user's scenario is.
#
#   scripts/user-speed.sh [ROUNDS]     (default 3; each arm is built once, run ROUNDS times)
#
# Arms, each a fresh crate outside the workspace with only `lockhound` and `lockhound-cli`
# path dependencies: `cargo test` with no profile settings; `cargo test` with the settings
# docs/performance.md recommends; `cargo test --release`. The baseline is the workspace's
# `lockhound` binary (release), measured in the same run. Prints executions per second and
# the ratio to the baseline (median of ROUNDS). Takes a few minutes: three builds.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}"
# Kept between runs (a second run rebuilds nothing), under the workspace's target folder.
work="$repo/target/user-speed"
mkdir -p "$work"
args=(run idr-aba --variant fixed --backend loom --preemption-bound none --iterations 100000 --jobs 1 --json)

# Executions per second of one run's JSON on stdin.
rate() {
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["executions"]/(d["search_ms"]/1000)))'
}
# One arm's run: its JSON on stdout (cargo's own output on stderr).
run_arm() { # DIR FLAGS...
  local dir=$1
  shift
  (cd "$dir" && cargo test -q "$@" --test lockhound -- "${args[@]}")
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

make_crate() { # NAME PROFILE-TEXT
  local dir="$work/$1"
  mkdir -p "$dir/tests"
  cat >"$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false
[dev-dependencies]
lockhound = { path = "$repo/harness" }
lockhound-cli = { path = "$repo/cli" }
[[test]]
name = "lockhound"
harness = false
$2
[workspace]
TOML
  cat >"$dir/tests/lockhound.rs" <<RS
#[path = "$repo/scenarios/src/idr_aba.rs"]
mod idr_aba;
lockhound_cli::main!(idr_aba::scenario());
RS
  # The same locked versions as the workspace.
  cp "$repo/Cargo.lock" "$dir/Cargo.lock"
  echo "$dir"
}

recommended='[profile.dev.package."*"]
opt-level = 3
[profile.dev]
opt-level = 1'

echo "== building the workspace's lockhound (release)"
(cd "$repo" && cargo build --release -q -p lockhound-cli)
baseline() { "$repo/target/release/lockhound" "${args[@]}"; }

plain="$(make_crate plain '')"
tuned="$(make_crate tuned "$recommended")"
arm_dir() { case $1 in tuned) echo "$tuned" ;; *) echo "$plain" ;; esac; }
arm_flags() { case $1 in release) echo --release ;; esac; }
for arm in plain tuned release; do
  echo "== building the user crate: $arm"
  # shellcheck disable=SC2046
  (cd "$(arm_dir $arm)" && cargo test -q $(arm_flags $arm) --test lockhound --no-run)
done

declare -A rates
for _ in $(seq "$rounds"); do
  rates[baseline]+="$(baseline | rate) "
  for arm in plain tuned release; do
    # shellcheck disable=SC2046
    rates[$arm]+="$(run_arm "$(arm_dir $arm)" $(arm_flags $arm) | rate) "
  done
done
base=$(tr ' ' '\n' <<<"${rates[baseline]}" | grep . | median)
printf '\n| build | executions/s (median of %s) | vs workspace CLI |\n|---|---|---|\n' "$rounds"
printf '| workspace `lockhound` (release) | %s | 1.00x |\n' "$base"
for arm in plain tuned release; do
  m=$(tr ' ' '\n' <<<"${rates[$arm]}" | grep . | median)
  printf '| user crate, %s | %s | %.2fx |\n' "$arm" "$m" "$(python3 -c "print($m/$base)")"
done
