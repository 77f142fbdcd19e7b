#!/bin/bash
# Interleaved A/B of broker CPU (from /proc, 100 Hz ticks) for one-partition produce and
# consume of 5M x 100 B records with kbench: /tmp/strata-old against /tmp/strata-new,
# three rounds. Usage: bench/ab_produce_consume.sh (build both binaries first).
KB=$(cd "$(dirname "$0")/../../shared/bench/kbench" && pwd)/target/release/kbench
for round in 1 2 3; do
for v in old new; do
  rm -rf /tmp/abd; mkdir -p /tmp/abd
  /tmp/strata-$v server --data-dir /tmp/abd/d --listen 127.0.0.1:19092 --http 127.0.0.1:19080 --registry off > /tmp/abd/log 2>&1 &
  PID=$!; sleep 2
  T0=$(awk '{print $14+$15}' /proc/$PID/stat)
  P=$($KB produce --brokers 127.0.0.1:19092 --topic t --create-partitions 1 --messages 5000000 --size 100 --acks 1 --linger-ms 5 | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print(d['msgs_per_s'])")
  T1=$(awk '{print $14+$15}' /proc/$PID/stat)
  C=$($KB consume --brokers 127.0.0.1:19092 --topic t --messages 5000000 | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print(d['msgs_per_s'])")
  T2=$(awk '{print $14+$15}' /proc/$PID/stat)
  echo "$v round$round produce=$P cpu_ticks=$((T1-T0)) consume=$C cpu_ticks=$((T2-T1))"
  kill $PID; wait $PID 2>/dev/null
done; done
