"""confluent-kafka AdminClient configs against strata: DescribeConfigs, IncrementalAlterConfigs,
and configs that change what the broker does (time retention, broker-side compression)."""

from __future__ import annotations

import pathlib
import struct
import time

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   ResourceType)

from broker import Broker
from clients import admin, consume, create_topic, produce_all, producer, watermarks

T = 15  # seconds, for every admin future

# The retention thread runs often so deleted segments show up within a test's patience.
EXTRA_ARGS = ["--set", "log.retention.check.interval.ms=500",
              # A harmless static setting for the broker describe to find.
              "--set", "log.index.interval.bytes=8192"]


@pytest.fixture(scope="module")
def cfg_broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("configs"), "configs", EXTRA_ARGS)
    b.start()
    yield b
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


def describe(bootstrap: str, rtype: ResourceType, name: str) -> dict[str, ConfigEntry]:
    a = admin(bootstrap)  # must outlive the futures
    res = ConfigResource(rtype, name)
    fs = a.describe_configs([res], request_timeout=T)
    return fs[res].result(timeout=T)


def alter(bootstrap: str, rtype: ResourceType, name: str, ops: list[tuple[str, str | None]]):
    """IncrementalAlterConfigs: (key, value) sets, (key, None) deletes. Returns the result."""
    entries = [
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) if v is not None
        else ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
        for k, v in ops
    ]
    a = admin(bootstrap)
    res = ConfigResource(rtype, name, incremental_configs=entries)
    fs = a.incremental_alter_configs([res], request_timeout=T)
    return fs[res].result(timeout=T)


