"""Classic consumer groups: librdkafka, kafka-python and aiokafka members, static membership,
committed offsets across a restart, and malformed group requests."""

from __future__ import annotations

import asyncio
import pathlib
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, TopicPartition
from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor

import groupwire as gw
from broker import Broker
from clients import COMMON, admin, create_topic, produce_all, producer, watermarks
from wire import RawConnection

HERE = pathlib.Path(__file__).resolve().parent
GROUP_ARGS = ["--set", "group.initial.rebalance.delay.ms=0",
              "--set", "group.min.session.timeout.ms=1000"]
SESSION_MS = 6000


@pytest.fixture(scope="module")
def gbroker(tmp_path_factory):
    """A broker with group settings suited to tests (no initial delay, short sessions)."""
    b = Broker(tmp_path_factory.mktemp("groups"), "groups", GROUP_ARGS)
    b.start()
    yield b
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


def group_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(pred, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets read by a non-member Consumer (OffsetFetch)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, **COMMON})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=15)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def rebalances_total(b: Broker, group: str) -> float:
    """`group`'s rebalances as its coordinator counts them (0 before it has any)."""
    with urllib.request.urlopen(f"{b.http_base}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert "# TYPE strata_group_rebalances_total counter" in text or group not in text, text
    m = re.search(r'^strata_group_rebalances_total\{group="%s"\} (\S+)$' % re.escape(group),
                  text, re.M)
    return float(m.group(1)) if m else 0.0


# --- 1. three librdkafka processes, one killed; offsets survive a restart ---------------------

class Member:
    """One group_member.py process; a reader thread collects its event lines."""

    def __init__(self, bootstrap: str, group: str, topic: str, delay: float):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "group_member.py"), bootstrap, group, topic,
             str(SESSION_MS), str(delay)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.records: list[tuple[int, int, str]] = []
        self.assignment: set[int] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            kind, _, rest = line.rstrip("\n").partition(" ")
            with self.lock:
                if kind == "A":
                    self.assignment = {int(p) for p in rest.split(",") if p}
                elif kind == "R":
                    p, o, k = rest.split(" ")
                    self.records.append((int(p), int(o), k))

    def snapshot(self) -> tuple[set[int], list[tuple[int, int, str]]]:
        with self.lock:
            return set(self.assignment), list(self.records)

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_three_members_one_killed_offsets_survive_restart(broker_factory):
    b = broker_factory("groups-kill", GROUP_ARGS)
    topic = create_topic(b.bootstrap, partitions=6)
    group = group_name("kill")
    members = [Member(b.bootstrap, group, topic, delay=0.003) for _ in range(3)]
    try:
        def balanced():
            snaps = [m.snapshot()[0] for m in members]
            return (all(len(s) == 2 for s in snaps)
                    and set().union(*snaps) == set(range(6)))
        wait_until(balanced, 60, "three members with two partitions each")

        n = 6000
        p = producer(b.bootstrap)
        produce_all(p, topic, [(f"k{i}".encode(), f"v{i}".encode(), {}) for i in range(n)])
        assert sum(watermarks(b.bootstrap, topic, q)[1] for q in range(6)) == n

        victim, survivors = members[0], members[1:]
        wait_until(lambda: len(victim.snapshot()[1]) >= 200, 60, "the victim to consume 200")
        victim_parts, victim_recs = victim.snapshot()
        victim.proc.kill()  # SIGKILL: no LeaveGroup, no final commit
        victim.proc.wait(10)
        assert len(victim_recs) < n // 3, "victim consumed everything before the kill"

        def taken_over():
            snaps = [s.snapshot()[0] for s in survivors]
            return (set().union(*snaps) == set(range(6)) and not (snaps[0] & snaps[1])
                    and all(snaps))
        wait_until(taken_over, SESSION_MS / 1000 + 45, "survivors to own all six partitions")

        def all_consumed():
            seen = {(pp, o) for m in members for (pp, o, _) in m.snapshot()[1]}
            return len(seen) == n
        wait_until(all_consumed, 90, "every record to be consumed at least once")
        keys = {k for m in members for (_, _, k) in m.snapshot()[1]}
        assert keys == {f"k{i}" for i in range(n)}
        # The killed member's partitions really moved to the survivors.
        assert victim_parts <= set().union(*(s.snapshot()[0] for s in survivors))

        for s in survivors:
            s.proc.terminate()
        for s in survivors:
            assert s.proc.wait(30) == 0
    finally:
        for m in members:
            m.cleanup()

    ends = {q: watermarks(b.bootstrap, topic, q)[1] for q in range(6)}
    before = committed(b.bootstrap, group, topic, 6)
    assert before == ends, f"committed {before} != log end {ends}"

    assert b.stop() == 0
    b.restart()
    after = committed(b.bootstrap, group, topic, 6)
    assert after == before, f"committed offsets changed across restart: {before} -> {after}"


