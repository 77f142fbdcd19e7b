"""Issue 11 point 5: a full disk stalls the metadata quorum member, never kills it.

A single node whose data dir is a small tmpfs (a real filesystem that really fills up).
The disk is filled while the node runs: metadata writes (here a CreateTopics) cannot be
made, and `/health/ready` says why. Once space is freed the node carries on by itself,
without a restart: new topics are created and records flow again.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from broker import Broker
from cluster import wait_for
from test_http import get as http_get

DISK_MB = 48


def fill(path) -> int:
    """Writes zeros to `path` until the filesystem is full; returns the bytes written."""
    chunk = b"\0" * (256 * 1024)
    written = 0
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                break
    # Every last block too.
    with open(str(path) + ".tail", "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(b"\0" * 512)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    return written


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    data = tmp_path / "node" / "data"
    data.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(data)],
                   check=True)
    try:
        yield tmp_path / "node"
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def create(admin: AdminClient, name: str, timeout: float) -> None:
    admin.create_topics([NewTopic(name, 1, 1)], request_timeout=timeout)[name].result(timeout + 5)


def test_the_metadata_quorum_comes_back_by_itself_when_space_returns(small_disk):
    b = Broker(small_disk, "node")
    b.start()
    try:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        create(admin, "before", 15)
        assert http_get(f"{b.http_base}/health/ready")[0] == 200

        filler = b.data_dir / "filler"
        fill(filler)

        # Metadata cannot be written: CreateTopics stops succeeding (the first ones may
        # still fit in the last page of the raft log), and the node says why it is not
        # ready (and stays alive).
        refused = None
        for i in range(20):
            try:
                create(admin, f"during-{i}", 3)
            except Exception as e:  # noqa: BLE001 (the client's error type varies)
                refused = e
                break
        assert refused is not None, "metadata writes went on with the disk full"
        print(f"CreateTopics while full: {refused}")
        status, _, body = http_get(f"{b.http_base}/health/ready")
        print(f"while full: {status} {body}")
        assert status == 503, body
        assert "No space left on device" in body, body
        assert http_get(f"{b.http_base}/health/live")[0] == 200
        b.assert_alive()

        os.remove(filler)
        os.remove(str(filler) + ".tail")
        freed = time.monotonic()

        def created() -> bool:
            create(admin, "after", 5)
            return True

        wait_for(created, "a topic created after space returned", timeout=60)
        print(f"metadata writes back {time.monotonic() - freed:.1f}s after space was freed")
        wait_for(lambda: http_get(f"{b.http_base}/health/ready")[0] == 200, "ready again")

        # Records flow to the new topic, to the one from before and to any created while
        # the disk was full (whose logs could not be made then).
        topics = ["before", "after"] + [f"during-{j}" for j in range(i)]
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
        for t in topics:
            for n in range(10):
                p.produce(t, str(n).encode())
        assert p.flush(30) == 0
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "disk-full",
                      "enable.auto.commit": False})
        c.assign([TopicPartition(t, 0, 0) for t in topics])
        got: dict[str, list[int]] = {t: [] for t in topics}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(len(v) < 10 for v in got.values()):
            for m in c.consume(100, timeout=0.5):
                if m.error() is None:
                    got[m.topic()].append(int(m.value()))
        c.close()
        assert got == {t: list(range(10)) for t in topics}
        b.assert_alive()
    finally:
        if b.running():
            assert b.stop() == 0, b.log_tail()


def test_a_node_whose_disk_fills_is_fenced_and_writes_go_on(tmp_path):
    """Three nodes; one's data dir is a small tmpfs that fills up. That node has itself
    fenced (its leaderships and ISR places move to the others), so acks=all writes go on
    without it; once space is freed it registers again and rejoins every ISR."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    from cluster import Cluster

    c = Cluster(tmp_path)
    victim = c.node(2)
    victim.data_dir.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs",
                    str(victim.data_dir)], check=True)
    try:
        c.start()
        admin = c.admin()
        admin.create_topics([NewTopic("full", 3, 3, config={"min.insync.replicas": "2"})])[
            "full"].result(15)
        wait_for(lambda: all(len(c.partition("full", i).isrs) == 3 for i in range(3)),
                 "every replica in sync")

        filler = victim.data_dir / "filler"
        fill(filler)
        wait_for(lambda: all(2 not in c.partition("full", i).isrs
                             and c.partition("full", i).leader != 2 for i in range(3)),
                 "the full node out of every ISR and leading nothing", timeout=20)

        p = Producer({"bootstrap.servers": c.bootstrap(), "acks": "all",
                      "enable.idempotence": True, "message.timeout.ms": 20000})
        for n in range(300):
            p.produce("full", str(n).encode(), partition=n % 3)
        assert p.flush(30) == 0, "acks=all writes stalled with one node's disk full"
        victim.assert_alive()

        os.remove(filler)
        os.remove(str(filler) + ".tail")
        wait_for(lambda: all(len(c.partition("full", i).isrs) == 3 for i in range(3)),
                 "the node back in every ISR after space returned", timeout=60)
        for b in c.nodes:
            assert b.stop() == 0, b.log_tail()
    finally:
        for b in c.nodes:
            if b.running():
                b.kill()
        subprocess.run(["umount", "-l", str(victim.data_dir)], check=False)
