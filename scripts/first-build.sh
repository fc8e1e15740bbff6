#!/usr/bin/env bash
# The newcomer's first build, measured: the README's two commands on fresh clones of two
# commits, one after the other in the same session, so the figures compare on one machine.
#
#   scripts/first-build.sh [BASELINE] [CANDIDATE]      (defaults: main and HEAD)
#
# For each commit it clones this repository into a temporary folder, runs
#   cargo run -p lockhound-cli -- check        (the main job on the built-in scenarios)
#   cargo test --workspace                     (the tests)
# there with an empty target folder, and prints the wall-clock and processor time of each, the size of
# target/ after both, and how many crates the test command compiled that the main job had not.
# Crates are downloaded before the clock starts (`cargo fetch`): the figures are build and run
# times, not network. The last line gives the candidate's times as ratios of the baseline's.
#
# It takes as long as four first builds (about half an hour on 2 cores); other work on the
# machine slows both commits alike only if it lasts the whole run, so run it on a quiet machine
# (or compare the processor times, which load hardly changes).
#
# Exit status: 0 measured; 2 a clone or a command failed (its output is shown).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
baseline=${1:-main}
candidate=${2:-HEAD}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# timed COMMAND...: runs COMMAND, keeps its output in $scratch/log, prints "WALL CPU": elapsed
# seconds, and the seconds of processor time it and the compilers it ran used (user and system).
# Processor time hardly changes with what else the machine does; elapsed time does.
timed() {
  if ! /usr/bin/time -f '%e %U %S' -o "$scratch/time" "$@" >"$scratch/log" 2>&1; then
    tail -n 30 "$scratch/log" >&2
    echo "first-build: '$*' failed" >&2
    exit 2
  fi
  awk '{ printf "%d %d\n", $1, $2 + $3 }' "$scratch/time"
}

measure() {
  local name=$1 rev=$2 dir="$scratch/$1"
  git clone -q --no-local "$repo" "$dir"
  git -C "$dir" checkout -q "$(git -C "$repo" rev-parse "$rev")"
  (cd "$dir" && cargo fetch -q)
  local main_job tests compiled size
  main_job=$(cd "$dir" && timed cargo run -p lockhound-cli -- check)
  tests=$(cd "$dir" && timed cargo test --workspace)
  compiled=$(grep -c '^ *Compiling ' "$scratch/log" || true)
  size=$(du -sh "$dir/target" | cut -f1)
  set -- $main_job $tests
  printf '%-9s %s  main job %4d s (cpu %4d s)  tests %4d s (cpu %4d s; %d crates compiled for them)  target/ %s\n' \
    "$name" "$(git -C "$dir" rev-parse --short HEAD)" "$1" "$2" "$3" "$4" "$compiled" "$size"
  eval "${name}_main=$1 ${name}_main_cpu=$2 ${name}_tests=$3 ${name}_tests_cpu=$4"
  rm -rf "$dir"
}

measure baseline "$baseline"
measure candidate "$candidate"
python3 - "$candidate_main" "$candidate_tests" "$baseline_main" "$baseline_tests" \
  "$candidate_main_cpu" "$candidate_tests_cpu" "$baseline_main_cpu" "$baseline_tests_cpu" <<'PY'
import sys
m, t, bm, bt, mc, tc, bmc, btc = map(int, sys.argv[1:])
print(f"candidate/baseline: main job {m/bm:.2f}x (cpu {mc/bmc:.2f}x), tests {t/bt:.2f}x (cpu {tc/btc:.2f}x)")
PY
