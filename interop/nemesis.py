"""Issue 11 nemesis: faults against a three-node cluster under an acks=all workload.

Three real `strata server` nodes (Raft voters), a topic with three partitions,
replication factor 3 and `min.insync.replicas=2`, and an idempotent acks=all
confluent-kafka producer writing increasing numbers to every partition. A seeded
schedule of faults, one at a time, is printed first so a failing run can be replayed:

- `pause-leader` / `pause-controller`: SIGSTOP of a partition leader or of the active
  controller, then SIGCONT;
- `kill`: kill -9 of a node, then a restart;
- `term`: SIGTERM of a node (it must exit 0), then a restart;
- `partition`: a node's network link goes down, then up (nodes in network namespaces;
  needs root);
- `disk-full`: a node's data dir (a small tmpfs of its own; needs root) is filled to the
  last block, then freed.

Between faults the cluster must heal by itself: every node registered and every replica
back in the ISR. At the end the checker reads every partition back and reports the
acknowledged values that are missing (lost), the values found twice (duplicated), the
acknowledged values out of order (reordered), the longest gap between acknowledgements
per fault (stalls, split into partitions the faulty node led and the others), and, after
a clean stop of every node, whether the replicas are byte-identical.

`python3 nemesis.py --seed N --faults 20` runs a schedule outside pytest (see
`bench/nemesis.sh`) and prints the report as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import logging
import os
import pathlib
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import netns
from broker import Broker, BrokerError, free_port
from cluster import Cluster, wait_for
from txn_workload import TXN_TOPIC, TxnWorkload

TOPIC = "nemesis"
PARTITIONS = 3
ALL_FAULTS = ["pause-leader", "pause-controller", "kill", "term", "partition", "disk-full"]
DISK_MB = 256


@dataclasses.dataclass
class Fault:
    kind: str
    # Which node: chosen when the fault starts (a leader or the controller is found then);
    # `pick` makes that choice replayable.
    pick: int
    hold_s: float


def schedule(seed: int, count: int, kinds: list[str], max_hold_s: float) -> list[Fault]:
    """`count` faults; every kind comes once (in a seeded order) before any repeats."""
    rng = random.Random(seed)
    order: list[str] = []
    while len(order) < count:
        round_ = list(kinds)
        rng.shuffle(round_)
        order += round_
    return [Fault(k, rng.randrange(1 << 30), round(rng.uniform(1.0, max_hold_s), 1))
            for k in order[:count]]


class Workload:
    """An idempotent acks=all producer writing 0, 1, 2, ... to every partition."""

    def __init__(self, bootstrap: str, interval_s: float = 0.005,
                 debug_log: pathlib.Path | None = None, idempotent: bool = True,
                 extra: dict | None = None):
        self.lock = threading.Lock()
        self.acked: dict[int, list[tuple[float, int, int]]] = {p: [] for p in range(PARTITIONS)}
        self.failed: dict[str, int] = {}
        self.fatal: str | None = None
        self.sent = 0
        self.stopped_at = float("inf")
        self._stop = threading.Event()
        self._interval = interval_s
        config = {
            "bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": idempotent,
            "linger.ms": 5, "message.timeout.ms": 120000,
            "error_cb": self._error}
        config.update(extra or {})
        if debug_log is not None:
            # The producer's idempotence decisions (epoch bumps, retries), for a failed run.
            logger = logging.getLogger(f"nemesis-producer-{id(self)}")
            logger.setLevel(logging.DEBUG)
            logger.addHandler(logging.FileHandler(debug_log))
            logger.propagate = False
            config.update({"debug": "eos,protocol", "logger": logger})
        self._producer = Producer(config)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _error(self, err):
        if err.fatal():
            with self.lock:
                self.fatal = str(err)

    def _report(self, err, msg):
        with self.lock:
            if err is None:
                self.acked[msg.partition()].append(
                    (time.monotonic(), int(msg.value()), msg.offset()))
            else:
                self.failed[err.name()] = self.failed.get(err.name(), 0) + 1

    def _run(self):
        n = 0
        while not self._stop.is_set() and self.fatal is None:
            for p in range(PARTITIONS):
                try:
                    self._producer.produce(TOPIC, str(n).encode(), partition=p,
                                           on_delivery=self._report)
                except BufferError:
                    self._producer.poll(0.1)
                    continue
            n += 1
            self.sent = n * PARTITIONS
            self._producer.poll(self._interval)

    def start(self):
        self._thread.start()

    def stop(self) -> int:
        self.stopped_at = time.monotonic()
        self._stop.set()
        self._thread.join(30)
        return self._producer.flush(180)


class Nemesis:
    def __init__(self, tmp: pathlib.Path, use_netns: bool | None = None,
                 use_tmpfs: bool | None = None, log=print):
        self.tmp = pathlib.Path(tmp)
        self.log = log
        root = os.geteuid() == 0
        self.use_netns = root and netns.unavailable_reason() is None if use_netns is None \
            else use_netns
        self.use_tmpfs = root if use_tmpfs is None else use_tmpfs
        self.lab: netns.NetnsLab | None = None
        self.mounts: list[pathlib.Path] = []
        self.cluster: Cluster | None = None
        self.events: list[dict] = []

    # ---- set-up and tear-down ------------------------------------------------------

    def kinds(self) -> list[str]:
        kinds = list(ALL_FAULTS)
        if not self.use_netns:
            kinds.remove("partition")
        if not self.use_tmpfs:
            kinds.remove("disk-full")
        return kinds

    def setup(self):
        if self.use_netns:
            self.lab = netns.NetnsLab(3)
            self.lab.setup()
            self.lab.check_connectivity()
        c = Cluster.__new__(Cluster)
        c.nodes = []
        ctrl = [free_port() for _ in range(3)]
        addr = self.lab.addr if self.lab else ["127.0.0.1"] * 3
        voters = ",".join(f"{i + 1}@{addr[i]}:{ctrl[i]}" for i in range(3))
        for i in range(3):
            args = ["--node-id", str(i + 1), "--voters", voters]
            b = Broker(self.tmp / f"node-{i + 1}", f"node-{i + 1}", args, host=addr[i],
                       wrap=self.lab.exec_prefix(i) if self.lab else None)
            b.data_dir.mkdir(parents=True, exist_ok=True)
            if self.use_tmpfs:
                subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs",
                                str(b.data_dir)], check=True)
                self.mounts.append(b.data_dir)
            c.nodes.append(b)
        self.cluster = c
        c.start()
        admin = c.admin()
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3,
                                      config={"min.insync.replicas": "2"})])[TOPIC].result(15)
        self.wait_healthy()

    def teardown(self) -> list[str]:
        problems = []
        if self.cluster:
            for b in self.cluster.nodes:
                if b.proc is not None and b.proc.poll() is None:
                    os.kill(b.proc.pid, signal.SIGCONT)
                try:
                    b.stop(10)
                except BrokerError:
                    problems.append(f"{b.name} did not stop")
        if self.lab:
            problems += [p for p in self.lab.teardown() if not p.startswith("killed leftover")]
        for m in self.mounts:
            subprocess.run(["umount", "-l", str(m)], check=False)
        return problems

    # ---- cluster views ---------------------------------------------------------------

    def running(self) -> list[Broker]:
        return [b for b in self.cluster.nodes if b.running()]

    def admin(self, exclude: Broker | None = None) -> AdminClient:
        return AdminClient({"bootstrap.servers": ",".join(
            b.bootstrap for b in self.running() if b is not exclude)})

    def leaders(self, exclude: Broker | None = None) -> dict[int, int]:
        md = self.admin(exclude).list_topics(TOPIC, timeout=5)
        return {p: md.topics[TOPIC].partitions[p].leader for p in range(PARTITIONS)}

    def controller(self) -> int:
        admin = self.admin()  # kept alive until the future completes
        return admin.describe_cluster(request_timeout=5).result(10).controller.id

    def healthy(self) -> bool:
        md = self.admin().list_topics(TOPIC, timeout=5)
        if len(md.brokers) != 3:
            return False
        parts = md.topics[TOPIC].partitions
        return all(len(parts[p].isrs) == 3 and parts[p].leader >= 0 for p in range(PARTITIONS))

    def wait_healthy(self, timeout: float = 60.0) -> float:
        start = time.monotonic()
        wait_for(self.healthy, "every node registered and every replica in sync", timeout)
        return time.monotonic() - start

    # ---- faults ----------------------------------------------------------------------

    def target(self, fault: Fault) -> int:
        """The node id a fault hits (1-based)."""
        if fault.kind == "pause-leader":
            leaders = self.leaders()
            return leaders[fault.pick % PARTITIONS]
        if fault.kind == "pause-controller":
            return self.controller()
        return fault.pick % 3 + 1

    def inject(self, fault: Fault) -> dict:
        node_id = self.target(fault)
        b = self.cluster.nodes[node_id - 1]
        led = [p for p, l in self.leaders().items() if l == node_id]
        event = {"kind": fault.kind, "node": node_id, "hold_s": fault.hold_s, "led": led}
        self.log(f"fault {fault.kind} on node {node_id} for {fault.hold_s}s (leads {led})")
        event["start"] = time.monotonic()
        event["wall"] = time.time()
        if fault.kind in ("pause-leader", "pause-controller"):
            os.kill(b.proc.pid, signal.SIGSTOP)
            event["failover_s"] = self.failover(b, node_id, led, event["start"],
                                                fault.hold_s)
            time.sleep(max(0.0, event["start"] + fault.hold_s - time.monotonic()))
            os.kill(b.proc.pid, signal.SIGCONT)
        elif fault.kind == "kill":
            b.kill()
            time.sleep(fault.hold_s)
            b.restart()
        elif fault.kind == "term":
            code = b.stop(30)
            event["exit_code"] = code
            time.sleep(fault.hold_s)
            b.restart()
        elif fault.kind == "partition":
            self.lab.isolate(node_id - 1)
            time.sleep(fault.hold_s)
            self.lab.heal(node_id - 1)
        elif fault.kind == "disk-full":
            filler = b.data_dir / "nemesis-filler"
            fill(filler)
            time.sleep(fault.hold_s)
            os.remove(filler)
        else:
            raise ValueError(fault.kind)
        event["end"] = time.monotonic()
        event["heal_s"] = round(self.wait_healthy(), 2)
        b.assert_alive()
        self.events.append(event)
        return event

    def failover(self, b: Broker, node_id: int, led: list[int], start: float,
                 hold_s: float) -> float | None:
        """While `b` is paused: seconds until another node's metadata names new leaders
        for every partition `b` led (the broker's side of the failover; a client's
        requests already in flight to `b` wait for it regardless). None if not within
        the hold."""
        if not led:
            return None
        while time.monotonic() < start + hold_s:
            try:
                leaders = self.leaders(exclude=b)
                if all(leaders[p] not in (-1, node_id) for p in led):
                    return round(time.monotonic() - start, 2)
            except Exception:  # noqa: BLE001 - a metadata call may time out meanwhile
                pass
            time.sleep(0.05)
        return None

    # ---- the run and its check -------------------------------------------------------

    def run(self, faults: list[Fault], gap_s: float = 2.0, idempotent: bool = True,
            producer_config: dict | None = None, txn_writers: int = 0,
            seed: int = 0) -> dict:
        """Runs the workload (and `txn_writers` transactional producers, see
        txn_workload.py) through `faults`, then checks what was acknowledged."""
        bootstrap = ",".join(b.bootstrap for b in self.cluster.nodes)
        work = Workload(bootstrap, debug_log=self.tmp / "producer.log",
                        idempotent=idempotent, extra=producer_config)
        txn = TxnWorkload(bootstrap, txn_writers, seed) if txn_writers else None
        if txn:
            txn.create_topic()
            txn.start()
        work.start()
        time.sleep(gap_s)
        for f in faults:
            self.inject(f)
            time.sleep(gap_s)
        left = work.stop()
        if txn:
            txn.stop()
        self.wait_healthy()
        report = self.check(work)
        report["undelivered"] = left
        if txn:
            report.update(txn.check())
            report["txn_anomalies"] = txn.anomalies(report)
        return report

    def read_back(self) -> dict[int, list[tuple[int, int]]]:
        """Every record of every partition below its high-water mark, in offset order, as
        (offset, value). One consumer per partition: the values repeat across partitions,
        so a message still buffered from another assignment must never be counted here."""
        out: dict[int, list[tuple[int, int]]] = {}
        for p in range(PARTITIONS):
            c = Consumer({"bootstrap.servers": ",".join(b.bootstrap for b in self.cluster.nodes),
                          "group.id": f"nemesis-check-{p}", "enable.auto.commit": False})
            try:
                _, high = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
                c.assign([TopicPartition(TOPIC, p, 0)])
                values: list[tuple[int, int]] = []
                last = -1
                deadline = time.monotonic() + 120
                while last < high - 1 and time.monotonic() < deadline:
                    for m in c.consume(5000, timeout=0.5):
                        if m.error() is None and m.partition() == p and m.topic() == TOPIC:
                            assert m.offset() > last, f"partition {p}: offset {m.offset()} after {last}"
                            values.append((m.offset(), int(m.value())))
                            last = m.offset()
                assert last == high - 1, f"partition {p}: read to {last}, high-water mark {high}"
                out[p] = values
            finally:
                c.close()
        return out

    def batches_around(self, partition: int, offsets: list[int]) -> list[dict]:
        """The headers of the stored batches holding `offsets`, from node 1's files (the
        replicas are compared byte for byte separately): who wrote them, when, in which
        leader epoch, with which producer sequence."""
        part = self.cluster.nodes[0].data_dir / f"{TOPIC}-{partition}"
        found = []
        for seg in sorted(part.glob("*.log")):
            data = seg.read_bytes()
            pos = 0
            while pos + 61 <= len(data):
                base, length, leader_epoch = struct.unpack_from(">qii", data, pos)
                last_delta, first_ts, max_ts, pid, pepoch, seq, count = struct.unpack_from(
                    ">iqqqhii", data, pos + 23)
                if any(base <= o <= base + last_delta for o in offsets):
                    found.append({"segment": seg.name, "position": pos, "base_offset": base,
                                  "last_offset": base + last_delta, "leader_epoch": leader_epoch,
                                  "producer_id": pid, "producer_epoch": pepoch,
                                  "base_sequence": seq, "records": count,
                                  "max_timestamp": max_ts})
                pos += 12 + length
        return found

    def check(self, work: Workload) -> dict:
        logged = self.read_back()
        lost = duplicated = reordered = 0
        examples = []
        duplicates = []
        for p in range(PARTITIONS):
            values = [v for _, v in logged[p]]
            first_at: dict[int, int] = {}
            for o, v in logged[p]:
                if v in first_at:
                    duplicated += 1
                    if len(duplicates) < 10:
                        duplicates.append({"partition": p, "value": v,
                                           "offsets": [first_at[v], o]})
                else:
                    first_at[v] = o
            seen = set(first_at)
            acked = {v for _, v, _ in work.acked[p]}
            missing = acked - seen
            lost += len(missing)
            at = {v: (round(t, 2), o) for t, v, o in work.acked[p]}
            examples += [{"partition": p, "value": v, "acked_at_offset": at[v][1],
                          "acked_at": at[v][0]} for v in sorted(missing)[:5]]
            in_log = [v for v in values if v in acked]
            reordered += sum(1 for a, b in zip(in_log, in_log[1:]) if b <= a)
        for d in duplicates:
            d["acked_at_offset"] = next((o for _, v, o in work.acked[d["partition"]]
                                         if v == d["value"]), None)
            d["batches"] = self.batches_around(d["partition"], d["offsets"])
        stalls = []
        for i, e in enumerate(self.events):
            led, other = 0.0, 0.0
            gaps = {}
            # Up to 5 s after the fault healed, but never into the next fault or past the
            # end of the workload.
            until = min(e["end"] + 5, work.stopped_at)
            if i + 1 < len(self.events):
                until = min(until, self.events[i + 1]["start"])
            for p in range(PARTITIONS):
                gap, since = longest_gap([t for t, _, _ in work.acked[p]], e["start"], until)
                # When each partition's longest stall began, from the fault's start.
                gaps[p] = [round(since - e["start"], 2), round(gap, 2)]
                if p in e["led"]:
                    led = max(led, gap)
                else:
                    other = max(other, gap)
            stalls.append({"kind": e["kind"], "node": e["node"], "hold_s": e["hold_s"],
                           "at": round(e["start"], 2), "wall": round(e["wall"], 3),
                           "led": e["led"], "gaps": gaps,
                           "stall_led_s": round(led, 2), "stall_other_s": round(other, 2),
                           "heal_s": e["heal_s"], "exit_code": e.get("exit_code"),
                           "failover_s": e.get("failover_s")})
        return {
            "acked": sum(len(a) for a in work.acked.values()),
            "sent": work.sent,
            "failed_deliveries": work.failed,
            "fatal": work.fatal,
            "lost": lost,
            "lost_examples": examples,
            "duplicated": duplicated,
            "duplicate_examples": duplicates,
            "reordered": reordered,
            "faults": stalls,
        }

    def stop_and_compare(self) -> dict:
        """Stops every node cleanly and compares each partition's bytes across replicas."""
        codes = {}
        for b in self.cluster.nodes:
            codes[b.name] = b.stop(30)
        differ = []
        for topic in (TOPIC, TXN_TOPIC):
            for p in range(PARTITIONS):
                blobs = {b.name: b"".join(f.read_bytes() for f in
                                          sorted((b.data_dir / f"{topic}-{p}").glob("*.log")))
                         for b in self.cluster.nodes}
                if len(set(blobs.values())) != 1:
                    differ.append({"topic": topic, "partition": p,
                                   "sizes": {k: len(v) for k, v in blobs.items()}})
        return {"exit_codes": codes, "replicas_differ": differ}


