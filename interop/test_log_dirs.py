"""Several log dirs per broker (`log.dirs`): DescribeLogDirs and AlterReplicaLogDirs.

One broker runs with two log dirs. A topic of 8 partitions with records from
confluent-kafka is spread over both; `strata cluster log-dirs --format json` lists both
dirs with every partition once, each partition's size equal to its `.log` segments on
disk. `strata cluster log-dirs move` moves a partition into the other dir: its directory
appears there, DescribeLogDirs lists it there and all its records are still readable (and
it takes new ones). kafka-python's `describe_log_dirs` reports the same as the CLI. A
reassignment file with `log_dirs` moves a replica through `cluster reassign
execute|verify`. Refused moves name the partition and Kafka's error; on a 3-node cluster an
unreachable broker is an error naming it, not a hang.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from broker import Broker, strata_bin
from cluster import Cluster, wait_for

T = 20  # seconds
TOPIC = "spread"
PARTITIONS = 8
RECORDS = 200  # per partition
VALUE_BYTES = 100


def strata(bootstrap: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("STRATA_CLIENT_CONFIG", "STRATA_BOOTSTRAP")}
    return subprocess.run([str(strata_bin()), "-b", bootstrap, *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def describe(bootstrap: str, *args: str) -> dict:
    r = strata(bootstrap, "cluster", "log-dirs", "--format", "json", *args)
    assert r.returncode == 0, r.stderr + r.stdout
    return json.loads(r.stdout)


def real(path: str | pathlib.Path) -> str:
    return os.path.realpath(str(path))


def log_bytes(partition_dir: pathlib.Path) -> int:
    """Bytes of a partition's log segments on disk (what Kafka reports as its size)."""
    return sum(f.stat().st_size for f in partition_dir.glob("*.log"))


def value(p: int, i: int) -> bytes:
    return f"{p}-{i}-".encode().ljust(VALUE_BYTES, b"x")


def read_partition(bootstrap: str, topic: str, p: int, count: int) -> list[bytes]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"logdirs-{topic}-{p}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(values) < count:
        for m in c.consume(500, timeout=0.5):
            assert m.error() is None, m.error()
            values.append(m.value())
    c.close()
    return values


@pytest.fixture(scope="module")
def jbod(tmp_path_factory):
    """One broker with two log dirs; yields (broker, [dir1, dir2])."""
    work = tmp_path_factory.mktemp("log_dirs")
    dirs = [work / "disk1", work / "disk2"]
    for d in dirs:
        d.mkdir()
    b = Broker(work, "log_dirs", ["--set", "log.dirs=" + ",".join(str(d) for d in dirs)])
    b.start()
    yield b, dirs
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


@pytest.fixture(scope="module")
def spread(jbod):
    """The topic with RECORDS values in each partition; yields the broker's dirs."""
    b, dirs = jbod
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(T)
    wait_for(lambda: all(p.leader >= 0 for p in
                         admin.list_topics(TOPIC, timeout=5).topics[TOPIC].partitions.values()),
             "leaders of every partition")
    prod = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5})
    errors = []
    for p in range(PARTITIONS):
        for i in range(RECORDS):
            prod.produce(TOPIC, value(p, i), partition=p,
                         on_delivery=lambda err, _m: err and errors.append(err))
    assert prod.flush(30) == 0
    assert not errors, errors
    return dirs


def replicas_of(report: dict, topic: str) -> dict[int, list[tuple[str, dict]]]:
    """partition -> [(dir path, entry)] over every broker and dir of a CLI report."""
    out: dict[int, list[tuple[str, dict]]] = {}
    for broker in report["brokers"]:
        for d in broker["log_dirs"]:
            for e in d["partitions"]:
                if e["topic"] == topic:
                    out.setdefault(e["partition"], []).append((d["path"], e))
    return out


