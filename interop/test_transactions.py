"""Transactions and exactly-once with real clients: confluent-kafka (librdkafka), kafkajs
and kafka-python transactional producers against one strata broker."""

from __future__ import annotations

import json
import pathlib
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from clients import COMMON, create_topic, produce_all, producer

JS_DIR = pathlib.Path(__file__).resolve().parent / "js"


def txn_producer(bootstrap: str, tid: str | None = None, **conf) -> Producer:
    base = {"bootstrap.servers": bootstrap, "transactional.id": tid or f"tx-{uuid.uuid4().hex[:8]}",
            "linger.ms": 5, **COMMON}
    base.update(conf)
    return Producer(base)


def read_to_end(bootstrap: str, topic: str, isolation: str, partitions: int = 1,
                timeout: float = 30.0) -> list[tuple[int, int, bytes]]:
    """Every record a consumer with `isolation` sees from the start of each partition up to
    the partition's end as that isolation level defines it (the high-water mark or the LSO):
    [(partition, offset, value)] in the order each partition returned them."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"rd-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, "isolation.level": isolation, **COMMON})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out: list[tuple[int, int, bytes]] = []
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, f"no end of partitions after {timeout}s: {out}"
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(m.partition())
                    continue
                raise KafkaException(m.error())
            at_end.discard(m.partition())
            out.append((m.partition(), m.offset(), m.value()))
        return out
    finally:
        c.close()


def values(records) -> list[bytes]:
    return [v for _, _, v in records]


def send(p: Producer, topic: str, vals: list[str], partition: int = 0) -> None:
    for v in vals:
        p.produce(topic, key=v.encode(), value=v.encode(), partition=partition)
    p.flush(30)


def test_commit_and_abort_with_read_committed_and_read_uncommitted(broker):
    topic = create_topic(broker.bootstrap)
    p = txn_producer(broker.bootstrap)
    p.init_transactions(30)
    p.begin_transaction()
    send(p, topic, [f"c1-{i}" for i in range(5)])
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, topic, [f"a1-{i}" for i in range(5)])
    p.abort_transaction(30)
    p.begin_transaction()
    send(p, topic, [f"c2-{i}" for i in range(5)])
    p.commit_transaction(30)

    committed = [f"c1-{i}".encode() for i in range(5)] + [f"c2-{i}".encode() for i in range(5)]
    assert values(read_to_end(broker.bootstrap, topic, "read_committed")) == committed
    # read_uncommitted sees the aborted records too, in log order; never the markers.
    everything = values(read_to_end(broker.bootstrap, topic, "read_uncommitted"))
    assert everything == (committed[:5] + [f"a1-{i}".encode() for i in range(5)]
                          + committed[5:])


def test_compaction_removes_aborted_records_and_compacts_committed_ones(broker):
    """A compacted topic written by a transactional producer: once the cleaner has run, no
    aborted record (and no ABORT marker) is left for either isolation level, committed
    records are compacted like any others, and every key reads back its last committed
    value (an aborted write never supersedes a committed one)."""
    topic = create_topic(broker.bootstrap, config={
        "cleanup.policy": "compact", "segment.bytes": "2048", "segment.ms": "1000",
        "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "0"})
    p = txn_producer(broker.bootstrap)
    p.init_transactions(30)
    latest: dict[str, str] = {}
    for t in range(30):
        outcome = "a" if t % 3 == 1 else "c"
        p.begin_transaction()
        for k in range(10):
            p.produce(topic, key=f"k{k}".encode(), value=f"{outcome}{t}-{k}".encode(), partition=0)
        if outcome == "a":
            p.abort_transaction(30)
        else:
            p.commit_transaction(30)
            latest.update({f"k{k}": f"c{t}-{k}" for k in range(10)})
    # segment.ms passes, so the next append rolls the segment holding the last transaction;
    # the one after rolls the filler's segment too, leaving only it in the active segment.
    filler = producer(broker.bootstrap)
    for value in ("f1", "f2"):
        time.sleep(1.2)
        produce_all(filler, topic, [(b"filler", value.encode(), {})])
    latest["filler"] = "f2"

    def key_of(value: bytes) -> str:
        return "filler" if value.startswith(b"f") else "k" + value.decode().split("-")[1]

    deadline = time.monotonic() + 30
    while True:
        everything = values(read_to_end(broker.bootstrap, topic, "read_uncommitted"))
        aborted = [v for v in everything if v.startswith(b"a")]
        if not aborted and len(everything) <= 2 * len(latest):
            break
        assert time.monotonic() < deadline, (
            f"after 30 s: {len(aborted)} aborted records left, {len(everything)} records in all")
        time.sleep(1)
    for isolation in ("read_committed", "read_uncommitted"):
        last = {key_of(v): v.decode() for v in values(read_to_end(broker.bootstrap, topic, isolation))}
        assert last == latest, isolation
    # With delete.retention.ms=0 the ABORT markers went in the clean that removed their
    # records, and their entries left the segments' aborted-transaction indexes with them.
    entries = {f.name: f.stat().st_size // 34
               for f in (broker.data_dir / f"{topic}-0").glob("*.txnindex")}
    assert not any(entries.values()), f"aborted-index entries left: {entries}"


def test_read_committed_stops_at_an_open_transaction(broker):
    topic = create_topic(broker.bootstrap)
    tx = txn_producer(broker.bootstrap)
    tx.init_transactions(30)
    tx.begin_transaction()
    send(tx, topic, ["open-0", "open-1"])
    # A plain producer writes after the open transaction: read_committed must not pass it.
    plain = Producer({"bootstrap.servers": broker.bootstrap, **COMMON})
    send(plain, topic, ["after-0"])
    assert values(read_to_end(broker.bootstrap, topic, "read_committed")) == []
    assert values(read_to_end(broker.bootstrap, topic, "read_uncommitted")) == [
        b"open-0", b"open-1", b"after-0"]
    tx.commit_transaction(30)
    assert values(read_to_end(broker.bootstrap, topic, "read_committed")) == [
        b"open-0", b"open-1", b"after-0"]


def group_lag(bootstrap: str, group: str, *flags: str) -> tuple[str, list[int]]:
    """`strata group describe --format json`: the isolation it used and each row's lag."""
    from broker import strata_bin
    res = subprocess.run([str(strata_bin()), "-b", bootstrap, "--format", "json", "group",
                          "describe", group, *flags], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    return d["isolation"], [o["lag"] for o in d["offsets"]]


def test_group_lag_of_a_read_committed_group_ends_at_the_last_stable_offset(broker):
    topic = create_topic(broker.bootstrap)
    plain = Producer({"bootstrap.servers": broker.bootstrap, **COMMON})
    send(plain, topic, ["a", "b", "c"])
    group = f"lag-{uuid.uuid4().hex[:8]}"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False, **COMMON})
    c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    c.close()
    tx = txn_producer(broker.bootstrap)
    tx.init_transactions(30)
    tx.begin_transaction()
    send(tx, topic, ["open-0", "open-1"])
    # Offsets 0-2 plain, 3-4 in the open transaction; committed at 1.
    assert group_lag(broker.bootstrap, group) == ("read_uncommitted", [4])
    assert group_lag(broker.bootstrap, group, "--isolation", "read_committed") == (
        "read_committed", [2])
    tx.commit_transaction(30)
    # The marker (offset 5) ends the transaction: both levels reach offset 6.
    assert group_lag(broker.bootstrap, group, "--isolation", "read_committed") == (
        "read_committed", [5])
    assert group_lag(broker.bootstrap, group) == ("read_uncommitted", [5])


