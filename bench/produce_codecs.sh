#!/usr/bin/env bash
# Produce throughput and broker CPU per codec: the broker opens every compressed batch
# (validation, issue 10), so this is where that costs. A fresh release `strata server`
# per codec; kbench (librdkafka) produces 1M x 100 B records, acks=1, linger 5 ms.
#
# Usage: bench/produce_codecs.sh [CODEC...]     (default: none gzip snappy lz4 zstd)
#        STRATA_BIN=/path/to/strata bench/produce_codecs.sh   (another build, no build)
# Prints one line per codec: msgs/s (kbench) and broker CPU seconds per million records
# (from /proc/<pid>/stat, since the load generator shares the cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
. "$root/bench/kbench.sh"
if [ -n "${STRATA_BIN:-}" ]; then
    bin=$STRATA_BIN
else
    cargo build --release -q -p strata-cli --manifest-path "$root/Cargo.toml"
    bin=$root/target/release/strata
fi
codecs=("$@")
[ ${#codecs[@]} -gt 0 ] || codecs=(none gzip snappy lz4 zstd)
hz=$(getconf CLK_TCK)
for codec in "${codecs[@]}"; do
    data=$(mktemp -d)
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    http=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    "$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --registry off 2>"$data.log" &
    pid=$!
    for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    before=$(awk '{print $14+$15}' /proc/$pid/stat)
    out=$("$kb" produce --brokers "127.0.0.1:$port" --topic "codec-$codec" --create-partitions 1 \
        --messages 1000000 --size 100 --acks 1 --linger-ms 5 --compression "$codec")
    after=$(awk '{print $14+$15}' /proc/$pid/stat)
    kill $pid; wait $pid 2>/dev/null || true
    rm -rf "$data" "$data.log"
    python3 - "$codec" "$before" "$after" "$hz" "$out" <<'PY'
import json, sys
codec, before, after, hz, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
r = json.loads(out.strip().splitlines()[-1])
print(f"{codec}: {r['msgs_per_s']:.0f} msgs/s, broker cpu_s_per_million={(after - before) / hz:.3f}")
PY
done