def test_both_dirs_listed_with_the_partitions_spread_and_sized(jbod, spread):
    b, dirs = jbod
    report = describe(b.bootstrap)
    assert len(report["brokers"]) == 1, report
    broker = report["brokers"][0]
    assert broker["error"] is None, broker
    paths = sorted(real(d["path"]) for d in broker["log_dirs"])
    assert paths == sorted(real(d) for d in dirs), paths
    for d in broker["log_dirs"]:
        assert d["error"] is None, d
        # DescribeLogDirs v4: the filesystem's size and free space.
        assert d["total_bytes"] > 0 and 0 <= d["usable_bytes"] <= d["total_bytes"], d
    found = replicas_of(report, TOPIC)
    assert sorted(found) == list(range(PARTITIONS)), found
    used = set()
    for p, entries in found.items():
        assert len(entries) == 1, (p, entries)  # one replica, no future copy
        path, e = entries[0]
        assert not e["is_future"] and e["offset_lag"] == 0, e
        on_disk = pathlib.Path(path) / f"{TOPIC}-{p}"
        assert on_disk.is_dir(), on_disk
        assert e["size"] >= RECORDS * VALUE_BYTES, e
        assert e["size"] == log_bytes(on_disk), (e, log_bytes(on_disk))
        used.add(real(path))
    assert len(used) == 2, f"all partitions in one dir: {found}"

    # --topics and --brokers narrow the report.
    other = "other-topic"
    admin = AdminClient({"bootstrap.servers": b.bootstrap})  # kept until the result came
    admin.create_topics([NewTopic(other, 1, 1)])[other].result(T)
    wait_for(lambda: replicas_of(describe(b.bootstrap), other), f"{other} listed")
    narrowed = describe(b.bootstrap, "--topics", TOPIC, "--brokers", str(broker["broker"]))
    topics = {e["topic"] for br in narrowed["brokers"] for d in br["log_dirs"]
              for e in d["partitions"]}
    assert topics == {TOPIC}, topics
    r = strata(b.bootstrap, "cluster", "log-dirs", "--brokers", "4242")
    assert r.returncode != 0 and "4242" in r.stderr, r.stderr
    r = strata(b.bootstrap, "cluster", "log-dirs", "--topics", "no-such-topic")
    assert r.returncode != 0 and "no-such-topic" in r.stderr, r.stderr

    # The readable table names both dirs and the partitions.
    r = strata(b.bootstrap, "cluster", "log-dirs", "--topics", TOPIC)
    assert r.returncode == 0, r.stderr
    for d in broker["log_dirs"]:
        assert d["path"] in r.stdout, r.stdout
    assert f"{TOPIC}-7" in r.stdout, r.stdout


def test_kafka_python_describe_log_dirs_agrees(jbod, spread):
    b, _dirs = jbod
    kafka = pytest.importorskip("kafka")
    admin = kafka.KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=T * 1000)
    try:
        if not hasattr(admin, "describe_log_dirs"):
            pytest.skip("this kafka-python has no describe_log_dirs")
        result = admin.describe_log_dirs()
    finally:
        admin.close()
    ours = replicas_of(describe(b.bootstrap), TOPIC)
    theirs: dict[int, list[tuple[str, dict]]] = {}
    dir_errors = []
    for broker in result:
        for d in broker["log_dirs"]:
            dir_errors.append(d["error_code"])
            for t in d["topics"]:
                if t["name"] == TOPIC:
                    for p in t["partitions"]:
                        theirs.setdefault(p["partition_index"], []).append((d["log_dir"], p))
    assert set(dir_errors) == {0}, dir_errors
    assert sorted(theirs) == sorted(ours) == list(range(PARTITIONS)), (theirs, ours)
    for p, [(path, entry)] in theirs.items():
        [(our_path, our_entry)] = ours[p]
        assert real(path) == real(our_path), (p, path, our_path)
        assert entry["partition_size"] == our_entry["size"], (entry, our_entry)
        assert entry["is_future_key"] is False, entry


def test_move_a_partition_to_the_other_dir(jbod, spread):
    b, dirs = jbod
    report = describe(b.bootstrap)
    broker_id = report["brokers"][0]["broker"]
    p = 3
    [(src, _)] = replicas_of(report, TOPIC)[p]
    [dst] = [d for d in dirs if real(d) != real(src)]

    r = strata(b.bootstrap, "cluster", "log-dirs", "move", "--broker", str(broker_id),
               "--topic", TOPIC, "--partition", str(p), "--dir", str(dst), "--wait",
               "--timeout", "60")
    assert r.returncode == 0, r.stderr + r.stdout
    assert f"{TOPIC}-{p}" in r.stdout, r.stdout

    assert (dst / f"{TOPIC}-{p}").is_dir()
    wait_for(lambda: not (pathlib.Path(src) / f"{TOPIC}-{p}").exists(),
             "the old copy gone from the source dir")
    [(now, entry)] = replicas_of(describe(b.bootstrap), TOPIC)[p]
    assert real(now) == real(dst) and not entry["is_future"], (now, entry)
    assert entry["size"] == log_bytes(dst / f"{TOPIC}-{p}"), entry

    values = read_partition(b.bootstrap, TOPIC, p, RECORDS)
    assert values == [value(p, i) for i in range(RECORDS)]
    # The moved replica takes new records.
    prod = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    prod.produce(TOPIC, value(p, RECORDS), partition=p)
    assert prod.flush(30) == 0
    values = read_partition(b.bootstrap, TOPIC, p, RECORDS + 1)
    assert values == [value(p, i) for i in range(RECORDS + 1)]

    # Other partitions did not move.
    for q, [(path, _)] in replicas_of(describe(b.bootstrap), TOPIC).items():
        assert (pathlib.Path(path) / f"{TOPIC}-{q}").is_dir(), (q, path)


