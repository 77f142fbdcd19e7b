#!/usr/bin/env bash
# Offset-commit throughput (issue 3): a fresh release broker, a topic of 8 partitions,
# then `strata bench commit` (64 connections x 32 pipelined simple commits over 16
# groups, each commit acknowledged once fsynced) RUNS times, with the broker's CPU.
# Usage: bench/commits.sh [RUNS] [extra `strata bench commit` flags...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${1:-3}"; shift || true
BIN="${STRATA_BIN:-$ROOT/target/release/strata}"
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -q)
DIR="$(mktemp -d)"; PORT=$((20000 + RANDOM % 20000)); HTTP=$((PORT + 1))
"$BIN" server --data-dir "$DIR/data" --listen "127.0.0.1:$PORT" --http "127.0.0.1:$HTTP" --registry off >"$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do "$BIN" -b "127.0.0.1:$PORT" topic list >/dev/null 2>&1 && break; sleep 0.1; done
"$BIN" -b "127.0.0.1:$PORT" topic create commit-bench --partitions 8 >/dev/null
TICK=$(getconf CLK_TCK)
for i in $(seq "$RUNS"); do
  before=$(awk '{print $14+$15}' /proc/$PID/stat)
  out=$("$BIN" -b "127.0.0.1:$PORT" --format json bench commit --topic commit-bench --seconds 7 "$@")
  after=$(awk '{print $14+$15}' /proc/$PID/stat)
  echo "$out" | python3 -c "import json,sys; r=json.load(sys.stdin); c=($after-$before)/$TICK; print(f\"run $i: {r['commits_per_sec']:.0f} commits/s, p50 {r['latency_ms']['p50']:.1f} ms, p99 {r['latency_ms']['p99']:.1f} ms, errors {r['errors']}, broker CPU {c/r['elapsed_s']*100:.0f}% = {c/r['commits']*1e6:.1f} us/commit\")"
done
