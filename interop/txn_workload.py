"""The nemesis suite's transaction checker (issue 14).

Concurrent transactional producers (confluent-kafka, one transactional id each) run
while the nemesis injects its faults. Every transaction of writer `w` numbered `t`
writes the values `w:t:p:i` (i < PER_PARTITION) to every partition of its topic, so one
transaction spans partitions led by different nodes, then commits, or aborts about one
time in four (seeded). Each transaction's outcome as the client saw it is kept:
`committed` (commit_transaction returned), `aborted` (abort_transaction returned) or
`unknown` (the client gave up: a fatal error or a failed abort; a new producer with the
same transactional id then fences the old one).

Once the faults are over and the writers have stopped, the checker waits for every
partition's last stable offset to reach its high-water mark (a transaction left open
would hang read_committed consumers for good), reads each partition to its end with a
read_committed consumer and counts the anomalies the published Jepsen analysis of a
Kafka-compatible system found:

- aborted reads: a record of a transaction the client saw aborted is visible;
- lost writes: a record of a transaction the client saw committed is missing;
- torn transactions: some but not all of a transaction's records are visible (for any
  outcome, unknown included);
- duplicates: a value visible twice;
- reordering: one writer's transactions out of order within a partition;
- hanging: a partition whose LSO never reached its high-water mark.
"""

from __future__ import annotations

import random
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TXN_TOPIC = "nemesis-txn"
PARTITIONS = 3
PER_PARTITION = 2
ABORT_ONE_IN = 4