def test_a_second_producer_with_the_same_id_fences_the_first(broker):
    topic = create_topic(broker.bootstrap)
    tid = f"fence-{uuid.uuid4().hex[:8]}"
    first = txn_producer(broker.bootstrap, tid)
    first.init_transactions(30)
    first.begin_transaction()
    send(first, topic, ["zombie-0"])
    second = txn_producer(broker.bootstrap, tid)
    # Initialising the second aborts the first one's open transaction.
    second.init_transactions(60)
    second.begin_transaction()
    send(second, topic, ["live-0"])
    second.commit_transaction(30)
    with pytest.raises(KafkaException) as err:
        first.produce(topic, value=b"zombie-1", partition=0)
        first.flush(10)
        first.commit_transaction(30)
    assert err.value.args[0].fatal() or err.value.args[0].code() in (
        KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH), err.value
    assert values(read_to_end(broker.bootstrap, topic, "read_committed")) == [b"live-0"]


def test_consume_transform_produce_commits_offsets_with_the_output(broker):
    src = create_topic(broker.bootstrap, partitions=2)
    dst = create_topic(broker.bootstrap)
    plain = Producer({"bootstrap.servers": broker.bootstrap, **COMMON})
    for i in range(40):
        plain.produce(src, value=f"in-{i}".encode(), partition=i % 2)
    plain.flush(30)

    group = f"eos-{uuid.uuid4().hex[:8]}"
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "isolation.level": "read_committed", **COMMON})
    consumer.subscribe([src])
    p = txn_producer(broker.bootstrap)
    p.init_transactions(30)
    seen = 0
    deadline = time.monotonic() + 60
    aborted_once = False
    while seen < 40:
        assert time.monotonic() < deadline, f"only {seen} of 40 transformed"
        batch = consumer.consume(10, 1.0)
        batch = [m for m in batch if not m.error()]
        if not batch:
            continue
        p.begin_transaction()
        for m in batch:
            p.produce(dst, value=m.value().replace(b"in-", b"out-"), partition=0)
        p.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                      consumer.consumer_group_metadata(), 30)
        if not aborted_once:
            # The first round is aborted: its output must vanish and its offsets must not
            # count, so the consumer goes back to where the group had committed.
            aborted_once = True
            p.abort_transaction(30)
            committed = consumer.committed(consumer.assignment(), 30)
            for tp in committed:
                consumer.seek(TopicPartition(src, tp.partition,
                                             tp.offset if tp.offset >= 0 else 0))
            continue
        p.commit_transaction(30)
        seen += len(batch)
    consumer.close()

    out = values(read_to_end(broker.bootstrap, dst, "read_committed"))
    assert sorted(out) == sorted(f"out-{i}".encode() for i in range(40))
    check = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, **COMMON})
    committed = check.committed([TopicPartition(src, 0), TopicPartition(src, 1)], 30)
    check.close()
    assert sorted(tp.offset for tp in committed) == [20, 20]


