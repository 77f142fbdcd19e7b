#!/usr/bin/env bash
# Log-cleaner benchmark (issue 5): a 1 GiB compacted log with 1% live keys (1M x 1 KiB
# records over 10,000 keys), cleaned once; reports cleaner throughput and end-to-end
# latency on another topic with and without the cleaner running.
#
# Usage: bench/cleaner.sh [STRATA_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
bin=${1:-$root/target/release/strata}
kb=$shared/bench/kbench/target/release/kbench
[ -x "$kb" ] || (cd "$shared/bench/kbench" && cargo build --release --quiet)
data=$(mktemp -d)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
http=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" 2>"$data.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
b=127.0.0.1:$port
# Dirty ratio 0.99 while loading, so the cleaner waits until we ask.
"$bin" -b "$b" topic create compacted --partitions 1 --config cleanup.policy=compact \
  --config segment.bytes=67108864 --config min.cleanable.dirty.ratio=0.99 >/dev/null
"$kb" produce --brokers "$b" --topic compacted --messages 1000000 --size 1024 --keys 10000 --acks 1 >/dev/null
"$kb" e2e --brokers "$b" --topic e2e-base --create-partitions 1 --rate 10000 --duration-secs 10 --size 100 \
  | sed 's/^/baseline: /'
"$bin" -b "$b" topic alter-config compacted --set min.cleanable.dirty.ratio=0.01 >/dev/null
echo "cleaning enabled at $(date +%H:%M:%S.%N | cut -c1-12)"
"$kb" e2e --brokers "$b" --topic e2e-clean --create-partitions 1 --rate 10000 --duration-secs 10 --size 100 \
  | sed 's/^/during cleaning: /'
for _ in $(seq 600); do grep -q "cleaned log" "$data.log" && break; sleep 0.5; done
grep "cleaned log" "$data.log" | head -1 | python3 -c '
import re, sys
line = re.sub(r"\x1b\[[0-9;]*m", "", sys.stdin.read())
ms = int(re.search(r"elapsed_ms=(\d+)", line).group(1))
read = int(re.search(r"bytes_read: (\d+)", line).group(1))
before = int(re.search(r"bytes_before: (\d+)", line).group(1))
after = int(re.search(r"bytes_after: (\d+)", line).group(1))
print("cleaned-log line:", line.strip()[:32])
print(f"cleaner: read {read/2**20:.0f} MiB in {ms/1000:.2f} s = {read/2**20/(ms/1000):.0f} MiB/s; "
      f"segments {before/2**20:.0f} MiB -> {after/2**20:.1f} MiB")
'
