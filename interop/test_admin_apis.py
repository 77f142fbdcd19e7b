"""Kafka admin API details with confluent-kafka: per-record produce errors (KIP-467),
ListGroups v5 type filters (KIP-848), authorized operations (KIP-430), and every Kafka
topic config key accepted and kept."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import (ConsumerGroupType, KafkaError, KafkaException, TopicCollection,
                             TopicPartition)
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType,
                                   AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   NewTopic, ResourcePatternType, ResourceType)

from clients import admin, consumer, create_topic, producer, unique_topic

T = 15  # seconds, for every admin future

TOPIC_OPS = {AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE,
             AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS,
             AclOperation.ALTER_CONFIGS}
CLUSTER_OPS = {AclOperation.CREATE, AclOperation.ALTER, AclOperation.DESCRIBE,
               AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS,
               AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE}


def test_keyless_records_of_a_compacted_topic_fail_alone(broker):
    """One batch of 100 with 10 keyless records: those 10 fail with INVALID_RECORD, the
    other 90 as collateral (librdkafka's _INVALID_DIFFERENT_RECORD), as against Kafka."""
    topic = create_topic(broker.bootstrap, config={"cleanup.policy": "compact"})
    p = producer(broker.bootstrap, linger_ms=2000, batch_num_messages=1000,
                 enable_idempotence=False, retries=0)
    # The producer learns the partition's leader first: records queued while it is still
    # unknown may leave early in a batch of their own (librdkafka, seen under load), and
    # a batch holding exactly one keyless record fails as a whole with INVALID_RECORD.
    warm: list = []
    p.produce(topic, key=b"warm", value=b"up", partition=0,
              on_delivery=lambda err, _m: warm.append(err))
    assert p.flush(30) == 0 and warm == [None]
    reports: dict[int, KafkaError | None] = {}

    def on_delivery(i):
        return lambda err, _msg: reports.__setitem__(i, err)

    for i in range(100):
        key = None if i % 10 == 3 else f"k{i}".encode()
        p.produce(topic, key=key, value=f"v{i}".encode(), partition=0,
                  on_delivery=on_delivery(i))
    assert p.flush(30) == 0
    assert len(reports) == 100
    keyless = {i for i in range(100) if i % 10 == 3}
    for i, err in reports.items():
        assert err is not None, i
        if i in keyless:
            assert err.code() == KafkaError.INVALID_RECORD, (i, err)
        else:
            assert err.code() == KafkaError._INVALID_DIFFERENT_RECORD, (i, err)
    # Keyed records still go in.
    p = producer(broker.bootstrap)
    errors = []
    p.produce(topic, key=b"k", value=b"v", partition=0,
              on_delivery=lambda err, _m: errors.append(err))
    assert p.flush(30) == 0 and errors == [None]


def test_list_consumer_groups_filters_by_type(broker):
    topic = create_topic(broker.bootstrap)
    group = unique_topic("grp")
    c = consumer(broker.bootstrap, **{"group.id": group})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    finally:
        c.close()
    a = admin(broker.bootstrap)

    def listed(**kw):
        result = a.list_consumer_groups(request_timeout=T, **kw).result(timeout=T)
        assert not result.errors, result.errors
        return {g.group_id: g.type for g in result.valid}

    assert listed()[group] == ConsumerGroupType.CLASSIC
    assert listed(types={ConsumerGroupType.CLASSIC})[group] == ConsumerGroupType.CLASSIC
    assert group not in listed(types={ConsumerGroupType.CONSUMER})


def test_authorized_operations_without_an_authorizer(broker):
    topic = create_topic(broker.bootstrap)
    a = admin(broker.bootstrap)
    cluster = a.describe_cluster(include_authorized_operations=True,
                                 request_timeout=T).result(timeout=T)
    assert set(cluster.authorized_operations) == CLUSTER_OPS
    assert not a.describe_cluster(request_timeout=T).result(timeout=T).authorized_operations
    fs = a.describe_topics(TopicCollection([topic]), include_authorized_operations=True,
                           request_timeout=T)
    assert set(fs[topic].result(timeout=T).authorized_operations) == TOPIC_OPS
    fs = a.describe_topics(TopicCollection([topic]), request_timeout=T)
    assert not fs[topic].result(timeout=T).authorized_operations


def test_authorized_operations_follow_the_acls(broker_factory):
    b = broker_factory("authz", ["--set", "authorizer.class.name=strata",
                                 "--set", "allow.everyone.if.no.acl.found=true"])
    topic = create_topic(b.bootstrap)
    a = admin(b.bootstrap)

    def acl(rtype, name, op, permission):
        return AclBinding(rtype, name, ResourcePatternType.LITERAL, "User:ANONYMOUS", "*", op,
                          permission)

    allow, deny = AclPermissionType.ALLOW, AclPermissionType.DENY
    bindings = [acl(ResourceType.TOPIC, topic, AclOperation.ALL, allow),
                acl(ResourceType.TOPIC, topic, AclOperation.WRITE, deny),
                acl(ResourceType.BROKER, "kafka-cluster", AclOperation.ALL, allow),
                acl(ResourceType.BROKER, "kafka-cluster", AclOperation.ALTER, deny)]
    for f in a.create_acls(bindings, request_timeout=T).values():
        f.result(timeout=T)
    want_topic, want_cluster = TOPIC_OPS - {AclOperation.WRITE}, CLUSTER_OPS - {
        AclOperation.ALTER}
    deadline = time.monotonic() + T
    while True:
        fs = a.describe_topics(TopicCollection([topic]), include_authorized_operations=True,
                               request_timeout=T)
        got = set(fs[topic].result(timeout=T).authorized_operations or [])
        if got == want_topic or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == want_topic
    cluster = a.describe_cluster(include_authorized_operations=True,
                                 request_timeout=T).result(timeout=T)
    assert set(cluster.authorized_operations) == want_cluster


KEPT = {
    "file.delete.delay.ms": "1000",
    "index.interval.bytes": "8192",
    "message.downconversion.enable": "false",
    "local.retention.ms": "-2",
    "remote.storage.enable": "false",
    "follower.replication.throttled.replicas": "0:1",
    "leader.replication.throttled.replicas": "*",
    "message.timestamp.before.max.ms": "86400000",
    "message.timestamp.after.max.ms": "3600000",
    "preallocate": "true",
    "unclean.leader.election.enable": "true",
    "segment.jitter.ms": "10",
    "segment.index.bytes": "4096",
    "max.compaction.lag.ms": "100000",
}


def describe(a, topic: str) -> dict[str, ConfigEntry]:
    res = ConfigResource(ResourceType.TOPIC, topic)
    return a.describe_configs([res], request_timeout=T)[res].result(timeout=T)


def test_every_kafka_topic_config_is_accepted_and_kept(broker):
    topic = create_topic(broker.bootstrap, config=KEPT)
    a = admin(broker.bootstrap)
    configs = describe(a, topic)
    for key, value in KEPT.items():
        assert configs[key].value == value, key
        assert configs[key].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value, key
    assert configs["compression.zstd.level"].value == "3"
    assert configs["compression.zstd.level"].source == ConfigSource.DEFAULT_CONFIG.value

    # IncrementalAlterConfigs: SET, APPEND, then a SUBTRACT that empties the list.
    key = "follower.replication.throttled.replicas"
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("file.delete.delay.ms", "5",
                    incremental_operation=AlterConfigOpType.SET),
        ConfigEntry(key, "0:2", incremental_operation=AlterConfigOpType.APPEND)])
    a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    configs = describe(a, topic)
    assert (configs["file.delete.delay.ms"].value, configs[key].value) == ("5", "0:1,0:2")
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry(key, "0:1,0:2", incremental_operation=AlterConfigOpType.SUBTRACT)])
    a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    assert describe(a, topic)[key].value == ""

    # A truly unknown key is still refused.
    name = unique_topic("unknown")
    fs = a.create_topics([NewTopic(name, 1, 1, config={"file.delete.delay": "1"})],
                         request_timeout=T)
    with pytest.raises(KafkaException) as info:
        fs[name].result(timeout=T)
    assert info.value.args[0].code() == KafkaError.INVALID_CONFIG, info.value
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as info:
        a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    assert info.value.args[0].code() == KafkaError.INVALID_CONFIG, info.value


