#!/usr/bin/env python3
"""Failover time of a local 3-node cluster (issue 4).

Starts three `strata server` nodes (all voters) on loopback, creates a topic with one
partition, replication factor 3 and min.insync.replicas=2, and produces to it with a
confluent-kafka producer (acks=all) at a steady rate. Then `kill -9`s the partition
leader and reports the time from the kill to the first acknowledgement of a record
produced after it. Repeats RUNS times (a fresh cluster each time), choosing whether the
killed leader is also the active controller (Raft leader) or not.

Usage: bench/failover.py [--runs 3] [--controller-too]
Needs the release binary (STRATA_BIN or target/release/strata) and the repo venv.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("STRATA_BIN", os.path.join(ROOT, "target", "release", "strata"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, node_id, voters, kafka, ctrl, http, data):
        self.id, self.kafka, self.http, self.data = node_id, kafka, http, data
        self.args = [BIN, "server", "--node-id", str(node_id), "--data-dir", data,
                     "--listen", f"127.0.0.1:{kafka}", "--http", f"127.0.0.1:{http}", "--registry", "off",
                     "--controller-listen", f"127.0.0.1:{ctrl}", "--voters", voters]
        self.proc = None

    def start(self):
        log = open(os.path.join(self.data + ".log"), "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


def metadata(bootstrap, topic):
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=5)
    return md


def run_once(controller_too, tmp):
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    voters = ",".join(f"{i + 1}@127.0.0.1:{p[1]}" for i, p in enumerate(ports))
    nodes = [Node(i + 1, voters, k, c, h, os.path.join(tmp, f"node-{i + 1}"))
             for i, (k, c, h) in enumerate(ports)]
    for n in nodes:
        n.start()
    bootstrap = ",".join(f"127.0.0.1:{n.kafka}" for n in nodes)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if len(metadata(bootstrap, None).brokers) == 3:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        fs = admin.create_topics([NewTopic("fo", 3, 3, config={"min.insync.replicas": "2"})])
        fs["fo"].result(10)
        time.sleep(1.0)
        md = metadata(bootstrap, "fo")
        controller = md.controller_id
        # Partitions' leaders are spread over the three nodes: pick the one led by the
        # controller (or by another node) to measure that case.
        part = next(i for i, p in md.topics["fo"].partitions.items()
                    if (p.leader == controller) == controller_too)
        leader = md.topics["fo"].partitions[part].leader
        acked = []
        # librdkafka's defaults apart from acks and linger.
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0, **json.loads(os.environ.get("FAILOVER_CLIENT_CONF", "{}"))})

        def report(err, msg):
            if err is None:
                acked.append((time.time(), int(msg.value())))

        seq = 0
        t_end = time.time() + 2
        while time.time() < t_end:
            p.produce("fo", str(seq).encode(), partition=part, on_delivery=report)
            seq += 1
            p.poll(0.001)
        p.flush(10)
        victim = next(n for n in nodes if n.id == leader)
        survivors = ",".join(f"127.0.0.1:{n.kafka}" for n in nodes if n is not victim)
        elected = {}

        def watch_metadata():
            admin = AdminClient({"bootstrap.servers": survivors})
            while "at" not in elected and time.time() < killed_at + 30:
                try:
                    md = admin.list_topics("fo", timeout=2)
                    if md.topics["fo"].partitions[part].leader not in (-1, leader):
                        elected["at"] = time.time()
                except Exception:
                    pass
                time.sleep(0.02)

        import threading
        killed_at = time.time()
        victim.kill9()
        watcher = threading.Thread(target=watch_metadata)
        watcher.start()
        first_after = seq
        first_ack = None
        stop_at = time.time() + 30
        while time.time() < stop_at and first_ack is None:
            p.produce("fo", str(seq).encode(), partition=part, on_delivery=report)
            seq += 1
            p.poll(0.002)
            later = [t for (t, v) in acked if v >= first_after]
            if later:
                first_ack = min(later)
        p.flush(30)
        watcher.join()
        md = metadata(",".join(f"127.0.0.1:{n.kafka}" for n in nodes if n is not victim), "fo")
        return {"leader_killed": leader, "was_controller": leader == controller,
                "failover_s": round(first_ack - killed_at, 3) if first_ack else None,
                "new_leader_in_metadata_s": round(elected["at"] - killed_at, 3) if "at" in elected else None,
                "new_leader": md.topics["fo"].partitions[part].leader,
                "acked_total": len(acked), "produced": seq}
    finally:
        for n in nodes:
            n.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--controller-too", action="store_true")
    a = ap.parse_args()
    results = []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_once(a.controller_too, tmp)
            print(json.dumps(r), flush=True)
            results.append(r)
    times = sorted(r["failover_s"] for r in results if r["failover_s"] is not None)
    if times:
        print(json.dumps({"median_failover_s": times[len(times) // 2], "runs": len(results)}))
    return 0 if len(times) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
