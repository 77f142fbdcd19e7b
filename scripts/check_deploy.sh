#!/usr/bin/env bash
# Checks the monitoring files in deploy/ (see deploy/README.md):
#   - promtool check rules deploy/prometheus/alerts.yml
#   - promtool test rules deploy/prometheus/alerts_test.yml (series that fire every alert
#     and series that don't)
#   - deploy/grafana/strata.json is valid JSON (python3 -m json.tool), every query in it (and
#     in the alert rules) uses only the metrics listed in deploy/README.md
#     (scripts/check_dashboard.py), and Prometheus' own parser accepts every dashboard query
#     (promtool check rules on them written as recording rules).
#
# Usage: scripts/check_deploy.sh
# Needs promtool (Debian: apt-get install prometheus) and python3. Runs every check, prints
# what failed, exits non-zero if anything did.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROMTOOL="${PROMTOOL:-promtool}"
PYTHON="${PYTHON:-python3}"
RULES=deploy/prometheus/alerts.yml
TESTS=deploy/prometheus/alerts_test.yml
DASHBOARD=deploy/grafana/strata.json

failed=()
check() {
    local name="$1"
    shift
    printf '\n--> %s\n' "$name"
    if "$@"; then
        echo "ok: $name"
    else
        echo "FAILED: $name"
        failed+=("$name")
    fi
}

if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
    echo "promtool not found (Debian: apt-get install --no-install-recommends prometheus)" >&2
    failed+=("promtool missing")
else
    check "promtool check rules $RULES" "$PROMTOOL" check rules "$RULES"
    check "promtool test rules $TESTS" "$PROMTOOL" test rules "$TESTS"
fi

check "python3 -m json.tool $DASHBOARD" "$PYTHON" -m json.tool "$DASHBOARD" /dev/null

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
check "scripts/check_dashboard.py $DASHBOARD (metrics from deploy/README.md)" \
    "$PYTHON" scripts/check_dashboard.py "$DASHBOARD" --readme deploy/README.md --rules "$RULES" \
    --promql-rules "$tmp/dashboard_queries.yml"
if command -v "$PROMTOOL" >/dev/null 2>&1 && [ -s "$tmp/dashboard_queries.yml" ]; then
    check "promtool parses the dashboard's queries" "$PROMTOOL" check rules "$tmp/dashboard_queries.yml"
fi

echo
if [ "${#failed[@]}" -gt 0 ]; then
    echo "deploy checks FAILED (${#failed[@]}): $(IFS=';'; echo "${failed[*]}")"
    exit 1
fi
echo "deploy checks OK: alert rules checked and unit-tested, dashboard valid"
