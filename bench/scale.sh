#!/usr/bin/env bash
# Scale (issue 12): one release `strata server` with many partitions, open-file limit
# 20,000 (`ulimit -n`), fresh data dir under a temp dir. Measures
#   1. create time of N partitions (one topic `big`, or TOPICS topics x PER_TOPIC): until
#      the create request returns, and until a full Metadata lists all N with a leader
#      (the broker may go on creating after the request timed out; this figure includes
#      the Python client's start-up, ~0.5-1 s); then checks
#      partition directories on disk and that the broker is alive;
#   2. keyed produce of RECORDS x SIZE bytes spread over all of them (acks=1, linger 5 ms,
#      librdkafka defaults otherwise), and the same load into one partition on a fresh
#      broker for comparison (same tool);
#   3. broker CPU (utime+stime of /proc/PID/stat) during that produce, per record;
#   4. idle RSS (VmRSS) and open fds after writing;
#   5. full Metadata (all topics) latency from a client, median of METADATA_RUNS;
#   6./7. restart time after SIGTERM and after SIGKILL: from starting the process until a
#      full Metadata lists every partition with a leader (not until the port opens);
#   8. after each restart, the sum of the high-water marks equals the records produced.
# Every step is bounded by a timeout; a broker that dies, a create that leaves partitions
# missing, producer errors or data loss are reported as failures (exit status 1) and the
# script still goes on to the end. Prints a summary, then one JSON line with all figures.
#
# Usage: bench/scale.sh [STRATA_BIN]       (or STRATA_BIN=...; default target/release/strata,
#                                           never built here)
# Env:   PARTITIONS=10000  partitions of topic `big` (single-topic mode)
#        TOPICS=0          >0: many-topics mode, TOPICS topics x PER_TOPIC (100) partitions,
#                          created in one CreateTopics request (confluent-kafka AdminClient)
#        RECORDS=1000000 SIZE=100 KEYS=100000 (distinct keys, kbench's key-<i mod KEYS>)
#        PRODUCER=kbench|python  default kbench (reference load generator, one topic per
#                          run); the many-topics mode always uses python (confluent-kafka)
#        SKIP_BASELINE=1   skip the one-partition produce on its own broker (restart runs)
#        FD_LIMIT=20000 METADATA_RUNS=5 TMP_BASE=${TMPDIR:-/tmp} KEEP=1 (keep data dir)
#        timeouts (s): CREATE_TIMEOUT=300 PRODUCE_TIMEOUT=300 READY_TIMEOUT=300 STOP_TIMEOUT=60
#        KBENCH=/path/to/kbench (else shared/bench/kbench/target/release/kbench, else built
#        once into KBENCH_TARGET_DIR, default ../kbench-target, as the shared dir is read-only)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
bin=${1:-${STRATA_BIN:-$root/target/release/strata}}
partitions=${PARTITIONS:-10000}
topics=${TOPICS:-0}
per_topic=${PER_TOPIC:-100}
records=${RECORDS:-1000000}
size=${SIZE:-100}
keys=${KEYS:-100000}
producer=${PRODUCER:-kbench}
fd_limit=${FD_LIMIT:-20000}
md_runs=${METADATA_RUNS:-5}
create_timeout=${CREATE_TIMEOUT:-300}
produce_timeout=${PRODUCE_TIMEOUT:-300}
ready_timeout=${READY_TIMEOUT:-300}
stop_timeout=${STOP_TIMEOUT:-60}
py=${PYTHON:-$root/.venv/bin/python}
helper=$root/bench/scale_metadata.py
hz=$(getconf CLK_TCK)

[ -x "$bin" ] || { echo "scale: no strata binary at $bin (give a path or STRATA_BIN)" >&2; exit 2; }
[ -x "$py" ] || { echo "scale: no python with confluent-kafka at $py (set PYTHON)" >&2; exit 2; }
if [ "$topics" -gt 0 ]; then
    mode=topics; partitions=$((topics * per_topic)); producer=python; topics_re='scale-[0-9]+'
else
    mode=single; topics_re=big
