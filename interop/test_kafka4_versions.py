"""The request versions of Kafka 4 clients (issue 17): kafka-python 3 picks the newest
version both sides know, so it exercises Produce v12, Fetch v17, ListOffsets v10,
Metadata v13, DescribeCluster v2, FindCoordinator v6, OffsetCommit/OffsetFetch v9,
DescribeGroups v6 and ListTransactions v2 against a real broker."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.protocol.api_key import ApiKey
from kafka.protocol.consumer.offsets import OffsetSpec

from clients import create_topic, unique_topic
from cluster import cluster, wait_for  # noqa: F401 (fixture)

TIMEOUTS = {"request_timeout_ms": 15_000}

# What a Kafka 4.0 broker advertises for the APIs its clients moved; Strata must not lag.
KAFKA_4_MAX = {
    ApiKey.Produce: 12, ApiKey.Fetch: 17, ApiKey.ListOffsets: 10, ApiKey.Metadata: 13,
    ApiKey.DescribeCluster: 2, ApiKey.InitProducerId: 5, ApiKey.FindCoordinator: 6,
    ApiKey.OffsetCommit: 9, ApiKey.OffsetFetch: 9, ApiKey.TxnOffsetCommit: 5,
    ApiKey.DescribeGroups: 6, ApiKey.EndTxn: 5, ApiKey.ListTransactions: 2,
}


def kp_admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, **TIMEOUTS)


def test_the_broker_advertises_kafka_4_versions(broker):
    a = kp_admin(broker.bootstrap)
    try:
        versions = a.api_versions()
    finally:
        a.close()
    for key, want in KAFKA_4_MAX.items():
        assert key in versions, key
        assert versions[key][1] >= want, (key, versions[key])


def test_produce_consume_commit_and_describe_at_the_newest_versions(broker):
    topic = create_topic(broker.bootstrap, partitions=2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, max_block_ms=15_000, **TIMEOUTS)
    try:
        futures = [p.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % 2)
                   for i in range(100)]
        p.flush(timeout=20)
        assert all(f.get(timeout=10).offset >= 0 for f in futures)
    finally:
        p.close(timeout=10)

    group = unique_topic("g4")
    c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False, **TIMEOUTS)
    try:
        seen = []
        deadline = time.monotonic() + 30
        while len(seen) < 100 and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500).values():
                seen.extend(records)
        assert sorted(r.value for r in seen) == sorted(f"v{i}".encode() for i in range(100))
        c.commit()
        committed = {tp: c.committed(TopicPartition(topic, tp)) for tp in (0, 1)}
        assert committed == {0: 50, 1: 50}
    finally:
        c.close()

    a = kp_admin(broker.bootstrap)
    try:
        desc = a.describe_groups([group])[group]
        assert desc["group_state"] == "Empty", desc
        offsets = a.list_partition_offsets({
            TopicPartition(topic, 0): OffsetSpec.LATEST,
            TopicPartition(topic, 1): OffsetSpec.EARLIEST,
        })
        assert offsets[TopicPartition(topic, 0)].offset == 50
        assert offsets[TopicPartition(topic, 1)].offset == 0
        # ListOffsets v9+: nothing is tiered, so there is no latest tiered offset.
        tiered = a.list_partition_offsets({TopicPartition(topic, 0): OffsetSpec.LATEST_TIERED})
        assert tiered[TopicPartition(topic, 0)].offset == -1
        fetched = a.list_group_offsets([group])
        assert fetched
    finally:
        a.close()


def test_describe_cluster_lists_a_fenced_broker_when_asked(cluster):
    """DescribeCluster v2 (KIP-1073): kafka-python asks for fenced brokers too; a killed
    node is listed, marked fenced, once the controller has fenced it."""
    a = kp_admin(cluster.bootstrap())
    try:
        brokers = a.describe_cluster()["brokers"]
        assert sorted(b["broker_id"] for b in brokers) == [1, 2, 3]
        assert not any(b["is_fenced"] for b in brokers)
    finally:
        a.close()
    victim = cluster.node(3)
    victim.kill()
    a = kp_admin(cluster.bootstrap(without=victim))
    try:
        def fenced():
            brokers = {b["broker_id"]: b for b in a.describe_cluster()["brokers"]}
            return sorted(brokers) == [1, 2, 3] and brokers[3]["is_fenced"] \
                and not brokers[1]["is_fenced"] and not brokers[2]["is_fenced"]
        wait_for(fenced, "broker 3 listed as fenced", timeout=60)
    finally:
        a.close()
    victim.start()