# --- 2. librdkafka + kafka-python in one group --------------------------------------------------

def test_librdkafka_and_kafka_python_share_a_group(gbroker):
    topic = create_topic(gbroker.bootstrap, partitions=4)
    group = group_name("mixed")
    state: dict[str, set[int]] = {"rd": set(), "kp": set()}
    stop = threading.Event()
    errors: list[BaseException] = []

    def run_rd():
        try:
            c = Consumer({"bootstrap.servers": gbroker.bootstrap, "group.id": group,
                          "partition.assignment.strategy": "range",
                          "session.timeout.ms": SESSION_MS, "auto.offset.reset": "earliest",
                          **COMMON})
            c.subscribe([topic])
            try:
                while not stop.is_set():
                    c.poll(0.2)
                    state["rd"] = {tp.partition for tp in c.assignment()}
            finally:
                c.close()
        except BaseException as e:  # surfaced by the main thread
            errors.append(e)

    def run_kp():
        try:
            c = KafkaConsumer(topic, bootstrap_servers=gbroker.bootstrap, group_id=group,
                              partition_assignment_strategy=[RangePartitionAssignor],
                              session_timeout_ms=SESSION_MS, heartbeat_interval_ms=500,
                              auto_offset_reset="earliest", request_timeout_ms=15_000)
            try:
                while not stop.is_set():
                    c.poll(timeout_ms=200)
                    state["kp"] = {tp.partition for tp in c.assignment()}
            finally:
                c.close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run_rd, daemon=True),
               threading.Thread(target=run_kp, daemon=True)]
    for t in threads:
        t.start()
    try:
        def split():
            assert not errors, errors
            rd, kp = state["rd"], state["kp"]
            return rd and kp and rd | kp == set(range(4)) and not (rd & kp)
        wait_until(split, 60, f"a 4-partition split between both members (now {state})")
        # Stable, not a passing moment of a rebalance.
        time.sleep(2)
        rd, kp = state["rd"], state["kp"]
        assert rd and kp and rd | kp == set(range(4)) and not (rd & kp), state
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors


# --- 3. aiokafka resumes from the committed offset ----------------------------------------------

def test_aiokafka_resumes_from_committed_offset(gbroker):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka import TopicPartition as ATP

    topic = create_topic(gbroker.bootstrap, partitions=1)
    group = group_name("aio")
    n, half = 100, 50
    step = 30

    async def scenario():
        p = AIOKafkaProducer(bootstrap_servers=gbroker.bootstrap, acks="all")
        await asyncio.wait_for(p.start(), step)
        try:
            for i in range(n):
                await asyncio.wait_for(p.send_and_wait(topic, f"v{i}".encode(), partition=0),
                                       step)
        finally:
            await asyncio.wait_for(p.stop(), step)

        def member():
            return AIOKafkaConsumer(topic, bootstrap_servers=gbroker.bootstrap, group_id=group,
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    session_timeout_ms=SESSION_MS, heartbeat_interval_ms=500,
                                    request_timeout_ms=15_000)

        tp = ATP(topic, 0)
        c1 = member()
        await asyncio.wait_for(c1.start(), step)
        try:
            first = [await asyncio.wait_for(c1.getone(), step) for _ in range(half)]
            assert [m.offset for m in first] == list(range(half))
            await asyncio.wait_for(c1.commit({tp: first[-1].offset + 1}), step)
            assert await asyncio.wait_for(c1.committed(tp), step) == half
        finally:
            await asyncio.wait_for(c1.stop(), step)

        c2 = member()
        await asyncio.wait_for(c2.start(), step)
        try:
            rest = [await asyncio.wait_for(c2.getone(), step) for _ in range(n - half)]
            assert [m.offset for m in rest] == list(range(half, n))
            assert [m.value for m in rest] == [f"v{i}".encode() for i in range(half, n)]
            # Nothing beyond the log end: the second member read only the rest.
            extra = await asyncio.wait_for(c2.getmany(timeout_ms=1000), step)
            assert not any(extra.values()), extra
        finally:
            await asyncio.wait_for(c2.stop(), step)

    asyncio.run(asyncio.wait_for(scenario(), 150))


# --- 4. static membership ----------------------------------------------------------------------

