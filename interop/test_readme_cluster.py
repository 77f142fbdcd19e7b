"""Issue 17: the README's cluster section runs verbatim.

The shell block under "## A cluster" starts three nodes in the background and at once
creates a topic with replication factor 3. It must work as written: the CLI retries a
bootstrap address that refuses connections for a moment, and CreateTopics waits for
declared voters that have not registered yet. Then `strata cluster wait --brokers 3`
and a describe show the cluster and the topic as the README promises.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import time

from broker import ROOT, strata_bin


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"\n{heading}\n", 1)[1]
    m = re.search(r"```sh\n(.*?)```", section, re.S)
    assert m, f"no sh block under {heading}"
    return m.group(1)


def test_the_readme_cluster_section_runs_verbatim(tmp_path: pathlib.Path):
    block = readme_block("## A cluster")
    assert "strata server --node-id 3" in block and "--replication-factor 3" in block
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "strata").symlink_to(strata_bin())
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "NO_COLOR": "1"}
    # The block as written, then the background nodes' pids for the cleanup.
    script = f"set -e\n{block}\necho \"PIDS $(jobs -p | tr '\\n' ' ')\"\n"
    # Output to a file: the nodes left running in the background keep it open.
    out_path = tmp_path / "block.out"
    with open(out_path, "w") as out:
        run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, stdout=out,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120)
    output = out_path.read_text()
    found = re.findall(r"PIDS ([\d ]*)", output)
    pids = [int(p) for p in found[0].split()] if found else []
    try:
        assert run.returncode == 0, f"README block failed:\n{output}"
        strata = [str(strata_bin()), "-b", "127.0.0.1:19092"]
        wait = subprocess.run([*strata, "cluster", "wait", "--brokers", "3", "--timeout", "60",
                               "--format", "json"], capture_output=True, text=True, timeout=90)
        assert wait.returncode == 0, wait.stderr
        assert json.loads(wait.stdout)["brokers"] == 3
        desc = subprocess.run([*strata, "topic", "describe", "orders", "--format", "json"],
                              capture_output=True, text=True, timeout=60)
        assert desc.returncode == 0, desc.stderr
        topic = json.loads(desc.stdout)
        assert len(topic["partitions"]) == 3
        assert all(sorted(p["replicas"]) == [1, 2, 3] for p in topic["partitions"]), topic
        configs = {c["name"]: c["value"] for c in topic["configs"]}
        assert configs["min.insync.replicas"] == "2"
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        for pid in pids:
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                    time.sleep(0.1)
                except ProcessLookupError:
                    break
            else:
                os.kill(pid, signal.SIGKILL)


def test_cluster_wait_gives_up_naming_the_count(tmp_path: pathlib.Path):
    from broker import Broker
    b = Broker(tmp_path, "single")
    b.start()
    try:
        r = subprocess.run([str(strata_bin()), "-b", b.bootstrap, "cluster", "wait",
                            "--brokers", "2", "--timeout", "2"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
        assert "2 brokers not registered within 2 s: only 1 are registered" in r.stderr, r.stderr
    finally:
        assert b.stop() == 0
