#!/usr/bin/env bash
# The standard benchmark (shared/bench/standard's five cases, same kbench arguments) over
# TLS as a share of plaintext (issue 13): one release broker with a PLAINTEXT and an SSL
# listener (rustls; certificates made here by openssl, a P-256 server key signed by a
# throwaway CA), kbench built with librdkafka's OpenSSL (`--features rdkafka/ssl`, built
# once into KBENCH_SSL_TARGET_DIR, default ../kbench-ssl-target; the shared build has no
# TLS). Each run does the five cases on both listeners, the listener that goes first
# alternating between runs. Prints one JSON line per case, then per case the median of
# each listener, TLS as a share of plaintext, and the broker's CPU per record (utime +
# stime from /proc/PID/stat, since kbench shares the cores).
#
# Usage: bench/security_standard.sh [STRATA_BIN] [RUNS]   (default target/release/strata, 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
bin=${1:-${STRATA_BIN:-$root/target/release/strata}}
runs=${2:-3}
. "$root/bench/kbench_tls.sh"
tmp=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

bench_certs "$tmp"

start_tls_broker "$bin" "$tmp"
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
out=$tmp/rows
# case NAME LISTENER RECORDS -- kbench args...: one JSON line with the broker's CPU ticks.
one() {
  local name=$1 listener=$2 records=$3; shift 4
  local extra=() boot=127.0.0.1:$plain
  if [ "$listener" = tls ]; then
    boot=127.0.0.1:$tls; extra=(-X security.protocol=ssl -X "ssl.ca.location=$tmp/ca.pem")
  fi
  local c0 c1 line
  c0=$(cpu)
  line=$("$kb" "$@" --brokers "$boot" "${extra[@]}")
  c1=$(cpu)
  echo "{\"case\":\"$name\",\"listener\":\"$listener\",\"records\":$records,\"broker_ticks\":$((c1 - c0)),\"result\":$line}" | tee -a "$out"
}
for r in $(seq "$runs"); do
  order="plaintext tls"; [ $((r % 2)) = 0 ] && order="tls plaintext"
  for l in $order; do
    t=std-$l-$r
    one produce100 $l 1000000 -- produce --topic "$t-p100" --create-partitions 1 --messages 1000000 --size 100 --acks 1 --linger-ms 5
    one consume100 $l 1000000 -- consume --topic "$t-p100" --messages 1000000
    one produce1k $l 300000 -- produce --topic "$t-p1k" --create-partitions 1 --messages 300000 --size 1024 --acks 1 --linger-ms 5
    one consume1k $l 300000 -- consume --topic "$t-p1k" --messages 300000
    one e2e $l 100000 -- e2e --topic "$t-e2e" --create-partitions 1 --rate 10000 --duration-secs 10 --size 100
  done
done
python3 - "$out" "$(getconf CLK_TCK)" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hz = int(sys.argv[2])
def med(case, listener, f):
    v = [f(r) for r in rows if r["case"] == case and r["listener"] == listener]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
cases = [("produce100", "msgs_per_s", "msg/s"), ("consume100", "msgs_per_s", "msg/s"),
         ("produce1k", "mb_per_s", "MB/s"), ("consume1k", "mb_per_s", "MB/s"),
         ("e2e", "e2e_p99_ms", "ms p99")]
summary = {}
for case, key, unit in cases:
    p = med(case, "plaintext", lambda r: r["result"].get(key))
    t = med(case, "tls", lambda r: r["result"].get(key))
    cp = med(case, "plaintext", lambda r: r["broker_ticks"] / hz * 1e6 / r["records"])
    ct = med(case, "tls", lambda r: r["broker_ticks"] / hz * 1e6 / r["records"])
    # For latency a smaller figure is better: the share is plaintext / TLS.
    share = (p / t if case == "e2e" else t / p) if p and t else None
    summary[case] = {"plaintext": p, "tls": t, "share": share,
                     "broker_us_per_record_plaintext": cp, "broker_us_per_record_tls": ct}
    print("%-10s plaintext %12.2f  tls %12.2f %-6s  tls share %5.1f%%  broker us/record %.3f / %.3f" % (
        case, p, t, unit, 100 * share, cp, ct))
print(json.dumps({"runs": len(rows) // 10, "summary": summary}))
PY
