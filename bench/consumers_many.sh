#!/usr/bin/env bash
# Many readers of one topic: per build, a fresh broker holding RECORDS x SIZE bytes (one
# topic, PARTITIONS partitions, written once with `strata bench produce`), read from the
# start by one `strata bench consume` alone, then by READERS of them at once (each an
# independent reader from offset 0, like as many consumer groups). Prints each reader's
# throughput, their sum, and the broker's CPU from /proc/PID/stat (the load generator
# shares the machine's cores, so the broker's CPU is the figure to compare).
#
# Usage: bench/consumers_many.sh BIN_A [BIN_B] [RECORDS] [SIZE] [READERS] [PARTITIONS]
#        (defaults: 300000 records of 1024 bytes, 8 readers, 1 partition)
set -euo pipefail
a=$1 b=${2:-} records=${3:-300000} size=${4:-1024} readers=${5:-8} partitions=${6:-1}
out=$(mktemp)
hz=$(getconf CLK_TCK)
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
consume() {  # BIN PORT -> one JSON line
    "$1" -b "127.0.0.1:$2" --format json bench consume --topic many --records "$records" | tail -n 1
}
run() {  # BIN LABEL
    local bin=$1 label=$2 data port http pid before after tmp
    data=$(mktemp -d); port=$(free_port); http=$(free_port); tmp=$(mktemp -d)
    "$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --registry off 2>"$data.log" &
    pid=$!
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    "$bin" -b "127.0.0.1:$port" topic create many --partitions "$partitions" >/dev/null
    "$bin" -b "127.0.0.1:$port" bench produce --topic many --records "$records" --record-size "$size" --acks 1 >/dev/null
    sleep 1
    # One reader alone (a first read warms nothing: the data was just written).
    before=$(ticks "$pid")
    consume "$bin" "$port" >"$tmp/alone"
    after=$(ticks "$pid")
    echo "{\"build\":\"$label\",\"readers\":1,\"ticks\":$((after - before)),\"results\":[$(cat "$tmp/alone")]}" | tee -a "$out"
    # READERS at once.
    before=$(ticks "$pid")
    local pids=()
    for i in $(seq "$readers"); do consume "$bin" "$port" >"$tmp/r$i" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    after=$(ticks "$pid")
    local results
    results=$(for i in $(seq "$readers"); do cat "$tmp/r$i"; done | paste -sd, -)
    echo "{\"build\":\"$label\",\"readers\":$readers,\"ticks\":$((after - before)),\"results\":[$results]}" | tee -a "$out"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$data" "$data.log" "$tmp"
}
run "$a" A
[ -n "$b" ] && run "$b" B
python3 - "$out" "$hz" "$records" "$size" <<'PY'
import json, sys
path, hz, records, size = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for r in (json.loads(l) for l in open(path) if l.strip()):
    n = r["readers"]
    mbs = [x["mb_per_sec"] for x in r["results"]]
    secs = r["ticks"] / hz
    gb = n * records * size / 1e9
    print(f'{r["build"]} {n} reader(s): each {", ".join(f"{m:.0f}" for m in mbs)} MB/s '
          f'(min {min(mbs):.0f}, sum {sum(mbs):.0f}); broker CPU {secs:.2f} s = {secs / gb:.3f} s/GB '
          f'= {secs * 1e6 / (n * records):.3f} µs/record')
PY
