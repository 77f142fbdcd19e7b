# Sourced by the bench scripts: sets `kb` to the reference load generator. KBENCH if set,
# else the shared build, else built once into KBENCH_TARGET_DIR (default ../kbench-target,
# since the shared dir may be read-only). Needs `root` and `shared` set by the caller.
kb=${KBENCH:-}
kbench_target=${KBENCH_TARGET_DIR:-$root/../kbench-target}
for kbench_candidate in "$shared/bench/kbench/target/release/kbench" "$kbench_target/release/kbench"; do
    [ -z "$kb" ] && [ -x "$kbench_candidate" ] && kb=$kbench_candidate
done
if [ -z "$kb" ]; then
    echo "bench: building kbench into $kbench_target" >&2
    (cd "$shared/bench/kbench" && CARGO_TARGET_DIR=$kbench_target cargo build --release --quiet --locked) >&2 \
        || { echo "bench: cannot build kbench" >&2; exit 2; }
    kb=$kbench_target/release/kbench
fi
