"""Issues 11 and 14: the nemesis suite, a short schedule (every fault kind once), with
an idempotent workload and two transactional writers (txn_workload.py).

See nemesis.py for the cluster, the workload, the faults and the checks. The seed comes
from `NEMESIS_SEED` (printed, so a failure can be replayed), else it is `CI_SEED`; random
and longer schedules run from `bench/nemesis.sh`.

Seed 1 once gave duplicated values, rarely (8 clean runs in a row later on the same
code); the likely cause, a librdkafka producer-epoch reset provoked by the broker, is
fixed since 386e7b6 and 3784562 (see bench/RESULTS.md).
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from nemesis import Nemesis, schedule

# Passed both runs made with it since f545e30 (seeds 20261204, 2, 3, 4, 5, 6 passed too).
CI_SEED = 20261203


@pytest.fixture
def nemesis(tmp_path):
    n = Nemesis(tmp_path)
    try:
        n.setup()
        yield n
    finally:
        problems = n.teardown()
        assert not problems, problems


def test_no_acknowledged_write_is_lost_duplicated_or_reordered(nemesis):
    seed = int(os.environ.get("NEMESIS_SEED", CI_SEED))
    kinds = nemesis.kinds()
    faults = schedule(seed, len(kinds), kinds, max_hold_s=4.0)
    print(f"NEMESIS_SEED={seed}: {[dataclasses.asdict(f) for f in faults]}")
    report = nemesis.run(faults, txn_writers=2, seed=seed)
    report.update(nemesis.stop_and_compare())
    for f in report["faults"]:
        print(f)
    print({k: v for k, v in report.items() if k != "faults"})

    assert report["acked"] > 1000, "the workload hardly ran"
    assert report["fatal"] is None
    assert report["lost"] == 0, f"{report['lost']} acknowledged values lost"
    assert report["duplicated"] == 0, f"{report['duplicated']} values duplicated"
    assert report["reordered"] == 0, f"{report['reordered']} values out of order"
    assert all(f["exit_code"] in (None, 0) for f in report["faults"]), "SIGTERM exit code"
    assert all(c == 0 for c in report["exit_codes"].values()), report["exit_codes"]
    assert report["replicas_differ"] == [], report["replicas_differ"]
    # Issue 14: the transactional writers ran through the same faults.
    outcomes = report["txn_outcomes"]
    assert outcomes["committed"] > 20 and outcomes["aborted"] > 5, outcomes
    assert report["txn_anomalies"] == 0, {k: v for k, v in report.items()
                                          if k.startswith("txn_")}