def test_static_member_rejoins_without_rebalance(broker_factory):
    b = broker_factory("groups-static", GROUP_ARGS)
    topic = create_topic(b.bootstrap, partitions=3)
    group = group_name("static")
    conf = {"bootstrap.servers": b.bootstrap, "group.id": group,
            "group.instance.id": "static-1", "session.timeout.ms": 20_000,
            "auto.offset.reset": "earliest", **COMMON}

    def assigned_consumer() -> tuple[Consumer, set[int]]:
        c = Consumer(conf)
        c.subscribe([topic])
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            c.poll(0.2)
            parts = {tp.partition for tp in c.assignment()}
            if parts:
                return c, parts
        c.close()
        raise AssertionError("static member got no assignment within 40s")

    c1, first = assigned_consumer()
    assert first == {0, 1, 2}
    before = rebalances_total(b, group)
    assert before >= 1, "the initial join should count as a rebalance"
    c1.close()  # a static member leaves no LeaveGroup behind

    c2, second = assigned_consumer()
    try:
        assert second == first
        # Let a (wrong) rebalance triggered by the rejoin show up before reading the counter.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            c2.poll(0.2)
        assert {tp.partition for tp in c2.assignment()} == first
        after = rebalances_total(b, group)
        assert after == before, f"static rejoin caused rebalances: {before} -> {after}"
    finally:
        c2.close()


# --- 5. malformed and invalid group requests ---------------------------------------------------

def test_bad_group_requests(gbroker):
    topic = create_topic(gbroker.bootstrap, partitions=1)
    group = group_name("raw")
    garbage = b"\xff\xfe not a ConsumerProtocol assignment \x00\x01\x02"
    with RawConnection("127.0.0.1", gbroker.port) as conn:
        # A standalone commit (generation -1) to a topic that does not exist.
        err = gw.offset_commit(conn, group, -1, "", f"no-such-{uuid.uuid4().hex[:6]}", 0, 5)
        assert err == gw.UNKNOWN_TOPIC_OR_PARTITION

        join = gw.join_group(conn, group, [("range", gw.consumer_metadata([topic]))])
        assert join.error_code == gw.NONE, join
        assert join.leader == join.member_id and join.generation >= 1
        assert [m for m, _ in join.members] == [join.member_id]

        err, assignment = gw.sync_group(conn, group, join.generation, join.member_id,
                                        [(join.member_id, garbage)])
        assert err == gw.NONE
        assert assignment == garbage, "SyncGroup must hand back the leader's bytes unchanged"

        err = gw.offset_commit(conn, group, join.generation + 1, join.member_id, topic, 0, 1)
        assert err == gw.ILLEGAL_GENERATION

        err = gw.offset_commit(conn, group, join.generation, join.member_id, topic, 0, 1,
                               metadata="m" * 4097)
        assert err == gw.OFFSET_METADATA_TOO_LARGE
        assert gw.offset_fetch(conn, group, topic, 0)[0] == -1, "a rejected commit was stored"

        err = gw.offset_commit(conn, group, join.generation, join.member_id, topic, 0, 1,
                               metadata="ok")
        assert err == gw.NONE
        assert gw.offset_fetch(conn, group, topic, 0) == (1, "ok", gw.NONE)

        d = gw.describe_group(conn, group)
        assert (d.error_code, d.state, d.protocol_type, d.protocol) == \
            (gw.NONE, "Stable", "consumer", "range")
        assert [(m[0], m[2]) for m in d.members] == [(join.member_id, garbage)]

    gbroker.assert_alive()

    # The broker still serves an ordinary consumer group after all that.
    p = producer(gbroker.bootstrap)
    produce_all(p, topic, [(None, f"n{i}".encode(), {}) for i in range(10)])
    normal = group_name("normal")
    c = Consumer({"bootstrap.servers": gbroker.bootstrap, "group.id": normal,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": SESSION_MS, **COMMON})
    try:
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + 40
        while len(got) < 10 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                got.append(m.value())
        assert got == [f"n{i}".encode() for i in range(10)]
        c.commit(asynchronous=False)

        a = admin(gbroker.bootstrap)
        listed = a.list_consumer_groups(request_timeout=15).result(timeout=20)
        ids = {g.group_id for g in listed.valid}
        assert {group, normal} <= ids, ids
        desc = a.describe_consumer_groups([normal], request_timeout=15)[normal].result(timeout=20)
        assert desc.state == ConsumerGroupState.STABLE
        assert len(desc.members) == 1
        assert {(tp.topic, tp.partition) for tp in desc.members[0].assignment.topic_partitions} \
            == {(topic, 0)}
    finally:
        c.close()
    assert committed(gbroker.bootstrap, normal, topic, 1) == {0: 10}
