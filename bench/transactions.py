#!/usr/bin/env python3
"""Transactions benchmark (issue 14): one broker, confluent-kafka (librdkafka).

- idempotent produce of N records (acks=all, enable.idempotence) as the baseline;
- the same N records in transactions of --per-txn records each, from one and from several
  concurrent transactional producers (--producers): transactions per second,
  records per second as a share of the idempotent rate, commit latency p50 / p99
  (commit_transaction() call to return);
- read_committed against read_uncommitted consume of the transactional topic.

Broker CPU from /proc/PID/stat for each phase (the client shares the cores).

Usage: bench/transactions.py [--records N] [--per-txn K] [--size BYTES] [--producers 1,8]
       (STRATA_BIN, default target/release/strata; run with the interop venv's python)
Prints one JSON line per case and a summary line.
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from benchlib import cpu_secs, start_broker  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def create(boot: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": boot})
    a.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    time.sleep(0.5)


def produce_idempotent(boot: str, topic: str, n: int, payload: bytes, pid: int) -> dict:
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": boot, "enable.idempotence": True, "linger.ms": 5,
                  "queue.buffering.max.messages": 1_000_000})
    cpu0, t0 = cpu_secs(pid), time.monotonic()
    for i in range(n):
        while True:
            try:
                p.produce(topic, payload, partition=0)
                break
            except BufferError:
                p.poll(0.01)
    assert p.flush(120) == 0
    dt, cpu = time.monotonic() - t0, cpu_secs(pid) - cpu0
    return {"records_per_s": round(n / dt), "broker_cpu_us_per_record": round(cpu * 1e6 / n, 2)}


def produce_transactions(boot: str, topic: str, n: int, per_txn: int, payload: bytes,
                         pid: int, producers: int = 1) -> dict:
    """`producers` transactional producers (own transactional ids, one thread each, as
    the tasks of a stream processor) share `n` records, `per_txn` per transaction."""
    import threading
    from confluent_kafka import Producer
    ps = []
    for i in range(producers):
        p = Producer({"bootstrap.servers": boot, "transactional.id": f"bench-{topic}-{i}",
                      "linger.ms": 5, "queue.buffering.max.messages": 1_000_000})
        p.init_transactions(30)
        ps.append(p)
    commits: list[float] = []

    def run(p, count):
        for start in range(0, count, per_txn):
            p.begin_transaction()
            for _ in range(min(per_txn, count - start)):
                p.produce(topic, payload, partition=0)
            c0 = time.monotonic()
            p.commit_transaction(60)
            commits.append(time.monotonic() - c0)

    share = [n // producers + (1 if i < n % producers else 0) for i in range(producers)]
    threads = [threading.Thread(target=run, args=(p, c)) for p, c in zip(ps, share)]
    cpu0, t0 = cpu_secs(pid), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt, cpu = time.monotonic() - t0, cpu_secs(pid) - cpu0
    commits.sort()
    return {"producers": producers,
            "transactions_per_s": round(len(commits) / dt, 1), "records_per_s": round(n / dt),
            "commit_p50_ms": round(1000 * statistics.median(commits), 2),
            "commit_p99_ms": round(1000 * commits[int(0.99 * (len(commits) - 1))], 2),
            "broker_cpu_us_per_record": round(cpu * 1e6 / n, 2)}


def consume(boot: str, topic: str, n: int, isolation: str, pid: int) -> dict:
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": boot, "group.id": f"b-{isolation}",
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "fetch.max.bytes": 52428800})
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    cpu0, t0 = cpu_secs(pid), time.monotonic()
    while got < n and time.monotonic() - t0 < 120:
        got += sum(1 for m in c.consume(10000, 1.0) if not m.error())
    dt, cpu = time.monotonic() - t0, cpu_secs(pid) - cpu0
    c.close()
    return {"records": got, "records_per_s": round(got / dt),
            "broker_cpu_us_per_record": round(cpu * 1e6 / max(got, 1), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--per-txn", type=int, default=100)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--producers", default="1,8",
                    help="comma-separated counts of concurrent transactional producers")
    a = ap.parse_args()
    binary = os.environ.get("STRATA_BIN", str(ROOT / "target" / "release" / "strata"))
    payload = b"x" * a.size
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_broker(binary, os.path.join(tmp, "data"))
        boot = f"127.0.0.1:{port}"
        try:
            create(boot, "idem")
            create(boot, "txn")
            idem = produce_idempotent(boot, "idem", a.records, payload, proc.pid)
            print(json.dumps({"case": "idempotent", "records": a.records, "size": a.size, **idem}))
            for count in (int(x) for x in a.producers.split(",")):
                txn = produce_transactions(boot, "txn", a.records, a.per_txn, payload,
                                           proc.pid, count)
                print(json.dumps({"case": "transactions", "records": a.records,
                                  "per_txn": a.per_txn, "size": a.size, **txn}))
                print("transactions, %d producer(s): %.1f txn/s of %d records, %.0f%% of "
                      "idempotent records/s, commit p50 %.2f ms p99 %.2f ms" % (
                          count, txn["transactions_per_s"], a.per_txn,
                          100 * txn["records_per_s"] / idem["records_per_s"],
                          txn["commit_p50_ms"], txn["commit_p99_ms"]))
            total = a.records * len(a.producers.split(","))
            rc = consume(boot, "txn", total, "read_committed", proc.pid)
            print(json.dumps({"case": "consume_read_committed", **rc}))
            ru = consume(boot, "txn", total, "read_uncommitted", proc.pid)
            print(json.dumps({"case": "consume_read_uncommitted", **ru}))
            print("read_committed consume: %.0f%% of read_uncommitted" % (
                100 * rc["records_per_s"] / ru["records_per_s"]))
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
