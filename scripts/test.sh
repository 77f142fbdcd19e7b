#!/usr/bin/env bash
# The one test command: Rust tests (nextest), a short run of every fuzz target, then interop
# tests against a real `strata` process.
#
# Usage: scripts/test.sh [--no-rust] [--no-fuzz] [--no-interop] [--no-build] [-- PYTEST_ARGS...]
#   --no-build uses the existing binary ($STRATA_BIN or target/release/strata) as it is.
#   --no-fuzz skips the fuzz step (FUZZ_SECONDS per target, default 20; needs nightly Rust,
#   installs cargo-fuzz if missing; see fuzz/README.md).
#
# On a fresh Debian machine (root, CI=true, no stdin) it installs what it needs (kcat, iproute2, a Python
# venv in .venv with the pinned packages of interop/requirements.txt), builds the release binary,
# runs `cargo nextest run --workspace --release` and then the pytest suite in interop/.
# A second run skips every install already done. Exits non-zero if anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

run_rust=1
run_fuzz=1
run_interop=1
run_build=1
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-rust) run_rust=0 ;;
        --no-fuzz) run_fuzz=0 ;;
        --no-interop) run_interop=0 ;;
        --no-build) run_build=0 ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

step() { printf '\n==> %s\n' "$*"; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOG_DIR="$TARGET_DIR/test-logs"
mkdir -p "$LOG_DIR"
VENV="$ROOT/.venv"
REQ="$ROOT/interop/requirements.txt"

# --- system packages ------------------------------------------------------------------------
# Only what is missing gets installed; `apt-get update` runs only when something must be.
apt_install() {
    if [ "$#" -eq 0 ]; then return 0; fi
    step "installing Debian packages: $*"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
            echo "need root (or sudo) to install: $*" >&2; exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

PYTHON="${PYTHON:-python3}"
if [ "$run_interop" -eq 1 ]; then
    missing=()
    command -v kcat >/dev/null 2>&1 || missing+=(kcat)
    # `ip` builds the network namespaces of the partition test (as root).
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v "$PYTHON" >/dev/null 2>&1 || missing+=(python3)
    # Node.js and npm run the kafkajs client (interop/js).
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    # promtool (Debian's prometheus package) checks and unit-tests deploy/'s alert rules.
    command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
    # Headless Chromium and its driver run the admin web UI test (interop/test_ui.py).
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    # Debian's own python3 ships venv/ensurepip separately.
    if command -v "$PYTHON" >/dev/null 2>&1 && ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
fi

# --- Python venv ----------------------------------------------------------------------------
# Stamp = hash of the requirements + the interpreter version, so an unchanged setup is a no-op.
if [ "$run_interop" -eq 1 ]; then
    stamp_want="$( { cat "$REQ"; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    stamp_file="$VENV/.strata-requirements.sha256"
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'pass' >/dev/null 2>&1 \
        || [ "$(cat "$stamp_file" 2>/dev/null || true)" != "$stamp_want" ]; then
        step "creating Python venv in .venv"
        "$PYTHON" -m venv --clear "$VENV"
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip </dev/null
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ" </dev/null
        echo "$stamp_want" >"$stamp_file"
    else
        step "Python venv up to date (.venv)"
    fi
fi

# --- Node.js packages (kafkajs) ---------------------------------------------------------------
# `npm ci` from the committed lock file, again only when the lock file or Node.js changed.
if [ "$run_interop" -eq 1 ]; then
    JS_DIR="$ROOT/interop/js"
    js_want="$( { cat "$JS_DIR/package-lock.json"; node --version; } | sha256sum | cut -d' ' -f1)"
    js_stamp="$JS_DIR/node_modules/.strata-lock.sha256"
    if [ "$(cat "$js_stamp" 2>/dev/null || true)" != "$js_want" ]; then
        step "installing Node.js packages in interop/js (npm ci)"
        (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
        echo "$js_want" >"$js_stamp"
    else
        step "Node.js packages up to date (interop/js)"
    fi
fi

# --- build ----------------------------------------------------------------------------------
# Release everywhere: the interop suite needs the release binary anyway, so nextest in release
# reuses the same compiled dependencies instead of building the whole tree a second time.
# With the Rust tests, the binary is built together with every target nextest builds
# (tests, examples): the dev-dependencies switch on dependency features (getrandom's `std`
# through tempfile), and a `-p strata-cli` build without them would compile every Strata
# crate a second time with different features.
if [ "$run_build" -eq 1 ]; then
    if [ "$run_rust" -eq 1 ]; then
        step "cargo build --release --workspace --bins --tests --examples"
        cargo build --release --workspace --bins --tests --examples
    else
        step "cargo build --release -p strata-cli"
        cargo build --release -p strata-cli
    fi
fi

rust_status=0
fuzz_status=0
interop_status=0
deploy_status=0
nextest_summary="(not run)"
fuzz_summary="(not run)"
deploy_summary="(not run)"
pytest_summary="(not run)"

# --- Rust tests -----------------------------------------------------------------------------
if [ "$run_rust" -eq 1 ]; then
    profile=default
    if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then profile=ci; fi
    set +e
    if cargo nextest --version >/dev/null 2>&1; then
        step "cargo nextest run --workspace --release --profile $profile"
        cargo nextest run --workspace --release --profile "$profile" 2>&1 | tee "$LOG_DIR/nextest.log"
        rust_status=${PIPESTATUS[0]}
        nextest_summary="$(grep -E '^ *Summary \[' "$LOG_DIR/nextest.log" | tail -n1 | sed 's/^ *//')"
    else
        # The machine image ships cargo-nextest; plain cargo test is the fallback without it.
        step "cargo-nextest not found: cargo test --workspace --release"
        cargo test --workspace --release --no-fail-fast 2>&1 | tee "$LOG_DIR/nextest.log"
        rust_status=${PIPESTATUS[0]}
        nextest_summary="$(grep -E '^test result:' "$LOG_DIR/nextest.log" | tail -n1)"
    fi
    set -e
    [ -n "$nextest_summary" ] || nextest_summary="(no summary line; exit code $rust_status)"
fi

# --- fuzz targets ---------------------------------------------------------------------------
# Every fuzz target for FUZZ_SECONDS (default 20) from the committed seed corpus, one at a
# time; any crash (a panic, an allocation over -malloc_limit_mb, a timeout) fails the run.
# bench/fuzz.sh builds them (nightly, ASan) and prints executions per target.
if [ "$run_fuzz" -eq 1 ]; then
    fuzz_secs="${FUZZ_SECONDS:-20}"
    step "fuzz: every target for ${fuzz_secs}s (bench/fuzz.sh)"
    fuzz_start=$SECONDS
    set +e
    if ! rustup run nightly rustc --version >/dev/null 2>&1; then
        rustup toolchain install nightly --profile minimal
    fi
    if ! command -v cargo-fuzz >/dev/null 2>&1; then
        cargo install cargo-fuzz --locked
    fi
    # The short runs use the light-optimisation build (FUZZ_PROFILE=dev: about the release
    # exec rate at a fraction of its build time, with overflow checks on).
    FUZZ_PROFILE="${FUZZ_PROFILE:-dev}" "$ROOT/bench/fuzz.sh" "${fuzz_secs}s" 2>&1 | tee "$LOG_DIR/fuzz.log"
    fuzz_status=${PIPESTATUS[0]}
    set -e
    fuzz_summary="$(grep -E '^\| `' "$LOG_DIR/fuzz.log" \
        | awk -F'|' '{gsub(/[ `]/, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $4); printf "%s%s: %s execs, %s crashes", sep, $2, $3, $4; sep="; "}')"
    fuzz_summary="${fuzz_summary:-(no results; exit code $fuzz_status)} ($(( SECONDS - fuzz_start )) s)"
fi

# --- deploy/ checks -------------------------------------------------------------------------
# The alert rules (promtool check rules, promtool test rules) and the Grafana dashboard
# (scripts/check_deploy.sh). promtool is installed with the interop packages, so this runs
# with the interop tests.
if [ "$run_interop" -eq 1 ]; then
    step "deploy checks (scripts/check_deploy.sh)"
    set +e
    "$ROOT/scripts/check_deploy.sh" </dev/null 2>&1 | tee "$LOG_DIR/deploy.log"
    deploy_status=${PIPESTATUS[0]}
    set -e
    # Its closing line: "deploy checks OK: ..." or "deploy checks FAILED (n): ...".
    deploy_summary="$(grep -E '^deploy checks ' "$LOG_DIR/deploy.log" | tail -n1 || true)"
    [ -n "$deploy_summary" ] || deploy_summary="(no summary line; exit code $deploy_status)"
fi

# --- interop tests --------------------------------------------------------------------------
if [ "$run_interop" -eq 1 ]; then
    export STRATA_BIN="${STRATA_BIN:-$TARGET_DIR/release/strata}"
    # Screenshots of the web UI test are kept with the logs.
    export STRATA_TEST_ARTIFACTS="${STRATA_TEST_ARTIFACTS:-$LOG_DIR/ui-screenshots}"
    step "pytest interop (STRATA_BIN=$STRATA_BIN)"
    set +e
    # The whole suite unless the extra arguments name test files themselves.
    targets=(interop)
    for a in "${pytest_args[@]}"; do
        case "$a" in interop/*) targets=() ;; esac
    done
    "$VENV/bin/python" -m pytest "${targets[@]}" "${pytest_args[@]}" </dev/null 2>&1 \
        | tee "$LOG_DIR/interop.log"
    interop_status=${PIPESTATUS[0]}
    set -e
    # pytest's closing line looks like "==== 3 failed, 40 passed in 61.2s ====".
    pytest_summary="$(grep -E '(passed|failed|errors?|skipped|no tests ran).* in [0-9.]+s' "$LOG_DIR/interop.log" | tail -n1 || true)"
    [ -n "$pytest_summary" ] || pytest_summary="(no summary line; exit code $interop_status)"
    # Exit 5 = no tests collected: that is a broken suite, not a pass.
fi

step "summary"
# The runners' own closing lines, repeated verbatim so they are the last thing in the log.
echo "[nextest, exit $rust_status]"
echo "$nextest_summary"
echo "[fuzz, exit $fuzz_status]"
echo "$fuzz_summary"
echo "[deploy, exit $deploy_status]"
echo "$deploy_summary"
echo "[pytest, exit $interop_status]"
echo "$pytest_summary"
if [ "$rust_status" -ne 0 ] || [ "$fuzz_status" -ne 0 ] || [ "$deploy_status" -ne 0 ] \
    || [ "$interop_status" -ne 0 ]; then
    echo "FAILED (logs in $LOG_DIR)"
    exit 1
fi
echo "OK"