def test_kafkajs_transactions_commit_and_abort(broker):
    topic = create_topic(broker.bootstrap)
    tid = f"js-{uuid.uuid4().hex[:8]}"
    run = subprocess.run(
        ["node", str(JS_DIR / "txn_produce.js"), broker.bootstrap, topic, tid,
         "commit:js-c1:3", "abort:js-a:3", "commit:js-c2:2"],
        capture_output=True, text=True, timeout=120)
    result = json.loads(run.stdout.strip().splitlines()[-1]) if run.stdout.strip() else {}
    assert result.get("ok"), f"kafkajs: {run.stdout} {run.stderr}"
    assert values(read_to_end(broker.bootstrap, topic, "read_committed")) == [
        b"js-c1-0", b"js-c1-1", b"js-c1-2", b"js-c2-0", b"js-c2-1"]


def test_kafkajs_send_offsets_in_a_transaction(broker):
    topic = create_topic(broker.bootstrap)
    src = create_topic(broker.bootstrap)
    group = f"jsg-{uuid.uuid4().hex[:8]}"
    run = subprocess.run(
        ["node", str(JS_DIR / "txn_produce.js"), broker.bootstrap, topic,
         f"js-{uuid.uuid4().hex[:8]}", f"offsets:{group}:{src}:0:7:js-o:2"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"kafkajs: {run.stdout} {run.stderr}"
    check = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, **COMMON})
    committed = check.committed([TopicPartition(src, 0)], 30)
    check.close()
    assert committed[0].offset == 7
    assert values(read_to_end(broker.bootstrap, topic, "read_committed")) == [
        b"js-o-0", b"js-o-1"]


