#!/usr/bin/env bash
# A/B produce throughput of two builds running side by side: starts both brokers, then
# alternates `kbench produce` (1M x 100 B, acks=1 unless ACKS says, linger 5 ms) between them RUNS times
# and prints the median and range per build, and the broker's CPU per record (its
# threads' time on a CPU over each run, from /proc/PID/task/*/schedstat). Alternating on live brokers spreads the
# machine's noise over both builds; on a VM whose host is busy some runs cost twice as
# much, so the lower quartile and the minimum are the steadier figures.
#
# Usage: bench/produce_ab.sh BASE_BIN NEW_BIN [RUNS]     (default 12 runs each)
#        MESSAGES=1000000 SIZE=100 (e.g. MESSAGES=300000 SIZE=1024 for 1 KiB records)
#        ACKS=all for acknowledgements after fsync (default 1)
#        KEEP_TOPICS=1 keeps each run's topic (by default it is deleted after the run, so
#        the page cache stays the same size from run to run)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
. "$root/bench/kbench.sh"
runs=${3:-12}
messages=${MESSAGES:-1000000}
size=${SIZE:-100}
dirs=(); pids=(); ports=(); bins=("$1" "$2")
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
out=$(mktemp); dirs+=("$out" "$out.before" "$out.after")
# Nanoseconds on a CPU of each thread of process $1, from /proc/PID/task/TID/schedstat
# (finer than /proc/PID/stat's clock ticks): one "TID NS" line each. The difference of
# two snapshots counts each thread alive at the second from its value at the first (0 if
# it started in between); a thread that ended in between loses only its time since then.
threads_cpu() {
    for t in /proc/"$1"/task/*; do
        read -r ns _ <"$t/schedstat" 2>/dev/null && echo "${t##*/} $ns"
    done
}
for i in $(seq 1 "$runs"); do
    for k in 0 1; do
        threads_cpu "${pids[$k]}" >"$out.before"
        r=$("$kb" produce --brokers "127.0.0.1:${ports[$k]}" --topic "ab-$i" --create-partitions 1 \
            --messages "$messages" --size "$size" --acks "${ACKS:-1}" --linger-ms 5 2>/dev/null)
        threads_cpu "${pids[$k]}" >"$out.after"
        ns=$(awk 'NR == FNR { b[$1] = $2; next } { d += $2 - b[$1] } END { print d + 0 }' "$out.before" "$out.after")
        echo "$k $ns $r" >>"$out"
        # Drop the topic again: a page cache that grows run after run made later runs
        # up to four times as costly on a VM whose fresh memory faults on the host.
        [ "${KEEP_TOPICS:-0}" = 1 ] ||
            "${bins[$k]}" topic delete "ab-$i" -b "127.0.0.1:${ports[$k]}" >/dev/null 2>&1 || true
    done
done
python3 - "$out" "$1" "$2" <<'PY'
import json, statistics, sys
rows = [l.split(" ", 2) for l in open(sys.argv[1]) if l.strip()]
for k, name in ((0, sys.argv[2]), (1, sys.argv[3])):
    mine = [(int(t), json.loads(r)) for i, t, r in rows if int(i) == k]
    v = sorted(r["msgs_per_s"] for _, r in mine)
    us = sorted(t / 1e3 / r["msgs"] for t, r in mine)
    print(f"{name}: median {statistics.median(v):,.0f} msg/s, range {v[0]:,.0f}-{v[-1]:,.0f} ({len(v)} runs); "
          f"broker CPU median {statistics.median(us):.3f} us/record, lower quartile {us[len(us) // 4]:.3f}, "
          f"range {us[0]:.3f}-{us[-1]:.3f}")
PY
