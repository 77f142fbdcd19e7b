#!/usr/bin/env bash
# A/B produce throughput of two builds running side by side: starts both brokers, then
# alternates `kbench produce` (1M x 100 B, acks=1, linger 5 ms) between them RUNS times
# and prints the median and range per build. Alternating on live brokers spreads the
# machine's noise over both builds.
#
# Usage: bench/produce_ab.sh BASE_BIN NEW_BIN [RUNS]     (default 12 runs each)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
. "$root/bench/kbench.sh"
runs=${3:-12}
dirs=(); pids=(); ports=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "${dirs[@]}"; }
trap cleanup EXIT
for bin in "$1" "$2"; do
    data=$(mktemp -d)
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    http=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    "$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --registry off 2>/dev/null &
    pids+=($!); dirs+=("$data"); ports+=("$port")
    for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
out=$(mktemp); dirs+=("$out")
for i in $(seq 1 "$runs"); do
    for k in 0 1; do
        r=$("$kb" produce --brokers "127.0.0.1:${ports[$k]}" --topic "ab-$i" --create-partitions 1 \
            --messages 1000000 --size 100 --acks 1 --linger-ms 5 2>/dev/null)
        echo "$k $r" >>"$out"
    done
done
python3 - "$out" "$1" "$2" <<'PY'
import json, statistics, sys
rows = [l.split(" ", 1) for l in open(sys.argv[1]) if l.strip()]
for k, name in ((0, sys.argv[2]), (1, sys.argv[3])):
    v = sorted(json.loads(r)["msgs_per_s"] for i, r in rows if int(i) == k)
    print(f"{name}: median {statistics.median(v):,.0f} msg/s, range {v[0]:,.0f}-{v[-1]:,.0f} ({len(v)} runs)")
PY