def test_an_emptied_cleanup_policy_keeps_what_retention_would_delete(broker_factory):
    """SUBTRACT may empty cleanup.policy (Kafka 4.1's empty list): the topic is then
    neither deleted by retention nor compacted. A topic with `delete` beside it loses
    the same old segments."""
    b = broker_factory("retention", ["--set", "log.retention.check.interval.ms=200"])
    a = admin(b.bootstrap)
    kept = create_topic(b.bootstrap, config={"cleanup.policy": "delete,compact"})
    deleted = create_topic(b.bootstrap)
    res = ConfigResource(ResourceType.TOPIC, kept, incremental_configs=[
        ConfigEntry("cleanup.policy", "delete,compact",
                    incremental_operation=AlterConfigOpType.SUBTRACT)])
    a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    assert describe(a, kept)["cleanup.policy"].value == ""
    for topic in (kept, deleted):
        res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
            ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("segment.ms", "100", incremental_operation=AlterConfigOpType.SET)])
        a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    p = producer(b.bootstrap)
    hour_ago = int(time.time() * 1000) - 3_600_000
    for i in range(3):
        for topic in (kept, deleted):
            p.produce(topic, key=b"k", value=f"old-{i}".encode(), partition=0,
                      timestamp=hour_ago)
        p.flush(10)
        time.sleep(0.3)  # past segment.ms: the next append rolls a new segment

    c = consumer(b.bootstrap)
    try:
        def low(topic):
            return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=T)[0]
        deadline = time.monotonic() + 20
        while low(deleted) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert low(deleted) > 0, "retention never ran on the control topic"
        assert c.get_watermark_offsets(TopicPartition(kept, 0), timeout=T) == (0, 3)
    finally:
        c.close()
