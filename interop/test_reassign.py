"""Issue 17: partition reassignment (KIP-455) on a real 3-node cluster.

kafka-python's KafkaAdminClient moves a partition with data from broker 1 to brokers 2
and 3 while a producer writes; every acknowledged record is still readable afterwards,
the metadata lists the new replicas and broker 1's partition directory is gone. A move
that cannot finish (its new broker is down) is listed as pending and cancelled. Bad
assignments are refused with Kafka's errors. The CLI plans, executes (with a throttle)
and verifies a move. The follower-side throttle alone (no leader rate) slows a new
replica's copy to about its rate, and the copy is intact.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition as CTopicPartition
from confluent_kafka.admin import NewTopic
from kafka import KafkaAdminClient, TopicPartition
from kafka import errors as Errors

from broker import strata_bin
from cluster import Cluster, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("reassign"), security="plaintext")
    c.start()
    yield c
    for b in c.nodes:
        if b.running():
            assert b.stop() == 0, b.log_tail()


def kadmin(cluster: Cluster, without=None) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=cluster.bootstrap(without),
                            request_timeout_ms=15_000)


def create(cluster: Cluster, topic: str, assignment: list[list[int]]):
    admin = cluster.admin()
    fs = admin.create_topics([NewTopic(topic, len(assignment), replica_assignment=assignment)])
    fs[topic].result(15)
    wait_for(lambda: cluster.partition(topic).leader == assignment[0][0], f"{topic} has a leader")


def read_all(bootstrap: str, topic: str, at_least: int) -> list[int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([CTopicPartition(topic, 0, 0)])
    values: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(values) < at_least:
        for m in c.consume(1000, timeout=0.5):
            assert m.error() is None, m.error()
            values.append(int(m.value()))
    c.close()
    return values


def pending(admin: KafkaAdminClient) -> dict:
    return admin.list_partition_reassignments()


def test_move_a_partition_with_data_while_a_producer_writes(cluster):
    topic = "moving"
    create(cluster, topic, [[1]])
    acked: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def report(err, msg):
        if err is None:
            with lock:
                acked.append(int(msg.value()))

    def produce():
        p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all",
                      "enable.idempotence": True, "linger.ms": 2,
                      "message.timeout.ms": 30000})
        seq = 0
        while not stop.is_set():
            p.produce(topic, str(seq).encode(), on_delivery=report)
            seq += 1
            p.poll(0)
            if seq % 200 == 0:
                time.sleep(0.01)
        p.flush(30)

    writer = threading.Thread(target=produce)
    writer.start()
    try:
        wait_for(lambda: len(acked) > 2000, "records acknowledged before the move")
        admin = kadmin(cluster)
        tp = TopicPartition(topic, 0)
        result = admin.alter_partition_reassignments({tp: [2, 3]})
        assert result == {tp: None}, result

        def done():
            p = cluster.partition(topic)
            return not pending(admin) and sorted(p.replicas) == [2, 3] and sorted(p.isrs) == [2, 3]
        wait_for(done, "the move to complete", timeout=60)
        time.sleep(1.0)  # keep writing to the new leader for a while
    finally:
        stop.set()
        writer.join(60)
    p = cluster.partition(topic)
    assert p.replicas == [2, 3] and p.leader == 2, (p.replicas, p.leader)
    with lock:
        expected = set(acked)
    got = set(read_all(cluster.bootstrap(), topic, len(expected)))
    assert expected <= got, f"lost {len(expected - got)} acknowledged records"
    wait_for(lambda: not (cluster.node(1).data_dir / f"{topic}-0").exists(),
             "broker 1 deleted its replica")
    for n in (2, 3):
        assert (cluster.node(n).data_dir / f"{topic}-0").is_dir()


def test_pending_move_is_listed_and_cancelled(cluster):
    topic = "cancelled"
    create(cluster, topic, [[1]])
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all"})
    for i in range(100):
        p.produce(topic, str(i).encode())
    p.flush(15)
    tp = TopicPartition(topic, 0)
    node3 = cluster.node(3)
    node3.stop()
    try:
        # Fenced, so no longer listed (it may have been the controller: ask the others).
        wait_for(lambda: 3 not in cluster.admin(node3).list_topics(timeout=5).brokers,
                 "broker 3 fenced")
        admin = kadmin(cluster, node3)
        # Broker 3 is registered (fenced): it can be a target, but cannot catch up.
        assert admin.alter_partition_reassignments({tp: [1, 3]}) == {tp: None}
        listed = pending(admin)
        assert listed == {tp: {"replicas": [1, 3], "adding_replicas": [3],
                               "removing_replicas": []}}, listed
        time.sleep(1.0)
        assert pending(admin), "cannot complete without broker 3"
        assert admin.alter_partition_reassignments({tp: None}) == {tp: None}
        assert pending(admin) == {}
        wait_for(lambda: cluster.partition(topic).replicas == [1], "reverted to broker 1")
        assert admin.alter_partition_reassignments({tp: None}) == {
            tp: Errors.NoReassignmentInProgressError}
    finally:
        node3.start()
    assert sorted(read_all(cluster.bootstrap(), topic, 100)) == list(range(100))


def test_bad_assignments_are_refused(cluster):
    topic = "refused"
    create(cluster, topic, [[1]])
    admin = kadmin(cluster)
    tp = TopicPartition(topic, 0)
    bad = Errors.InvalidReplicationAssignmentError
    assert admin.alter_partition_reassignments({tp: [2, 2]}) == {tp: bad}
    assert admin.alter_partition_reassignments({tp: [2, 42]}) == {tp: bad}
    missing = TopicPartition("no-such-topic", 0)
    assert admin.alter_partition_reassignments({missing: [1]}) == {
        missing: Errors.UnknownTopicOrPartitionError}
    beyond = TopicPartition(topic, 5)
    assert admin.alter_partition_reassignments({beyond: [1]}) == {
        beyond: Errors.UnknownTopicOrPartitionError}
    assert cluster.partition(topic).replicas == [1]
    assert pending(admin) == {}


def strata(cluster: Cluster, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(strata_bin()), "-b", cluster.bootstrap(), *args],
                          capture_output=True, text=True, timeout=60)


def broker_config(cluster: Cluster, node: int, key: str):
    from confluent_kafka.admin import ConfigResource, ResourceType
    res = ConfigResource(ResourceType.BROKER, str(node))
    admin = cluster.admin()  # alive until the future completes
    configs = admin.describe_configs([res])[res].result(15)
    entry = configs.get(key)
    return entry.value if entry is not None else None


def topic_config(cluster: Cluster, topic: str, key: str):
    from confluent_kafka.admin import ConfigResource, ResourceType
    res = ConfigResource(ResourceType.TOPIC, topic)
    admin = cluster.admin()
    entry = admin.describe_configs([res])[res].result(15).get(key)
    return entry.value if entry is not None else None


def test_cli_plan_execute_verify_with_a_throttle(cluster, tmp_path):
    topic = "throttled"
    create(cluster, topic, [[1]])
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all", "linger.ms": 5})
    payload = b"x" * 1000
    for i in range(3000):  # about 3 MB
        p.produce(topic, payload, key=str(i).encode())
        if i % 500 == 0:
            p.flush(15)
    p.flush(15)

    plan = strata(cluster, "cluster", "reassign", "plan", "--topics", topic,
                  "--brokers", "2,3", "--format", "json")
    assert plan.returncode == 0, plan.stderr
    proposed = json.loads(plan.stdout)
    assert proposed == {"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": [2]}]}, proposed
    text = strata(cluster, "cluster", "reassign", "plan", "--topics", topic, "--brokers", "2,3")
    assert "Proposed partition reassignment configuration" in text.stdout, text.stdout
    plan_file = tmp_path / "move.json"
    plan_file.write_text(plan.stdout)

    started = time.monotonic()
    # 300 kB/s: the 3 MB copy takes several seconds.
    ex = strata(cluster, "cluster", "reassign", "execute", "--file", str(plan_file),
                "--throttle", "300000")
    assert ex.returncode == 0, ex.stdout + ex.stderr
    assert broker_config(cluster, 1, "leader.replication.throttled.rate") == "300000"
    assert topic_config(cluster, topic, "leader.replication.throttled.replicas") == "0:1"
    assert topic_config(cluster, topic, "follower.replication.throttled.replicas") == "0:2"

    first = strata(cluster, "cluster", "reassign", "verify", "--file", str(plan_file))
    assert first.returncode != 0, first.stdout
    assert "in progress" in first.stdout, first.stdout

    def verified():
        v = strata(cluster, "cluster", "reassign", "verify", "--file", str(plan_file))
        return v.returncode == 0 and "done" in v.stdout
    wait_for(verified, "verify reports done", timeout=90)
    took = time.monotonic() - started
    assert took > 3.0, f"3 MB at 300 kB/s took only {took:.1f} s: not throttled"
    assert cluster.partition(topic).replicas == [2]
    assert broker_config(cluster, 1, "leader.replication.throttled.rate") is None
    assert broker_config(cluster, 2, "follower.replication.throttled.rate") is None
    assert topic_config(cluster, topic, "leader.replication.throttled.replicas") in (None, "")
    assert topic_config(cluster, topic, "follower.replication.throttled.replicas") in (None, "")
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "throttled-check",
                  "auto.offset.reset": "earliest"})
    c.assign([CTopicPartition(topic, 0, 0)])
    n = 0
    deadline = time.monotonic() + 30
    while n < 3000 and time.monotonic() < deadline:
        n += sum(1 for m in c.consume(1000, timeout=0.5) if m.error() is None)
    c.close()
    assert n == 3000


def alter(cluster: Cluster, rtype, name: str, key: str, value: str | None):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource
    op = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
    res = ConfigResource(rtype, name,
                         incremental_configs=[ConfigEntry(key, value, incremental_operation=op)])
    admin = cluster.admin()
    admin.incremental_alter_configs([res])[res].result(15)


def test_the_follower_side_throttle_alone_slows_a_new_replica(cluster):
    """Only broker 2's follower.replication.throttled.rate is set (no leader rate
    anywhere): broker 2, added by a reassignment, copies the listed partition at about
    that rate, and every record arrives intact."""
    from confluent_kafka.admin import ResourceType
    topic = "follower-throttled"
    create(cluster, topic, [[1]])
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all", "linger.ms": 5})
    for i in range(3000):  # about 3 MB
        p.produce(topic, str(i).encode().ljust(1000, b"."), key=str(i).encode())
        if i % 500 == 0:
            p.flush(15)
    assert p.flush(15) == 0
    rate = 400_000  # bytes/s: the copy takes about 6.5 s (one second of burst first)
    for n in (1, 2, 3):
        assert broker_config(cluster, n, "leader.replication.throttled.rate") is None
    alter(cluster, ResourceType.BROKER, "2", "follower.replication.throttled.rate", str(rate))
    alter(cluster, ResourceType.TOPIC, topic, "follower.replication.throttled.replicas", "0:2")
    try:
        wait_for(lambda: broker_config(cluster, 2, "follower.replication.throttled.rate")
                 == str(rate), "the follower rate set")
        admin = kadmin(cluster)
        tp = TopicPartition(topic, 0)
        started = time.monotonic()
        assert admin.alter_partition_reassignments({tp: [2]}) == {tp: None}

        def done():
            p = cluster.partition(topic)
            return not pending(admin) and p.replicas == [2] and p.isrs == [2]
        wait_for(done, "the throttled move to complete", timeout=90)
        took = time.monotonic() - started
    finally:
        alter(cluster, ResourceType.BROKER, "2", "follower.replication.throttled.rate", None)
        alter(cluster, ResourceType.TOPIC, topic, "follower.replication.throttled.replicas",
              None)
    # Unthrottled, 3 MB between local brokers copies in well under a second.
    assert took > 3.0, f"3 MB at {rate} B/s took only {took:.1f} s: not throttled"
    assert took < 60.0, took
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "follower-throttled",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([CTopicPartition(topic, 0, 0)])
    got: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 30
    while len(got) < 3000 and time.monotonic() < deadline:
        for m in c.consume(1000, timeout=0.5):
            assert m.error() is None, m.error()
            got.append((m.key(), m.value()))
    c.close()
    assert got == [(str(i).encode(), str(i).encode().ljust(1000, b"."))
                   for i in range(3000)]
