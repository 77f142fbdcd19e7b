"""The HTTP listener: /health and Prometheus /metrics."""

from __future__ import annotations

import errno
import json
import re
import socket
import urllib.error
import urllib.request

from clients import consume, create_topic, metadata_ok, produce_all, producer

# One sample line of the Prometheus text format: name{labels} value [timestamp]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def get(url: str, timeout: float = 10.0) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode(errors="replace")


def parse_metrics(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """(family name -> TYPE, samples); asserts every line is valid exposition format."""
    types: dict[str, str] = {}
    samples = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(LABEL.findall(m.group(3) or ""))
        samples.append((m.group(1), labels, float(m.group(4))))
    return types, samples


def norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def api_counter(types, samples, api: str) -> float:
    """Sum of every counter sample that has a label naming `api` (e.g. api="Produce")."""
    counters = {name for name, kind in types.items() if kind == "counter"}
    total = 0.0
    found = False
    for name, labels, value in samples:
        family = name[:-len("_total")] if name.endswith("_total") else name
        if family not in counters and name not in counters:
            continue
        if "request" not in name:
            continue
        if any(norm(v) == norm(api) for v in labels.values()):
            total += value
            found = True
    assert found, f"no request counter labelled {api!r} among {sorted(counters)}"
    return total


def test_health(broker):
    status, _, body = get(f"{broker.http_base}/health")
    assert status == 200, body
    # A lone node is its own quorum: registered, unfenced, data dir writable.
    status, _, body = get(f"{broker.http_base}/health/ready")
    assert status == 200, body
    assert json.loads(body)["status"] == "ready" and json.loads(body)["reasons"] == []
    status, _, body = get(f"{broker.http_base}/health/live")
    assert status == 200 and json.loads(body)["status"] == "live", body


def test_garbage_on_http_port(broker):
    for junk in (b"\x00\xff" * 500, b"GET /health HTTP/9.9\r\n\r\n", b"POST / HTTP/1.1\r\n"
                 b"Content-Length: 99999999999999999999\r\n\r\n", b"\x16\x03\x01\x02\x00"):
        with socket.create_connection(("127.0.0.1", broker.http_port), timeout=10) as s:
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                pass
            except OSError as e:
                # ENOTCONN: the server had already dropped the connection, which is fine.
                if e.errno != errno.ENOTCONN:
                    raise
    broker.assert_alive()
    status, _, body = get(f"{broker.http_base}/health")
    assert status == 200, body


def test_metrics_count_requests_per_api(broker):
    topic = create_topic(broker.bootstrap)
    produce_all(producer(broker.bootstrap), topic,
                [(b"k", f"v{i}".encode(), {"partition": 0}) for i in range(10)])
    consume(broker.bootstrap, topic, 0, 10)

    status, ctype, text = get(f"{broker.http_base}/metrics")
    assert status == 200
    assert ctype.startswith("text/plain") or "openmetrics" in ctype, ctype
    types, samples = parse_metrics(text)
    for api in ("Produce", "Fetch", "Metadata", "ApiVersions"):
        assert api_counter(types, samples, api) >= 1, api
    before = api_counter(types, samples, "Metadata")

    for _ in range(5):
        metadata_ok(broker.bootstrap)
    _, _, text = get(f"{broker.http_base}/metrics")
    types, samples = parse_metrics(text)
    assert api_counter(types, samples, "Metadata") >= before + 5