def test_kafka_python_transactions_commit_and_abort(broker):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KTP

    topic = create_topic(broker.bootstrap)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap,
                      transactional_id=f"kp-{uuid.uuid4().hex[:8]}")
    p.init_transactions()
    p.begin_transaction()
    for i in range(3):
        p.send(topic, value=f"kp-c-{i}".encode(), partition=0)
    p.commit_transaction()
    p.begin_transaction()
    for i in range(3):
        p.send(topic, value=f"kp-a-{i}".encode(), partition=0)
    p.abort_transaction()
    p.close()

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, isolation_level="read_committed",
                      enable_auto_commit=False, consumer_timeout_ms=3000)
    c.assign([KTP(topic, 0)])
    c.seek_to_beginning()
    got = [m.value for m in c]
    c.close()
    assert got == [b"kp-c-0", b"kp-c-1", b"kp-c-2"]
    assert values(read_to_end(broker.bootstrap, topic, "read_committed")) == got


def test_an_abandoned_transaction_is_aborted_at_its_timeout(broker):
    topic = create_topic(broker.bootstrap)
    stuck = txn_producer(broker.bootstrap, **{"transaction.timeout.ms": 3000,
                                              "socket.timeout.ms": 3000})
    stuck.init_transactions(30)
    stuck.begin_transaction()
    send(stuck, topic, ["stuck-0"])
    # Never committed: the coordinator aborts it after 3 s, which moves the LSO past it.
    other = txn_producer(broker.bootstrap)
    other.init_transactions(30)
    other.begin_transaction()
    send(other, topic, ["later-0"])
    other.commit_transaction(30)
    deadline = time.monotonic() + 30
    while True:
        got = values(read_to_end(broker.bootstrap, topic, "read_committed"))
        if got:
            break
        assert time.monotonic() < deadline, "the abandoned transaction was never aborted"
        time.sleep(0.5)
    assert got == [b"later-0"]


def test_exactly_once_when_the_app_is_killed_mid_transaction(broker):
    """The consume-transform-produce app is SIGKILLed three times, each time while a
    transaction is open; restarted with the same transactional id it fences its old self,
    and the output holds every input exactly once."""
    import os
    import signal
    import sys

    src = create_topic(broker.bootstrap, partitions=2)
    dst = create_topic(broker.bootstrap)
    n = 600
    plain = Producer({"bootstrap.servers": broker.bootstrap, **COMMON})
    for i in range(n):
        plain.produce(src, value=f"in-{i}".encode(), partition=i % 2)
    plain.flush(30)
    group, tid = f"eosk-{uuid.uuid4().hex[:8]}", f"eosk-{uuid.uuid4().hex[:8]}"
    app = [sys.executable, str(pathlib.Path(__file__).resolve().parent / "eos_app.py"),
           broker.bootstrap, src, dst, group, tid, str(n)]
    for kill in range(3):
        proc = subprocess.Popen(app + ["150"], stdout=subprocess.PIPE, text=True)
        try:
            # Let it commit at least once in this life, then kill it inside its next
            # transaction (it pauses 150 ms between producing and committing).
            line = proc.stdout.readline()
            assert line.startswith("committed"), f"app life {kill}: {line!r}"
            time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(10)
    final = subprocess.run(app, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-2000:]

    out = values(read_to_end(broker.bootstrap, dst, "read_committed"))
    assert sorted(out) == sorted(f"out-{i}".encode() for i in range(n)), (
        f"{len(out)} records, {len(set(out))} distinct")


def test_clients_cannot_write_to_the_internal_topics(broker):
    # The first transactional producer created __transaction_state.
    p = txn_producer(broker.bootstrap)
    p.init_transactions(30)
    errors = {}
    plain = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 10_000,
                      **COMMON})
    for topic in ("__transaction_state", "__consumer_offsets"):
        plain.produce(topic, value=b"forged", partition=0,
                      on_delivery=lambda err, msg, t=topic: errors.__setitem__(t, err))
    plain.flush(30)
    for topic in ("__transaction_state", "__consumer_offsets"):
        assert errors[topic] is not None and errors[topic].code() == KafkaError.TOPIC_EXCEPTION, (
            topic, errors.get(topic))