def test_describe_and_incremental_alter_topic(cfg_broker):
    bs = cfg_broker.bootstrap
    topic = create_topic(bs, config={"retention.ms": "3600000"})

    cfg = describe(bs, ResourceType.TOPIC, topic)
    assert cfg["retention.ms"].value == "3600000"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["segment.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    default_segment_ms = cfg["segment.ms"].value
    assert cfg["cleanup.policy"].value == "delete"

    alter(bs, ResourceType.TOPIC, topic,
          [("segment.ms", "120000"), ("cleanup.policy", "compact"), ("retention.ms", None)])
    cfg = describe(bs, ResourceType.TOPIC, topic)
    assert cfg["segment.ms"].value == "120000"
    assert cfg["segment.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["cleanup.policy"].value == "compact"
    assert cfg["retention.ms"].source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["retention.ms"].value != "3600000"
    # Synonyms are reported (confluent-kafka keys them by name, so only presence is checked).
    assert cfg["segment.ms"].synonyms, cfg["segment.ms"]

    # An invalid value is refused with INVALID_CONFIG naming the key, and nothing in the
    # request applies.
    with pytest.raises(KafkaException) as ei:
        alter(bs, ResourceType.TOPIC, topic,
              [("segment.ms", "60000"), ("min.cleanable.dirty.ratio", "lots")])
    err = ei.value.args[0]
    assert "min.cleanable.dirty.ratio" in err.str(), err.str()
    assert err.name() == "INVALID_CONFIG", err
    cfg = describe(bs, ResourceType.TOPIC, topic)
    assert cfg["segment.ms"].value == "120000"

    alter(bs, ResourceType.TOPIC, topic, [("segment.ms", None)])
    cfg = describe(bs, ResourceType.TOPIC, topic)
    assert cfg["segment.ms"].value == default_segment_ms
    assert cfg["segment.ms"].source == ConfigSource.DEFAULT_CONFIG.value


def test_describe_broker_resources(cfg_broker):
    bs = cfg_broker.bootstrap
    cfg = describe(bs, ResourceType.BROKER, "1")
    # Started with --set: a static broker config.
    entry = cfg["log.index.interval.bytes"]
    assert entry.value == "8192"
    assert entry.source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["log.roll.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    # Topics inherit the static setting.
    topic = create_topic(bs)
    t = describe(bs, ResourceType.TOPIC, topic)["index.interval.bytes"]
    assert t.value == "8192" and t.source == ConfigSource.STATIC_BROKER_CONFIG.value, t

    # A dynamic setting on broker 1 overrides the built-in default. (confluent-kafka refuses
    # the empty resource name of the cluster-wide default; the CLI tests cover that scope.)
    alter(bs, ResourceType.BROKER, "1", [("log.retention.ms", "7200000")])
    try:
        entry = describe(bs, ResourceType.BROKER, "1")["log.retention.ms"]
        assert entry.value == "7200000"
        assert entry.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
        # A topic without an override inherits it.
        topic = create_topic(bs)
        t = describe(bs, ResourceType.TOPIC, topic)["retention.ms"]
        assert t.value == "7200000" and t.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value, t
    finally:
        alter(bs, ResourceType.BROKER, "1", [("log.retention.ms", None)])
    entry = describe(bs, ResourceType.BROKER, "1")["log.retention.ms"]
    assert entry.value != "7200000" and entry.source == ConfigSource.DEFAULT_CONFIG.value

    with pytest.raises(KafkaException) as ei:
        alter(bs, ResourceType.BROKER, "1", [("log.retention.ms", "forever")])
    assert "log.retention.ms" in ei.value.args[0].str()


def test_time_retention_moves_low_watermark(cfg_broker):
    bs = cfg_broker.bootstrap
    topic = create_topic(bs, config={"segment.ms": "500", "retention.ms": "1000"})
    p = producer(bs)
    produce_all(p, topic, [(None, f"v{i}".encode(), {}) for i in range(10)])
    time.sleep(1.5)
    # This append is past segment.ms, so it starts a new segment; the old one, now older than
    # retention.ms, is deletable.
    produce_all(p, topic, [(None, f"v{i}".encode(), {}) for i in range(10, 20)])

    deadline = time.monotonic() + 20
    low, high = watermarks(bs, topic)
    while low < 10 and time.monotonic() < deadline:
        time.sleep(0.25)
        low, high = watermarks(bs, topic)
    assert low >= 10, f"low watermark still {low} (high {high})\n{cfg_broker.log_tail(40)}"
    assert high == 20 and low <= high

    # Stop further deletion, then check a from-the-beginning reader starts at the low mark.
    alter(bs, ResourceType.TOPIC, topic, [("retention.ms", "3600000")])
    produce_all(p, topic, [(None, f"v{i}".encode(), {}) for i in range(20, 25)])
    time.sleep(1.2)  # lets any retention pass that began under the old value finish
    low, high = watermarks(bs, topic)
    assert 10 <= low <= 20 and high == 25
    msgs = consume(bs, topic, 0, 25 - low, start=-2, timeout=20)  # -2 = OFFSET_BEGINNING
    assert [m.offset() for m in msgs] == list(range(low, 25))
    assert [m.value() for m in msgs] == [f"v{i}".encode() for i in range(low, 25)]


def batch_codecs(data_dir: pathlib.Path, topic: str) -> list[int]:
    """The compression codec (attributes & 7) of every record batch in the topic's log files."""
    files = sorted(f for f in data_dir.rglob("*.log") if topic in str(f) and f.stat().st_size)
    assert files, f"no log segments for {topic} under {data_dir}"
    codecs = []
    for f in files:
        buf = f.read_bytes()
        pos = 0
        # Batch header: base offset (8), length (4), leader epoch (4), magic (1), crc (4),
        # attributes (2).
        while pos + 23 <= len(buf):
            (length,) = struct.unpack_from(">i", buf, pos + 8)
            if length <= 0:
                break
            (attrs,) = struct.unpack_from(">h", buf, pos + 21)
            codecs.append(attrs & 7)
            pos += 12 + length
    return codecs


@pytest.mark.parametrize("producer_codec", ["none", "lz4"])
def test_gzip_topic_recompresses_and_round_trips(cfg_broker, producer_codec):
    bs = cfg_broker.bootstrap
    topic = create_topic(bs, config={"compression.type": "gzip"})
    assert describe(bs, ResourceType.TOPIC, topic)["compression.type"].value == "gzip"

    payloads = [bytes((i * 7 + j) % 256 for j in range(i * 13 % 300)) for i in range(40)]
    payloads[3] = b""
    msgs = [(f"k{i}".encode(), v, {"headers": [("h", bytes([i, 0, 255]))]})
            for i, v in enumerate(payloads)]
    p = producer(bs, **{"compression.type": producer_codec})
    produce_all(p, topic, msgs)

    got = consume(bs, topic, 0, len(msgs), timeout=20)
    assert [m.offset() for m in got] == list(range(len(msgs)))
    assert [m.key() for m in got] == [k for k, _, _ in msgs]
    assert [(m.value() or b"") for m in got] == payloads
    assert [m.headers() for m in got] == [[("h", bytes([i, 0, 255]))] for i in range(len(msgs))]

    # The broker stored gzip whatever the producer sent (1 = gzip in batch attributes).
    codecs = batch_codecs(cfg_broker.data_dir, topic)
    assert codecs and set(codecs) == {1}, codecs
