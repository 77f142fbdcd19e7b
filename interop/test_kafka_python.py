"""kafka-python (pure-Python client) against strata."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError

from clients import create_topic, unique_topic, watermarks

TIMEOUTS = {"request_timeout_ms": 15_000}


def kp_producer(bootstrap: str, **conf) -> KafkaProducer:
    # kafka-python 3 turns idempotence on by default; the codec tests switch it off so they
    # test the codecs alone. test_default_producer_config covers the default.
    conf.setdefault("enable_idempotence", False)
    return KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=15_000, **TIMEOUTS, **conf)


def kp_consumer(bootstrap: str, **conf) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         **TIMEOUTS, **conf)


def read_all(c: KafkaConsumer, tp: TopicPartition, count: int, timeout: float = 30.0) -> list:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        for records in c.poll(timeout_ms=500).values():
            out.extend(records)
    assert len(out) >= count, f"read {len(out)} of {count} records from {tp}"
    return out


@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_produce_each_codec_and_read_back(broker, codec):
    topic = create_topic(broker.bootstrap)
    p = kp_producer(broker.bootstrap, compression_type=codec, linger_ms=20)
    try:
        futures = [p.send(topic, key=f"k{i}".encode(), value=(f"{codec}-{i}-" * 20).encode(),
                          partition=0, headers=[("n", str(i).encode())])
                   for i in range(200)]
        p.flush(timeout=20)
        metas = [f.get(timeout=10) for f in futures]
    finally:
        p.close(timeout=10)
    assert [m.offset for m in metas] == list(range(200))
    assert all(m.partition == 0 for m in metas)

    tp = TopicPartition(topic, 0)
    c = kp_consumer(broker.bootstrap)
    try:
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = read_all(c, tp, 200)
    finally:
        c.close()
    assert [r.offset for r in got] == list(range(200))
    assert [r.key for r in got] == [f"k{i}".encode() for i in range(200)]
    assert [r.value for r in got] == [(f"{codec}-{i}-" * 20).encode() for i in range(200)]
    assert [r.headers for r in got] == [[("n", str(i).encode())] for i in range(200)]


def test_default_producer_config(broker):
    """What a user gets with KafkaProducer(bootstrap_servers=...): idempotent, acks=all."""
    topic = create_topic(broker.bootstrap)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, max_block_ms=15_000, **TIMEOUTS)
    try:
        metas = [p.send(topic, value=f"d{i}".encode()).get(timeout=15) for i in range(5)]
    finally:
        p.close(timeout=10)
    assert [(m.partition, m.offset) for m in metas] == [(0, i) for i in range(5)]
    assert watermarks(broker.bootstrap, topic) == (0, 5)


def test_offsets_lookup(broker):
    topic = create_topic(broker.bootstrap, partitions=2)
    base = 1_650_000_000_000
    p = kp_producer(broker.bootstrap)
    try:
        for i in range(10):
            p.send(topic, value=f"v{i}".encode(), partition=0, timestamp_ms=base + i * 100)
        p.send(topic, value=b"other", partition=1, timestamp_ms=base)
        p.flush(timeout=20)
    finally:
        p.close(timeout=10)

    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    c = kp_consumer(broker.bootstrap)
    try:
        assert c.beginning_offsets([tp0, tp1]) == {tp0: 0, tp1: 0}
        assert c.end_offsets([tp0, tp1]) == {tp0: 10, tp1: 1}
        found = c.offsets_for_times({tp0: base + 450, tp1: base + 1})
        assert found[tp0].offset == 5 and found[tp0].timestamp == base + 500
        assert found[tp1] is None  # no record at or after that time

        c.assign([tp0])
        c.seek(tp0, 7)
        got = read_all(c, tp0, 3)
        assert [(r.offset, r.value, r.timestamp) for r in got] == [
            (i, f"v{i}".encode(), base + i * 100) for i in (7, 8, 9)]
    finally:
        c.close()


def test_admin_create_and_delete_topics(broker):
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap, **TIMEOUTS)
    try:
        name = unique_topic("kpadm")
        a.create_topics({name: {"num_partitions": 3, "replication_factor": 1}},
                        timeout_ms=15_000)
        deadline = time.monotonic() + 15
        while name not in a.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert name in a.list_topics()
        desc = {t["name"]: t for t in a.describe_topics([name])}
        assert len(desc[name]["partitions"]) == 3

        with pytest.raises(TopicAlreadyExistsError):
            a.create_topics({name: {"num_partitions": 1, "replication_factor": 1}},
                            timeout_ms=15_000)

        a.delete_topics([name], timeout_ms=15_000)
        deadline = time.monotonic() + 15
        while name in a.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert name not in a.list_topics()
    finally:
        a.close()
    # The broker still answers other clients after the topic churn.
    other = create_topic(broker.bootstrap)
    assert watermarks(broker.bootstrap, other) == (0, 0)
