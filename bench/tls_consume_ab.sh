#!/usr/bin/env bash
# A/B of two builds serving consumers over plaintext and TLS: each round starts BASE_BIN,
# then NEW_BIN, with a PLAINTEXT and an SSL listener (rustls; certificates made here by
# openssl), writes MESSAGES records of SIZE bytes to one partition with kbench (plaintext),
# then reads them all with `kbench consume` six times, alternating plaintext and TLS.
# Prints one line per read (round, build, listener, MB/s, the broker's CPU ticks from
# /proc/PID/stat), then per build and listener the median MB/s and the median and sum of
# the broker's ticks. kbench is built with librdkafka's OpenSSL (see
# bench/security_standard.sh).
#
# Usage: bench/tls_consume_ab.sh BASE_BIN NEW_BIN [ROUNDS]   (default 3)
#        MESSAGES=300000 SIZE=1024 KBENCH_SSL=path/to/kbench-with-ssl
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
base=$1; new=$2; rounds=${3:-3}
messages=${MESSAGES:-300000}
size=${SIZE:-1024}
. "$root/bench/kbench_tls.sh"
tmp=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
bench_certs "$tmp"
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
for r in $(seq "$rounds"); do
  for build in A B; do
    bin=$base; [ $build = B ] && bin=$new
    start_tls_broker "$bin" "$tmp"
    "$kb" produce --topic t --create-partitions 1 --messages "$messages" --size "$size" \
      --acks 1 --linger-ms 5 --brokers 127.0.0.1:$plain >/dev/null 2>&1
    sleep 4 # past the first periodic flush
    for l in plaintext tls plaintext tls plaintext tls; do
      boot=127.0.0.1:$plain; extra=()
      if [ $l = tls ]; then
        boot=127.0.0.1:$tls; extra=(-X security.protocol=ssl -X "ssl.ca.location=$tmp/ca.pem")
      fi
      c0=$(cpu)
      mb=$("$kb" consume --topic t --messages "$messages" --brokers "$boot" "${extra[@]}" 2>/dev/null |
        python3 -c "import json,sys;print(json.load(sys.stdin)['mb_per_s'])")
      c1=$(cpu)
      echo "$r $build $l $mb $((c1 - c0))" | tee -a "$tmp/rows"
    done
    kill $pid; wait $pid 2>/dev/null || true; pid=
  done
done
python3 - "$tmp/rows" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, build, listener, mb, ticks = line.split()
    rows[(build, listener)].append((float(mb), int(ticks)))
for (build, listener), v in sorted(rows.items()):
    print(f"{build} {listener}: median {statistics.median(m for m, _ in v):.0f} MB/s, "
          f"broker ticks median {statistics.median(t for _, t in v)} sum {sum(t for _, t in v)} (n={len(v)})")
PY
