"""kcat (librdkafka's command-line client) against strata."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from clients import create_topic, unique_topic, watermarks

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def kcat(bootstrap: str, *args: str, stdin: str | None = None, timeout: float = 30.0) -> str:
    """Run kcat; a non-zero exit or a hang fails the test with kcat's own stderr."""
    assert KCAT, "kcat not installed (scripts/test.sh installs it)"
    cmd = [KCAT, "-b", bootstrap, "-X", "socket.timeout.ms=10000", *args]
    try:
        res = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"kcat hung for {timeout}s: {cmd}\nstderr: {e.stderr}") from e
    assert res.returncode == 0, f"{cmd} exited {res.returncode}\nstderr:\n{res.stderr}"
    return res.stdout


def consume_json(bootstrap: str, topic: str) -> list[dict]:
    out = kcat(bootstrap, "-C", "-t", topic, "-e", "-o", "beginning", "-J")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_metadata_listing(broker):
    topic = create_topic(broker.bootstrap, partitions=3)
    out = kcat(broker.bootstrap, "-L")
    assert "1 brokers:" in out, out
    assert f'topic "{topic}" with 3 partitions:' in out, out

    md = json.loads(kcat(broker.bootstrap, "-L", "-J"))
    assert len(md["brokers"]) == 1
    assert md["brokers"][0]["name"] == broker.bootstrap
    topics = {t["topic"]: t for t in md["topics"]}
    assert topic in topics
    parts = topics[topic]["partitions"]
    assert sorted(p["partition"] for p in parts) == [0, 1, 2]
    broker_id = md["brokers"][0]["id"]
    assert all(p["leader"] == broker_id for p in parts), parts


def test_produce_keys_and_consume_back(broker):
    topic = create_topic(broker.bootstrap)
    lines = [f"key-{i}:value {i} with spaces" for i in range(50)]
    kcat(broker.bootstrap, "-P", "-t", topic, "-p", "0", "-K:", stdin="\n".join(lines) + "\n")

    out = kcat(broker.bootstrap, "-C", "-t", topic, "-e", "-o", "beginning", "-K:",
               "-f", "%k:%s\n")
    assert out.splitlines() == lines

    msgs = consume_json(broker.bootstrap, topic)
    assert [m["offset"] for m in msgs] == list(range(50))
    assert {m["partition"] for m in msgs} == {0}
    assert [m["key"] for m in msgs] == [f"key-{i}" for i in range(50)]
    assert [m["payload"] for m in msgs] == [f"value {i} with spaces" for i in range(50)]
    assert watermarks(broker.bootstrap, topic) == (0, 50)


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compression_codecs(broker, codec):
    topic = create_topic(broker.bootstrap)
    # Repetitive payloads so the codecs really have something to compress.
    lines = [f"k{i}:{codec}-{i}-" + "abcdefgh" * (i % 20) for i in range(200)]
    kcat(broker.bootstrap, "-P", "-t", topic, "-p", "0", "-K:", "-z", codec,
         "-X", "linger.ms=50", stdin="\n".join(lines) + "\n")
    msgs = consume_json(broker.bootstrap, topic)
    assert [m["offset"] for m in msgs] == list(range(200))
    assert [f'{m["key"]}:{m["payload"]}' for m in msgs] == lines


def test_headers(broker):
    topic = create_topic(broker.bootstrap)
    kcat(broker.bootstrap, "-P", "-t", topic, "-p", "0", "-K:", "-H", "trace=abc123",
         "-H", "dup=1", "-H", "dup=2", stdin="k:v\n")
    msgs = consume_json(broker.bootstrap, topic)
    assert len(msgs) == 1
    m = msgs[0]
    assert (m["key"], m["payload"], m["offset"]) == ("k", "v", 0)
    # kcat's JSON lists headers as a flat [name, value, name, value, ...] array, in order.
    assert m["headers"] == ["trace", "abc123", "dup", "1", "dup", "2"]


def test_json_output_multi_partition(broker):
    topic = create_topic(broker.bootstrap, partitions=2)
    for part in (0, 1):
        lines = [f"p{part}k{i}:p{part}v{i}" for i in range(5 + part)]
        kcat(broker.bootstrap, "-P", "-t", topic, "-p", str(part), "-K:",
             stdin="\n".join(lines) + "\n")
    msgs = consume_json(broker.bootstrap, topic)
    by_part: dict[int, list[dict]] = {}
    for m in msgs:
        assert m["topic"] == topic
        by_part.setdefault(m["partition"], []).append(m)
    assert sorted(by_part) == [0, 1]
    for part, ms in by_part.items():
        assert [m["offset"] for m in ms] == list(range(5 + part))
        assert [m["key"] for m in ms] == [f"p{part}k{i}" for i in range(5 + part)]
        assert [m["payload"] for m in ms] == [f"p{part}v{i}" for i in range(5 + part)]
        # Create-time timestamps were stamped by the producer moments ago.
        assert all(m["ts"] > 1_600_000_000_000 for m in ms)


def test_produce_to_unknown_topic_auto_creates_it(broker):
    # auto.create.topics.enable defaults to true: the producer's Metadata request creates the
    # topic with num.partitions (default 1) partitions.
    topic = unique_topic("auto")
    kcat(broker.bootstrap, "-P", "-t", topic, "-K:", stdin="a:1\nb:2\n")
    msgs = consume_json(broker.bootstrap, topic)
    assert [(m["partition"], m["offset"], m["key"], m["payload"]) for m in msgs] == [
        (0, 0, "a", "1"), (0, 1, "b", "2")]
    md = json.loads(kcat(broker.bootstrap, "-L", "-J", "-t", topic))
    (t,) = [t for t in md["topics"] if t["topic"] == topic]
    assert len(t["partitions"]) == 1
