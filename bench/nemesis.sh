#!/usr/bin/env bash
# Long nemesis runs (issue 11): three local nodes, an idempotent acks=all workload and a
# seeded schedule of faults (SIGSTOP of a leader or of the controller, kill -9, SIGTERM,
# a network partition and a full disk; the last two need root), checked for lost,
# duplicated and reordered acknowledged writes, write stalls per fault and byte-identical
# replicas after a clean stop. See interop/nemesis.py; CI runs a short schedule in
# interop/test_nemesis.py.
#
# Usage: bench/nemesis.sh [RUNS] [FAULTS_PER_RUN] [MAX_HOLD_S] [FIRST_SEED]
#   defaults: 3 runs of 20 faults, holds up to 8 s, seeds from the clock.
# Prints one JSON report per run and a summary line per run; exits non-zero if any run
# lost, duplicated or reordered a write, or left replicas differing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
faults=${2:-20}
hold=${3:-8}
seed=${4:-$(date +%s)}
py=$root/.venv/bin/python
[ -x "$py" ] || { echo "no $py: run scripts/test.sh once to create the venv" >&2; exit 2; }
[ -x "$root/target/release/strata" ] || cargo build --release -p strata-cli --manifest-path "$root/Cargo.toml"
out=$(mktemp -d)
failed=0
for i in $(seq 1 "$runs"); do
  s=$((seed + i - 1))
  echo "==> run $i of $runs: seed $s, $faults faults, holds up to ${hold}s" >&2
  if ! (cd "$root/interop" && "$py" nemesis.py --seed "$s" --faults "$faults" \
          --max-hold "$hold" >"$out/run-$i.json"); then
    failed=1
  fi
  cat "$out/run-$i.json"
  "$py" - "$out/run-$i.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["faults"]
def worst(kind, key):
    v = [x[key] for x in f if x["kind"].startswith(kind)]
    return max(v) if v else None
print(f"seed {r['seed']}: {len(f)} faults, {r['acked']} acked, lost {r['lost']}, "
      f"duplicated {r['duplicated']}, reordered {r['reordered']}, replicas differ "
      f"{len(r['replicas_differ'])}; worst stall (led / other partitions): "
      + ", ".join(f"{k} {worst(k, 'stall_led_s')} / {worst(k, 'stall_other_s')} s"
                  for k in ["pause", "kill", "term", "partition", "disk-full"]),
      file=sys.stderr)
PY
done
rm -rf "$out"
exit $failed
