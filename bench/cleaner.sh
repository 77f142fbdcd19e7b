#!/usr/bin/env bash
# Log-cleaner benchmark (issue 5): 1 GiB compacted logs with 1% live keys (1M x 1 KiB
# records over 10,000 keys).
#  1. Unthrottled: cleaner throughput (bytes read / time), from the broker's own log line.
#  2. Throttled to 100 MB/s so a clean lasts seconds: end-to-end latency of a 10k rec/s
#     stream on another topic while it runs, against a baseline with no cleaning.
#
# Usage: bench/cleaner.sh [STRATA_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
bin=${1:-$root/target/release/strata}
. "$root/bench/kbench.sh"
data=$(mktemp -d)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
http=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --registry off 2>"$data.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
b=127.0.0.1:$port
load() {  # a compacted topic, held back from cleaning by a one-day compaction lag
  "$bin" -b "$b" topic create "$1" --partitions 1 --config cleanup.policy=compact \
    --config segment.bytes=67108864 --config min.compaction.lag.ms=86400000 >/dev/null
  "$kb" produce --brokers "$b" --topic "$1" --messages 1000000 --size 1024 --keys 10000 --acks 1 >/dev/null
}
wait_clean() {  # prints the n-th "cleaned log" line once it exists
  for _ in $(seq 1200); do
    [ "$(grep -c "cleaned log" "$data.log")" -ge "$1" ] && break; sleep 0.1
  done
  grep "cleaned log" "$data.log" | sed -n "${1}p"
}
report() {
  python3 -c '
import re, sys
line = sys.stdin.read()
ms = int(re.search(r"elapsed_ms=(\d+)", line).group(1))
read = int(re.search(r"bytes_read: (\d+)", line).group(1))
before = int(re.search(r"bytes_before: (\d+)", line).group(1))
after = int(re.search(r"bytes_after: (\d+)", line).group(1))
print(f"{sys.argv[1]}: read {read/2**20:.0f} MiB in {ms/1000:.2f} s = {read/2**20/(ms/1000):.0f} MiB/s; "
      f"sealed segments {before/2**20:.0f} MiB -> {after/2**20:.1f} MiB")
' "$1"
}

load unthrottled
"$bin" -b "$b" topic alter-config unthrottled --set min.compaction.lag.ms=0 >/dev/null
wait_clean 1 | report "cleaner (unthrottled)"

load throttled
"$kb" e2e --brokers "$b" --topic e2e-base --create-partitions 1 --rate 10000 --duration-secs 10 --size 100 \
  | sed 's/^/e2e baseline (no cleaning): /'
"$bin" -b "$b" broker config --set log.cleaner.io.max.bytes.per.second=104857600 >/dev/null
"$bin" -b "$b" topic alter-config throttled --set min.compaction.lag.ms=0 >/dev/null
"$kb" e2e --brokers "$b" --topic e2e-clean --create-partitions 1 --rate 10000 --duration-secs 10 --size 100 \
  | sed 's/^/e2e while cleaning at 100 MB\/s: /'
wait_clean 2 | report "cleaner (throttled to 100 MB/s)"