fi
if [ "$producer" = kbench ]; then
    . "$root/bench/kbench.sh"
    tool="kbench (librdkafka) produce --keys $keys"
else
    tool="python confluent-kafka (librdkafka) Producer, key-<i> keys"
fi

ulimit -n "$fd_limit" || { echo "scale: cannot set ulimit -n $fd_limit (hard limit $(ulimit -Hn))" >&2; exit 2; }
work=$(mktemp -d "${TMP_BASE:-${TMPDIR:-/tmp}}/strata-scale.XXXXXX")
data=$work/data
log=$work/broker.log
figs=$work/figures
failures=()
pid=
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port=$(free_port); http=$(free_port); boot=127.0.0.1:$port

cleanup() {
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "scale: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "scale: $*" >&2; }
fail() { failures+=("$*"); say "FAILURE: $*"; }
# rec KEY VALUE: a figure for the final JSON (VALUE parsed as JSON when it is JSON).
rec() { printf '%s\t%s\n' "$1" "$2" >>"$figs"; }
# jget JSON KEY: one field of a helper's/kbench's JSON line (empty when absent or null).
jget() { python3 -c 'import json,sys
try: v=json.loads(sys.argv[1]).get(sys.argv[2])
except Exception: v=None
print("" if v is None else v)' "$1" "$2"; }
alive() { [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || echo 0; }
rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$pid/status" 2>/dev/null; }
fds() { ls "/proc/$pid/fd" 2>/dev/null | wc -l; }
now() { date +%s.%N; }
since() { python3 -c 'import sys,time;print(round(time.time()-float(sys.argv[1]),3))' "$1"; }
mdir_count() {  # partition directories on disk
    if [ "$mode" = single ]; then find "$1" -maxdepth 1 -type d -name 'big-*' | wc -l
    else find "$1" -maxdepth 1 -type d -name 'scale-*-*' | wc -l; fi
}
helper() {  # the Python client, bounded, counting only this run's topics
    timeout $(( ${HELPER_TIMEOUT:-$ready_timeout} + 30 )) "$py" "$helper" --topics "$topics_re" "$@" \
        2>>"$work/client.log" | tail -n 1
}

start_broker() {  # DATA_DIR; sets pid and t_start; waits (bounded) for the port
    t_start=$(now)
    "$bin" server --data-dir "$1" --listen "$boot" --http "127.0.0.1:$http" --registry off 2>>"$log" >/dev/null &
    pid=$!
    for _ in $(seq 300); do
        (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        alive || return 1
        sleep 0.1
    done
    return 1
}
stop_broker() {  # SIGNAL; waits up to STOP_TIMEOUT s, then SIGKILL; sets stop_s (seconds to exit)
    local t0 end
    t0=$(now); end=$((SECONDS + stop_timeout))
    kill "-$1" "$pid" 2>/dev/null
    while alive && [ $SECONDS -lt $end ]; do sleep 0.05; done
    stop_s=$(since "$t0")
    if alive; then
        fail "broker did not exit within ${stop_timeout} s of SIG$1 (then killed with SIGKILL)"
        kill -9 "$pid"; stop_s=null
    fi
    wait "$pid" 2>/dev/null; echo "exit status $? after SIG$1" >>"$log"
    pid=
}
produce() {  # TOPIC COUNT (0: TOPIC itself, else TOPIC-0..TOPIC-(COUNT-1)) -> one JSON line
    if [ "$producer" = kbench ]; then
        timeout $((produce_timeout + 60)) "$kb" produce --brokers "$boot" --topic "$1" \
            --messages "$records" --size "$size" --acks 1 --linger-ms 5 --keys "$keys" \
            --timeout-secs "$produce_timeout" 2>>"$work/client.log" | tail -n 1
    else
        HELPER_TIMEOUT=$produce_timeout helper --timeout "$produce_timeout" produce "$boot" "$1" "$2" "$records" "$size"
    fi
}
broker_died() {  # STEP: report a dead broker once per incarnation
    if [ -n "$pid" ] && ! alive; then
        wait "$pid" 2>/dev/null; local rc=$?
        fail "broker died during $1 (exit status $rc; log: $(grep -iE 'too many open files|panic|^error' "$log" | tail -n 1 | cut -c1-200))"
        pid=
        return 0
    fi
    return 1
}

say "binary $bin, mode $mode, $partitions partitions, $records x $size B, producer: $tool, ulimit -n $(ulimit -n), work dir $work"
rec mode "$mode"; rec partitions "$partitions"; rec records "$records"; rec size "$size"
rec fd_limit "$(ulimit -n)"; rec producer "$tool"; rec binary "$bin"
[ "$mode" = topics ] && { rec topics "$topics"; rec partitions_per_topic "$per_topic"; }

# --- Baseline: the same produce into one partition, on its own fresh broker. ---
mkdir -p "$work/base"
if [ "${SKIP_BASELINE:-0}" = 1 ]; then
    say "1 partition: skipped (SKIP_BASELINE=1)"
elif start_broker "$work/base"; then
    if [ "$mode" = single ]; then
        timeout 60 "$bin" -b "$boot" topic create one --partitions 1 >/dev/null 2>>"$work/client.log"
        one=$(produce one 0)
    else
        timeout 60 "$bin" -b "$boot" topic create scale1-0 --partitions 1 >/dev/null 2>>"$work/client.log"
        one=$(produce scale1 1)
    fi
    say "1 partition: $one"
    rec one_partition_msgs_per_s "$(jget "$one" msgs_per_s)"
    rec one_partition_errors "$(jget "$one" errors)"
    broker_died "the 1-partition produce" || stop_broker TERM
else
    fail "baseline broker did not open its port"; broker_died "baseline start"
fi
sleep 1

# --- 1. Create. ---
mkdir -p "$data"
start_broker "$data" || fail "broker did not open its port within 30 s"
t0=$(now)
if [ "$mode" = single ]; then
    out=$(timeout "$create_timeout" "$bin" -b "$boot" topic create big --partitions "$partitions" 2>&1); create_rc=$?
else
    out=$(HELPER_TIMEOUT=$create_timeout helper --timeout "$create_timeout" create "$boot" scale "$topics" "$per_topic"); create_rc=$?
    [ "$(jget "$out" errors)" = 0 ] || create_rc=1
fi
create_s=$(since "$t0")
# Many-topics mode: the request's own time, without the Python client's start-up.
[ "$mode" = topics ] && [ -n "$(jget "$out" secs)" ] && create_s=$(jget "$out" secs)
say "create: ${create_s} s, exit $create_rc: $(echo "$out" | tail -n 1 | cut -c1-300)"
rec create_secs "$create_s"; rec create_exit "$create_rc"
[ "$create_rc" = 0 ] || fail "create exited $create_rc: $(echo "$out" | tail -n 1 | cut -c1-200)"
# Until every partition is listed with a leader (bounded by what is left of CREATE_TIMEOUT).
left=$(python3 -c "print(max(5, int($create_timeout - $create_s)))")
r=$(HELPER_TIMEOUT=$left helper --timeout "$left" --pid "${pid:-0}" ready "$boot" "$port" "$partitions" "$t0")
say "create, until all partitions are led: $r"
rec create_all_led_secs "$(jget "$r" secs)"
[ "$(jget "$r" ready)" = True ] || fail "create: $(jget "$r" partitions_with_leader) of $partitions partitions with a leader $(jget "$r" waited_secs) s after the create began"
sleep 1
dirs=$(mdir_count "$data")
rec partition_dirs_after_create "$dirs"
[ "$dirs" -eq "$partitions" ] || fail "create: $dirs of $partitions partition directories on disk"
broker_died "create"
if alive; then
    md=$(helper --timeout 60 metadata "$boot" 1)
    led=$(jget "$md" partitions_with_leader)
    rec partitions_with_leader_after_create "${led:-0}"
    rec fds_after_create "$(fds)"; rec rss_mb_after_create "$(rss_mb)"
    say "after create: $dirs dirs, metadata $(jget "$md" partitions) partitions ($led with a leader), $(fds) fds, RSS $(rss_mb) MB"
    [ "${led:-0}" -eq "$partitions" ] || fail "create: metadata lists ${led:-0} of $partitions partitions with a leader"
fi

# --- 2./3. Produce spread, broker CPU. ---
produced=0
if alive; then
    c0=$(cpu_ticks); tp=$(now)
    if [ "$mode" = single ]; then res=$(produce big 0); else res=$(produce scale "$topics"); fi
    c1=$(cpu_ticks); rec spread_produce_wall_secs "$(since "$tp")"
    say "spread produce: $res"
    produced=$(jget "$res" msgs); produced=${produced:-0}
    rate=$(jget "$res" msgs_per_s); errs=$(jget "$res" errors)
    rec spread_msgs_per_s "$rate"; rec spread_msgs "$produced"; rec spread_errors "$errs"
    rec spread_undelivered "$(jget "$res" undelivered)"; rec spread_unsent "$(jget "$res" unsent)"
    cpu_s=$(python3 -c "print(round(($c1-$c0)/$hz,2))")
    rec broker_cpu_secs_produce "$cpu_s"
    [ "$produced" -gt 0 ] && rec broker_cpu_us_per_record "$(python3 -c "print(round($cpu_s/$produced*1e6,2))")"
    [ -z "$res" ] && fail "spread produce: no result from the producer ($(grep -E '^kbench: error|Error|Timed out' "$work/client.log" | tail -n 1 | cut -c1-200))"
    [ "${errs:-0}" != 0 ] && fail "spread produce: $errs delivery errors ($(grep -m1 'first delivery error\|error' "$work/client.log" | cut -c1-200))"
    [ "$produced" -lt "$records" ] && fail "spread produce: $produced of $records records acknowledged ($(jget "$res" undelivered) undelivered, $(jget "$res" unsent) never queued, ${errs:-?} errors)"
    broker_died "the spread produce"
else
    fail "spread produce skipped: broker not running"
fi

# --- 4./5. Idle RSS and fds, Metadata latency, high-water marks. ---
expected_led=$partitions
if alive; then
    sleep 3
    rss=$(rss_mb); nfd=$(fds)
    rec idle_rss_mb "$rss"; rec idle_fds "$nfd"
    md=$(helper --timeout 120 metadata "$boot" "$md_runs")
    say "idle: RSS $rss MB, $nfd fds; metadata: $md"
    rec metadata_median_ms "$(jget "$md" median_ms)"; rec metadata_max_ms "$(jget "$md" max_ms)"
    rec metadata_wire_median_ms "$(jget "$md" wire_median_ms)"; rec metadata_wire_bytes "$(jget "$md" wire_bytes)"
    led=$(jget "$md" partitions_with_leader)
    [ -n "$led" ] && [ "$led" -gt 0 ] && [ "$led" -lt "$partitions" ] && expected_led=$led
    h=$(helper --timeout 120 hwm "$boot")
    say "high-water marks before restart: $h"
    rec hwm_sum_before_restart "$(jget "$h" sum)"
    # Records whose acknowledgement the producer gave up waiting for may be stored too:
    # fewer than acknowledged is a loss, more is not. Restarts must keep exactly these.
    hwm_before=$(jget "$h" sum)
    [ -n "$hwm_before" ] && [ "$hwm_before" -ge "$produced" ] || fail "before restart: high-water marks sum to $(jget "$h" sum) ($(jget "$h" errors) partitions failed: $(jget "$h" first_error)$(jget "$h" error)), $produced records acknowledged"
    broker_died "the metadata requests"
fi

# --- 6./7. Restarts (SIGTERM, then SIGKILL), data check after each. ---
for sig in TERM KILL; do
    name=$([ $sig = TERM ] && echo clean || echo kill9)
    if alive; then
        stop_broker $sig
        rec "${name}_stop_secs" "$stop_s"
    else
        broker_died "the previous step"
        say "$name restart: broker was not running, starting it on the same data dir"
    fi
    t_ready0=$(now)
    start_broker "$data" || say "$name restart: port not open within 30 s"
    r=$(HELPER_TIMEOUT=$ready_timeout helper --timeout "$ready_timeout" --pid "${pid:-0}" ready "$boot" "$port" "$expected_led" "$t_ready0")
    say "$name restart: $r"
    rec "${name}_restart_secs" "$(jget "$r" secs)"; rec "${name}_restart_partitions_with_leader" "$(jget "$r" partitions_with_leader)"; rec "${name}_restart_port_open_secs" "$(jget "$r" port_open_secs)"
    [ "$(jget "$r" ready)" = True ] || fail "$name restart: not ready within ${ready_timeout} s ($(jget "$r" partitions_with_leader) of $expected_led partitions with a leader)"
    broker_died "the $name restart" && continue
    h=$(helper --timeout 120 hwm "$boot")
    say "high-water marks after $name restart: $h"
    rec "hwm_sum_after_${name}_restart" "$(jget "$h" sum)"
    [ "$(jget "$h" sum)" = "${hwm_before:-$produced}" ] || fail "after $name restart: high-water marks sum to $(jget "$h" sum) ($(jget "$h" errors) partitions failed: $(jget "$h" first_error)$(jget "$h" error)), ${hwm_before:-$produced} before the restarts ($produced records acknowledged)"
    if alive; then rec "fds_after_${name}_restart" "$(fds)"; rec "rss_mb_after_${name}_restart" "$(rss_mb)"; fi
done
if alive; then stop_broker TERM; fi
rec log_too_many_open_files "$(grep -ci 'too many open files' "$log")"
rec log_errors "$(grep -c ' ERROR ' "$log")"
rec partition_dirs_at_end "$(mdir_count "$data")"

# --- Summary. ---
printf '%s\n' "${failures[@]}" >"$work/failures"
python3 - "$figs" "$work/failures" <<'PY'
import json, sys
figs = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("\t")
    try:
        figs[k] = json.loads(v) if v != "" else None
    except ValueError:
        figs[k] = v
figs["failures"] = [l.strip() for l in open(sys.argv[2]) if l.strip()]
g = figs.get
def f(k, unit=""):
    v = g(k)
    return "n/a" if v is None else f"{v}{unit}"
print(f"scale ({g('mode')}, {g('partitions')} partitions, ulimit -n {g('fd_limit')}, producer: {g('producer')}):")
print(f"  create: {f('create_secs', ' s')} (exit {f('create_exit')}), all led after {f('create_all_led_secs', ' s')}; "
      f"{f('partition_dirs_after_create')} partition dirs, "
      f"{f('partitions_with_leader_after_create')} with a leader in Metadata")
print(f"  produce {g('records')} x {g('size')} B keyed: spread {f('spread_msgs_per_s')} rec/s "
      f"({f('spread_msgs')} acked, {f('spread_errors')} errors), one partition {f('one_partition_msgs_per_s')} rec/s "
      f"({f('one_partition_errors')} errors)")
print(f"  broker CPU during spread produce: {f('broker_cpu_secs_produce', ' s')} in {f('spread_produce_wall_secs', ' s')} = "
      f"{f('broker_cpu_us_per_record', ' us/record')}")
print(f"  idle: RSS {f('idle_rss_mb', ' MB')}, {f('idle_fds')} open fds; full Metadata median {f('metadata_median_ms', ' ms')} in confluent-kafka, {f('metadata_wire_median_ms', ' ms')} on the wire ({f('metadata_wire_bytes', ' bytes')})")
print(f"  restart to all partitions led: clean {f('clean_restart_secs', ' s')} (stop {f('clean_stop_secs', ' s')}), "
      f"kill -9 {f('kill9_restart_secs', ' s')}")
print(f"  high-water mark sum: before {f('hwm_sum_before_restart')}, after clean {f('hwm_sum_after_clean_restart')}, "
      f"after kill -9 {f('hwm_sum_after_kill9_restart')}")
print(f"  broker log: {f('log_too_many_open_files')} 'too many open files', {f('log_errors')} ERROR lines")
for x in figs["failures"]:
    print(f"  FAILURE: {x}")
if not figs["failures"]:
    print("  no failures")
print(json.dumps(figs))
PY
[ "${#failures[@]}" -eq 0 ]
