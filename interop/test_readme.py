"""Every example in README.md is run (issue 17), or says why it cannot be here.

`test_every_example_is_accounted_for` lists the README's fenced blocks and fails on a
block no entry of `EXAMPLES` claims (a new example needs a runner) or on an entry whose
block is gone. The runners below run their blocks as written: shell lines through bash
with `strata` on the PATH and the README's addresses replaced by the test broker's,
Python blocks with the same replacement. A line that runs until stopped (a consumer
without `-e`/`--count`, `cluster up`) gets SIGTERM / SIGINT after a few seconds and
must exit 0, which is what the README says those signals do.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from broker import ROOT, Broker, free_port, strata_bin


@dataclass
class Block:
    heading: str
    lang: str
    text: str

    @property
    def first(self) -> str:
        for ln in self.text.splitlines():
            if ln.strip() and not ln.lstrip().startswith("#"):
                return ln.strip()
        return ""


def readme_blocks() -> list[Block]:
    blocks, heading, lang, body = [], "", None, []
    for ln in (ROOT / "README.md").read_text().splitlines():
        if lang is None and ln.startswith("#"):
            heading = ln.lstrip("#").strip()
        elif ln.startswith("```"):
            if lang is None:
                lang, body = ln[3:].strip(), []
            else:
                blocks.append(Block(heading, lang, "\n".join(body) + "\n"))
                lang = None
        elif lang is not None:
            body.append(ln)
    return blocks


# (heading, start of the block's first command line) -> how the block is checked.
EXAMPLES: dict[tuple[str, str], str] = {
    ("The two commands", "cargo run --release -- server"):
        "not run: starts the server on the default ports; every interop test starts "
        "the same binary (target/release/strata server), test_dist.py as users get it",
    ("The two commands", "scripts/test.sh"): "not run: it is this very test suite (CI runs it)",
    ("The two commands", "STRATA_BIN=target/release/strata"):
        "test_readme.py::test_running_one_interop_file",
    ("A cluster", "V=1@127.0.0.1:19093"): "test_readme_cluster.py",
    ("Schema registry", "from confluent_kafka.schema_registry"):
        "test_readme.py::test_python_examples",
    ("Command line", "strata topic create orders"): "test_readme.py::test_cli_examples",
    ("Command line", "strata consume orders --group billing"):
        "test_readme.py::test_cli_examples",
    ("Command line", "strata profile create prod"): "test_readme.py::test_profile_examples",
    ("Command line", "strata cluster up --nodes 3"):
        "test_readme.py::test_local_cluster_example",
    ("Command line", "strata log verify ./strata-data"): "test_readme.py::test_cli_examples",
    ("With Kafka clients", "kcat -b 127.0.0.1:9092 -L"): "test_readme.py::test_kcat_examples",
    ("With Kafka clients", "from confluent_kafka import Consumer"):
        "test_readme.py::test_python_examples",
    ("With Kafka clients", "p = Producer({**conf"): "test_readme.py::test_python_examples",
    ("Configuration of `strata server`", 'data-dir = "/var/lib/strata"'):
        "test_readme.py::test_config_file_example",
    ("Security: listeners, TLS, SASL, ACLs", "STRATA_ADMIN_USER=admin"):
        "not run verbatim: the reader's host names and certificate files; test_security.py "
        "starts these settings with certificates it generates and drives kcat over them",
    ("Security: listeners, TLS, SASL, ACLs", "--set 'listeners=INTERNAL"):
        "not run verbatim: a fragment of each node's settings; test_cluster_security.py "
        "runs a mutual-TLS cluster with these settings and generated certificates",
    ("The CLI as a secure client", "strata -b broker1:9093"):
        "not run verbatim: the reader's hosts and credentials; test_cli_security.py runs "
        "each of these commands against a SASL_SSL / mTLS broker it sets up",
    ("Quotas", "kafka-configs.sh"):
        "not run: Apache Kafka's shell tools are not in this machine's package registries; "
        "test_quotas.py sets the same quotas through AdminClient and the CLI",
    ("Repository layout", ""): "not run: a directory listing, not a command",
}


def block(heading: str, first: str) -> Block:
    found = [b for b in readme_blocks() if b.heading == heading and b.first.startswith(first)]
    assert len(found) == 1, (heading, first, len(found))
    return found[0]


def test_every_example_is_accounted_for():
    claimed = {key: 0 for key in EXAMPLES}
    for b in readme_blocks():
        keys = [k for k in EXAMPLES if k[0] == b.heading and b.first.startswith(k[1])]
        assert keys, f"README block under '{b.heading}' starting {b.first!r} has no test"
        claimed[max(keys, key=lambda k: len(k[1]))] += 1
    stale = [k for k, n in claimed.items() if n == 0]
    assert not stale, f"EXAMPLES entries without a README block: {stale}"
    for how in EXAMPLES.values():
        if not how.startswith("not run"):
            assert (ROOT / "interop" / how.split("::")[0]).is_file(), how


# --- running shell lines -----------------------------------------------------------------

def shell_env(tmp: pathlib.Path, bootstrap: str | None = None) -> dict[str, str]:
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    link = bindir / "strata"
    if not link.exists():
        link.symlink_to(strata_bin())
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "NO_COLOR": "1"}
    if bootstrap:
        env["STRATA_BOOTSTRAP"] = bootstrap
    return env


def commands(text: str) -> list[str]:
    """The block's commands: comment-only and blank lines dropped, continuations joined."""
    out, cur = [], ""
    for ln in text.splitlines():
        if not cur and (not ln.strip() or ln.lstrip().startswith("#")):
            continue
        if ln.rstrip().endswith("\\"):
            cur += ln.rstrip()[:-1] + " "
            continue
        out.append(cur + ln)
        cur = ""
    return out


