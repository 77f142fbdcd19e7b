"""confluent-kafka AdminClient against strata: topics and offsets."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import NewPartitions, NewTopic, OffsetSpec

from clients import (admin, create_topic, produce_all, producer, unique_topic, wait_for_topic,
                     watermarks)

T = 15  # seconds, for every admin future


def create_error(bootstrap: str, new_topic: NewTopic) -> KafkaError:
    a = admin(bootstrap)  # must outlive the futures: dropping the handle cancels them
    fs = a.create_topics([new_topic], operation_timeout=T, request_timeout=T)
    with pytest.raises(KafkaException) as ei:
        fs[new_topic.topic].result(timeout=T)
    return ei.value.args[0]


def test_create_list_delete_topics(broker):
    a = admin(broker.bootstrap)
    names = [unique_topic("adm"), unique_topic("adm")]
    fs = a.create_topics([NewTopic(names[0], 1, 1), NewTopic(names[1], 4, 1)],
                         operation_timeout=T, request_timeout=T)
    for name in names:
        assert fs[name].result(timeout=T) is None
    wait_for_topic(broker.bootstrap, names[0], 1)
    wait_for_topic(broker.bootstrap, names[1], 4)

    md = a.list_topics(timeout=T)
    assert names[0] in md.topics and names[1] in md.topics
    assert len(md.topics[names[1]].partitions) == 4
    assert len(md.brokers) == 1

    fs = a.delete_topics([names[0]], operation_timeout=T, request_timeout=T)
    assert fs[names[0]].result(timeout=T) is None
    deadline = time.monotonic() + T
    while time.monotonic() < deadline and names[0] in a.list_topics(timeout=T).topics:
        time.sleep(0.2)
    topics = a.list_topics(timeout=T).topics
    assert names[0] not in topics, "deleted topic still listed"
    assert names[1] in topics, "deleting one topic removed another"


def test_create_duplicate_topic_fails(broker):
    name = create_topic(broker.bootstrap, partitions=2)
    err = create_error(broker.bootstrap, NewTopic(name, 2, 1))
    assert err.code() == KafkaError.TOPIC_ALREADY_EXISTS, err


@pytest.mark.parametrize("bad_name", ["bad name with spaces", "slash/inside", "x" * 250, ".."])
def test_create_invalid_topic_name_fails(broker, bad_name):
    err = create_error(broker.bootstrap, NewTopic(bad_name, 1, 1))
    assert err.code() == KafkaError.TOPIC_EXCEPTION, err
    assert bad_name not in admin(broker.bootstrap).list_topics(timeout=T).topics


def test_create_invalid_partition_count_fails(broker):
    err = create_error(broker.bootstrap, NewTopic(unique_topic(), 0, 1))
    assert err.code() == KafkaError.INVALID_PARTITIONS, err


def test_delete_unknown_topic_fails(broker):
    name = unique_topic("missing")
    a = admin(broker.bootstrap)
    fs = a.delete_topics([name], operation_timeout=T, request_timeout=T)
    with pytest.raises(KafkaException) as ei:
        fs[name].result(timeout=T)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, ei.value


def test_create_partitions(broker):
    name = create_topic(broker.bootstrap, partitions=2)
    p = producer(broker.bootstrap)
    produce_all(p, name, [(b"k", b"before", {"partition": 1})])

    a = admin(broker.bootstrap)
    fs = a.create_partitions([NewPartitions(name, 5)], operation_timeout=T, request_timeout=T)
    assert fs[name].result(timeout=T) is None
    wait_for_topic(broker.bootstrap, name, 5)

    # New partitions take writes; the old ones keep their data.
    delivered = produce_all(producer(broker.bootstrap), name,
                            [(b"k", b"new", {"partition": 4})])
    assert (delivered[0].partition(), delivered[0].offset()) == (4, 0)
    assert watermarks(broker.bootstrap, name, 1) == (0, 1)
    assert watermarks(broker.bootstrap, name, 4) == (0, 1)

    # Shrinking is not allowed.
    fs = a.create_partitions([NewPartitions(name, 3)], operation_timeout=T, request_timeout=T)
    with pytest.raises(KafkaException) as ei:
        fs[name].result(timeout=T)
    assert ei.value.args[0].code() == KafkaError.INVALID_PARTITIONS, ei.value


def test_list_offsets_earliest_latest_max_timestamp(broker):
    name = create_topic(broker.bootstrap)
    base = 1_700_000_000_000
    # Out-of-order timestamps: the max-timestamp record sits in the middle.
    stamps = [base + 1_000, base + 9_000, base + 3_000, base + 5_000]
    p = producer(broker.bootstrap, **{"linger.ms": 0})
    for i, ts in enumerate(stamps):
        # One request per record, so the max-timestamp lookup has to pick a batch, not a record
        # inside one batch.
        produce_all(p, name, [(None, f"v{i}".encode(), {"partition": 0, "timestamp": ts})])

    tp = TopicPartition(name, 0)
    a = admin(broker.bootstrap)
    specs = {"earliest": OffsetSpec.earliest(), "latest": OffsetSpec.latest(),
             "max_timestamp": OffsetSpec.max_timestamp()}
    got = {}
    for label, spec in specs.items():
        fs = a.list_offsets({tp: spec}, request_timeout=T)
        got[label] = fs[tp].result(timeout=T)
    assert got["earliest"].offset == 0
    assert got["latest"].offset == 4
    assert got["max_timestamp"].offset == 1
    assert got["max_timestamp"].timestamp == base + 9_000

    # A timestamp spec: first offset whose timestamp is >= the one asked for.
    fs = a.list_offsets({tp: OffsetSpec.for_timestamp(base + 4_000)}, request_timeout=T)
    assert fs[tp].result(timeout=T).offset == 1
