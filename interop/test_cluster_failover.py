"""Issue 4, the heart of it: a 3-node cluster loses its partition leader to kill -9
in the middle of an acks=all stream, and no acknowledged record is lost.

Three real `strata server` processes (all Raft voters) on loopback; a topic with one
partition, replication factor 3 and min.insync.replicas=2; a confluent-kafka
(librdkafka) idempotent producer with acks=all writing sequence numbers.
"""

from __future__ import annotations

import json
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from cluster import cluster, wait_for  # noqa: F401 (fixture)
from test_http import get as http_get

TOPIC = "failover"


def read_all(bootstrap: str, count_at_least: int) -> list[int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "failover-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    values: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(values) < count_at_least:
        for m in c.consume(1000, timeout=0.5):
            assert m.error() is None, m.error()
            values.append(int(m.value()))
    c.close()
    return values


def test_kill9_leader_loses_no_acknowledged_record(cluster):
    admin = cluster.admin()  # keep the handle alive until the future completes
    fs = admin.create_topics([NewTopic(TOPIC, 1, 3, config={"min.insync.replicas": "2"})])
    fs[TOPIC].result(15)
    wait_for(lambda: len(cluster.partition(TOPIC).isrs) == 3, "ISR of 3")
    old_leader = cluster.partition(TOPIC).leader

    acked: list[int] = []
    failed: list[int] = []
    lock = threading.Lock()

    def report(err, msg):
        with lock:
            (failed if err else acked).append(int(msg.value()))

    producer = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all",
                         "enable.idempotence": True, "linger.ms": 2,
                         "message.timeout.ms": 30000})
    seq = 0

    def produce_for(seconds: float):
        nonlocal seq
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            producer.produce(TOPIC, str(seq).encode(), partition=0, on_delivery=report)
            seq += 1
            producer.poll(0.001)

    produce_for(2.0)
    with lock:
        assert acked, "nothing acknowledged before the kill"
    victim = cluster.node(old_leader)
    victim.kill()  # kill -9, mid-stream: requests are in flight
    acked_at_kill = len(acked)
    produce_for(4.0)
    assert producer.flush(40) == 0, "records still undelivered"
    with lock:
        assert len(acked) > acked_at_kill, "no acknowledgement after the leader died"

    # A new leader, from the ISR, on a surviving node.
    wait_for(lambda: cluster.partition(TOPIC, without=victim).leader not in (-1, old_leader),
             "a new leader")

    # The killed node restarts, truncates if it must, and rejoins the ISR.
    victim.restart()
    wait_for(lambda: len(cluster.partition(TOPIC).isrs) == 3, "the restarted node back in the ISR",
             timeout=60)

    # Every acknowledged number is readable, once, in order.
    values = read_all(cluster.bootstrap(), len(acked))
    with lock:
        acked_set = set(acked)
    assert acked_set <= set(values), f"lost {len(acked_set - set(values))} acknowledged records"
    seen = [v for v in values if v in acked_set]
    assert seen == sorted(seen), "acknowledged records out of order"
    assert len(seen) == len(set(seen)), "an acknowledged record is stored twice"

    # After a clean stop the three replicas of the partition are byte-identical.
    for b in cluster.nodes:
        assert b.stop() == 0, b.log_tail()
    logs = []
    for b in cluster.nodes:
        files = sorted((b.data_dir / f"{TOPIC}-0").glob("*.log"))
        assert files, f"no segments on {b.name}"
        logs.append([f.read_bytes() for f in files])
    assert logs[0] == logs[1] == logs[2], "replica logs differ after a clean stop"


def test_one_node_alone_acknowledges_no_acks_all_write(cluster):
    admin = cluster.admin()  # keep the handle alive until the future completes
    fs = admin.create_topics([NewTopic(TOPIC, 1, 3, config={"min.insync.replicas": "2"})])
    fs[TOPIC].result(15)
    wait_for(lambda: len(cluster.partition(TOPIC).isrs) == 3, "ISR of 3")
    survivor = cluster.node(cluster.partition(TOPIC).leader)
    for b in cluster.nodes:
        if b is not survivor:
            b.kill()
    results: list[bool] = []

    def report(err, msg):
        results.append(err is None)

    p = Producer({"bootstrap.servers": survivor.bootstrap, "acks": "all",
                  "message.timeout.ms": 4000, "linger.ms": 0})
    for i in range(50):
        p.produce(TOPIC, str(i).encode(), partition=0, on_delivery=report)
    p.flush(20)
    assert len(results) == 50
    assert not any(results), f"{sum(results)} acks=all writes acknowledged by a lone node"

    # Alone, the node is alive but not ready: it cannot reach the metadata quorum.
    def not_ready():
        status, _, body = http_get(f"{survivor.http_base}/health/ready")
        return status == 503 and "quorum" in body
    wait_for(not_ready, "/health/ready to report the lost quorum", timeout=20)
    status, _, body = http_get(f"{survivor.http_base}/health")
    assert status == 503 and "quorum" in json.loads(body)["reasons"][0], body
    assert http_get(f"{survivor.http_base}/health/live")[0] == 200
