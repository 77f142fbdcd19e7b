"""Issue 17: with several `log.dirs`, a failed dir takes only its own partitions offline.

One broker with two log dirs: its data dir and a small tmpfs. The tmpfs is filled
while the broker runs, so writes there fail (ENOSPC, as on a full or failing disk).
The partitions in the other dir keep taking and serving records; those in the failed
dir stop (KAFKA_STORAGE_ERROR, leader -1 with the replica listed offline); DescribeLogDirs
reports the dir with KAFKA_STORAGE_ERROR; the broker stays up. After a restart with the
space back in the dir every partition is back with every acknowledged record.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient

from broker import Broker
from cluster import wait_for
from test_disk_full import fill
from test_http import get as http_get

PARTITIONS = 6
RECORDS = 50
KAFKA_STORAGE_ERROR = 56


@pytest.fixture
def two_dirs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    extra = tmp_path / "extra"
    extra.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(extra)], check=True)
    try:
        yield tmp_path, extra
    finally:
        subprocess.run(["umount", "-l", str(extra)], check=False)


def where(admin: KafkaAdminClient, topic: str) -> tuple[dict[str, set[int]], dict[str, int]]:
    """Partitions of `topic` per log dir, and each dir's error code."""
    [answer] = admin.describe_log_dirs(brokers=[1])
    dirs: dict[str, set[int]] = {}
    errors: dict[str, int] = {}
    for d in answer["log_dirs"]:
        errors[d["log_dir"]] = d["error_code"]
        dirs[d["log_dir"]] = {
            p["partition_index"]
            for t in d["topics"] if t["name"] == topic
            for p in t["partitions"]
        }
    return dirs, errors


def produce(bootstrap: str, topic: str, partitions, tag: str, timeout_ms: int = 30000):
    """Sends RECORDS records to each partition; returns {partition: delivered count}."""
    delivered = {p: 0 for p in partitions}
    failed: dict[int, str] = {}

    def report(err, msg):
        if err is None:
            delivered[msg.partition()] += 1
        else:
            failed[msg.partition()] = err.name()

    p = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": timeout_ms,
                  "acks": "all"})
    for part in partitions:
        for i in range(RECORDS):
            p.produce(topic, f"{tag}-{part}-{i}".encode(), partition=part, on_delivery=report)
    p.flush(timeout_ms / 1000 + 10)
    return delivered, failed


def consume_all(bootstrap: str, topic: str, partition: int) -> list[bytes]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{partition}-{time.time()}",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, partition, 0)])
    _, high = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < high and time.monotonic() < deadline:
        m = c.poll(1)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    return got


