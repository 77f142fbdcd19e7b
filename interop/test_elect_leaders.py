"""Issue 17, operations: ElectLeaders (preferred and unclean), DescribeTopicPartitions
(KIP-966, cursor paging) and DescribeQuorum against a real 3-node cluster, from
kafka-python 3.0.12, confluent-kafka and the `strata cluster` CLI.

An election given no time (`timeout_ms` <= 0) is answered at once with
REQUEST_TIMED_OUT and not started. The preferred-election cluster runs with `auto.leader.rebalance.enable=false`, so that
leadership stays where a failover put it until ElectLeaders moves it back.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from confluent_kafka import ElectionType, Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from kafka import KafkaAdminClient

from broker import strata_bin
from cluster import Cluster, wait_for

T = 20  # seconds

NOT_NEEDED = 84  # ELECTION_NOT_NEEDED
UNKNOWN = 3  # UNKNOWN_TOPIC_OR_PARTITION
TIMED_OUT = 7  # REQUEST_TIMED_OUT


@pytest.fixture
def manual_cluster(tmp_path):
    """Three nodes whose controller does not move leaders back on its own."""
    c = Cluster(tmp_path, extra_args=["--set", "auto.leader.rebalance.enable=false"])
    c.start()
    yield c
    for b in c.nodes:
        if b.running():
            assert b.stop() == 0, b.log_tail()


@pytest.fixture
def plain_cluster(tmp_path):
    c = Cluster(tmp_path)
    c.start()
    yield c
    for b in c.nodes:
        if b.running():
            assert b.stop() == 0, b.log_tail()


def kp_admin(c: Cluster) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=c.bootstrap(), request_timeout_ms=T * 1000)


def codes(resp) -> dict[tuple[str, int], int]:
    return {(r.topic, p.partition_id): p.error_code
            for r in resp.replica_election_results for p in r.partition_result}


def strata(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("STRATA_CLIENT_CONFIG", "STRATA_BOOTSTRAP")}
    return subprocess.run([str(strata_bin()), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def create(c: Cluster, topic: str, partitions: int, rf: int, **kwargs):
    admin = c.admin()
    admin.create_topics([NewTopic(topic, partitions, rf, **kwargs)])[topic].result(T)
    wait_for(lambda: all(len(c.partition(topic, i).isrs) == rf for i in range(partitions)),
             f"{topic}: full ISRs")


def move_leader_off_preferred(c: Cluster, topic: str) -> int:
    """Kills the preferred leader of partition 0 and restarts it once another replica
    leads; returns the preferred replica once it is back in the ISR."""
    p = c.partition(topic)
    preferred = p.replicas[0]
    assert p.leader == preferred, (p.leader, p.replicas)
    victim = c.node(preferred)
    victim.kill()
    wait_for(lambda: c.partition(topic, without=victim).leader not in (-1, preferred),
             "another replica leads")
    victim.restart()
    wait_for(lambda: preferred in c.partition(topic).isrs, "the preferred replica in the ISR")
    time.sleep(1.0)  # a controller that rebalanced on its own would have moved it by now
    assert c.partition(topic).leader != preferred, "moved back without ElectLeaders"
    return preferred


def test_preferred_election_returns_leadership_to_the_first_replica(manual_cluster):
    c = manual_cluster
    create(c, "elect-pref", 1, 3)
    preferred = move_leader_off_preferred(c, "elect-pref")

    kp = kp_admin(c)
    try:
        # No time given (timeout_ms <= 0; kafka-python sends its default for 0): answered
        # at once, the election REQUEST_TIMED_OUT and not started, what is known kept.
        started = time.monotonic()
        resp = kp.elect_leaders(0, {"elect-pref": [0, 7]}, timeout_ms=-1,
                                raise_errors=False)
        assert time.monotonic() - started < 5
        assert codes(resp) == {("elect-pref", 0): TIMED_OUT, ("elect-pref", 7): UNKNOWN}
        time.sleep(1.0)
        assert c.partition("elect-pref").leader != preferred, "elected without time"

        resp = kp.elect_leaders(0, {"elect-pref": [0]})
        assert codes(resp) == {("elect-pref", 0): 0}
        wait_for(lambda: c.partition("elect-pref").leader == preferred, "preferred leader back")

        # Asked again: nothing to do (kafka-python does not raise ELECTION_NOT_NEEDED).
        resp = kp.elect_leaders(0, {"elect-pref": [0]}, raise_errors=False)
        assert codes(resp) == {("elect-pref", 0): NOT_NEEDED}
        # Unclean on a partition with a leader: not needed either.
        resp = kp.elect_leaders(1, {"elect-pref": [0]}, raise_errors=False)
        assert codes(resp) == {("elect-pref", 0): NOT_NEEDED}
        # Unknown topics and partitions.
        resp = kp.elect_leaders(0, {"elect-pref": [7], "no-such-topic": [0]}, raise_errors=False)
        assert codes(resp) == {("elect-pref", 7): UNKNOWN, ("no-such-topic", 0): UNKNOWN}
        # Every partition (kafka-python lists them all): nothing needed anywhere.
        resp = kp.elect_leaders(0, None, raise_errors=False)
        assert codes(resp)[("elect-pref", 0)] == NOT_NEEDED
        assert set(codes(resp).values()) == {NOT_NEEDED}
    finally:
        kp.close()


def test_confluent_preferred_election(manual_cluster):
    c = manual_cluster
    create(c, "elect-rdk", 1, 3)
    preferred = move_leader_off_preferred(c, "elect-rdk")
    admin = c.admin()
    tp = TopicPartition("elect-rdk", 0)
    result = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(T)
    assert list(result) == [tp] and result[tp] is None, result
    wait_for(lambda: c.partition("elect-rdk").leader == preferred, "preferred leader back")
    again = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(T)
    assert again[tp] is not None and again[tp].code() == NOT_NEEDED, again


def test_unclean_election_elects_a_live_replica_outside_the_isr(plain_cluster):
    c = plain_cluster
    # Two replicas: A leads, B follows; C (not a replica) keeps the quorum company.
    a, b = 1, 2
    admin = c.admin()
    admin.create_topics([NewTopic("elect-unclean", 1, replica_assignment=[[a, b]])])[
        "elect-unclean"].result(T)
    wait_for(lambda: len(c.partition("elect-unclean").isrs) == 2, "ISR of 2")
    p = Producer({"bootstrap.servers": c.bootstrap(), "acks": "all"})
    for i in range(10):
        p.produce("elect-unclean", str(i).encode(), partition=0)
    assert p.flush(T) == 0
    wait_for(lambda: c.partition("elect-unclean").leader == a, "A leads")

    # B dies and leaves the ISR; then A, the last ISR member, dies too.
    c.node(b).kill()
    wait_for(lambda: c.partition("elect-unclean").isrs == [a], "ISR [A]")
    c.node(a).kill()
    # B returns (and with it the metadata quorum): alive, but not in the ISR.
    c.node(b).restart()
    wait_for(lambda: c.partition("elect-unclean", without=c.node(a)).leader == -1,
             "the partition offline", timeout=40)
    time.sleep(1.0)
    assert c.partition("elect-unclean", without=c.node(a)).leader == -1, "no clean leader"
    # Clients stop seeing A once its fencing grace is over (kafka-python would try it).
    wait_for(lambda: a not in c.admin(without=c.node(a)).list_topics(timeout=5).brokers,
             "A unlisted")

    kp = kp_admin(c)
    try:
        # A preferred election cannot help: A is gone.
        resp = kp.elect_leaders(0, {"elect-unclean": [0]}, raise_errors=False)
        assert codes(resp) == {("elect-unclean", 0): 80}  # PREFERRED_LEADER_NOT_AVAILABLE
        resp = kp.elect_leaders(1, {"elect-unclean": [0]})
        assert codes(resp) == {("elect-unclean", 0): 0}
    finally:
        kp.close()
    wait_for(lambda: c.partition("elect-unclean", without=c.node(a)).leader == b, "B leads")
    assert c.partition("elect-unclean", without=c.node(a)).isrs == [b]
    c.node(a).restart()


def test_describe_topic_partitions_pages_with_a_cursor(plain_cluster):
    c = plain_cluster
    create(c, "dtp-many", 7, 2)
    create(c, "dtp-one", 1, 3)
    kp = kp_admin(c)
    try:
        seen = []
        cursor = None
        pages = 0
        while True:
            out = kp.describe_topic_partitions(["dtp-many", "dtp-one"],
                                               response_partition_limit=3, cursor=cursor)
            pages += 1
            assert sum(len(t["partitions"]) for t in out["topics"]) <= 3
            for t in out["topics"]:
                assert t["error_code"] == 0, t
                for p in t["partitions"]:
                    seen.append((t["name"], p["partition_index"]))
                    assert p["leader_id"] in p["replica_nodes"]
                    assert set(p["isr_nodes"]) <= set(p["replica_nodes"])
                    assert p["offline_replicas"] == []
            cursor = out["next_cursor"]
            if cursor is None:
                break
            assert pages < 10
        assert seen == [("dtp-many", i) for i in range(7)] + [("dtp-one", 0)]
        assert pages == 3

        out = kp.describe_topic_partitions(["dtp-one", "no-such-topic"])
        by_name = {t["name"]: t for t in out["topics"]}
        assert by_name["no-such-topic"]["error_code"] == UNKNOWN
        assert len(by_name["dtp-one"]["partitions"][0]["replica_nodes"]) == 3
        assert out["next_cursor"] is None
    finally:
        kp.close()


def test_describe_quorum_lists_the_voters_and_the_leader(plain_cluster):
    c = plain_cluster
    # From every broker (leader or not) the same quorum.
    for node in c.nodes:
        kp = KafkaAdminClient(bootstrap_servers=node.bootstrap, request_timeout_ms=T * 1000)
        try:
            out = kp.describe_metadata_quorum()
        finally:
            kp.close()
        [topic] = out["topics"]
        assert topic["topic_name"] == "__cluster_metadata"
        [part] = topic["partitions"]
        assert part["error"] is None, part
        voters = sorted(v["replica_id"] for v in part["current_voters"])
        assert voters == [1, 2, 3]
        assert part["leader_id"] in voters
        assert part["leader_epoch"] >= 1
        assert part["high_watermark"] > 0
        assert part["observers"] == []
        leader = next(v for v in part["current_voters"] if v["replica_id"] == part["leader_id"])
        assert leader["log_end_offset"] >= part["high_watermark"]
        assert sorted(n["node_id"] for n in out["nodes"]) == [1, 2, 3]


def test_cli_elect_leaders_and_quorum(manual_cluster):
    c = manual_cluster
    create(c, "elect-cli", 1, 3)
    preferred = move_leader_off_preferred(c, "elect-cli")
    res = strata("-b", c.bootstrap(), "cluster", "elect-leaders", "--topic", "elect-cli",
                 "--partition", "0", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"election_type": "preferred", "results": [
        {"topic": "elect-cli", "partition": 0, "error": None}]}
    wait_for(lambda: c.partition("elect-cli").leader == preferred, "preferred leader back")
    # Nothing left to elect anywhere.
    res = strata("-b", c.bootstrap(), "cluster", "elect-leaders", "--all", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["results"] == []
    # An unknown partition fails the command.
    res = strata("-b", c.bootstrap(), "cluster", "elect-leaders", "--type", "unclean",
                 "--topic", "elect-cli", "--partition", "9")
    assert res.returncode != 0
    assert "UNKNOWN_TOPIC_OR_PARTITION" in res.stdout + res.stderr
    res = strata("-b", c.bootstrap(), "cluster", "quorum", "--format", "json")
    assert res.returncode == 0, res.stderr
    quorum = json.loads(res.stdout)
    assert sorted(v["id"] for v in quorum["voters"]) == [1, 2, 3]
    assert quorum["leader"] in (1, 2, 3)