def test_refused_moves_name_the_partition_and_the_error(jbod, spread):
    b, dirs = jbod
    broker_id = str(describe(b.bootstrap)["brokers"][0]["broker"])
    bad_dir = str(pathlib.Path(dirs[0]).parent / "not-a-log-dir")
    r = strata(b.bootstrap, "cluster", "log-dirs", "move", "--broker", broker_id,
               "--topic", TOPIC, "--partition", "0", "--dir", bad_dir)
    assert r.returncode != 0
    assert f"{TOPIC}-0" in r.stdout + r.stderr and "LOG_DIR_NOT_FOUND" in r.stdout + r.stderr, \
        r.stdout + r.stderr

    r = strata(b.bootstrap, "cluster", "log-dirs", "move", "--broker", broker_id,
               "--topic", "no-such-topic", "--partition", "0", "--dir", str(dirs[0]))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "no-such-topic-0" in out, out
    assert any(code in out for code in ("UNKNOWN_TOPIC_OR_PARTITION", "REPLICA_NOT_AVAILABLE",
                                        "NOT_LEADER_OR_FOLLOWER")), out

    r = strata(b.bootstrap, "cluster", "log-dirs", "move", "--broker", broker_id,
               "--topic", TOPIC, "--partition", "0", "--dir", "relative/dir")
    assert r.returncode != 0 and "absolute" in r.stderr, r.stderr


def test_reassignment_file_with_log_dirs(jbod, spread, tmp_path):
    b, dirs = jbod
    report = describe(b.bootstrap)
    broker_id = report["brokers"][0]["broker"]
    p = 5
    [(src, _)] = replicas_of(report, TOPIC)[p]
    [dst] = [d for d in dirs if real(d) != real(src)]
    plan = tmp_path / "move.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": TOPIC, "partition": p, "replicas": [broker_id], "log_dirs": [str(dst)]}]}))

    r = strata(b.bootstrap, "cluster", "reassign", "execute", "--file", str(plan))
    assert r.returncode == 0, r.stderr + r.stdout
    assert str(dst) in r.stdout, r.stdout

    def verified():
        v = strata(b.bootstrap, "cluster", "reassign", "verify", "--file", str(plan),
                   "--format", "json")
        return v.returncode == 0 and v
    wait_for(verified, "verify reports the log-dir move done", timeout=60)
    lines = [json.loads(line) for line in verified().stdout.splitlines() if line.startswith("{")]
    assert {"topic": TOPIC, "partition": p, "broker": broker_id, "log_dir": str(dst),
            "state": "done"}.items() <= next(x for x in lines if "log_dir" in x).items(), lines
    [(now, _)] = replicas_of(describe(b.bootstrap), TOPIC)[p]
    assert real(now) == real(dst)
    assert read_partition(b.bootstrap, TOPIC, p, RECORDS) == [value(p, i) for i in range(RECORDS)]

    # A log dir the broker does not have: refused before anything is reassigned.
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": TOPIC, "partition": p, "replicas": [broker_id],
         "log_dirs": [str(tmp_path / "nowhere")]}]}))
    r = strata(b.bootstrap, "cluster", "reassign", "execute", "--file", str(plan))
    assert r.returncode != 0 and "LOG_DIR_NOT_FOUND" in r.stderr, r.stderr


@pytest.fixture
def three(tmp_path):
    c = Cluster(tmp_path, security="plaintext")
    c.start()
    yield c
    for n in c.nodes:
        if n.running():
            assert n.stop() == 0, n.log_tail()


def test_an_unreachable_broker_is_an_error_naming_it(three):
    c = three
    report = describe(c.bootstrap())
    assert sorted(br["broker"] for br in report["brokers"]) == [1, 2, 3], report
    assert all(br["log_dirs"] for br in report["brokers"]), report
    c.node(3).kill()
    start = time.monotonic()
    r = strata(c.bootstrap(), "cluster", "log-dirs", "--format", "json", timeout=60)
    assert time.monotonic() - start < 45, "took too long"
    assert r.returncode != 0 and "broker 3" in r.stderr, r.stderr
    answered = {br["broker"] for br in json.loads(r.stdout)["brokers"] if br["error"] is None}
    assert {1, 2} <= answered, r.stdout
