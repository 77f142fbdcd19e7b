#!/usr/bin/env python3
"""Schema registry figures for bench/RESULTS.md § Registry (issue 15).

Starts one `strata server` (release build) with its registry on a free port and runs
`strata bench registry` (registrations per second, then GET /schemas/ids/{id} per second
from keep-alive connections), then the produce cost of schema validation: the same
`strata bench produce` of values in the registry's wire format to a topic with
`confluent.value.schema.validation` off and on, interleaved, with the broker's CPU per
record read from /proc (the load generator shares the cores).

    python3 bench/registry.py [--records 1000000] [--rounds 3]
"""
import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from benchlib import cpu_secs, free_port  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = str(ROOT / "target" / "release" / "strata")


def wait_port(port: int):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened")


def strata(*args: str) -> str:
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kafka, http, reg = free_port(), free_port(), free_port()
        broker = subprocess.Popen(
            [BIN, "server", "--data-dir", f"{tmp}/data", "--listen", f"127.0.0.1:{kafka}",
             "--http", f"127.0.0.1:{http}", "--registry", f"127.0.0.1:{reg}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(kafka)
            url = f"http://127.0.0.1:{reg}"
            cpu0 = cpu_secs(broker.pid)
            out = json.loads(strata("--format", "json", "bench", "registry", "-r", url,
                                    "--connections", str(a.connections),
                                    "--seconds", str(a.seconds)))
            out["broker_cpu_s"] = round(cpu_secs(broker.pid) - cpu0, 2)
            print("registry:", json.dumps(out))
            bootstrap = f"127.0.0.1:{kafka}"
            body = json.dumps({"schema": json.dumps(
                {"type": "record", "name": "Bench", "fields": [{"name": "f", "type": "string"}]})})
            req = urllib.request.Request(f"{url}/subjects/checked-value/versions",
                                         data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            schema_id = json.loads(urllib.request.urlopen(req).read())["id"]
            for topic, on in (("plain", "false"), ("checked", "true")):
                strata("-b", bootstrap, "topic", "create", topic, "--partitions", "1",
                       "--config", f"confluent.value.schema.validation={on}")
            for r in range(a.rounds):
                for topic in ("plain", "checked"):
                    cpu0, t0 = cpu_secs(broker.pid), time.monotonic()
                    res = json.loads(strata(
                        "-b", bootstrap, "--format", "json", "bench", "produce",
                        "--topic", topic, "--records", str(a.records), "--record-size", "100",
                        "--acks", "1", "--schema-id", str(schema_id)))
                    cpu = cpu_secs(broker.pid) - cpu0
                    print(f"round {r} {topic}: {res.get('records_per_sec', res)} rec/s, "
                          f"broker CPU {cpu:.2f} s = {cpu / a.records * 1e6:.3f} µs/record, "
                          f"wall {time.monotonic() - t0:.1f} s")
        finally:
            broker.terminate()
            broker.wait(30)


if __name__ == "__main__":
    main()
