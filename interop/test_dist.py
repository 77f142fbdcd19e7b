"""The binary and the container recipe users get (issue 17): `scripts/dist.sh` strips the
release build's debug info, and the image's settings (`deploy/Dockerfile`: its ENV,
ENTRYPOINT and CMD) start a broker that real clients use. No container engine runs here,
so the image's command is run as the image would run it, on free ports."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import time
import urllib.request

from broker import ROOT, free_port, strata_bin
from clients import consumer, create_topic, producer

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# What debian:bookworm-slim (the image's base) has of the libraries a Rust binary uses.
BASE_LIBS = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libgcc_s.so.1",
             "ld-linux-x86-64.so.2", "libpthread.so.0", "libdl.so.2", "librt.so.1"}


def dist_binary() -> pathlib.Path:
    r = subprocess.run([str(ROOT / "scripts" / "dist.sh"), "--no-build"],
                       env={**os.environ, "STRATA_BIN": str(strata_bin())},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "dist/strata:" in r.stdout, r.stdout
    return ROOT / "dist" / "strata"


def final_stage(text: str) -> list[tuple[str, str]]:
    """(instruction, argument) of the Dockerfile's last stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]
    stage_starts = [i for i, ln in enumerate(lines) if ln.upper().startswith("FROM ")]
    out = []
    for ln in lines[stage_starts[-1]:]:
        word, _, rest = ln.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_the_user_binary_has_no_debug_info_and_needs_only_the_base_images_libraries():
    dist = dist_binary()
    src = strata_bin()
    sections = subprocess.run(["readelf", "-S", "-W", str(dist)], capture_output=True,
                              text=True, check=True).stdout
    # `.debug_gdb_scripts` is a loaded section (a pointer to gdb's pretty printers),
    # not debug info; DWARF (.debug_info, .debug_line, ...) must be gone.
    dwarf = re.findall(r"\.debug_(?!gdb_scripts)\w+", sections)
    assert not dwarf, f"debug sections left in dist/strata: {dwarf}"
    assert ".symtab" in sections, "symbols are kept for backtraces"
    assert dist.stat().st_size < src.stat().st_size / 2, (dist.stat().st_size,
                                                           src.stat().st_size)
    version = subprocess.run([str(dist), "--version"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    assert version.startswith("strata "), version
    libs = subprocess.run(["ldd", str(dist)], capture_output=True, text=True,
                          check=True).stdout
    needed = {pathlib.PurePath(ln.split()[0]).name for ln in libs.splitlines() if ln.strip()}
    assert needed <= BASE_LIBS, needed - BASE_LIBS


def test_the_container_command_serves_clients(tmp_path):
    dist = dist_binary()
    stage = final_stage(DOCKERFILE.read_text())
    words = [w for w, _ in stage]
    assert words[0] == "FROM" and "debian" in stage[0][1], stage[0]
    env: dict[str, str] = {}
    for word, arg in stage:
        if word == "ENV":
            for item in shlex.split(arg):
                key, _, value = item.partition("=")
                env[key] = value
    entrypoint = json.loads(dict(stage)["ENTRYPOINT"])
    cmd = json.loads(dict(stage)["CMD"])
    assert entrypoint == ["strata"], entrypoint
    exposed = {int(p) for p in dict(stage)["EXPOSE"].split()}
    assert exposed == {9092, 8080, 8081}, exposed
    assert dict(stage)["COPY"].endswith("/src/dist/strata /usr/local/bin/strata")

    # The image's settings, with free ports in place of the published ones and a
    # temporary directory for the volume.
    ports = {9092: free_port(), 8080: free_port(), 8081: free_port()}
    run_env = {}
    for key, value in env.items():
        for published, port in ports.items():
            value = value.replace(f":{published}", f":{port}")
        run_env[key] = value
    assert run_env["STRATA_DATA_DIR"] == "/var/lib/strata"
    run_env["STRATA_DATA_DIR"] = str(tmp_path / "data")
    log = open(tmp_path / "strata.log", "w")
    proc = subprocess.Popen([str(dist), *cmd], env={"PATH": os.environ["PATH"], **run_env},
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        health = f"http://127.0.0.1:{ports[8080]}/health"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(health, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "strata.log").read_text()
            assert time.monotonic() < deadline, "no /health answer"
            time.sleep(0.2)
        # Clients bootstrap from the advertised address (localhost:<published port>).
        bootstrap = run_env["STRATA_ADVERTISE"]
        assert bootstrap == f"localhost:{ports[9092]}"
        topic = create_topic(bootstrap)
        p = producer(bootstrap)
        for i in range(10):
            p.produce(topic, key=b"k", value=f"v{i}".encode(), partition=0)
        assert p.flush(20) == 0
        c = consumer(bootstrap, **{"auto.offset.reset": "earliest"})
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 10 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value())
        c.close()
        assert got == [f"v{i}".encode() for i in range(10)]
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[8081]}/subjects",
                                    timeout=5) as r:
            assert json.loads(r.read()) == []
    finally:
        proc.send_signal(signal.SIGTERM)  # the image's STOPSIGNAL
        code = proc.wait(30)
        log.close()
    assert dict(stage)["STOPSIGNAL"] == "SIGTERM"
    assert code == 0, (tmp_path / "strata.log").read_text()[-3000:]
