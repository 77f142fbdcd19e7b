#!/usr/bin/env bash
# Who bounds a keyed produce spread over many partitions: the CPU of each thread of the
# load generator (kbench, librdkafka) and of the broker during the run.
#
# Usage: bench/spread_threads.sh BIN [ROUNDS]     (default 2 rounds)
#        PARTITIONS=10000 RECORDS=500000 (100 B records, 100,000 keys, acks=1, linger 5 ms,
#        as bench/scale.sh) PIN=1 (broker on CPU 1, kbench on CPU 0, so neither takes the
#        other's core) KBENCH=/path/to/kbench
#
# One broker, fresh data dir, `ulimit -n 20000`; creates the topic, waits until every
# partition directory exists, produces once to warm up (every partition's first flush
# creates its checkpoint file), then per round runs kbench and samples each thread's
# utime + stime (/proc/PID/task/TID/stat) over 3 s in the middle of the run. Prints the
# records/s and each busy thread's share of a core.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
. "$root/bench/kbench.sh"
bin=$1; rounds=${2:-2}
partitions=${PARTITIONS:-10000}; records=${RECORDS:-500000}
ulimit -n 20000
broker_cpu=(); client_cpu=()
if [ "${PIN:-0}" = 1 ]; then broker_cpu=(taskset -c 1); client_cpu=(taskset -c 0); fi
data=$(mktemp -d)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"${broker_cpu[@]}" "$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http 127.0.0.1:0 --registry off 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
produce() {
    "${client_cpu[@]}" "$kb" produce --topic big --messages "$1" --size 100 --keys 100000 --acks 1 \
        --linger-ms 5 --brokers "127.0.0.1:$port" 2>/dev/null
}
"$kb" produce --topic big --create-partitions "$partitions" --messages 100 --size 100 \
    --brokers "127.0.0.1:$port" >/dev/null 2>&1 || true  # a slow create times out in the client
for _ in $(seq 240); do
    [ "$(find "$data" -maxdepth 1 -name 'big-*' | wc -l)" -ge "$partitions" ] && break
    sleep 0.5
done
produce 200000 >/dev/null
# One "PID NAME TICKS" line per thread of each process given.
snap() { for p in "$@"; do for t in /proc/"$p"/task/*; do
    echo "$p $(tr ' ' _ <"$t/comm") $(awk '{print $14+$15}' "$t/stat" 2>/dev/null || echo 0)"
done; done; }
out=$(mktemp)
for r in $(seq "$rounds"); do
    # Not through `produce`: $! must be kbench itself (taskset execs it).
    "${client_cpu[@]}" "$kb" produce --topic big --messages "$records" --size 100 --keys 100000 \
        --acks 1 --linger-ms 5 --brokers "127.0.0.1:$port" >"$out" 2>/dev/null &
    kp=$!
    sleep 2
    a=$(snap "$kp" "$pid"); sleep 3; b=$(snap "$kp" "$pid")
    wait "$kp"
    python3 - "$out" "$r" "$pid" <<EOF
import collections, json, os, sys
hz = os.sysconf("SC_CLK_TCK")
def rd(text):
    d = collections.Counter()
    for line in text.splitlines():
        p, name, t = line.split()
        d[("broker" if p == sys.argv[3] else "kbench", name)] += int(t)
    return d
a, b = rd("""$a"""), rd("""$b""")
res = json.load(open(sys.argv[1]))
busy = ", ".join(f"{who} {name} {100 * (b[k] - a.get(k, 0)) / hz / 3:.0f} %"
                 for k in sorted(b) for who, name in [k] if b[k] - a.get(k, 0) > 0)
print(f"round {sys.argv[2]}: {res['msgs_per_s']:,.0f} records/s; threads (share of a core): {busy}")
EOF
done
rm -f "$out"
