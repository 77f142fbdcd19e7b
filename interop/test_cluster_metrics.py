"""Issue 4: replication metrics on `/metrics` follow what the cluster does.

Three real nodes; a partition with replication factor 3. Killing a follower makes its
leader report an under-replicated partition and an ISR shrink; its return, an expansion;
killing the leader makes the active controller count a leader election.
"""

from __future__ import annotations

import re
import urllib.request

from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from broker import Broker
from cluster import cluster, wait_for  # noqa: F401 (fixture)

TOPIC = "watched"


def scrape(node: Broker) -> dict[str, float]:
    """The `strata_*` series of a node summed over their labels (counters without
    `_total`; a histogram's `_count` and `_sum` as such)."""
    with urllib.request.urlopen(f"{node.http_base}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.fullmatch(r"strata_([a-z_]+?)(?:_total)?(?:\{[^}]*\})? ([0-9.eE+-]+|NaN)", line)
        if m and not m.group(1).endswith("_bucket"):
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
    return out


def test_replication_metrics_follow_shrink_expand_and_election(cluster):
    admin = cluster.admin()
    admin.create_topics([NewTopic(TOPIC, 1, 3, config={"min.insync.replicas": "2"})])[TOPIC] \
        .result(15)
    wait_for(lambda: len(cluster.partition(TOPIC).isrs) == 3, "ISR of 3")
    leader = cluster.node(cluster.partition(TOPIC).leader)
    wait_for(lambda: scrape(leader)["under_replicated_partitions"] == 0, "fully replicated")
    for b in cluster.nodes:
        m = scrape(b)
        assert m["offline_partitions"] == 0 and m["fenced_brokers"] == 0, (b.name, m)
    assert sum(scrape(b)["active_controller"] for b in cluster.nodes) == 1

    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all"})
    for i in range(1000):
        p.produce(TOPIC, str(i).encode(), partition=0)
    assert p.flush(15) == 0
    assert scrape(leader)["replica_max_lag_records"] == 0  # acks=all: every follower has it

    # A follower dies: its leader shrinks the ISR and reports the partition under-replicated.
    follower = next(b for b in cluster.nodes if b is not leader)
    shrinks = scrape(leader).get("isr_shrinks", 0)  # per topic: none before the first
    follower.kill()
    wait_for(lambda: scrape(leader)["under_replicated_partitions"] == 1, "under-replicated")
    assert scrape(leader).get("isr_shrinks", 0) > shrinks
    wait_for(lambda: scrape(leader)["fenced_brokers"] == 1, "the dead follower fenced")
    # Records it misses show as lag.
    for i in range(500):
        p.produce(TOPIC, str(i).encode(), partition=0)
    assert p.flush(15) == 0
    m = scrape(leader)
    assert m["replica_max_lag_records"] >= 500 and m["partition_replica_lag_records"] >= 500, m
    # Its last catch-up was before it died; min.insync.replicas=2 still holds with two.
    assert m["replica_max_lag_seconds"] > 0 and m["under_min_isr_partitions"] == 0, m

    # It returns and catches up: an expansion, nothing under-replicated, no lag.
    expands = scrape(leader).get("isr_expands", 0)
    follower.restart()
    wait_for(lambda: scrape(leader)["under_replicated_partitions"] == 0, "back in the ISR",
             timeout=60)
    m = scrape(leader)
    assert m.get("isr_expands", 0) > expands and m["replica_max_lag_records"] == 0, m

    # The leader dies: the active controller (another node) elects a new one.
    survivors = [b for b in cluster.nodes if b is not leader]
    before = {b.name: scrape(b) for b in survivors}
    leader.kill()

    def elected() -> bool:
        for b in survivors:
            now, then = scrape(b), before[b.name]
            if (now["active_controller"] == 1
                    and now["leader_elections"] > then["leader_elections"]
                    # The time from the dead leader's last heartbeat to its successor.
                    and now["leader_election_seconds_count"]
                    > then.get("leader_election_seconds_count", 0)):
                return now["leader_election_seconds_sum"] > 0
        return False

    wait_for(elected, "a leader election counted and timed by the active controller")
