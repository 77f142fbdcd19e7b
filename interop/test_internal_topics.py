"""Internal topics are the broker's own state: clients cannot delete them, add partitions
to them or stop their compaction. Deleting a user topic drops its committed offsets."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions,
                                   NewTopic)

from clients import admin, consumer, create_topic, produce_all, producer, unique_topic

T = 15
OFFSETS = "__consumer_offsets"


def committed(bootstrap: str, group: str, topic: str) -> int:
    c = consumer(bootstrap, **{"group.id": group})
    try:
        return c.committed([TopicPartition(topic, 0)], timeout=T)[0].offset
    finally:
        c.close()


def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    c = consumer(bootstrap, **{"group.id": group})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        c.close()


def refused(future) -> tuple[str, str]:
    with pytest.raises(KafkaException) as ei:
        future.result(timeout=T)
    err = ei.value.args[0]
    return err.name(), err.str()


def test_internal_topic_cannot_be_deleted_grown_or_uncompacted(broker):
    topic = create_topic(broker.bootstrap)
    produce_all(producer(broker.bootstrap), topic, [(b"k", b"v", {"partition": 0})] * 5)
    commit(broker.bootstrap, "keeper", topic, 5)
    a = admin(broker.bootstrap)

    # (librdkafka asks DeleteTopics and CreatePartitions at versions without an error
    # message; the message naming the topic is checked in strata-meta.)
    name, text = refused(a.delete_topics([OFFSETS], operation_timeout=T)[OFFSETS])
    assert name == "INVALID_REQUEST", (name, text)
    name, text = refused(a.create_partitions([NewPartitions(OFFSETS, 200)])[OFFSETS])
    assert name == "INVALID_REQUEST", (name, text)
    res = ConfigResource(ConfigResource.Type.TOPIC, OFFSETS, incremental_configs=[
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SET)])
    name, text = refused(a.incremental_alter_configs([res])[res])
    assert name == "INVALID_CONFIG" and "cleanup.policy" in text, (name, text)
    # A safe change still goes through.
    res = ConfigResource(ConfigResource.Type.TOPIC, OFFSETS, incremental_configs=[
        ConfigEntry("segment.bytes", str(50 << 20), incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res])[res].result(timeout=T)

    assert OFFSETS in a.list_topics(timeout=T).topics
    assert committed(broker.bootstrap, "keeper", topic) == 5


def test_deleting_a_topic_drops_its_committed_offsets(broker):
    topic = create_topic(broker.bootstrap, unique_topic("gone"))
    kept = create_topic(broker.bootstrap)
    commit(broker.bootstrap, "forgetful", topic, 3)
    commit(broker.bootstrap, "forgetful", kept, 4)
    a = admin(broker.bootstrap)
    a.delete_topics([topic], operation_timeout=T)[topic].result(timeout=T)
    deadline = time.monotonic() + T
    while committed(broker.bootstrap, "forgetful", topic) == 3:
        assert time.monotonic() < deadline, "the deleted topic's offset is still committed"
        time.sleep(0.2)
    # Created again under the same name, the topic starts without the old position.
    a.create_topics([NewTopic(topic, 1, 1)], operation_timeout=T)[topic].result(timeout=T)
    assert committed(broker.bootstrap, "forgetful", topic) < 0
    assert committed(broker.bootstrap, "forgetful", kept) == 4
    # After a restart too (the tombstones are in the log).
    broker.stop()
    broker.restart()
    assert committed(broker.bootstrap, "forgetful", topic) < 0
    assert committed(broker.bootstrap, "forgetful", kept) == 4
