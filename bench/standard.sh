#!/usr/bin/env bash
# The issue-2 benchmark: a release `strata server` on a fresh data dir (durable on-disk
# log, default flush policy), driven by the shared standard benchmark (kbench on
# librdkafka), plus the broker's CPU time and resident memory.
#
# Usage: bench/standard.sh [RUNS]        (default 3)
#        STRATA_BIN=/path/to/strata bench/standard.sh   (another build, e.g. a baseline; no build)
# Prints the standard medians line, broker CPU seconds per million records (each record
# counted once produced and once consumed), idle RSS with 1,000 partitions, and RSS
# after the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
runs=${1:-3}
if [ -n "${STRATA_BIN:-}" ]; then
    bin=$STRATA_BIN
else
    cargo build --release -q -p strata-cli --manifest-path "$root/Cargo.toml"
    bin=$root/target/release/strata
fi
data=$(mktemp -d)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
http=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --registry off 2>"$data.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

rss_kb() { awk '/VmRSS/{print $2}' /proc/$pid/status; }
cpu_ticks() { awk '{print $14+$15}' /proc/$pid/stat; }

# Idle memory with 1,000 partitions (each holding a few records).
"$bin" -b "127.0.0.1:$port" topic create idle-1000 --partitions 1000 >/dev/null
seq 1 10000 | "$bin" -b "127.0.0.1:$port" produce idle-1000 >/dev/null 2>&1
sleep 2
idle_rss=$(rss_kb)

before=$(cpu_ticks)
"$shared/bench/standard" "127.0.0.1:$port" "$runs" | tee /dev/stderr | tail -n 1
after=$(cpu_ticks)
hz=$(getconf CLK_TCK)
python3 - "$before" "$after" "$hz" "$runs" "$idle_rss" "$(rss_kb)" "$(du -sm "$data" | cut -f1)" <<'PY'
import sys
before, after, hz, runs, idle, rss, mb = map(float, sys.argv[1:])
# Per run: 1.4M records produced (1M x 100 B, 300k x 1 KiB, 100k e2e) and the same consumed.
records = runs * 2.8e6
cpu = (after - before) / hz
print(f"broker: cpu_s={cpu:.2f} cpu_s_per_million_records={cpu / records * 1e6:.3f} "
      f"idle_rss_1000_partitions={idle / 1024:.1f} MB rss_after={rss / 1024:.1f} MB data_on_disk={mb:.0f} MB")
PY
