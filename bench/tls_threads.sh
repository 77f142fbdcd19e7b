#!/usr/bin/env bash
# Where a produce or consume of 1 KiB records spends its CPU, per thread, over plaintext
# and over TLS: one broker (BIN) with a PLAINTEXT and an SSL listener; each round produces
# MESSAGES records of SIZE bytes to a new topic with kbench and reads them back, once per
# listener, each kbench run under `perf sched record`. Prints per run kbench's wall time
# and the on-CPU time of librdkafka's busiest broker thread (which does all of the
# client's socket and TLS work), kbench's main thread and all of the broker's threads.
# kbench must be built with librdkafka's OpenSSL (see bench/kbench_tls.sh).
#
# Usage: bench/tls_threads.sh BIN [ROUNDS]   (default 3)
#        MESSAGES=300000 SIZE=1024 KBENCH_SSL=path/to/kbench-with-ssl; needs perf
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
bin=$1; rounds=${2:-3}
messages=${MESSAGES:-300000}
size=${SIZE:-1024}
. "$root/bench/kbench_tls.sh"
tmp=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
bench_certs "$tmp"
start_tls_broker "$bin" "$tmp"
tlsx=(-X security.protocol=ssl -X "ssl.ca.location=$tmp/ca.pem")
# summ PERF_DATA SECS LABEL: one line of per-thread run times from `perf sched timehist`.
summ() {
  perf sched timehist -i "$1" 2>/dev/null | awk -v secs="$2" -v label="$3" -v bp="$pid" 'NR>3{n=$3; r[n]+=$6} END{
    rdk=0; km=0; br=0;
    for (k in r) { if (k ~ /^rdk:broker[0-9]/ && r[k]>rdk) rdk=r[k]; if (k ~ /^kbench\[/ && r[k]>km) km=r[k]; if (k ~ "/" bp "\\]$") br+=r[k]; }
    printf "%s wall_ms %.0f rdk_broker_ms %.0f kbench_main_ms %.0f broker_ms %.0f\n", label, secs*1000, rdk, km, br }'
}
"$kb" produce --topic warm --create-partitions 1 --messages 1000 --size $size --acks 1 --brokers 127.0.0.1:$plain >/dev/null 2>&1
for r in $(seq $rounds); do
  for l in plain tls; do
    if [ $l = tls ]; then b=127.0.0.1:$tls; x=("${tlsx[@]}"); else b=127.0.0.1:$plain; x=(); fi
    perf sched record -o $tmp/p.data -- "$kb" produce --topic p$r$l --create-partitions 1 --messages $messages --size $size --acks 1 --linger-ms 5 --brokers $b "${x[@]}" 2>/dev/null > $tmp/o.json
    summ $tmp/p.data $(python3 -c "import json;print(json.load(open('$tmp/o.json'))['secs'])") "$r produce $l"
    sleep 4
    perf sched record -o $tmp/c.data -- "$kb" consume --topic p$r$l --messages $messages --brokers $b "${x[@]}" 2>/dev/null > $tmp/o.json
    summ $tmp/c.data $(python3 -c "import json;print(json.load(open('$tmp/o.json'))['secs'])") "$r consume $l"
    "$bin" topic delete p$r$l -b 127.0.0.1:$plain >/dev/null 2>&1 || true
  done
done
