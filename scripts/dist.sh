#!/usr/bin/env bash
# Builds the `strata` binary for users: the release build without its debug info
# (the release profile keeps line tables for the developers' backtraces; users get a
# binary a fraction of the size). Output: dist/strata.
#
#   scripts/dist.sh              build, then strip into dist/strata
#   scripts/dist.sh --no-build   strip an existing build ($STRATA_BIN or target/release/strata)
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        -h|--help) sed -n 2,8p "$0"; exit 0 ;;
        *) echo "dist.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

src="${STRATA_BIN:-target/release/strata}"
if [ "$build" = 1 ]; then
    cargo build --release --locked -p strata-cli --bin strata
    src=target/release/strata
fi
if [ ! -x "$src" ]; then
    echo "dist.sh: no binary at $src (build it, or drop --no-build)" >&2
    exit 1
fi
mkdir -p dist
# --strip-debug drops the DWARF sections and keeps the symbol table, so a panic's
# backtrace still names functions.
objcopy --strip-debug "$src" dist/strata.tmp
mv dist/strata.tmp dist/strata
printf 'dist/strata: %s bytes (from %s: %s bytes)\n' \
    "$(stat -c %s dist/strata)" "$src" "$(stat -c %s "$src")"