class TxnWorkload:
    def __init__(self, bootstrap: str, writers: int = 2, seed: int = 0,
                 pause_s: float = 0.02):
        self.bootstrap = bootstrap
        self.writers = writers
        self.seed = seed
        self.pause_s = pause_s
        self.lock = threading.Lock()
        # (writer, txn) -> committed | aborted | unknown
        self.outcomes: dict[tuple[int, int], str] = {}
        self.errors: dict[str, int] = {}
        self.producers_made = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._writer, args=(w,), daemon=True)
                         for w in range(writers)]

    def create_topic(self):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.create_topics([NewTopic(TXN_TOPIC, PARTITIONS, 3,
                                      config={"min.insync.replicas": "2"})]
                            )[TXN_TOPIC].result(15)

    def start(self):
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(120)
        assert not any(t.is_alive() for t in self._threads), "a transactional writer hangs"

    # ---- the writers -----------------------------------------------------------------

    def _note(self, err) -> None:
        with self.lock:
            name = err.name() if hasattr(err, "name") else type(err).__name__
            self.errors[name] = self.errors.get(name, 0) + 1

    def _producer(self, w: int) -> Producer | None:
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all",
                      "transactional.id": f"nemesis-txn-{self.seed}-{w}",
                      "transaction.timeout.ms": 15000, "linger.ms": 2})
        try:
            p.init_transactions(60)
        except KafkaException as e:
            self._note(e.args[0])
            return None
        with self.lock:
            self.producers_made += 1
        return p

    def _writer(self, w: int):
        rng = random.Random(f"{self.seed}-{w}")
        p = None
        t = 0
        while not self._stop.is_set():
            if p is None:
                p = self._producer(w)
                if p is None:
                    time.sleep(0.5)
                    continue
            t += 1
            outcome = self._transaction(p, w, t, commit=rng.randrange(ABORT_ONE_IN) != 0)
            with self.lock:
                self.outcomes[(w, t)] = outcome
            if outcome == "unknown":
                p = None  # the next producer's InitProducerId fences this one
            time.sleep(self.pause_s)

    def _transaction(self, p: Producer, w: int, t: int, commit: bool) -> str:
        try:
            p.begin_transaction()
            for part in range(PARTITIONS):
                for i in range(PER_PARTITION):
                    p.produce(TXN_TOPIC, f"{w}:{t}:{part}:{i}".encode(), partition=part)
            if not commit:
                p.abort_transaction(60)
                return "aborted"
            for _ in range(10):
                try:
                    p.commit_transaction(60)
                    return "committed"
                except KafkaException as e:
                    if not e.args[0].retriable():
                        raise
                    self._note(e.args[0])
            return "unknown"
        except KafkaException as e:
            err = e.args[0]
            self._note(err)
            if err.txn_requires_abort():
                try:
                    p.abort_transaction(60)
                    return "aborted"
                except KafkaException as e2:
                    self._note(e2.args[0])
            return "unknown"
        except BufferError as e:
            self._note(e)
            return "unknown"

    # ---- the checker -----------------------------------------------------------------

    def _ends(self) -> list[tuple[int, int]]:
        """(LSO, high-water mark) of every partition."""
        ends = []
        for isolation in ("read_committed", "read_uncommitted"):
            c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "nemesis-txn-ends",
                          "isolation.level": isolation})
            try:
                ends.append([c.get_watermark_offsets(TopicPartition(TXN_TOPIC, p),
                                                     timeout=10)[1]
                             for p in range(PARTITIONS)])
            finally:
                c.close()
        return list(zip(ends[0], ends[1]))

    def _read(self, p: int, end: int) -> list[tuple[int, str]]:
        """(offset, value) of partition `p` as read_committed sees it, up to `end`."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"nemesis-txn-{p}",
                      "enable.auto.commit": False, "isolation.level": "read_committed",
                      "enable.partition.eof": True})
        out: list[tuple[int, str]] = []
        try:
            c.assign([TopicPartition(TXN_TOPIC, p, 0)])
            deadline = time.monotonic() + 120
            at_end = end == 0
            while not at_end and time.monotonic() < deadline:
                for m in c.consume(5000, timeout=0.5):
                    if m.error() is not None:
                        # EOF at the LSO (the writers are done: it no longer moves).
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            raise KafkaException(m.error())
                        at_end = True
                        continue
                    out.append((m.offset(), m.value().decode()))
                    at_end = at_end or m.offset() >= end - 1
            assert at_end, f"{TXN_TOPIC}-{p}: read {len(out)} records, no end at {end}"
            return out
        finally:
            c.close()

    def check(self, settle_s: float = 60.0) -> dict:
        deadline = time.monotonic() + settle_s
        while True:
            ends = self._ends()
            if all(lso == hw for lso, hw in ends) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        hanging = [{"partition": p, "lso": lso, "high_watermark": hw}
                   for p, (lso, hw) in enumerate(ends) if lso != hw]
        seen: dict[tuple[int, int], set[tuple[int, int]]] = {}
        duplicated = reordered = 0
        for p, (lso, _) in enumerate(ends):
            last: dict[int, tuple[int, int]] = {}
            values: set[str] = set()
            for _, v in self._read(p, lso):
                if v in values:
                    duplicated += 1
                    continue
                values.add(v)
                w, t, part, i = (int(x) for x in v.split(":"))
                assert part == p, f"{v} found in partition {p}"
                if (t, i) <= last.get(w, (-1, -1)):
                    reordered += 1
                last[w] = (t, i)
                seen.setdefault((w, t), set()).add((part, i))
        full = PARTITIONS * PER_PARTITION
        aborted_reads = sorted(k for k, o in self.outcomes.items()
                               if o == "aborted" and k in seen)
        lost = sorted(k for k, o in self.outcomes.items()
                      if o == "committed" and len(seen.get(k, ())) < full)
        torn = sorted(k for k, got in seen.items() if len(got) < full)
        unknown_txn = sorted(k for k in seen if k not in self.outcomes)
        count = {o: sum(1 for x in self.outcomes.values() if x == o)
                 for o in ("committed", "aborted", "unknown")}
        return {
            "txn_outcomes": count,
            "txn_producers": self.producers_made,
            "txn_errors": self.errors,
            "txn_visible": len(seen),
            "txn_aborted_reads": len(aborted_reads),
            "txn_lost": len(lost),
            "txn_torn": len(torn),
            "txn_duplicated": duplicated,
            "txn_reordered": reordered,
            "txn_hanging": hanging,
            # Records of transactions no writer began (must never happen).
            "txn_phantom": len(unknown_txn),
            "txn_examples": {"aborted_reads": aborted_reads[:5], "lost": lost[:5],
                             "torn": [(k, sorted(seen[k])) for k in torn[:5]]},
        }

    def anomalies(self, report: dict) -> int:
        return (report["txn_aborted_reads"] + report["txn_lost"] + report["txn_torn"]
                + report["txn_duplicated"] + report["txn_reordered"]
                + len(report["txn_hanging"]) + report["txn_phantom"])
