#!/usr/bin/env python3
"""Client side of bench/scale.sh (confluent-kafka, i.e. librdkafka, from the repo's .venv).

Each subcommand is bounded in time and prints exactly one JSON line on stdout
(diagnostics on stderr). Counts and offsets cover the topics whose whole name matches
--topics REGEX (default: all but internal `__*` topics).

  create   BOOT PREFIX TOPICS PARTS   one CreateTopics request with TOPICS topics
                                      PREFIX-0..PREFIX-(TOPICS-1), PARTS partitions each
  metadata BOOT RUNS                  time RUNS full Metadata requests (all topics),
                                      after one warm-up; median/min/max ms, and the counts
                                      of topics, partitions and partitions with a leader
  ready    BOOT PORT EXPECTED START   after a restart (or create) begun at epoch START:
                                      wait for the port, then until a full Metadata lists
                                      EXPECTED partitions with leaders; seconds since
                                      START. With --pid, gives up when that process is gone
  hwm      BOOT                       sum of the latest offsets (ListOffsets) of every
                                      partition of every topic
  produce  BOOT TOPIC COUNT RECORDS SIZE
                                      keyed records (key-<i>) spread over the partitions of
                                      TOPIC (COUNT 0) or of TOPIC-0..TOPIC-(COUNT-1) (record i
                                      to topic i % COUNT), acks=1, linger 5 ms,
                                      librdkafka defaults otherwise; for the many-topics
                                      mode, which kbench (one topic per run) cannot drive

Options: --timeout S (overall bound, default 120), --topics REGEX.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import sys
import struct
import time

from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec


def conf(boot: str) -> dict:
    # Short reconnect backoff: after a restart the client must notice the broker at once
    # (librdkafka's default backoff grows to 10 s and would be measured as broker time).
    return {
        "bootstrap.servers": boot,
        "client.id": "strata-scale-bench",
        "reconnect.backoff.ms": 20,
        "reconnect.backoff.max.ms": 100,
        "log_level": 2,  # not every refused connection while a broker restarts
    }


def out(**kw) -> None:
    print(json.dumps(kw), flush=True)


def wanted(name: str, regex: str | None) -> bool:
    return re.fullmatch(regex, name) is not None if regex else not name.startswith("__")


def counts(md, regex: str | None) -> tuple[int, int, int]:
    topics = partitions = led = 0
    for name, t in md.topics.items():
        if not wanted(name, regex):
            continue
        topics += 1
        for p in t.partitions.values():
            partitions += 1
            if p.error is None and p.leader is not None and p.leader >= 0:
                led += 1
    return topics, partitions, led


def cmd_create(a) -> None:
    admin = AdminClient(conf(a.boot))
    topics = [NewTopic(f"{a.prefix}-{i}", a.parts, 1) for i in range(a.topics)]
    start = time.monotonic()
    futs = admin.create_topics(topics, operation_timeout=a.timeout, request_timeout=a.timeout)
    ok, errors, first = 0, 0, None
    for name, f in futs.items():
        try:
            f.result(timeout=max(1.0, a.timeout - (time.monotonic() - start)))
            ok += 1
        except Exception as e:  # noqa: BLE001 - report, do not die
            errors += 1
            first = first or f"{name}: {e}"
    out(created=ok, errors=errors, first_error=first, secs=round(time.monotonic() - start, 3))


def cmd_metadata(a) -> None:
    admin = AdminClient(conf(a.boot))
    deadline = time.monotonic() + a.timeout
    ms, md, err = [], None, None
    for i in range(a.runs + 1):  # the first is a warm-up (connection, ApiVersions)
        left = deadline - time.monotonic()
        if left <= 0:
            err = err or "timeout"
            break
        t0 = time.perf_counter()
        try:
            md = admin.list_topics(timeout=min(30.0, left))
        except KafkaException as e:
            err = str(e)
            continue
        if i > 0:
            ms.append((time.perf_counter() - t0) * 1000)
    topics, partitions, led = counts(md, a.topics_re) if md else (0, 0, 0)
    wire_ms, wire_bytes = wire_metadata(a.boot, a.runs)
    out(wire_median_ms=round(statistics.median(wire_ms), 2) if wire_ms else None,
        wire_bytes=wire_bytes,
        runs=len(ms), median_ms=round(statistics.median(ms), 2) if ms else None,
        min_ms=round(min(ms), 2) if ms else None, max_ms=round(max(ms), 2) if ms else None,
        topics=topics, partitions=partitions, partitions_with_leader=led, error=err)


def wire_metadata(boot: str, runs: int) -> tuple[list[float], int]:
    """Times full Metadata requests (v1, all topics) on a raw socket, from sending the
    request to the last byte of the response: the broker's part, without a client
    library turning 100,000 partitions into objects. The first run warms up."""
    host, port = boot.rsplit(":", 1)
    times, size = [], 0
    try:
        with socket.create_connection((host, int(port)), timeout=30) as s:
            for i in range(runs + 1):
                body = struct.pack(">hhih", 3, 1, i, 5) + b"scale" + struct.pack(">i", -1)
                t0 = time.perf_counter()
                s.sendall(struct.pack(">i", len(body)) + body)
                head = b""
                while len(head) < 4:
                    head += s.recv(4 - len(head))
                size, got = struct.unpack(">i", head)[0], 0
                while got < size:
                    chunk = s.recv(min(1 << 20, size - got))
                    if not chunk:
                        raise OSError("connection closed")
                    got += len(chunk)
                if i > 0:
                    times.append((time.perf_counter() - t0) * 1000)
    except OSError:
        pass
    return times, size


def gone(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def cmd_ready(a) -> None:
    deadline = time.time() + a.timeout
    port_open = None
    while time.time() < deadline and not gone(a.pid):
        try:
            socket.create_connection(("127.0.0.1", a.port), timeout=1).close()
            port_open = time.time() - a.start
            break
        except OSError:
            time.sleep(0.01)
    seen = (0, 0, 0)
    if port_open is not None:
        admin = AdminClient(conf(a.boot))
        while time.time() < deadline and not gone(a.pid):
            try:
                md = admin.list_topics(timeout=max(0.5, min(10.0, deadline - time.time())))
                seen = counts(md, a.topics_re)
                if seen[2] >= a.expected:
                    out(ready=True, secs=round(time.time() - a.start, 3),
                        port_open_secs=round(port_open, 3), partitions=seen[1],
                        partitions_with_leader=seen[2])
                    return
            except KafkaException:
                pass
            time.sleep(0.02)
    out(ready=False, secs=None, port_open_secs=round(port_open, 3) if port_open else None,
        partitions=seen[1], partitions_with_leader=seen[2],
        waited_secs=round(time.time() - a.start, 3), broker_gone=gone(a.pid))


def cmd_hwm(a) -> None:
    admin = AdminClient(conf(a.boot))
    try:
        md = admin.list_topics(timeout=min(30.0, a.timeout))
    except KafkaException as e:
        out(partitions=0, sum=None, errors=None, error=str(e))
        return
    tps = [TopicPartition(name, p) for name, t in md.topics.items()
           if wanted(name, a.topics_re) for p in t.partitions]
    total, errors, first = 0, 0, None
    start = time.monotonic()
    if tps:
        futs = admin.list_offsets({tp: OffsetSpec.latest() for tp in tps}, request_timeout=a.timeout)
        for tp, f in futs.items():
            try:
                total += f.result(timeout=max(1.0, a.timeout - (time.monotonic() - start))).offset
            except Exception as e:  # noqa: BLE001
                errors += 1
                first = first or f"{tp.topic}-{tp.partition}: {e}"
    out(partitions=len(tps), sum=total, errors=errors, first_error=first)


def cmd_produce(a) -> None:
    c = conf(a.boot)
    c.update({"acks": "1", "linger.ms": 5})
    state = {"ok": 0, "err": 0, "first": None, "last": 0.0}

    def report(err, _msg):
        state["last"] = time.perf_counter()
        if err is None:
            state["ok"] += 1
        else:
            state["err"] += 1
            state["first"] = state["first"] or str(err)

    p = Producer(c, on_delivery=report)
    names = [f"{a.topic}-{i}" for i in range(a.count)] if a.count > 0 else [a.topic]
    p.list_topics(timeout=min(30.0, a.timeout))  # warm-up, as kbench does
    payload = os.urandom(a.size)
    deadline = time.monotonic() + a.timeout
    start = time.perf_counter()
    sent = 0
    for i in range(a.records):
        queued = False
        while not queued and time.monotonic() <= deadline:
            try:
                p.produce(names[i % len(names)], payload, key=b"key-%d" % i)
                queued = True
            except BufferError:
                p.poll(0.001)
        if not queued:
            break
        sent += 1
        if i % 1000 == 0:
            p.poll(0)
    p.flush(max(1.0, deadline - time.monotonic()))
    secs = max(1e-9, (state["last"] or time.perf_counter()) - start)
    out(tool="python-confluent-kafka", msgs=state["ok"], secs=round(secs, 3),
        msgs_per_s=round(state["ok"] / secs), errors=state["err"],
        undelivered=sent - state["ok"] - state["err"], unsent=a.records - sent,
        first_error=state["first"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--topics", dest="topics_re", default=None)
    ap.add_argument("--pid", type=int, default=None)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("create"); s.add_argument("boot"); s.add_argument("prefix")
    s.add_argument("topics", type=int); s.add_argument("parts", type=int)
    s = sub.add_parser("metadata"); s.add_argument("boot"); s.add_argument("runs", type=int)
    s = sub.add_parser("ready"); s.add_argument("boot"); s.add_argument("port", type=int)
    s.add_argument("expected", type=int); s.add_argument("start", type=float)
    s = sub.add_parser("hwm"); s.add_argument("boot")
    s = sub.add_parser("produce"); s.add_argument("boot"); s.add_argument("topic")
    s.add_argument("count", type=int); s.add_argument("records", type=int); s.add_argument("size", type=int)
    a = ap.parse_args()
    {"create": cmd_create, "metadata": cmd_metadata, "ready": cmd_ready, "hwm": cmd_hwm,
     "produce": cmd_produce}[a.cmd](a)


if __name__ == "__main__":
    main()