def test_a_failed_log_dir_takes_only_its_partitions_offline(two_dirs):
    root, extra = two_dirs
    (root / "node").mkdir()
    b = Broker(root / "node", "node")
    b.extra_args = ["--set", f"log.dirs={b.data_dir},{extra}"]
    b.start()
    try:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics([NewTopic("jbod", PARTITIONS, 1)])["jbod"].result(20)
        kadmin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
        dirs, errors = where(kadmin, "jbod")
        print(f"placement: {dirs}")
        assert set(dirs) == {str(b.data_dir), str(extra)}, dirs
        assert errors == {str(b.data_dir): 0, str(extra): 0}, errors
        in_extra, in_data = dirs[str(extra)], dirs[str(b.data_dir)]
        # New partitions go to the dir holding the fewest: an even spread.
        assert len(in_extra) == len(in_data) == PARTITIONS // 2, dirs
        assert any((extra / f"jbod-{p}").is_dir() for p in in_extra)

        delivered, failed = produce(b.bootstrap, "jbod", range(PARTITIONS), "before")
        assert not failed and all(n == RECORDS for n in delivered.values()), (delivered, failed)

        filler = extra / "filler"
        fill(filler)
        wait_for(lambda: where(kadmin, "jbod")[1][str(extra)] == KAFKA_STORAGE_ERROR,
                 "the failed dir reported offline", timeout=30)
        dirs, errors = where(kadmin, "jbod")
        assert errors[str(b.data_dir)] == 0, errors
        assert dirs[str(b.data_dir)] == in_data, dirs

        # The healthy dir's partitions take records; the failed dir's do not.
        delivered, failed = produce(b.bootstrap, "jbod", sorted(in_data), "during")
        assert not failed and all(delivered[p] == RECORDS for p in in_data), (delivered, failed)
        delivered, failed = produce(b.bootstrap, "jbod", sorted(in_extra), "lost", 5000)
        assert all(delivered[p] == 0 for p in in_extra), delivered
        print(f"producing to the failed dir: {failed}")

        # Metadata: no leader for them, the replica listed offline.
        md = admin.list_topics("jbod", timeout=10)
        [described] = kadmin.describe_topics(["jbod"])
        print(f"described: {described}")
        offline = {p["partition_index"]: p["offline_replicas"] for p in described["partitions"]}
        for p in in_extra:
            assert md.topics["jbod"].partitions[p].leader == -1, p
            assert offline[p] == [1], (p, offline)
        for p in in_data:
            assert md.topics["jbod"].partitions[p].leader == 1, p
            assert offline[p] == [], (p, offline)
        # Counted where an operator looks (and the StrataLogDirOffline alert fires).
        _, _, metrics = http_get(f"{b.http_base}/metrics")
        assert f'strata_log_dir_offline{{dir="{extra}"}} 1' in metrics, metrics[-3000:]
        assert f'strata_log_dir_offline{{dir="{b.data_dir}"}} 0' in metrics
        b.assert_alive()
        for p in in_data:
            got = consume_all(b.bootstrap, "jbod", p)
            assert len(got) == 2 * RECORDS, (p, len(got))
    finally:
        b.stop()

    # A restart with space in the dir again serves everything that was acknowledged.
    os.remove(filler)
    os.remove(str(filler) + ".tail")
    b.start()
    try:
        for p in range(PARTITIONS):
            want = 2 * RECORDS if p in in_data else RECORDS
            seen: list[list[bytes]] = []
            wait_for(lambda: seen.append(consume_all(b.bootstrap, "jbod", p)) or seen[-1],
                     f"partition {p} served again", timeout=60)
            got = seen[-1]
            assert len(got) == want, (p, len(got))
            assert got[0] == f"before-{p}-0".encode()
        delivered, failed = produce(b.bootstrap, "jbod", range(PARTITIONS), "after")
        assert not failed, failed
    finally:
        b.stop()


def test_in_a_cluster_other_replicas_lead_the_failed_dirs_partitions(two_dirs):
    """Three nodes, RF 3; node 1 has a second log dir, which fills up. Partitions whose
    node-1 replica is there get another leader and leave node 1 out of their ISR;
    `acks=all` producers to every partition go on; nothing acknowledged is lost."""
    from cluster import Cluster

    root, extra = two_dirs
    c = Cluster(root / "c")
    n1 = c.node(1)
    n1.extra_args += ["--set", f"log.dirs={n1.data_dir},{extra}"]
    c.start()
    filler = extra / "filler"
    try:
        admin = c.admin()
        admin.create_topics([NewTopic("jbod3", PARTITIONS, 3)])["jbod3"].result(20)
        kadmin = KafkaAdminClient(bootstrap_servers=c.bootstrap())
        [answer] = kadmin.describe_log_dirs(brokers=[1])
        in_extra = {p["partition_index"]
                    for d in answer["log_dirs"] if d["log_dir"] == str(extra)
                    for t in d["topics"] if t["name"] == "jbod3" for p in t["partitions"]}
        assert 0 < len(in_extra) < PARTITIONS, answer
        # Lead everything from node 1 first, so the failure must move leaders.
        wait_for(lambda: all(c.partition("jbod3", p).leader != -1 for p in range(PARTITIONS)),
                 "leaders")
        delivered, failed = produce(c.bootstrap(), "jbod3", range(PARTITIONS), "before")
        assert not failed, failed

        fill(filler)

        def moved() -> bool:
            md = c.admin().list_topics("jbod3", timeout=5).topics["jbod3"].partitions
            return all(md[p].leader not in (-1, 1) and 1 not in md[p].isrs for p in in_extra)

        wait_for(moved, "the failed dir's partitions led elsewhere", timeout=60)
        md = c.admin().list_topics("jbod3", timeout=5).topics["jbod3"].partitions
        print({p: (md[p].leader, md[p].isrs) for p in range(PARTITIONS)})
        delivered, failed = produce(c.bootstrap(), "jbod3", range(PARTITIONS), "after")
        assert not failed and all(n == RECORDS for n in delivered.values()), (delivered, failed)
        for p in range(PARTITIONS):
            got = consume_all(c.bootstrap(), "jbod3", p)
            assert len(got) == 2 * RECORDS, (p, len(got))
        n1.assert_alive()
    finally:
        if filler.exists():
            os.remove(filler)
            os.remove(str(filler) + ".tail")
        for b in c.nodes:
            if b.running():
                b.stop()
