#!/usr/bin/env bash
# RF=3 acks=all throughput on a local 3-node cluster vs single-node acks=1 (issue 4),
# with kbench (librdkafka). Fresh release nodes, all on this machine's cores.
# Usage: bench/cluster_throughput.sh [RUNS]   (default 3; 1M x 100 B records per run)
# LAG_SAMPLING=0 turns off the replication-lag sampling (curl every 100 ms) during runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
runs=${1:-3}
bin=${STRATA_BIN:-$root/target/release/strata}
. "$root/bench/kbench.sh"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
tmp=$(mktemp -d); pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; }
# While kbench runs: every 100 ms the largest strata_replica_max_lag_records over the nodes
# (records the furthest-behind follower lacks); prints samples, median and max at the end.
sample_lag() {
  local out=$1; shift
  while :; do
    local worst=0
    for h in "$@"; do
      v=$(curl -s "http://127.0.0.1:$h/metrics" | awk '/^strata_replica_max_lag_records /{print $2}')
      [ -n "$v" ] && [ "$v" -gt "$worst" ] && worst=$v
    done
    echo "$worst" >>"$out"; sleep 0.1
  done
}
lag_summary() { sort -n "$1" | awk '{a[NR]=$1} END {printf "lag samples %d, median %d, p90 %d, max %d records\n", NR, a[int((NR+1)/2)], a[int(NR*0.9+0.5)], a[NR]}'; }
lag_line() { # replication lag: the followers' log end vs the leader's, from /metrics
  for h in "$@"; do curl -s "http://127.0.0.1:$h/metrics" | awk -v h=$h '/^strata_log_end_offset\{.*topic="rf3-/{print h, $0}'; done; }

# Single node, acks=1.
k=$(port); h=$(port)
"$bin" server --data-dir "$tmp/single" --listen 127.0.0.1:$k --http 127.0.0.1:$h --registry off 2>"$tmp/single.log" & pids+=($!)
wait_port $k
for r in $(seq "$runs"); do
  "$kb" produce --brokers 127.0.0.1:$k --topic "single-$r" --create-partitions 1 --messages 1000000 --size 100 --acks 1 --linger-ms 5 | sed "s/^/single acks=1 run $r: /"
done
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

# Three nodes, RF=3, min.insync.replicas=2, acks=all.
ks=(); cs=(); hs=()
for i in 1 2 3; do ks+=($(port)); cs+=($(port)); hs+=($(port)); done
voters="1@127.0.0.1:${cs[0]},2@127.0.0.1:${cs[1]},3@127.0.0.1:${cs[2]}"
for i in 0 1 2; do
  "$bin" server --node-id $((i+1)) --data-dir "$tmp/n$i" --listen 127.0.0.1:${ks[$i]} --http 127.0.0.1:${hs[$i]} --registry off --voters "$voters" 2>"$tmp/n$i.log" & pids+=($!)
done
for i in 0 1 2; do wait_port ${ks[$i]}; done
boot="127.0.0.1:${ks[0]},127.0.0.1:${ks[1]},127.0.0.1:${ks[2]}"
sleep 2
for r in $(seq "$runs"); do
  "$bin" -b "$boot" topic create "rf3-$r" --partitions 1 --replication-factor 3 --config min.insync.replicas=2 >/dev/null
  sampler=
  [ "${LAG_SAMPLING:-1}" = 0 ] || { sample_lag "$tmp/lag-$r" ${hs[@]} & sampler=$!; }
  "$kb" produce --brokers "$boot" --topic "rf3-$r" --messages 1000000 --size 100 --acks all --linger-ms 5 | sed "s/^/RF=3 acks=all run $r: /"
  if [ -n "$sampler" ]; then
    kill $sampler; wait $sampler 2>/dev/null || true
    lag_summary "$tmp/lag-$r" | sed "s/^/  replication lag during run $r: /"
  fi
  sleep 1
  lag_line ${hs[@]} | sed "s/^/  log end after run $r (http port, metric): /"
done