def longest_gap(times: list[float], start: float, end: float) -> tuple[float, float]:
    """The longest time without an acknowledgement inside [start, end], and when it began."""
    inside = [start] + [t for t in times if start < t < end] + [end]
    return max((b - a, a) for a, b in zip(inside, inside[1:]))


def fill(path: pathlib.Path) -> None:
    """Writes zeros to `path` until its filesystem has no block left."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 512):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--faults", type=int, default=10)
    ap.add_argument("--max-hold", type=float, default=8.0)
    ap.add_argument("--kinds", default=",".join(ALL_FAULTS))
    ap.add_argument("--dir", default=None)
    ap.add_argument("--producer", action="append", default=[], metavar="KEY=VALUE",
                    help="extra librdkafka producer setting (repeatable)")
    ap.add_argument("--txn-writers", type=int, default=2,
                    help="concurrent transactional producers checked too (0: none)")
    ap.add_argument("--no-idempotence", action="store_true",
                    help="a plain acks=all producer (retries may duplicate; for stalls)")
    args = ap.parse_args()
    tmp = pathlib.Path(args.dir or tempfile.mkdtemp(prefix="strata-nemesis-"))
    n = Nemesis(tmp, log=lambda s: print(s, file=sys.stderr, flush=True))
    kinds = [k for k in args.kinds.split(",") if k in n.kinds()]
    faults = schedule(args.seed, args.faults, kinds, args.max_hold)
    print(f"seed {args.seed}: {[dataclasses.asdict(f) for f in faults]}", file=sys.stderr)
    try:
        n.setup()
        report = n.run(faults, idempotent=not args.no_idempotence,
                       producer_config=dict(kv.split("=", 1) for kv in args.producer),
                       txn_writers=args.txn_writers, seed=args.seed)
        report.update(n.stop_and_compare())
    finally:
        problems = n.teardown()
    report.update({"seed": args.seed, "dir": str(tmp), "teardown_problems": problems})
    print(json.dumps(report, indent=1))
    ok = (report["lost"] == report["duplicated"] == report["reordered"] == 0
          and not report["replicas_differ"] and not report["fatal"]
          and not report.get("txn_anomalies")
          and all(c == 0 for c in report["exit_codes"].values()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
