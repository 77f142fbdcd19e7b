"""Issue 4: a node outside `--voters` joins the metadata quorum as a Raft learner.

It registers as a broker, hosts and leads replicas, follows every metadata change (also
after the active controller dies), and never becomes the controller.
"""

from __future__ import annotations

import pathlib

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from broker import Broker
from cluster import Cluster, wait_for

LEARNER = 4


@pytest.fixture
def cluster4(tmp_path: pathlib.Path):
    c = Cluster(tmp_path, n=3, learners=1)
    c.start()
    yield c
    for b in c.nodes:
        if b.running():
            assert b.stop() == 0, b.log_tail()


def admin_of(node: Broker) -> AdminClient:
    return AdminClient({"bootstrap.servers": node.bootstrap})


def controller_id(via: Broker) -> int:
    """The active controller as `via` reports it (DescribeCluster)."""
    admin = admin_of(via)  # kept alive until the future completes
    return admin.describe_cluster(request_timeout=5).result(10).controller.id


def test_learner_hosts_replicas_and_follows_metadata_through_controller_failover(cluster4):
    c = cluster4
    learner = c.node(LEARNER)
    assert controller_id(c.node(1)) != LEARNER

    # Placement uses the learner like any broker: with RF=2 over 4 partitions it leads one.
    admin = c.admin()
    admin.create_topics([NewTopic("spread", 4, 2)])["spread"].result(15)
    wait_for(lambda: all(len(c.partition("spread", i).isrs) == 2 for i in range(4)),
             "every replica in sync")
    parts = [c.partition("spread", i) for i in range(4)]
    led = [p.id for p in parts if p.leader == LEARNER]
    assert led and all(LEARNER in p.replicas for p in parts if p.id in led)

    # Records produced through the learner are readable from it.
    p = Producer({"bootstrap.servers": learner.bootstrap, "acks": "all"})
    for i in range(100):
        p.produce("spread", str(i).encode(), partition=led[0])
    assert p.flush(15) == 0

    # The active controller dies: a voter takes over, never the learner, and the learner
    # still applies what the new controller commits.
    old = controller_id(learner)
    c.node(old).kill()
    wait_for(lambda: controller_id(learner) not in (-1, old), "a new controller")
    assert controller_id(learner) != LEARNER
    admin = c.admin(without=c.node(old))
    admin.create_topics([NewTopic("after", 2, 1)])["after"].result(15)
    wait_for(lambda: len(admin_of(learner).list_topics("after", timeout=5)
                         .topics["after"].partitions) == 2,
             "the learner sees the topic created after the failover")

    consumer = Consumer({"bootstrap.servers": learner.bootstrap, "group.id": "learner-check",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition("spread", led[0], 0)])
    got: list[int] = []
    for _ in range(40):
        got += [int(m.value()) for m in consumer.consume(200, timeout=0.5) if m.error() is None]
        if len(got) >= 100:
            break
    consumer.close()
    assert got == list(range(100))

    # The learner restarts from its own raft log and rejoins.
    assert learner.stop() == 0, learner.log_tail()
    survivors = c.admin(without=learner)
    wait_for(lambda: LEARNER not in survivors.list_topics(timeout=5).brokers,
             "the stopped learner fenced")
    learner.restart()
    wait_for(lambda: LEARNER in survivors.list_topics(timeout=5).brokers,
             "the learner registered again")
    assert controller_id(learner) not in (-1, old, LEARNER)
    c.node(old).restart()
