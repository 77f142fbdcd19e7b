#!/usr/bin/env bash
# A/B of two builds producing over TLS and plaintext: each round starts BASE_BIN, then
# NEW_BIN, with a PLAINTEXT and an SSL listener (rustls; certificates made here by
# openssl), and runs `kbench produce` (1 KiB records, acks=1, linger 5 ms, one partition)
# on the TLS listener and then the plaintext one. Per run it prints throughput, the
# broker's CPU (utime + stime from /proc/PID/stat), the broker's voluntary context
# switches (summed over its threads: how often it went to sleep waiting), and kbench's
# user and system CPU (from /usr/bin/time); then the medians per build and listener.
# kbench is built with librdkafka's OpenSSL (see bench/security_standard.sh).
#
# Usage: bench/tls_produce_ab.sh BASE_BIN NEW_BIN [ROUNDS]   (default 3)
#        MESSAGES=300000 SIZE=1024 KBENCH_SSL=path/to/kbench-with-ssl
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
rounds=${3:-3}
messages=${MESSAGES:-300000}
size=${SIZE:-1024}
. "$root/bench/kbench_tls.sh"
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt install time)" >&2; exit 2; }
tmp=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
bench_certs "$tmp"

switches() { cat /proc/$pid/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/{s+=$2} END{print s+0}'; }
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
rows=$tmp/rows
for r in $(seq "$rounds"); do
  for build in base new; do
    bin=$1; [ $build = new ] && bin=$2
    start_tls_broker "$bin" "$tmp"
    for l in tls plaintext; do
      boot=127.0.0.1:$plain; extra=()
      [ $l = tls ] && { boot=127.0.0.1:$tls; extra=(-X security.protocol=ssl -X "ssl.ca.location=$tmp/ca.pem"); }
      c0=$(ticks); s0=$(switches)
      out=$( { /usr/bin/time -f "TIME %U %S" "$kb" produce --topic "ab-$l-$r" --create-partitions 1 \
        --messages "$messages" --size "$size" --acks 1 --linger-ms 5 --brokers "$boot" "${extra[@]}"; } 2>&1 )
      c1=$(ticks); s1=$(switches)
      line=$(echo "$out" | grep '^{')
      t=$(echo "$out" | grep '^TIME' | awk '{print "{\"user\":"$2",\"sys\":"$3"}"}')
      echo "{\"build\":\"$build\",\"listener\":\"$l\",\"round\":$r,\"broker_ticks\":$((c1 - c0)),\"broker_switches\":$((s1 - s0)),\"kbench\":$t,\"result\":$line}" | tee -a "$rows"
    done
    kill $pid; wait $pid 2>/dev/null || true; pid=
  done
done
python3 - "$rows" "$(getconf CLK_TCK)" "$messages" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hz, n = int(sys.argv[2]), int(sys.argv[3])
for l in ("tls", "plaintext"):
    for b in ("base", "new"):
        rs = [r for r in rows if r["build"] == b and r["listener"] == l]
        med = lambda f: statistics.median(f(r) for r in rs)
        print(f"{l:9} {b:4}  {med(lambda r: r['result']['mb_per_s']):8.1f} MB/s"
              f"  broker {med(lambda r: r['broker_ticks']) / hz * 1e6 / n:5.2f} us/record"
              f"  switches {med(lambda r: r['broker_switches']):7.0f}"
              f"  kbench user {med(lambda r: r['kbench']['user']):.2f} s sys {med(lambda r: r['kbench']['sys']):.2f} s")
PY
