#!/usr/bin/env bash
# examples/queue, a user's crate outside the workspace, driven the way its author would:
# `cargo lockhound` (this workspace's cargo-lockhound on PATH) for list, run (and the replay
# it prints), track, run --guard-pages and check --junit; plain `cargo test` for the same
# gate cases; and, with --miri, `cargo lockhound miri` (needs nightly with miri).
#
#   scripts/example-crate.sh [--miri]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
example="$repo/examples/queue"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "example-crate: $*" >&2; exit 1; }

echo "== building cargo-lockhound"
# The dev profile the README's commands build (its dependencies are optimized): no second
# build of the workspace.
(cd "$repo" && cargo build -q -p lockhound-cli)
export PATH="$repo/target/debug:$PATH"
cd "$example"

expect_exit() { # STATUS COMMAND...: runs it, output to $work/out, fails unless it exits STATUS
  local want=$1
  shift
  set +e
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  set -e
  [ "$got" -eq "$want" ] || fail "$* exited $got, not $want: $(tail -n 20 "$work/out" "$work/err")"
}

echo "== cargo lockhound list"
expect_exit 0 cargo lockhound list
for s in handoff capacity oneshot; do grep -q "^$s$" "$work/out" || fail "list lacks $s"; done

echo "== cargo lockhound run handoff --variant one-condvar (a finding, a trace, a replay)"
expect_exit 1 cargo lockhound run handoff --variant one-condvar
grep -q "FAIL — deadlock" "$work/out" || fail "no deadlock finding: $(cat "$work/out")"
grep -q "^   step |" "$work/out" || fail "no trace"
replay="$(grep -m1 "^  replay: " "$work/out" | sed 's/^  replay: //')"
case "$replay" in "cargo lockhound replay handoff --variant one-condvar --schedule "*) ;; *) fail "replay line: $replay" ;; esac
echo "== the printed replay, pasted: $replay"
expect_exit 1 bash -c "$replay"
grep -q "deadlock" "$work/out" || fail "the replay did not reproduce the deadlock"

echo "== cargo lockhound track handoff --variant fixed --out DIR"
expect_exit 0 cargo lockhound track handoff --variant fixed --iterations 50 --out "$work/track"
for f in wait.svg hold.svg lock-order.dot report.txt report.json; do [ -s "$work/track/$f" ] || fail "track wrote no $f"; done
grep -q "src/lib.rs" "$work/track/report.txt" || fail "the tracker's classes do not name the library's locks"

echo "== cargo lockhound run capacity --guard-pages"
expect_exit 0 cargo lockhound run capacity --guard-pages --iterations 20
grep -q "under guard pages: pass" "$work/out" || fail "guard pages: $(cat "$work/out")"

echo "== cargo lockhound check --junit FILE"
expect_exit 0 cargo lockhound check --junit "$work/junit.xml"
cases="$(python3 - "$work/junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
names = [(s.get("name"), c.get("name")) for s in root.iter("testsuite") for c in s.iter("testcase")]
assert len(names) == len(set(names)), "a case appears twice"
print(len(names))
PY
)"
echo "ok: $cases JUnit test cases, one per (scenario, variant, backend)"

echo "== cargo test: the same cases as tests"
expect_exit 0 cargo test --test lockhound
ran="$(grep -cE "^test .* \.\.\. (ok|ignored)$" "$work/out")"
[ "$ran" -eq "$cases" ] || fail "cargo test ran $ran cases, check has $cases"
echo "ok: $ran tests"

if [ "${1:-}" = "--miri" ]; then
  echo "== cargo lockhound miri"
  expect_exit 0 cargo lockhound miri
  grep -q "stopped by miri: .*Undefined Behavior" "$work/out" || fail "the relaxed variant was not stopped for UB"
  grep "^ok " "$work/out"
fi
echo "example-crate: all checks passed"
