#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one after another and prints, per target, the
# executions, crashes and exec/s as a Markdown table (for bench/RESULTS.md).
#
# Usage: bench/fuzz.sh [BUDGET] [TARGET...]
#   BUDGET  an execution count per target (e.g. 10000000, the default) or a duration per
#           target with a unit: 30s, 20m, 2h
#   TARGET  default: every target the fuzz crate builds (`cargo fuzz list`, minus those
#           whose required features are off)
#
# Environment:
#   FUZZ_MALLOC_MB  -malloc_limit_mb: one allocation above this is a crash (default 512)
#   FUZZ_RSS_MB     -rss_limit_mb (default 2048)
#   FUZZ_TIMEOUT    -timeout in seconds for one input (default 10)
#   FUZZ_FEATURES   cargo features for the fuzz crate
#   FUZZ_PROFILE    release (default: optimised, the long runs) or dev (unoptimised with
#                   debug assertions and overflow checks: builds in about a third of the
#                   time, runs several times slower; what CI's short runs use)
#   FUZZ_NO_BUILD=1 use the built binaries as they are
#   FUZZ_TARGET_DIR cargo target dir of the fuzz build (default fuzz/target)
#   FUZZ_WORK_DIR   where corpus-work/ and artifacts/ go (default fuzz/)
#
# Each target runs in one process (libFuzzer's default, the same as -jobs=1 without the
# extra worker) on a working corpus fuzz/corpus-work/<target> (kept between runs, not in
# git) seeded from the committed fuzz/corpus/<target>; new inputs go to the working copy
# only. A crash stops that target (its input is in fuzz/artifacts/<target>/) and the
# script exits 1 after the others ran. Logs: fuzz/target/fuzz-logs/<target>.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
cd "$FUZZ"

budget="${1:-10000000}"
[ $# -gt 0 ] && shift
case "$budget" in
    *[0-9]s) limit=(-max_total_time="${budget%s}") ;;
    *[0-9]m) limit=(-max_total_time="$(( ${budget%m} * 60 ))") ;;
    *[0-9]h) limit=(-max_total_time="$(( ${budget%h} * 3600 ))") ;;
    *[!0-9]*|'') echo "budget must be a count or a duration like 30s, 20m, 2h: $budget" >&2; exit 2 ;;
    *) limit=(-runs="$budget") ;;
esac
malloc_mb="${FUZZ_MALLOC_MB:-512}"
rss_mb="${FUZZ_RSS_MB:-2048}"
timeout_s="${FUZZ_TIMEOUT:-10}"
features=()
if [ -n "${FUZZ_FEATURES:-}" ]; then features=(--features "$FUZZ_FEATURES"); fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
target_dir="${FUZZ_TARGET_DIR:-$FUZZ/target}"
profile="${FUZZ_PROFILE:-release}"
case "$profile" in
    # 16 codegen units (cargo-fuzz's default is 1) so LLVM can use both cores on the big
    # generated crates (kafka-protocol).
    release) build_flags=(--codegen-units 16); bin_dir="$target_dir/$triple/release" ;;
    dev) build_flags=(--dev); bin_dir="$target_dir/$triple/debug" ;;
    *) echo "FUZZ_PROFILE must be release or dev: $profile" >&2; exit 2 ;;
esac
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
    # ASan stays on: -malloc_limit_mb needs its malloc hooks.
    echo "==> cargo +nightly fuzz build ${build_flags[*]} ${features[*]}" >&2
    build_start=$SECONDS
    cargo +nightly fuzz build "${build_flags[@]}" --target-dir "$target_dir" "${features[@]}" >&2
    echo "    built in $(( SECONDS - build_start )) s" >&2
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for t in $(cargo +nightly fuzz list); do
        # A target whose required feature is off was not built.
        [ -x "$bin_dir/$t" ] && targets+=("$t")
    done
fi

log_dir="$target_dir/fuzz-logs"
mkdir -p "$log_dir"
rows=()
failed=0
for t in "${targets[@]}"; do
    work="${FUZZ_WORK_DIR:-$FUZZ}/corpus-work/$t"
    art="${FUZZ_WORK_DIR:-$FUZZ}/artifacts/$t"
    mkdir -p "$work" "$art" "$FUZZ/corpus/$t"
    before=$(find "$art" -maxdepth 1 -type f | wc -l)
    log="$log_dir/$t.log"
    echo "==> $t (${limit[*]})" >&2
    start=$SECONDS
    set +e
    "$bin_dir/$t" "$work" "$FUZZ/corpus/$t" \
        "${limit[@]}" -malloc_limit_mb="$malloc_mb" -rss_limit_mb="$rss_mb" \
        -timeout="$timeout_s" -print_final_stats=1 -artifact_prefix="$art/" \
        >"$log" 2>&1
    code=$?
    set -e
    secs=$(( SECONDS - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)
    if [ -z "$execs" ]; then
        # No final stats (killed by a crash): the last status line's count.
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -n1 | tr -d '#')
        [ -n "$execs" ] || execs=0
        rate=$(( secs > 0 ? execs / secs : execs ))
    fi
    after=$(find "$art" -maxdepth 1 -type f | wc -l)
    crashes=$(( after - before ))
    if [ "$code" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
    status=ok
    if [ "$crashes" -gt 0 ] || [ "$code" -ne 0 ]; then
        status="CRASH (exit $code): $(grep -m1 -E '^(==[0-9]+== ?ERROR|thread .* panicked|SUMMARY)' "$log" || true)"
        failed=1
        ls -t "$art" | head -n3 | sed "s|^|    artifact: $art/|" >&2
    fi
    echo "    $t: $execs executions, $crashes crashes, $rate exec/s, ${secs} s, peak RSS ${rss:-?} MB — $status" >&2
    rows+=("| \`$t\` | $execs | $crashes | $rate | $secs | ${rss:-?} |")
done

echo
echo "fuzz: budget ${budget} per target, $profile build, -malloc_limit_mb=$malloc_mb -rss_limit_mb=$rss_mb, commit $(git -C "$ROOT" rev-parse --short HEAD), $(date -u +%Y-%m-%d)"
echo
echo "| target | executions | crashes | exec/s | seconds | peak RSS MB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
exit "$failed"
