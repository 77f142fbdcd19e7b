#!/usr/bin/env bash
# Consume cost A/B: two builds, alternated, each on a fresh broker holding the same data
# (RECORDS x SIZE bytes, one partition, written once with `strata bench produce`), then
# read from the start REPEAT times with `strata bench consume`. Prints, per build, the
# median consume throughput and the broker's CPU seconds per GB served (what the client
# cannot disturb).
#
# Usage: bench/consume_ab.sh BIN_A BIN_B [ROUNDS] [RECORDS] [SIZE] [REPEAT]
#        (defaults: 3 rounds, 300000 records of 1024 bytes, 3 reads per round)
#        COLD=1: restart the broker cleanly after writing, so the first read serves
#        segments this process has not checked yet (the page cache stays warm).
set -euo pipefail
a=$1 b=$2 rounds=${3:-3} records=${4:-300000} size=${5:-1024} repeat=${6:-3}
out=$(mktemp)
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
run() {  # BIN LABEL
    local bin=$1 label=$2 data port http pid
    data=$(mktemp -d); port=$(free_port); http=$(free_port)
    "$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --registry off 2>"$data.log" &
    pid=$!
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    "$bin" -b "127.0.0.1:$port" topic create ab --partitions 1 >/dev/null
    "$bin" -b "127.0.0.1:$port" bench produce --topic ab --records "$records" --record-size "$size" --acks 1 >/dev/null
    sleep 1
    if [ "${COLD:-0}" = 1 ]; then
        kill "$pid"; wait "$pid" 2>/dev/null || true
        "$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --registry off 2>>"$data.log" &
        pid=$!
        for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
        sleep 1
    fi
    for _ in $(seq "$repeat"); do
        local before after json
        before=$(awk '{print $14+$15}' /proc/$pid/stat)
        json=$("$bin" -b "127.0.0.1:$port" --format json bench consume --topic ab --records "$records" | tail -n 1)
        after=$(awk '{print $14+$15}' /proc/$pid/stat)
        echo "{\"build\":\"$label\",\"ticks\":$((after - before)),\"result\":$json}" | tee -a "$out"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$data" "$data.log"
}
for r in $(seq "$rounds"); do
    run "$a" A
    run "$b" B
done
python3 - "$out" "$(getconf CLK_TCK)" "$records" "$size" <<'PY'
import json, statistics, sys
path, hz, records, size = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [json.loads(l) for l in open(path) if l.strip()]
gb = records * size / 1e9
for build in ("A", "B"):
    rs = [r for r in rows if r["build"] == build]
    cpu = [r["ticks"] / hz / gb for r in rs]
    mbs = [r["result"]["mb_per_sec"] for r in rs]
    print(f"{build}: consume median {statistics.median(mbs):.1f} MB/s (range {min(mbs):.1f}-{max(mbs):.1f}), "
          f"broker CPU median {statistics.median(cpu):.3f} s/GB (range {min(cpu):.3f}-{max(cpu):.3f}), n={len(rs)}")
PY
