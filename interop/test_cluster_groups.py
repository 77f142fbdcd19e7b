"""Issue 4: group coordination follows the leaders of `__consumer_offsets`.

Three real nodes. `__consumer_offsets` is created with replication factor 3; a group's
coordinator is the leader of its offsets partition; other brokers answer NOT_COORDINATOR.
When the coordinator is killed with kill -9, another broker takes the partition over,
loads the group from its replica of the log, and serves every offset that was committed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from cluster import cluster, wait_for  # noqa: F401 (fixture)
from groupwire import offset_fetch
from wire import RawConnection, Reader, i8, string

TOPIC = "orders"
GROUP = "billing"
OFFSETS = "__consumer_offsets"
FIND_COORDINATOR = 10
NOT_COORDINATOR = 16


def java_hash(s: str) -> int:
    """Java's String.hashCode (what Kafka hashes a group id with), as a signed int32."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group: str, partitions: int) -> int:
    h = java_hash(group)
    return 0 if h == -(1 << 31) else abs(h) % partitions


def find_coordinator(host_port: str, group: str) -> tuple[int, int, str | None, int]:
    """FindCoordinator v1 → (error, node id, host, port)."""
    host, port = host_port.split(":")
    with RawConnection(host, int(port)) as conn:
        corr = conn.request(FIND_COORDINATOR, 1, string(group) + i8(0))
        r = Reader(conn.read_frame())
        assert r.i32() == corr
        r.i32()  # throttle
        err = r.i16()
        r.string()  # message
        return err, r.i32(), r.string(), r.i32()


def http_get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def committed(bootstrap: str, parts: int) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                  "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(TOPIC, p) for p in range(parts)], timeout=10)
        return {tp.partition: tp.offset for tp in got}
    finally:
        c.close()


def consume_and_commit(bootstrap: str, count: int) -> list[bytes]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 6000})
    c.subscribe([TOPIC])
    values: list[bytes] = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(values) < count:
        for m in c.consume(500, timeout=0.5):
            assert m.error() is None, m.error()
            values.append(m.value())
    c.commit(asynchronous=False)
    c.close()
    return values


def produce(bootstrap: str, start: int, count: int) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(start, start + count):
        p.produce(TOPIC, str(i).encode(), key=str(i).encode())
    assert p.flush(30) == 0


def test_coordinator_moves_with_the_offsets_partition_leader(cluster):
    admin = cluster.admin()
    admin.create_topics([NewTopic(TOPIC, 3, 3)])[TOPIC].result(15)
    produce(cluster.bootstrap(), 0, 300)
    first = consume_and_commit(cluster.bootstrap(), 300)
    assert sorted(int(v) for v in first) == list(range(300))

    # __consumer_offsets: replication factor 3, every partition fully in sync.
    md = cluster.admin().list_topics(OFFSETS, timeout=5).topics[OFFSETS]
    n = len(md.partitions)
    assert n > 0 and all(len(p.replicas) == 3 for p in md.partitions.values())
    part = offsets_partition(GROUP, n)
    wait_for(lambda: len(cluster.partition(OFFSETS, part).isrs) == 3, "offsets ISR of 3")

    # Every broker names the partition leader as coordinator.
    leader = cluster.partition(OFFSETS, part).leader
    for b in cluster.nodes:
        err, node, _, port = find_coordinator(b.bootstrap, GROUP)
        assert (err, node, port) == (0, leader, cluster.node(leader).port)

    # Only the coordinator serves the group.
    before = committed(cluster.bootstrap(), 3)
    assert sum(before.values()) == 300, before
    for b in cluster.nodes:
        with RawConnection("127.0.0.1", b.port) as conn:
            offset, _, err = offset_fetch(conn, GROUP, TOPIC, 0)
        if b is cluster.node(leader):
            assert (offset, err) == (before[0], 0)
        else:
            assert err == NOT_COORDINATOR, (b.name, err)

    # The HTTP API answers on the coordinator, and names it elsewhere.
    for b in cluster.nodes:
        status, body = http_get(f"{b.http_base}/api/groups/{GROUP}")
        if b is cluster.node(leader):
            assert status == 200 and body["group"] == GROUP, body
            assert sum(p["committed"] for p in body["partitions"]) == 300, body
        else:
            assert status == 421, (status, body)
            assert body["coordinator"]["node_id"] == leader, body

    # kill -9 the coordinator: another broker loads the group and serves its offsets.
    victim = cluster.node(leader)
    victim.kill()
    survivors = cluster.bootstrap(without=victim)

    def moved():
        err, node, _, _ = find_coordinator(cluster.bootstrap(without=victim).split(",")[0], GROUP)
        return err == 0 and node not in (-1, leader)

    wait_for(moved, "a new coordinator")
    assert committed(survivors, 3) == before

    # The group resumes from its commits: only new records are consumed.
    produce(survivors, 300, 30)
    resumed = consume_and_commit(survivors, 30)
    assert sorted(int(v) for v in resumed) == list(range(300, 330))
    after_failover = committed(survivors, 3)
    assert sum(after_failover.values()) == 330

    # The old coordinator returns and (as preferred leader) takes the partition back,
    # reloading the commits made while it was away.
    victim.restart()
    wait_for(lambda: len(cluster.partition(OFFSETS, part).isrs) == 3,
             "the restarted node back in the offsets ISR", timeout=60)
    wait_for(lambda: find_coordinator(victim.bootstrap, GROUP)[:2] == (0, leader),
             "the preferred leader coordinating again", timeout=30)
    assert committed(cluster.bootstrap(), 3) == after_failover