# Commands that run until they are stopped (README: SIGTERM = Ctrl-C for consume).
UNTIL_STOPPED = ("strata consume orders --group billing",
                 "strata consume -t orders -t refunds")


def run_line(line: str, cwd: pathlib.Path, env: dict[str, str]) -> str:
    if line.startswith(UNTIL_STOPPED):
        p = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(5)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 0, f"{line}\n{out}"
        return out
    r = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"README line failed: {line}\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture
def fresh_broker(tmp_path):
    b = Broker(tmp_path / "broker", "readme")
    b.workdir.mkdir()
    b.start()
    yield b
    if b.running():
        assert b.stop() == 0, b.log_tail()


def test_cli_examples(fresh_broker, tmp_path):
    env = shell_env(tmp_path, fresh_broker.bootstrap)
    # The file the produce example reads: enough records for `--offset 100 --count 10`.
    (tmp_path / "lines.txt").write_text("".join(f"line {i}\n" for i in range(200)))
    outputs = {}
    for heading, first in [("Command line", "strata topic create orders"),
                           ("Command line", "strata consume orders --group billing")]:
        for line in commands(block(heading, first).text):
            outputs[line] = run_line(line, tmp_path, env)
    described = next(v for k, v in outputs.items() if k.startswith("strata group describe billing "))
    assert "orders" in described, described
    # The log verify example reads a stopped broker's data directory.
    assert fresh_broker.stop() == 0
    (tmp_path / "strata-data").symlink_to(fresh_broker.data_dir)
    for line in commands(block("Command line", "strata log verify ./strata-data").text):
        out = run_line(line, tmp_path, env)
        if "--format json" in line:
            assert json.loads(out.splitlines()[0]), out


