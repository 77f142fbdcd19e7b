"""Issue 4: a network partition isolates the partition leader.

Three real `strata server` processes, all Raft voters, each in its own Linux network
namespace, joined by a bridge in the root namespace (see netns.py; the test builds and
removes that network itself and needs root). A topic with one partition, replication
factor 3 and min.insync.replicas=2. Then the leader's link goes down:

- on the isolated side, a confluent-kafka producer inside the leader's namespace keeps
  writing acks=all records to it: none may be acknowledged;
- on the majority side, a new leader is elected and acks=all writes are acknowledged;
- after the link comes back, the old leader rejoins the ISR with its unacknowledged tail
  truncated away: every acknowledged record is in the log once and in order, none of the
  isolated side's records is, and after a clean stop the three replicas are byte-identical.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import netns
from broker import Broker, BrokerError, free_port
from cluster import Cluster, wait_for

TOPIC = "partitioned"
# Disjoint number ranges, so every record in the log tells who wrote it.
BEFORE, ISOLATED, MAJORITY = 0, 1_000_000, 2_000_000
ISOLATED_KEY = b"isolated-side"  # to find the isolated records in the old leader's segments

# Runs inside the isolated leader's namespace: produces numbered acks=all records to that
# broker alone for a few seconds, waits out every delivery report, prints what happened.
ISOLATED_PRODUCER = r"""
import json, sys, time
from confluent_kafka import Producer
bootstrap, topic, first, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
acked, failed = [], {}
def report(err, msg):
    if err is None:
        acked.append(int(msg.value()))
    else:
        failed[err.name()] = failed.get(err.name(), 0) + 1
p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
              "message.timeout.ms": 8000, "compression.type": "none"})
n = first
end = time.monotonic() + seconds
while time.monotonic() < end:
    p.produce(topic, str(n).encode(), key=KEY, partition=0, on_delivery=report)
    n += 1
    p.poll(0.01)
left = p.flush(30)
print(json.dumps({"sent": n - first, "acked": acked, "failed": failed, "undelivered": left}))
""".replace("KEY", repr(ISOLATED_KEY))


class NetnsCluster(Cluster):
    """Node i+1 runs in namespace i of `lab`, listening on that namespace's address."""

    def __init__(self, tmp: pathlib.Path, lab: netns.NetnsLab):
        self.nodes: list[Broker] = []
        n = len(lab.ns)
        ctrl = [free_port() for _ in range(n)]
        voters = ",".join(f"{i + 1}@{lab.addr[i]}:{ctrl[i]}" for i in range(n))
        for i in range(n):
            args = ["--node-id", str(i + 1), "--voters", voters]
            b = Broker(tmp / f"node-{i + 1}", f"node-{i + 1}", args,
                       host=lab.addr[i], wrap=lab.exec_prefix(i))
            b.workdir.mkdir(parents=True, exist_ok=True)
            self.nodes.append(b)


@pytest.fixture
def lab():
    """The bridge and three namespaces; removed afterwards whatever happened."""
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(f"network partition test: {reason}")
    lab = netns.NetnsLab(3)
    try:
        lab.setup()
    except netns.NetnsError as e:
        lab.teardown()
        pytest.skip(f"network partition test: cannot build the test network: {e}")
    try:
        lab.check_connectivity()
        yield lab
    finally:
        problems = lab.teardown()
        leftovers = [p for p in problems if not p.startswith("killed leftover")]
        assert not leftovers, f"network teardown: {leftovers}"


@pytest.fixture
def ncluster(tmp_path, lab):
    """Three started nodes in the namespaces. Whatever still runs at the end is stopped
    (killed if it will not stop); the test itself checks the clean stop."""
    c = NetnsCluster(tmp_path, lab)
    try:
        c.start()
        yield c
    finally:
        for b in c.nodes:
            try:
                b.stop(10)
            except BrokerError:
                pass  # already killed by stop(); reported by the test if it mattered


def test_pids_are_the_brokers(ncluster):
    """`ip netns exec` execs strata, so SIGTERM from `Broker.stop` reaches the broker."""
    for b in ncluster.nodes:
        exe = pathlib.Path(f"/proc/{b.proc.pid}/exe").resolve()
        assert exe.name == "strata", f"{b.name}: pid {b.proc.pid} is {exe}"
    for b in ncluster.nodes:
        assert b.stop() == 0, b.log_tail()


def read_partition(bootstrap: str) -> list[int]:
    """Every record of partition 0 below the high-water mark, as numbers, in offset order."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "netns-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        # Right after a leader change ListOffsets may answer NOT_LEADER (metadata not yet
        # refreshed) or OFFSET_NOT_AVAILABLE (the new leader's high watermark not caught
        # up with its epoch, KIP-207); librdkafka hands both to the caller.
        ends: list[int] = []

        def answered() -> bool:
            ends.append(c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)[1])
            return True
        wait_for(answered, "ListOffsets of partition 0 to answer")
        high = ends[-1]
        c.assign([TopicPartition(TOPIC, 0, 0)])
        values: list[int] = []
        last = -1
        deadline = time.monotonic() + 30
        while last < high - 1 and time.monotonic() < deadline:
            for m in c.consume(1000, timeout=0.5):
                assert m.error() is None, m.error()
                values.append(int(m.value()))
                last = m.offset()
        assert last == high - 1, f"read up to offset {last}, high-water mark {high}"
        return values
    finally:
        c.close()


class Acks:
    """Delivery reports of one producer, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked: list[int] = []
        self.failed: list[tuple[int, str]] = []

    def report(self, err, msg):
        with self.lock:
            if err is None:
                self.acked.append(int(msg.value()))
            else:
                self.failed.append((int(msg.value()), err.name()))


