#!/usr/bin/env bash
# Scale (issue 12): one restart of a release `strata server` on a kept data dir (e.g.
# `KEEP=1 bench/scale.sh` leaves one), timed as bench/scale.sh times it: from starting
# the process until a full Metadata lists EXPECT partitions of topic `big` with a leader.
# Prints that line with the broker's CPU seconds at that moment (utime+stime, user,
# system), then stops the broker with SIG. For interleaved A/B runs of two binaries.
#
# Usage: bench/scale_restart.sh BIN DATA_DIR [SIG=TERM]
# Env:   EXPECT=100000  PERF=1 (perf record -g of the start into /tmp/perf.data)
#        LOG=/tmp/scale-restart-broker.log
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$1; data=$2; sig=${3:-TERM}
py=${PYTHON:-$root/.venv/bin/python}
log=${LOG:-/tmp/scale-restart-broker.log}
ulimit -n 20000
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port=$(free_port); http=$(free_port)
t0=$(date +%s.%N)
"$bin" server --data-dir "$data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" --registry off 2>>"$log" >/dev/null &
pid=$!
if [ "${PERF:-0}" = 1 ]; then perf record -F 999 -g -o /tmp/perf.data -p "$pid" 2>/dev/null & perf_pid=$!; fi
r=$("$py" "$root/bench/scale_metadata.py" --topics big --timeout 120 --pid "$pid" \
    ready "127.0.0.1:$port" "$port" "${EXPECT:-100000}" "$t0" 2>/dev/null | tail -n 1)
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz, $14/hz, $15/hz}' "/proc/$pid/stat")
echo "ready: $r cpu_s=$cpu"
if [ "${PERF:-0}" = 1 ]; then kill -INT "$perf_pid"; wait "$perf_pid"; fi
t1=$(date +%s.%N)
kill "-$sig" "$pid"; wait "$pid"
echo "exit $? stop $(python3 -c "import time;print(round(time.time()-$t1,3))") s"
