"""confluent-kafka Producer and Consumer (librdkafka) against strata."""

from __future__ import annotations

import os

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, TopicPartition

from clients import consume, consumer, create_topic, produce_all, producer, watermarks
from wire import java_partition

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def numbered(n: int, tag: str) -> list[tuple[bytes, bytes, dict]]:
    # Mixed sizes, some compressible, some random, so every codec path sees both.
    out = []
    for i in range(n):
        body = (f"{tag}-{i}-".encode() + (b"x" * (i * 37 % 3000))
                + os.urandom(i % 50))
        out.append((f"key-{i}".encode(), body, {"partition": 0}))
    return out


@pytest.mark.parametrize("acks", ["0", "1", "all"])
@pytest.mark.parametrize("codec", CODECS)
def test_produce_acks_and_compression(broker, acks, codec):
    topic = create_topic(broker.bootstrap)
    msgs = numbered(300, f"{acks}-{codec}")
    p = producer(broker.bootstrap, **{"acks": acks, "compression.type": codec,
                                      "linger.ms": 20})
    delivered = produce_all(p, topic, msgs)
    assert len(delivered) == len(msgs)
    if acks != "0":
        # With acks the broker tells us where each record went: 0..n-1, in order.
        assert [m.offset() for m in delivered] == list(range(len(msgs)))

    got = consume(broker.bootstrap, topic, 0, len(msgs))
    assert [m.offset() for m in got] == list(range(len(msgs)))
    assert [(m.key(), m.value()) for m in got] == [(k, v) for k, v, _ in msgs]
    assert watermarks(broker.bootstrap, topic) == (0, len(msgs))


def test_keys_follow_murmur2_partitioning(broker):
    parts = 6
    topic = create_topic(broker.bootstrap, partitions=parts)
    keys = [f"user-{i}".encode() for i in range(240)]
    p = producer(broker.bootstrap, partitioner="murmur2_random")
    delivered = produce_all(p, topic, [(k, b"v-" + k, {}) for k in keys])
    for m in delivered:
        assert m.partition() == java_partition(m.key(), parts), m.key()

    expected: dict[int, list[bytes]] = {i: [] for i in range(parts)}
    for k in keys:
        expected[java_partition(k, parts)].append(k)
    assert all(expected.values()), "key set should touch every partition"
    for part, part_keys in expected.items():
        got = consume(broker.bootstrap, topic, part, len(part_keys))
        # Per-key order is preserved within a partition; all keys of this partition, no others.
        assert [m.key() for m in got] == part_keys
        assert [m.value() for m in got] == [b"v-" + k for k in part_keys]
        assert watermarks(broker.bootstrap, topic, part) == (0, len(part_keys))


def test_headers_empty_and_null_values(broker):
    topic = create_topic(broker.bootstrap)
    headers = [("trace", b"abc"), ("dup", b"1"), ("dup", b"2"), ("empty", b""),
               ("nul", None)]
    msgs = [
        (b"with-headers", b"payload", {"partition": 0, "headers": headers}),
        (b"empty-value", b"", {"partition": 0}),
        (b"null-value", None, {"partition": 0}),
        (None, b"null-key", {"partition": 0}),
        (b"", b"empty-key", {"partition": 0}),
    ]
    produce_all(producer(broker.bootstrap), topic, msgs)
    got = consume(broker.bootstrap, topic, 0, len(msgs))
    assert got[0].headers() == headers
    assert [(m.key(), m.value()) for m in got] == [(k, v) for k, v, _ in msgs]
    assert got[1].value() == b"" and got[2].value() is None  # empty != null
    assert all(not m.headers() for m in got[1:])


def test_one_mebibyte_value(broker):
    topic = create_topic(broker.bootstrap, config={"max.message.bytes": str(4 * 1024 * 1024)})
    big = os.urandom(1024 * 1024)
    p = producer(broker.bootstrap, **{"message.max.bytes": 4 * 1024 * 1024,
                                      "compression.type": "none"})
    delivered = produce_all(p, topic, [(b"big", big, {"partition": 0}),
                                       (b"small", b"after", {"partition": 0})])
    assert [m.offset() for m in delivered] == [0, 1]
    got = consume(broker.bootstrap, topic, 0, 2,
                  **{"max.partition.fetch.bytes": 4 * 1024 * 1024,
                     "fetch.max.bytes": 8 * 1024 * 1024})
    assert got[0].key() == b"big" and got[0].value() == big
    assert (got[1].key(), got[1].value()) == (b"small", b"after")


def test_explicit_timestamps_and_offsets_for_times(broker):
    topic = create_topic(broker.bootstrap)
    base = 1_600_000_000_000
    stamps = [base + i * 1_000 for i in range(20)]
    msgs = [(f"k{i}".encode(), f"v{i}".encode(), {"partition": 0, "timestamp": ts})
            for i, ts in enumerate(stamps)]
    produce_all(producer(broker.bootstrap), topic, msgs)

    got = consume(broker.bootstrap, topic, 0, len(msgs))
    assert [m.timestamp() for m in got] == [(TIMESTAMP_CREATE_TIME, ts) for ts in stamps]

    c = consumer(broker.bootstrap)
    try:
        queries = [base - 5, base + 7_000, base + 7_500, base + 19_000, base + 60_000]
        # One partition per call: a request may name each partition only once.
        res = [c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)[0]
               for ts in queries]
        # First offset with timestamp >= the query; past the end there is no such offset (-1).
        assert [tp.offset for tp in res] == [0, 7, 8, 19, -1]
        assert all(tp.error is None for tp in res)

        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10,
                                       cached=False) == (0, 20)
    finally:
        c.close()


def test_consume_from_middle_offset(broker):
    topic = create_topic(broker.bootstrap)
    msgs = numbered(100, "mid")
    produce_all(producer(broker.bootstrap, **{"linger.ms": 50}), topic, msgs)
    # Start inside a batch: the consumer must skip the records before offset 37.
    got = consume(broker.bootstrap, topic, 0, 63, start=37)
    assert [m.offset() for m in got] == list(range(37, 100))
    assert [m.value() for m in got] == [v for _, v, _ in msgs[37:]]
