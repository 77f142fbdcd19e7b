"""Issue 11 point 6: a paused active controller fences no healthy broker.

Three real nodes, a topic with three partitions (RF=3, min.insync.replicas=2) and an
idempotent acks=all producer. The active controller is stopped with SIGSTOP for six
seconds (a GC pause, a VM stall), then continued. Brokers' heartbeats that were waiting
on the stopped controller must give way to the new one in time: only the paused node
may be fenced, and writes to partitions it does not lead go on during the pause.
"""

from __future__ import annotations

import re
import signal
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from cluster import cluster, wait_for  # noqa: F401 (fixture)

TOPIC = "paused"
PARTITIONS = 3
PAUSE_S = 6.0
FENCING = re.compile(r"broker missed its heartbeats: fencing it node=(\d+)")


def controller_of(bootstrap: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return admin.describe_cluster(request_timeout=5).result(10).controller.id


def fenced_nodes(cluster) -> list[int]:
    found = []
    for b in cluster.nodes:
        found += [int(m) for m in FENCING.findall(b.log_path.read_text(errors="replace"))]
    return found


def test_a_paused_controller_fences_no_healthy_broker(cluster):
    c = cluster
    admin = c.admin()
    fs = admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3,
                                       config={"min.insync.replicas": "2"})])
    fs[TOPIC].result(15)
    wait_for(lambda: all(len(c.partition(TOPIC, i).isrs) == 3 for i in range(PARTITIONS)),
             "every replica in sync")
    leaders = {i: c.partition(TOPIC, i).leader for i in range(PARTITIONS)}
    ctrl = controller_of(c.bootstrap())
    paused = c.node(ctrl)
    assert fenced_nodes(c) == []

    acked: dict[int, list[tuple[float, int]]] = {i: [] for i in range(PARTITIONS)}
    failed = []

    def delivered(err, msg):
        if err is None:
            acked[msg.partition()].append((time.monotonic(), int(msg.value())))
        else:
            failed.append((msg.partition(), str(err)))

    p = Producer({"bootstrap.servers": c.bootstrap(), "acks": "all",
                  "enable.idempotence": True, "linger.ms": 5,
                  "message.timeout.ms": 60000})
    seq = 0
    paused_at = continued_at = None
    start = time.monotonic()
    while time.monotonic() - start < 1.0 + PAUSE_S + 4.0:
        now = time.monotonic()
        if paused_at is None and now - start >= 1.0:
            paused.proc.send_signal(signal.SIGSTOP)
            paused_at = time.monotonic()
        if paused_at is not None and continued_at is None and now - paused_at >= PAUSE_S:
            paused.proc.send_signal(signal.SIGCONT)
            continued_at = time.monotonic()
        for part in range(PARTITIONS):
            p.produce(TOPIC, str(seq).encode(), partition=part, on_delivery=delivered)
            seq += 1
        p.poll(0.01)
    assert p.flush(60) == 0
    assert failed == [], failed[:5]

    fenced = fenced_nodes(c)
    print(f"controller {ctrl} paused {PAUSE_S}s; fenced: {fenced}; leaders: {leaders}")
    for part, acks in acked.items():
        times = [t for t, _ in acks]
        stall = max((b - a for a, b in zip(times, times[1:])), default=0.0)
        print(f"partition {part} (leader {leaders[part]}): {len(acks)} acks, "
              f"longest gap {stall:.3f}s")
    assert set(fenced) <= {ctrl}, f"healthy brokers fenced: {fenced}"

    # Writes to partitions the paused node does not lead went on while it was stopped.
    for part, leader in leaders.items():
        if leader == ctrl:
            continue
        during = [t for t, _ in acked[part] if paused_at + 1.0 < t < continued_at]
        assert during, f"partition {part} (leader {leader}) acknowledged nothing in the pause"

    # Nothing acknowledged was lost.
    consumer = Consumer({"bootstrap.servers": c.bootstrap(), "group.id": "pause-check",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC, i, 0) for i in range(PARTITIONS)])
    want = {v for acks in acked.values() for _, v in acks}
    got: set[int] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not want <= got:
        for m in consumer.consume(1000, timeout=0.5):
            if m.error() is None:
                got.add(int(m.value()))
    consumer.close()
    assert want <= got, f"{len(want - got)} acknowledged values lost"