def test_local_cluster_example(tmp_path):
    b = block("Command line", "strata cluster up --nodes 3")
    up, *rest = commands(b.text)
    env = shell_env(tmp_path)
    proc = subprocess.Popen(["bash", "-c", f"exec {up}"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        layout = tmp_path / "strata-cluster" / "cluster.json"
        deadline = time.monotonic() + 60
        while not layout.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "no cluster.json"
            time.sleep(0.2)
        port = json.loads(layout.read_text())["nodes"][0]["kafka"].rsplit(":", 1)[1]
        for line in rest:
            run_line(line.replace("PORT", port), tmp_path, env)
    finally:
        proc.send_signal(signal.SIGINT)  # the README: Ctrl-C stops every node
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out


def test_kcat_examples(fresh_broker, tmp_path):
    env = shell_env(tmp_path)
    text = block("With Kafka clients", "kcat -b 127.0.0.1:9092 -L").text
    outs = [run_line(line.replace("127.0.0.1:9092", fresh_broker.bootstrap), tmp_path, env)
            for line in commands(text)]
    records = [json.loads(ln) for ln in outs[-1].splitlines() if ln.startswith("{")]
    assert [(r["key"], r["payload"]) for r in records] == [("k1", "v1"), ("k2", "v2")]


def test_python_examples(fresh_broker, tmp_path):
    script = "".join(block("With Kafka clients", first).text
                     for first in ("from confluent_kafka import Consumer", "p = Producer({**conf"))
    script = script.replace("127.0.0.1:9092", fresh_broker.bootstrap)
    registry = block("Schema registry", "from confluent_kafka.schema_registry").text
    script += registry.replace("http://127.0.0.1:8081", fresh_broker.registry_url)
    script += "\nassert callable(serialize)\n"
    (tmp_path / "readme.py").write_text(script)
    r = subprocess.run([sys.executable, "readme.py"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # The consumer printed the record the producer wrote.
    assert "b'user-1' b'first order'" in r.stdout, r.stdout


def test_config_file_example(tmp_path):
    text = block("Configuration of `strata server`", 'data-dir = "/var/lib/strata"').text
    kafka, http = free_port(), free_port()
    text = (text.replace("/var/lib/strata", str(tmp_path / "data"))
                .replace("0.0.0.0:9092", f"127.0.0.1:{kafka}")
                .replace("broker1.example.com:9092", f"127.0.0.1:{kafka}")
                .replace("0.0.0.0:8080", f"127.0.0.1:{http}"))
    (tmp_path / "strata.toml").write_text(text)
    env = shell_env(tmp_path)
    proc = subprocess.Popen([str(strata_bin()), "server", "--config", "strata.toml",
                             "--registry", "off"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            r = subprocess.run([str(strata_bin()), "-b", f"127.0.0.1:{kafka}", "--format",
                                "json", "broker", "config"], capture_output=True, text=True,
                               timeout=30)
            if r.returncode == 0:
                break
            assert proc.poll() is None and time.monotonic() < deadline, r.stderr
            time.sleep(0.3)
        configs = {c["name"]: c for c in json.loads(r.stdout)["configs"]}
        assert configs["num.partitions"]["value"] == "3", configs["num.partitions"]
        assert configs["log.retention.ms"]["value"] == "604800000"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def test_running_one_interop_file(tmp_path):
    line = commands(block("The two commands", "STRATA_BIN=target/release/strata").text)[0]
    line = line.replace("STRATA_BIN=target/release/strata", f"STRATA_BIN={strata_bin()}")
    line = line.replace(".venv/bin/python", sys.executable)
    r = subprocess.run(["bash", "-c", line + " -q -p no:cacheprovider"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    assert re.search(r"\d+ passed", r.stdout), r.stdout[-2000:]


def test_profile_examples(fresh_broker, tmp_path):
    """The profile block with the reader's 127.0.0.1 being the test broker's host (its
    port stands in for the default 9092) and a home and config directory of its own."""
    home = tmp_path / "home"
    (home / ".local/share/bash-completion/completions").mkdir(parents=True)
    env = shell_env(tmp_path)
    env.pop("STRATA_BOOTSTRAP", None)
    env.update(HOME=str(home), STRATA_CONFIG_HOME=str(tmp_path / "config"))
    text = block("Command line", "strata profile create prod").text
    outputs = []
    for line in commands(text):
        line = line.replace("--brokers 127.0.0.1 ", f"--brokers {fresh_broker.bootstrap} ")
        outputs.append(run_line(line, tmp_path, env))
    completions = home / ".local/share/bash-completion/completions/strata"
    assert "strata" in completions.read_text()
    profiles = (tmp_path / "config" / "profiles.toml").read_text()
    assert "local" in profiles and "prod" not in profiles, profiles