def produce(bootstrap: str, first: int, count: int, timeout: float = 30) -> Acks:
    acks = Acks()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 2, "message.timeout.ms": 20000})
    for n in range(first, first + count):
        p.produce(TOPIC, str(n).encode(), partition=0, on_delivery=acks.report)
        p.poll(0)
    p.flush(timeout)
    return acks


def partition_via(node: Broker):
    """The partition's metadata as one node alone reports it."""
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    return admin.list_topics(TOPIC, timeout=5).topics[TOPIC].partitions[0]


def segment_bytes(b: Broker) -> list[bytes]:
    files = sorted((b.data_dir / f"{TOPIC}-0").glob("*.log"))
    return [f.read_bytes() for f in files]


@contextlib.contextmanager
def logs_on_failure(c: Cluster):
    """Prints the brokers' log tails when the block fails (pytest shows captured output)."""
    try:
        yield
    except BaseException:
        for b in c.nodes:
            print(b.log_tail(150))
        raise


def test_isolated_leader_acknowledges_nothing_and_majority_goes_on(ncluster, lab):
    with logs_on_failure(ncluster):
        partition_the_leader(ncluster, lab)


def partition_the_leader(c: NetnsCluster, lab: netns.NetnsLab):
    admin = c.admin()  # kept alive until the future completes
    admin.create_topics([NewTopic(TOPIC, 1, 3, config={"min.insync.replicas": "2"})])[
        TOPIC].result(15)
    del admin
    wait_for(lambda: len(c.partition(TOPIC).isrs) == 3, "ISR of 3")
    old_leader = c.partition(TOPIC).leader
    victim = c.node(old_leader)
    vi = old_leader - 1

    before = produce(c.bootstrap(), BEFORE, 200)
    assert not before.failed, f"failed before the partition: {before.failed[:5]}"
    assert sorted(before.acked) == list(range(BEFORE, BEFORE + 200))

    # Cut the leader off from everyone.
    lab.isolate(vi)
    isolated = subprocess.Popen(
        [*lab.exec_prefix(vi), sys.executable, "-c", ISOLATED_PRODUCER, victim.bootstrap, TOPIC,
         str(ISOLATED), "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Majority side: a new leader among the other two, which takes acks=all writes.
        wait_for(lambda: c.partition(TOPIC, without=victim).leader not in (-1, old_leader),
                 "a new leader on the majority side", timeout=30)
        new_leader = c.partition(TOPIC, without=victim).leader
        majority = produce(c.bootstrap(without=victim), MAJORITY, 200)
        assert majority.acked, f"majority acknowledged nothing: {majority.failed[:5]}"

        out, err = isolated.communicate(timeout=40)
    finally:
        if isolated.poll() is None:
            isolated.kill()
            isolated.wait(10)
    assert isolated.returncode == 0, f"isolated producer failed: {err}"
    result = json.loads(out.strip().splitlines()[-1])
    assert result["sent"] > 0
    assert result["acked"] == [], (
        f"the isolated leader acknowledged {len(result['acked'])} acks=all records: "
        f"{result['acked'][:10]}")
    assert result["undelivered"] == 0, "isolated producer still had records in flight"
    # The isolated leader appended them (as the ISR protocol has it: append, then wait for
    # the followers) without acknowledging them; the heal must truncate them away.
    appended_while_isolated = sum(s.count(ISOLATED_KEY) for s in segment_bytes(victim))
    print(f"old leader {old_leader}, new leader {new_leader}; isolated producer: {result['sent']} "
          f"sent, failures {result['failed']}; {appended_while_isolated} isolated records in "
          f"the old leader's log before the heal; majority acked {len(majority.acked)}, "
          f"failed {len(majority.failed)}")
    assert appended_while_isolated > 0, (
        "the isolated leader appended none of the isolated records, so the truncation checks "
        "below prove nothing (if the broker now refuses writes once cut off, revisit this)")

    # Heal: the old leader comes back as a follower and rejoins the ISR.
    lab.heal(vi)

    # Once it is back in the ISR the controller hands the preferred replica its leadership
    # back: wait for that too, so the reads below do not race the move.
    def rejoined() -> bool:
        seen = c.partition(TOPIC, without=victim)
        mine = partition_via(victim)  # the old leader's own view must have caught up too
        return (len(seen.isrs) == 3 and seen.leader == seen.replicas[0]
                and mine.leader == seen.leader and len(mine.isrs) == 3)

    wait_for(rejoined, "the old leader back in the ISR", timeout=60)

    values = read_partition(c.bootstrap())
    acked = before.acked + majority.acked
    acked_set = set(acked)
    missing = acked_set - set(values)
    assert not missing, f"lost {len(missing)} acknowledged records, e.g. {sorted(missing)[:10]}"
    seen = [v for v in values if v in acked_set]
    assert seen == sorted(seen), "acknowledged records out of order"
    assert len(seen) == len(acked_set), "an acknowledged record is stored twice"
    from_isolated = [v for v in values if ISOLATED <= v < MAJORITY]
    assert not from_isolated, (
        f"{len(from_isolated)} never-acknowledged records of the isolated side are in the "
        f"log, e.g. {from_isolated[:10]}")

    # A clean stop, then the three replicas of the partition are byte-identical: the old
    # leader kept nothing of its isolated tail.
    for b in c.nodes:
        assert b.stop() == 0, b.log_tail()
    logs = [segment_bytes(b) for b in c.nodes]
    assert all(logs), "a replica has no segments"
    assert logs[0] == logs[1] == logs[2], "replica logs differ after a clean stop"
    assert not any(s.count(ISOLATED_KEY) for s in segment_bytes(victim))
